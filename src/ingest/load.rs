//! One import's load, whatever feeds it: the transaction, the bad rows, `--check`, parents
//! written before their children, the steps after the rows (customer types, dated refunds,
//! the rollup marks), the commit and the summary.
//!
//! A table's CSV, every platform preset and a live source feed a [`Load`] the same way:
//! [`Load::rows`] as they come (a file's record, an API's page), [`Load::bad`] for each row
//! that cannot be read, then [`Load::finish`].

use anyhow::{Context, Result, anyhow};
use chrono::NaiveDate;
use sqlx::AssertSqlSafe;

use super::check::Plan;
use super::history;
use super::options::ImportOptions;
use super::refund_dates;
use crate::schema::{TableSpec, raw_tables};
use crate::store::write::{BatchWriter, Pipeline, RowError, SqlValue};
use crate::store::{Backend, SetAside, Store, SyncMark, rollup, save_mark};

/// A table a load writes.
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

    /// A writer that both checks keys and writes, for rows written in turn.
    fn in_turn(&self) -> BatchWriter {
        if self.keep_existing {
            BatchWriter::keeping(self.spec)
        } else {
            BatchWriter::new(self.spec, self.check_keys)
        }
    }
}

/// Rows one record (or page) turns into: (index into the load's targets, values in column
/// order).
pub(super) type Rows = Vec<(usize, Vec<SqlValue>)>;

/// What an import did, or with `check`, would do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub format: &'static str,
    /// Data rows read from the file.
    pub rows: u64,
    /// Rows written (or, with `check`, to be written) per table.
    pub tables: Vec<(&'static str, u64)>,
    /// Days whose rollups were rebuilt: only days with a row that changed.
    pub rebuilt_days: usize,
    /// With `check`: the date range and what is new to the store.
    pub plan: Option<Plan>,
}

/// How a load writes its rows when it writes them.
#[derive(Debug, Clone, Copy)]
pub(super) enum Writing {
    /// On a task of its own while the rows are read ([`Pipeline`]), so that reading and the
    /// database's writing use a core each. With `first_load`, raw tables that are all empty
    /// are filled as a first load ([`FirstLoad`]).
    Piped { first_load: bool },
    /// In the transaction, each record's rows before the next is read ([`Load::in_turn`]):
    /// for rows whose writing needs the row before it in the store (a campaign's SKU list is
    /// replaced, which needs the campaign written first).
    InTurn,
}

/// One import's rows on their way into the store, all or nothing.
pub(super) struct Load<'s> {
    store: &'s Store,
    /// Where the rows come from, as errors name it.
    file: String,
    format: &'static str,
    /// The report date the import serves (see `refund_dates`).
    day: NaiveDate,
    targets: Vec<Target>,
    bad: BadRows,
    sink: Sink,
    started: std::time::Instant,
    /// A live source's cursor, committed with the rows it covers.
    mark: Option<SyncMark>,
}

/// Where a load's rows go.
enum Sink {
    /// `--check`: rows are only counted.
    Check(Plan),
    Piped {
        sending: Sending,
        first: Option<FirstLoad>,
    },
    InTurn {
        tx: sqlx::Transaction<'static, sqlx::Any>,
        writers: Vec<BatchWriter>,
    },
}

/// The transaction and writers a load writing in turn hands its caller.
pub(super) struct InTurn<'a> {
    pub tx: &'a mut sqlx::Transaction<'static, sqlx::Any>,
    /// One per target, in the load's order; each checks its keys as it queues.
    pub writers: &'a mut [BatchWriter],
    pub lookups: &'a sqlx::AnyPool,
}

