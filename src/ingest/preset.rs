//! The driver every platform preset shares: records in, rows for several tables out,
//! written parents first inside one transaction.

use anyhow::{Context, Result, anyhow, bail};
use sqlx::AssertSqlSafe;

use super::source::{Header, Source};
use super::{BadRows, Format, ImportOptions, ImportSummary, Plan, history};
use crate::schema::{TableSpec, raw_tables};
use crate::store::write::{BatchWriter, Pipeline, RowError, SqlValue};
use crate::store::{Backend, SetAside, Store, rollup};

/// A table a preset writes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Target {
    pub spec: &'static TableSpec,
    /// Only add rows whose key is new (rows an export implies, such as a product named on
    /// an order line, must not overwrite a fuller source).
    pub keep_existing: bool,
    /// Whether a key repeated within the file is looked for. A table whose keys follow from
    /// its parent's (an order's lines, numbered by the importer; its one shipment) cannot
    /// repeat one without its parent's key repeating first, which is refused on the same
    /// line: remembering its keys as well would only cost memory.
    pub check_keys: bool,
    /// The table as a summary or a check names it: its own name, unless the rows only pass
    /// through it on their way (a Shopify export's refund totals become refunds).
    pub shown: &'static str,
}

impl Target {
    pub(super) const fn upsert(spec: &'static TableSpec) -> Target {
        Target {
            spec,
            keep_existing: false,
            check_keys: true,
            shown: spec.name,
        }
    }
    pub(super) const fn keep(spec: &'static TableSpec) -> Target {
        Target {
            spec,
            keep_existing: true,
            check_keys: false,
            shown: spec.name,
        }
    }
    /// Upserted, with keys that follow from the parent's (see `check_keys`).
    pub(super) const fn follows(spec: &'static TableSpec) -> Target {
        Target {
            spec,
            keep_existing: false,
            check_keys: false,
            shown: spec.name,
        }
    }

    /// The same target, named `shown` in summaries and checks.
    pub(super) const fn shown_as(self, shown: &'static str) -> Target {
        Target { shown, ..self }
    }

    /// The writer that writes this table's rows in the store.
    fn writer(&self) -> BatchWriter {
        if self.keep_existing {
            BatchWriter::keeping(self.spec)
        } else {
            BatchWriter::new(self.spec, false)
        }
    }

    /// Where the reading queues this table's rows, checking their keys.
    fn queue(&self) -> BatchWriter {
        BatchWriter::new(self.spec, self.check_keys)
    }
}

/// Rows a record turns into: (index into the preset's targets, values in column order).
pub(super) type Rows = Vec<(usize, Vec<SqlValue>)>;

/// One platform's export format.
pub(super) trait Preset {
    /// The tables written, parents before the tables that reference them.
    fn targets(&self) -> &'static [Target];
    /// Turns one record into rows. An error names the column and the reason.
    fn record(&mut self, record: &csv::StringRecord, out: &mut Rows) -> Result<()>;
    /// Whether `record` is the export's own sum of the rows above it (Google Ads' `Total: …`
    /// rows): skipped, however many fields it has.
    fn is_totals(&self, _record: &csv::StringRecord) -> bool {
        false
    }
    /// Rows held back until the whole file is read (sums over several records).
    fn finish(&mut self, _out: &mut Rows) -> Result<()> {
        Ok(())
    }
    /// The customers whose orders' `derived_type`, as the rows wrote it, may differ from
    /// what their history says once this file's orders are all the store has (see
    /// [`history::Guesses`]). None: every customer's is derived again, as after any import.
    fn unsure_customers(&self) -> Option<Vec<String>> {
        None
    }
}

fn build(format: Format, src: &Source, opts: &ImportOptions) -> Result<Box<dyn Preset>> {
    let h = &src.headers;
    Ok(match format {
        Format::ShopifyOrders => Box::new(super::shopify::Orders::new(h, opts)?),
        Format::ShopifyProducts => Box::new(super::shopify::Products::new(h, opts)?),
        Format::WooCommerceOrders => Box::new(super::woocommerce::Orders::new(h, opts)?),
        Format::Ga4Traffic => Box::new(super::ga4::Traffic::new(h, opts)?),
        Format::GoogleAds => Box::new(super::google_ads::Campaigns::new(h, opts)?),
        Format::MetaAds => Box::new(super::meta_ads::Campaigns::new(h, opts)?),
        Format::Table(t) => bail!("{} is a table of dawnpost's own, not an export", t.name),
    })
}

/// Which of a format's identifying columns `header` lacks, for an error.
pub(super) fn missing(format: Format, header: &Header) -> String {
    let record = csv::StringRecord::from(header.clone());
    let opts = ImportOptions {
        tz: chrono_tz::UTC,
        currency: String::new(),
        channels: Default::default(),
        day: chrono::NaiveDate::MIN,
        check: true,
        at: 0,
    };
    let src_like = |h: &csv::StringRecord| -> Result<()> {
        match format {
            Format::ShopifyOrders => super::shopify::Orders::new(h, &opts).map(drop),
            Format::ShopifyProducts => super::shopify::Products::new(h, &opts).map(drop),
            Format::WooCommerceOrders => super::woocommerce::Orders::new(h, &opts).map(drop),
            Format::Ga4Traffic => super::ga4::Traffic::new(h, &opts).map(drop),
            Format::GoogleAds => super::google_ads::Campaigns::new(h, &opts).map(drop),
            Format::MetaAds => super::meta_ads::Campaigns::new(h, &opts).map(drop),
            Format::Table(_) => Ok(()),
        }
    };
    match src_like(&record) {
        Err(e) => format!("{e:#}"),
        Ok(()) => "its columns are there, but not as the format has them".into(),
    }
}

/// Imports one export through its preset, all or nothing.
///
/// The rows are written on a task of their own (a [`Pipeline`]) while the file is read, as
/// a table's file is: parsing and the database's writing then use a core each.
pub(super) async fn import(
    store: &Store,
    format: Format,
    src: &mut Source,
    opts: &ImportOptions,
) -> Result<ImportSummary> {
    let file = src.name.clone();
    let mut preset =
        build(format, src, opts).map_err(|e| anyhow!("{file}:{}: {e:#}", src.skipped + 1))?;
    if opts.check {
        return check(store, format, preset.as_mut(), src).await;
    }
    let targets = preset.targets();
    let mut tx = store
        .pool()
        .begin()
        .await
        .with_context(|| format!("cannot start a transaction on {store}"))?;
    let first = FirstLoad::set_aside(&mut tx, store.backend(), targets).await?;
    let writers = targets.iter().map(Target::writer).collect();
    let pipeline = Pipeline::writing(tx, writers, store.reader().clone());
    let mut sending = Sending::new(file.clone(), pipeline, targets);
    let started = std::time::Instant::now();
    let read = read_all(preset.as_mut(), src, &mut sending).await;
    let (mut tx, written, rows) = sending.finish(read).await?;
    tracing::debug!(
        rows,
        ms = started.elapsed().as_secs_f64() * 1e3,
        "file read and its rows written"
    );
    // In a first load the file's orders are all the store has: only the customers whose
    // guessed type the file could not settle need their history read.
    let unsure = first.as_ref().and(preset.unsure_customers());
    if let Some(first) = first {
        first.restore(&mut tx).await?;
    }
    if matches!(format, Format::ShopifyOrders) {
        super::refund_dates::date_refunds(&mut tx, opts.day).await?;
    }
    if targets.iter().any(|t| t.spec.name == "orders") {
        match unsure {
            Some(customers) => history::derive_types_of(&mut tx, &customers).await?,
            None => history::derive_customer_types(&mut tx).await?,
        };
    }
    let rebuilt_days = rollup::refresh(&mut tx, store.backend()).await?;
    tx.commit()
        .await
        .with_context(|| format!("{file}: cannot commit the import"))?;
    Ok(ImportSummary {
        format: format.name(),
        rows,
        tables: targets
            .iter()
            .zip(written)
            .map(|(t, n)| (t.shown, n))
            .collect(),
        rebuilt_days,
        plan: None,
    })
}

/// `--check`: the file read as an import would read it, and nothing written.
async fn check(
    store: &Store,
    format: Format,
    preset: &mut dyn Preset,
    src: &mut Source,
) -> Result<ImportSummary> {
    let mut plan = Plan::default();
    let (rows, bad) = read_all(preset, src, &mut plan).await?;
    if let Some(e) = bad.into_error() {
        return Err(e);
    }
    Ok(ImportSummary {
        format: format.name(),
        rows,
        tables: plan.rows.iter().map(|(t, n)| (*t, *n)).collect(),
        rebuilt_days: 0,
        plan: Some(plan.against(store).await?),
    })
}