impl<'s> Load<'s> {
    /// Starts a load of `targets` (parents before the tables that reference them) from
    /// `file`, summarised as `format`: with `opts.check` nothing will be written, and no
    /// transaction is begun.
    pub(super) async fn begin(
        store: &'s Store,
        opts: &ImportOptions,
        file: &str,
        format: &'static str,
        targets: &[Target],
        writing: Writing,
    ) -> Result<Load<'s>> {
        let sink = if opts.check {
            Sink::Check(Plan::default())
        } else {
            let mut tx = store
                .pool()
                .begin()
                .await
                .with_context(|| format!("cannot start a transaction on {store}"))?;
            match writing {
                Writing::Piped { first_load } => {
                    let first = match first_load {
                        true => FirstLoad::set_aside(&mut tx, store.backend(), targets).await?,
                        false => None,
                    };
                    let writers = targets.iter().map(Target::writer).collect();
                    let pipeline = Pipeline::writing(tx, writers, store.reader().clone());
                    let sending = Sending::new(pipeline, targets);
                    Sink::Piped { sending, first }
                }
                Writing::InTurn => Sink::InTurn {
                    tx,
                    writers: targets.iter().map(Target::in_turn).collect(),
                },
            }
        };
        Ok(Load {
            store,
            file: file.to_string(),
            format,
            day: opts.day,
            targets: targets.to_vec(),
            bad: BadRows::default(),
            sink,
            started: std::time::Instant::now(),
            mark: None,
        })
    }

    /// Commits `mark` (a live source's cursor) with the rows, or not at all.
    pub(super) fn mark(&mut self, mark: SyncMark) {
        self.mark = Some(mark);
    }

    /// Notes a row that cannot be read, at `line` of the file.
    pub(super) fn bad(&mut self, line: u64, e: &anyhow::Error) {
        self.bad.add(&anyhow!("{}:{line}: {e:#}", self.file));
    }

    /// Takes one record's rows (draining `out`), from `line`. False: stop reading, the
    /// writer stopped at a refused batch ([`Load::finish`] says why). An error: a row written
    /// in turn was refused.
    pub(super) async fn rows(&mut self, line: u64, out: &mut Rows) -> Result<bool> {
        let targets = &self.targets;
        match &mut self.sink {
            Sink::Check(plan) => {
                for (t, row) in out.drain(..) {
                    plan.observe(targets[t].shown, targets[t].spec, &row);
                }
                return Ok(true);
            }
            // Once a row is bad nothing will be written: the rest of the file is only
            // checked, so that one run tells every problem (up to a bound) at once.
            _ if !self.bad.is_empty() => out.clear(),
            Sink::Piped { sending, .. } => {
                for (t, row) in out.drain(..) {
                    if let Err(e) = sending.queues[t].queue(row, line) {
                        // Returning drops the drain, which empties `out`.
                        self.bad.add(&e.located(&self.file));
                        return Ok(true);
                    }
                }
                // A refused send means the task stopped at a refused batch.
                if sending.round_due() {
                    return Ok(sending.send_round().await.is_ok());
                }
            }
            Sink::InTurn { tx, writers } => {
                let lookups = self.store.reader();
                let located = |e: RowError| e.located(&self.file);
                for (t, row) in out.drain(..) {
                    writers[t]
                        .push(tx, lookups, row, line)
                        .await
                        .map_err(located)?;
                }
                for w in writers.iter_mut() {
                    w.flush(tx, lookups).await.map_err(located)?;
                }
            }
        }
        Ok(true)
    }

    /// The transaction and writers, for a caller that writes a record's rows in turn
    /// itself; None when nothing is to be written (`--check`, or after a bad row).
    pub(super) fn in_turn(&mut self) -> Option<InTurn<'_>> {
        match &mut self.sink {
            Sink::InTurn { tx, writers } if self.bad.is_empty() => Some(InTurn {
                tx,
                writers,
                lookups: self.store.reader(),
            }),
            _ => None,
        }
    }

    /// Ends without writing more, and waits until the writer task has let the transaction
    /// go (rolled back), so that no write lock outlives the import.
    pub(super) async fn abandon(self) {
        if let Sink::Piped { sending, .. } = self.sink {
            drop(sending.pipeline.finish().await);
        }
    }

    /// Ends at once with the bad rows as the error, if there are any, whatever a batch sent
    /// before them met in the store.
    pub(super) async fn fail_if_bad(mut self) -> Result<Self> {
        match std::mem::take(&mut self.bad).into_error() {
            Some(e) => {
                self.abandon().await;
                Err(e)
            }
            None => Ok(self),
        }
    }

    /// The end of the reading: `read` is the rows read, or why the reading stopped. With
    /// `--check`, the plan; otherwise the rest written, the steps after the rows, and the
    /// commit. `unsure` are the customers whose guessed type a first load must derive again
    /// (see [`super::preset::Preset::unsure_customers`]).
    ///
    /// A batch the store refused is the import's error, as it stopped the reading; then an
    /// error of the reading; otherwise bad rows are, and nothing is written.
    pub(super) async fn finish(
        self,
        read: Result<u64>,
        unsure: Option<Vec<String>>,
    ) -> Result<ImportSummary> {
        let Load {
            store,
            file,
            format,
            day,
            targets,
            bad,
            sink,
            started,
            mark,
        } = self;
        let (mut tx, written, rows, first) = match sink {
            Sink::Check(plan) => {
                let rows = read?;
                if let Some(e) = bad.into_error() {
                    return Err(e);
                }
                return Ok(ImportSummary {
                    format,
                    rows,
                    tables: plan.rows.iter().map(|(t, n)| (*t, *n)).collect(),
                    rebuilt_days: 0,
                    plan: Some(plan.against(store).await?),
                });
            }
            Sink::Piped { sending, first } => {
                let (tx, written, rows) = sending.finish(&file, read, bad).await?;
                (tx, written, rows, first)
            }
            Sink::InTurn {
                mut tx,
                mut writers,
            } => {
                let rows = read?;
                if let Some(e) = bad.into_error() {
                    return Err(e);
                }
                for w in &mut writers {
                    let flushed = w.flush(&mut tx, store.reader()).await;
                    flushed.map_err(|e| e.located(&file))?;
                }
                (
                    tx,
                    writers.iter().map(BatchWriter::written).collect(),
                    rows,
                    None,
                )
            }
        };
        tracing::debug!(
            rows,
            ms = started.elapsed().as_secs_f64() * 1e3,
            "file read and its rows written"
        );
        let rebuilt_days = after_rows(&mut tx, store, &targets, day, first, unsure).await?;
        if let Some(mark) = &mark {
            save_mark(&mut tx, mark).await?;
        }
        tx.commit()
            .await
            .with_context(|| format!("{file}: cannot commit the import"))?;
        Ok(ImportSummary {
            format,
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
}

/// The steps after the rows are written, in the import's transaction: a first load's
/// indexes and marks, refunds dated, customer types derived, and the rollups rebuilt (the
/// import commits with its rollups up to date). Returns the days rebuilt.
async fn after_rows(
    tx: &mut sqlx::AnyConnection,
    store: &Store,
    targets: &[Target],
    day: NaiveDate,
    first: Option<FirstLoad>,
    unsure: Option<Vec<String>>,
) -> Result<usize> {
    // In a first load the file's orders are all the store has: only the customers whose
    // guessed type the file could not settle need their history read.
    let unsure = first.as_ref().and(unsure);
    if let Some(first) = first {
        first.restore(tx).await?;
    }
    let writes = |name: &str| targets.iter().any(|t| t.spec.name == name);
    if writes(refund_dates::REFUND_TOTALS.name) {
        refund_dates::date_refunds(tx, day).await?;
    }
    if writes("orders") {
        match unsure {
            Some(customers) => history::derive_types_of(tx, &customers).await?,
            None => history::derive_customer_types(tx).await?,
        };
    }
    rollup::refresh(tx, store.backend()).await
}

/// The bad rows of a file: the first [`BadRows::SHOWN`] in full, then how many more.
#[derive(Debug, Default)]
struct BadRows {
    shown: Vec<String>,
    more: u64,
}

impl BadRows {
    const SHOWN: usize = 20;

    fn add(&mut self, e: &anyhow::Error) {
        if self.shown.len() < Self::SHOWN {
            self.shown.push(format!("{e:#}"));
        } else {
            self.more += 1;
        }
    }

    fn is_empty(&self) -> bool {
        self.shown.is_empty()
    }

    fn into_error(self) -> Option<anyhow::Error> {
        if self.shown.is_empty() {
            return None;
        }
        let mut text = self.shown.join("\n");
        if self.more > 0 {
            text.push_str(&format!("\n… and {} more bad rows", self.more));
        }
        text.push_str("\nnothing was imported");
        Some(anyhow!(text))
    }
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

/// Rows queued per table, and sent to the writing task a round at a time.
struct Sending {
    pipeline: Pipeline,
    queues: Vec<BatchWriter>,
    /// Per table: whether a later one refers to it (an order line to its order).
    parents: Vec<bool>,
}

impl Sending {
    fn new(pipeline: Pipeline, targets: &[Target]) -> Sending {
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
            pipeline,
            queues: targets.iter().map(Target::queue).collect(),
            parents,
        }
    }

    /// Whether a round is due: a batch of a table others refer to is full, or a table
    /// nothing refers to holds two (it waits for its parents' batches to fill first; with
    /// no parent among the tables, one is enough).
    fn round_due(&self) -> bool {
        let wait = if self.parents.contains(&true) { 2 } else { 1 };
        self.queues
            .iter()
            .zip(&self.parents)
            .any(|(q, parent)| q.queued() >= q.batch_rows() * if *parent { 1 } else { wait })
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
    /// rows written and the rows read. A batch the store refused is the import's error, as
    /// it stopped the reading; otherwise bad rows are, and nothing is written (the
    /// transaction is dropped unfinished).
    async fn finish(
        mut self,
        file: &str,
        read: Result<u64>,
        bad: BadRows,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Vec<u64>, u64)> {
        let sent = match &read {
            Ok(_) if bad.is_empty() => self.send_all().await,
            _ => Ok(()),
        };
        let done = self.pipeline.finish().await;
        let (tx, written) = done.map_err(|e| e.located(file))?;
        let rows = read?;
        if let Some(e) = bad.into_error() {
            return Err(e);
        }
        sent.map_err(|e| e.located(file))?;
        Ok((tx, written, rows))
    }
}