/// A shop's first export of its history, into raw tables that are all empty: their
/// secondary indexes and rollup triggers are set aside while the rows are written, as the
/// demo's are ([`SetAside`]), and made again at the end, where an index is built by one
/// sort instead of a random insert per row (a million-line Shopify export wrote its orders'
/// customer index at 4 KB of statement journal per order).
///
/// Every row written is then an insert, so the days the triggers would have marked are the
/// days of the rows: each order's, each shipment's and each refund's (an order line marks
/// its order's day). They are marked at the end, and the import goes on as any other.
///
/// SQLite only. Its schema changes are part of the transaction and unseen by readers, which
/// read the store as it was; a writer that came between the check and the first write makes
/// that write fail (the snapshot is stale), so the tables cannot have filled meanwhile.
/// PostgreSQL would lock readers of the tables out until the commit, and a row committed
/// between the check and the lock would be written without its marks.
struct FirstLoad {
    aside: SetAside,
    tables: Vec<&'static str>,
}

impl FirstLoad {
    async fn set_aside(
        tx: &mut sqlx::AnyConnection,
        backend: Backend,
        targets: &[Target],
    ) -> Result<Option<FirstLoad>> {
        let tables: Vec<&'static str> = targets
            .iter()
            .map(|t| t.spec.name)
            .filter(|t| raw_tables().any(|r| r == *t))
            .collect();
        if backend != Backend::Sqlite || tables.is_empty() {
            return Ok(None);
        }
        for t in &tables {
            let any = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM {t} LIMIT 1")))
                .fetch_optional(&mut *tx)
                .await
                .with_context(|| format!("cannot read {t}"))?;
            if any.is_some() {
                return Ok(None);
            }
        }
        let aside = SetAside::take(tx, backend, &tables).await?;
        Ok(Some(FirstLoad { aside, tables }))
    }

    /// The indexes and triggers made again, then the days of the rows marked.
    async fn restore(self, tx: &mut sqlx::AnyConnection) -> Result<()> {
        let started = std::time::Instant::now();
        self.aside.restore(tx).await?;
        rollup::mark_days_of(tx, &self.tables).await?;
        tracing::debug!(
            ms = started.elapsed().as_secs_f64() * 1e3,
            "indexes and triggers made again, days marked"
        );
        Ok(())
    }
}

/// Reads every record of `src` into `sink`: the data rows read, and the bad ones.
async fn read_all(
    preset: &mut dyn Preset,
    src: &mut Source,
    sink: &mut impl Sink,
) -> Result<(u64, BadRows)> {
    let file = src.name.clone();
    let targets = preset.targets();
    let width = src.headers.len();
    let (mut record, mut out) = (csv::StringRecord::new(), Rows::new());
    let (mut rows, mut bad) = (0u64, BadRows::default());
    let (mut line, mut done) = (src.skipped + 1, false);
    while !done {
        out.clear();
        let step = match src.next(&mut record)? {
            Some(l) => {
                line = l;
                rows += 1;
                read_row(preset, &record, width, &mut out)
            }
            None => {
                done = true;
                preset.finish(&mut out)
            }
        };
        if let Err(e) = step {
            bad.add(&anyhow!("{file}:{line}: {e:#}"));
            continue;
        }
        if !sink.take(targets, &mut out, line, &mut bad).await {
            break;
        }
    }
    Ok((rows, bad))
}

/// Where a preset's rows go as the file is read.
trait Sink {
    /// Takes one record's rows (draining `out`); false stops the reading.
    async fn take(
        &mut self,
        targets: &[Target],
        out: &mut Rows,
        line: u64,
        bad: &mut BadRows,
    ) -> bool;
}

/// `--check`: rows are only counted.
impl Sink for Plan {
    async fn take(&mut self, targets: &[Target], out: &mut Rows, _: u64, _: &mut BadRows) -> bool {
        for (t, row) in out.drain(..) {
            self.observe(targets[t].shown, targets[t].spec, &row);
        }
        true
    }
}

/// Rows queued per table, and sent to the writing task a round at a time.
struct Sending {
    file: String,
    pipeline: Pipeline,
    queues: Vec<BatchWriter>,
    /// Per table: whether a later one refers to it (an order line to its order).
    parents: Vec<bool>,
}

impl Sink for Sending {
    async fn take(&mut self, _: &[Target], out: &mut Rows, line: u64, bad: &mut BadRows) -> bool {
        // Once a row is bad nothing will be written: the rest of the file is only checked,
        // so that one run tells every problem (up to a bound) at once.
        if !bad.is_empty() {
            return true;
        }
        for (t, row) in out.drain(..) {
            if let Err(e) = self.queues[t].queue(row, line) {
                bad.add(&located(&self.file, &e));
                return true;
            }
        }
        if self.round_due() {
            // A refused send means the task stopped at a refused batch: `finish` says why.
            return self.send_round().await.is_ok();
        }
        true
    }
}

impl Sending {
    fn new(file: String, pipeline: Pipeline, targets: &[Target]) -> Sending {
        let parents = targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                targets[i + 1..].iter().any(|c| {
                    c.spec
                        .refs
                        .iter()
                        .any(|(_, table, _)| *table == t.spec.name)
                })
            })
            .collect();
        Sending {
            file,
            pipeline,
            queues: targets.iter().map(Target::queue).collect(),
            parents,
        }
    }

    /// Whether a round is due: a batch of a table others refer to is full, or a table
    /// nothing refers to holds two (it waits for its parents' batches to fill first).
    fn round_due(&self) -> bool {
        self.queues
            .iter()
            .zip(&self.parents)
            .any(|(q, parent)| q.queued() >= q.batch_rows() * if *parent { 1 } else { 2 })
    }

    /// Sends every queued row of a table others refer to, so that each reference sent finds
    /// its row, and only the full batches of the others, which keep the rest for the next
    /// round: a round sent whole split each table's remainder into statements of every
    /// power of two, 11 statements a round of a Shopify export instead of 2.
    async fn send_round(&mut self) -> Result<(), RowError> {
        for (i, (q, parent)) in self.queues.iter_mut().zip(&self.parents).enumerate() {
            if *parent {
                self.pipeline.send(i, q).await?;
            } else {
                self.pipeline.send_full(i, q).await?;
            }
        }
        Ok(())
    }

    /// Sends every queued row, parents first, so each reference finds its row.
    async fn send_all(&mut self) -> Result<(), RowError> {
        for (i, q) in self.queues.iter_mut().enumerate() {
            self.pipeline.send(i, q).await?;
        }
        Ok(())
    }

    /// The end of the reading: the rest sent, and the transaction back with each table's
    /// rows written. A batch the store refused is the import's error, as it stopped the
    /// reading; otherwise bad rows are, and nothing is written (the transaction is dropped
    /// unfinished).
    async fn finish(
        mut self,
        read: Result<(u64, BadRows)>,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Vec<u64>, u64)> {
        let sent = match &read {
            Ok((_, bad)) if bad.is_empty() => self.send_all().await,
            _ => Ok(()),
        };
        let done = self.pipeline.finish().await;
        let (tx, written) = done.map_err(|e| located(&self.file, &e))?;
        let (rows, bad) = read?;
        if let Some(e) = bad.into_error() {
            return Err(e);
        }
        sent.map_err(|e| located(&self.file, &e))?;
        Ok((tx, written, rows))
    }
}

/// One data row into `out`. A totals row or a blank line is skipped. A row wider or
/// narrower than the header is refused: the reader is lenient about widths for the totals
/// rows' sake, and such a row's values would land in the wrong columns (an unquoted `12,50`
/// shifts every column after it; a download cut mid-row leaves the last ones empty).
fn read_row(
    preset: &mut dyn Preset,
    record: &csv::StringRecord,
    width: usize,
    out: &mut Rows,
) -> Result<()> {
    let blank = record.len() == 1 && record.get(0).is_some_and(|f| f.trim_ascii().is_empty());
    if blank || preset.is_totals(record) {
        return Ok(());
    }
    if record.len() != width {
        bail!(
            "the row has {} fields and the header {}: a value with an unquoted separator, \
             or a row cut short?",
            record.len(),
            width
        );
    }
    preset.record(record, out)
}

fn located(file: &str, e: &RowError) -> anyhow::Error {
    e.located(file)
}

// Values every preset writes.

pub(super) fn text(s: &str) -> SqlValue {
    SqlValue::Text(s.to_string())
}

pub(super) fn optional(s: &str) -> SqlValue {
    if s.is_empty() {
        SqlValue::Null
    } else {
        text(s)
    }
}

/// A customer id that is not an email address: the store keeps a hash of it, so the
/// shop's customers' addresses are not copied into it. No address is a guest.
pub(super) fn customer(email: &str) -> SqlValue {
    customer_hash(email).map_or(SqlValue::Null, |h| SqlValue::Text(customer_id(h)))
}

/// The hash a customer id is made of; None for a guest.
pub(super) fn customer_hash(email: &str) -> Option<u64> {
    let email = email.trim().to_lowercase();
    (!email.is_empty()).then(|| crate::text::fnv1a(email.as_bytes()))
}

/// The customer id of a [`customer_hash`].
pub(super) fn customer_id(hash: u64) -> String {
    format!("c-{hash:016x}")
}
