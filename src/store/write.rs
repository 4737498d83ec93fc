//! Writing rows: the batched upsert writer that both `import` and `demo` fill, the task that
//! runs it beside whoever makes the rows, and what a refused batch says.
//!
//! Rows are written with multi-row `INSERT ... ON CONFLICT (natural key) DO UPDATE`, which
//! SQLite and PostgreSQL spell the same way, so re-loading a nightly export never counts a
//! row twice.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::task::Poll;

use anyhow::{Result, anyhow};
use sqlx::any::AnyArguments;
use sqlx::{AnyConnection, AnyPool, Arguments, AssertSqlSafe};

use crate::schema::{ColType, TableSpec, column_index};

/// A value bound into an insert.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
    Float(f64),
    Null,
}

impl SqlValue {
    /// Binds the value; a NULL takes the column's type, which PostgreSQL insists on. A text
    /// nothing will read again (`spent`) is moved into the arguments rather than copied.
    fn bind(&mut self, ty: ColType, spent: bool, args: &mut AnyArguments) -> Result<()> {
        match self {
            SqlValue::Text(s) if spent => args.add(std::mem::take(s)),
            SqlValue::Text(s) => args.add(s.clone()),
            SqlValue::Int(i) => args.add(*i),
            SqlValue::Float(f) => args.add(*f),
            SqlValue::Null => match ty {
                ColType::Int { .. } | ColType::Timestamp | ColType::Position => {
                    args.add(None::<i64>)
                }
                ColType::Float { .. } | ColType::Share => args.add(None::<f64>),
                ColType::Text | ColType::Enum(_) | ColType::Day | ColType::DayOf(_) => {
                    args.add(None::<String>)
                }
            },
        }
        .map_err(|e| anyhow!("cannot bind value: {e}"))
    }

    /// Feeds the value to a key hash: values of different kinds never hash alike by design
    /// (a text "1" and a number 1 are different keys).
    fn hash_into(&self, h: &mut impl Hasher) {
        match self {
            SqlValue::Text(s) => (0u8, s.as_str()).hash(h),
            SqlValue::Int(i) => (1u8, i).hash(h),
            SqlValue::Float(f) => (2u8, f.to_bits()).hash(h),
            SqlValue::Null => 3u8.hash(h),
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            SqlValue::Text(s) => Some(s),
            _ => None,
        }
    }
}

/// Writes rows on a task of its own, in the order they are sent, so that whoever makes the
/// rows goes on making the next ones while the database writes these (on SQLite, the
/// statements run on sqlx's worker thread: the two halves of a bulk load then use two cores).
/// The channel is bounded, so memory holds at most [`PIPELINE_DEPTH`] sends ahead.
#[derive(Debug)]
pub struct Pipeline {
    sender: tokio::sync::mpsc::Sender<(usize, Vec<Vec<SqlValue>>, Vec<u64>)>,
    task: tokio::task::JoinHandle<PipelineResult>,
}

/// The connection back, and each table's rows written; or the first refused batch.
type PipelineResult = Result<(sqlx::Transaction<'static, sqlx::Any>, Vec<u64>), RowError>;

/// Sends a [`Pipeline`] may be ahead of the database.
pub const PIPELINE_DEPTH: usize = 16;

impl Pipeline {
    /// Starts writing to `tx` with one writer per spec (rows are sent by that index).
    pub fn start(
        tx: sqlx::Transaction<'static, sqlx::Any>,
        specs: Vec<&'static TableSpec>,
        lookups: AnyPool,
    ) -> Pipeline {
        let writers = specs
            .into_iter()
            .map(|s| BatchWriter::new(s, false))
            .collect();
        Pipeline::writing(tx, writers, lookups)
    }

    /// Starts writing to `tx` with these writers (rows are sent by their index): a preset
    /// needs some that keep existing rows ([`BatchWriter::keeping`]). Their own duplicate
    /// checks are not used: the sender checks keys as it queues.
    pub fn writing(
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        mut writers: Vec<BatchWriter>,
        lookups: AnyPool,
    ) -> Pipeline {
        let (sender, mut receiver) =
            tokio::sync::mpsc::channel::<(usize, Vec<Vec<SqlValue>>, Vec<u64>)>(PIPELINE_DEPTH);
        let task = tokio::spawn(async move {
            while let Some((i, rows, lines)) = receiver.recv().await {
                let Some(w) = writers.get_mut(i) else {
                    return Err(RowError {
                        line: lines.first().copied(),
                        message: format!("rows sent to writer {i} of {}", writers.len()),
                        fault: RowFault::Row,
                    });
                };
                w.extend(rows, lines);
                w.flush(&mut tx, &lookups).await?;
            }
            Ok((tx, writers.iter().map(BatchWriter::written).collect()))
        });
        Pipeline { sender, task }
    }

    /// Sends `w`'s queued rows to be written by writer `i`. Rows sent before are written
    /// first, so parents sent first satisfy their children's references.
    pub async fn send(&self, i: usize, w: &mut BatchWriter) -> Result<(), RowError> {
        let taken = w.take();
        self.send_rows(i, taken).await
    }

    /// Sends only `w`'s full batches, and keeps the rest queued in it.
    pub async fn send_full(&self, i: usize, w: &mut BatchWriter) -> Result<(), RowError> {
        let taken = w.take_full();
        self.send_rows(i, taken).await
    }

    async fn send_rows(
        &self,
        i: usize,
        (rows, lines): (Vec<Vec<SqlValue>>, Vec<u64>),
    ) -> Result<(), RowError> {
        if rows.is_empty() {
            return Ok(());
        }
        if self.sender.send((i, rows, lines)).await.is_err() {
            // The task stopped at a refused batch: `finish` says which.
            return Err(RowError {
                line: None,
                message: "the writer stopped".into(),
                fault: RowFault::Row,
            });
        }
        Ok(())
    }

    /// Waits for every row sent to be written; returns the transaction and the rows each
    /// writer wrote.
    pub async fn finish(self) -> PipelineResult {
        drop(self.sender);
        self.task.await.map_err(|e| RowError {
            line: None,
            message: format!("the writer task failed: {e}"),
            fault: RowFault::Row,
        })?
    }
}

/// Why a batch was refused, with the offending input line when it can be found.
#[derive(Debug)]
pub struct RowError {
    pub line: Option<u64>,
    pub message: String,
    pub fault: RowFault,
}

/// Whose fault a refusal was: it decides whether the same file is worth trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowFault {
    /// The rows: only a changed file can do better.
    #[default]
    Row,
    /// A row names a parent (an order, a product) the store does not have yet.
    MissingParent,
    /// The store was busy, locked or unreachable: the same rows may load later.
    Store,
}

impl RowError {
    /// The error with the file (and line) it is about, keeping whose fault it was, for
    /// [`is_store_fault`] and [`is_missing_parent`].
    pub fn located(&self, file: &str) -> anyhow::Error {
        let text = match self.line {
            Some(l) => format!("{file}:{l}: {}", self.message),
            None => format!("{file}: {}", self.message),
        };
        anyhow::Error::new(Located {
            text,
            fault: self.fault,
        })
    }
}

/// A [`RowError`] placed in its file.
#[derive(Debug, thiserror::Error)]
#[error("{text}")]
struct Located {
    text: String,
    fault: RowFault,
}

/// Whether an import failed because of the store (busy, locked, unreachable, out of disk),
/// not the file: the same file may load later.
pub fn is_store_fault(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<Located>()
            .is_some_and(|l| l.fault == RowFault::Store)
            || c.downcast_ref::<sqlx::Error>().is_some_and(store_fault)
    })
}

/// Whether an import failed only because a row names a parent the store does not have.
pub fn is_missing_parent(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<Located>()
            .is_some_and(|l| l.fault == RowFault::MissingParent)
    })
}

/// A database error that says nothing about the rows: the connection, a lock held by
/// another writer, the disk.
fn store_fault(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            // SQLite's primary codes: BUSY, LOCKED, IOERR, FULL, CANTOPEN (extended codes
            // carry the primary one in their low byte); PostgreSQL's SQLSTATE classes for
            // connections (08), resources (53), an operator's intervention (57) and
            // serialization or deadlock (40).
            let sqlite = code
                .parse::<i64>()
                .is_ok_and(|c| matches!(c & 0xff, 5 | 6 | 10 | 13 | 14));
            sqlite || ["08", "53", "57", "40"].iter().any(|p| code.starts_with(p))
        }
        _ => false,
    }
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Accumulates rows of one table and writes them in multi-row upserts.
#[derive(Debug)]
pub struct BatchWriter {
    spec: &'static TableSpec,
    rows: Vec<Vec<SqlValue>>,
    lines: Vec<u64>,
    batch_rows: usize,
    /// The statement for each batch size written so far, built on first use for the
    /// connection's backend.
    statements: HashMap<usize, String>,
    /// Key hash -> first line, to refuse a key repeated within one file.
    seen: Option<HashMap<u64, u64>>,
    /// Per column: whether a refused batch's explanation reads it (a reference), so that
    /// binding must leave it in the row.
    read_after: Vec<bool>,
    /// Insert rows whose key is new and leave existing rows as they are.
    keep_existing: bool,
    written: u64,
}

impl BatchWriter {
    /// `check_duplicates` remembers every key (8 bytes and a line number each) to refuse
    /// repeats within the input.
    pub fn new(spec: &'static TableSpec, check_duplicates: bool) -> BatchWriter {
        // SQLite allows 32,766 bound values per statement; stay well under it.
        let batch_rows = (8_000 / spec.columns.len()).clamp(1, 1_000);
        BatchWriter {
            spec,
            rows: Vec::with_capacity(batch_rows),
            lines: Vec::with_capacity(batch_rows),
            batch_rows,
            statements: HashMap::new(),
            seen: check_duplicates.then(HashMap::new),
            read_after: spec
                .columns
                .iter()
                .map(|c| spec.refs.iter().any(|(r, _, _)| *r == c.name))
                .collect(),
            keep_existing: false,
            written: 0,
        }
    }

    /// A writer that only adds rows whose key is new, and skips repeats: for rows an
    /// export implies (a product named on an order line) that must not overwrite what a
    /// fuller source said.
    pub fn keeping(spec: &'static TableSpec) -> BatchWriter {
        BatchWriter {
            keep_existing: true,
            ..BatchWriter::new(spec, false)
        }
    }

    pub fn spec(&self) -> &'static TableSpec {
        self.spec
    }

    /// Whether the next row would make a full batch: the caller flushes, parents first.
    pub fn is_full(&self) -> bool {
        self.rows.len() >= self.batch_rows
    }

    pub fn table(&self) -> &'static str {
        self.spec.name
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    /// Takes the queued rows (and their input lines) out, to be written elsewhere.
    pub fn take(&mut self) -> (Vec<Vec<SqlValue>>, Vec<u64>) {
        (
            std::mem::take(&mut self.rows),
            std::mem::take(&mut self.lines),
        )
    }

    /// Takes out the queued rows that make full batches, and keeps the rest.
    pub fn take_full(&mut self) -> (Vec<Vec<SqlValue>>, Vec<u64>) {
        let n = self.rows.len() - self.rows.len() % self.batch_rows;
        let rest = (self.rows.split_off(n), self.lines.split_off(n));
        (
            std::mem::replace(&mut self.rows, rest.0),
            std::mem::replace(&mut self.lines, rest.1),
        )
    }

    /// Rows queued and not yet written or taken.
    pub fn queued(&self) -> usize {
        self.rows.len()
    }

    /// The rows of a full batch (one statement).
    pub fn batch_rows(&self) -> usize {
        self.batch_rows
    }

    /// Queues rows taken from a twin writer.
    fn extend(&mut self, rows: Vec<Vec<SqlValue>>, lines: Vec<u64>) {
        self.rows.extend(rows);
        self.lines.extend(lines);
    }

    /// Queues one row (values in `spec.columns` order); writes a batch when one is full.
    pub async fn push(
        &mut self,
        conn: &mut AnyConnection,
        lookups: &AnyPool,
        row: Vec<SqlValue>,
        line: u64,
    ) -> Result<(), RowError> {
        self.queue(row, line)?;
        if self.rows.len() >= self.batch_rows {
            self.flush(conn, lookups).await?;
        }
        Ok(())
    }

    /// Queues one row without writing; the caller flushes (in foreign-key order).
    pub fn queue(&mut self, row: Vec<SqlValue>, line: u64) -> Result<(), RowError> {
        debug_assert_eq!(row.len(), self.spec.columns.len());
        if let Some(seen) = &mut self.seen {
            let mut h = DefaultHasher::new();
            for k in self.spec.key {
                row[column_index(self.spec, k)].hash_into(&mut h);
            }
            if let Some(first) = seen.insert(h.finish(), line) {
                return Err(RowError {
                    line: Some(line),
                    message: format!(
                        "duplicate key ({}) = ({}): already on line {first}",
                        self.spec.key.join(", "),
                        self.key_text(&row)
                    ),
                    fault: RowFault::Row,
                });
            }
        }
        self.rows.push(row);
        self.lines.push(line);
        Ok(())
    }

    fn key_text(&self, row: &[SqlValue]) -> String {
        self.spec
            .key
            .iter()
            .map(|k| match &row[column_index(self.spec, k)] {
                SqlValue::Text(s) => format!("{s:?}"),
                other => format!("{other:?}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Writes every queued row, a batch per statement. Each batch's values are bound while
    /// the database writes the batch before it: on SQLite the writing runs on sqlx's worker
    /// thread, and binding after it, in turn, left that thread idle half the time
    /// (`demo --scale 12`: 15.6-17.1 s this way, 17.1-18.9 s in turn).
    pub async fn flush(
        &mut self,
        conn: &mut AnyConnection,
        lookups: &AnyPool,
    ) -> Result<(), RowError> {
        // SQLite resolves `$N` names by a linear search per parameter, which makes big
        // batches quadratic; plain `?` is positional and free.
        let positional = conn.backend_name() == "SQLite";
        let (spec, batch) = (self.spec, self.batch_rows);
        let mut next = bind_rows(spec, &self.read_after, &mut self.rows, batch, 0)?;
        while let Some((n, args)) = next.take() {
            let keep = self.keep_existing;
            self.statements
                .entry(n)
                .or_insert_with(|| upsert_sql(spec, n, positional, keep));
            let sql = self.statements[&n].as_str();
            let write = sqlx::query_with(AssertSqlSafe(sql), args).execute(&mut *conn);
            let (read_after, rows) = (&self.read_after, &mut self.rows);
            let bind_next = || bind_rows(spec, read_after, rows, batch, n);
            let (written, following) = alongside(write, bind_next).await;
            if let Err(e) = written {
                return Err(self.explain(e, n, lookups).await);
            }
            self.written += n as u64;
            self.rows.drain(..n);
            self.lines.drain(..n);
            next = following?;
        }
        Ok(())
    }

    /// Turns a refused batch (the first `n` queued rows) into a message about the row at fault.
    ///
    /// References are checked here, after the fact, rather than row by row: a valid file
    /// pays nothing for them. The lookups run outside the failed transaction.
    async fn explain(&self, e: sqlx::Error, n: usize, lookups: &AnyPool) -> RowError {
        let (rows, lines) = (&self.rows[..n], &self.lines[..n]);
        let is_fk = e
            .as_database_error()
            .is_some_and(|d| d.kind() == sqlx::error::ErrorKind::ForeignKeyViolation);
        if is_fk {
            for (column, table, target) in self.spec.refs {
                let i = column_index(self.spec, column);
                let values: Vec<&str> = rows.iter().filter_map(|r| r[i].as_text()).collect();
                match missing_reference(lookups, table, target, &values).await {
                    Ok(Some(missing)) => {
                        let at = rows
                            .iter()
                            .position(|r| r[i].as_text() == Some(missing.as_str()))
                            .map(|p| lines[p]);
                        return RowError {
                            line: at,
                            message: format!(
                                "column `{column}`: unknown {column} {missing:?} (not in {table})"
                            ),
                            fault: RowFault::MissingParent,
                        };
                    }
                    Ok(None) => {}
                    Err(err) => {
                        return RowError {
                            line: None,
                            message: format!("{e}; and the lookup of the cause failed: {err}"),
                            fault: RowFault::Store,
                        };
                    }
                }
            }
        }
        let lines = match (lines.first(), lines.last()) {
            (Some(a), Some(b)) => format!("lines {a}-{b}"),
            _ => "the rows".to_string(),
        };
        if store_fault(&e) {
            return RowError {
                line: None,
                message: format!(
                    "{lines} could not be written: the store is busy or unavailable ({e}); \
                     nothing of the file was kept, and the file itself may be fine"
                ),
                fault: RowFault::Store,
            };
        }
        RowError {
            line: None,
            message: format!("{lines}: the store refused them: {e}"),
            fault: RowFault::Row,
        }
    }
}

/// The next statement's row count and values, for the queued `rows` from `at` on. Texts
/// are moved out of the rows, but for the columns a refused batch's explanation reads
/// (`read_after`): a copy of each text was a third of what binding cost. The arguments are
/// sized once, not grown value by value.
fn bind_rows(
    spec: &TableSpec,
    read_after: &[bool],
    rows: &mut [Vec<SqlValue>],
    batch_rows: usize,
    at: usize,
) -> Result<Option<(usize, AnyArguments)>, RowError> {
    let queued = rows.len().saturating_sub(at);
    if queued == 0 {
        return Ok(None);
    }
    let n = batch_size(queued, batch_rows);
    let mut args = AnyArguments::default();
    args.reserve(n * spec.columns.len(), 0);
    for row in &mut rows[at..at + n] {
        for ((v, c), kept) in row.iter_mut().zip(spec.columns).zip(read_after) {
            v.bind(c.ty, !kept, &mut args).map_err(|e| RowError {
                line: None,
                message: e.to_string(),
                fault: RowFault::Row,
            })?;
        }
    }
    Ok(Some((n, args)))
}

/// Starts `fut` (polls it once, so that it hands its work to whoever does it), runs `work`
/// meanwhile, then waits for `fut`.
async fn alongside<F: Future, T>(fut: F, work: impl FnOnce() -> T) -> (F::Output, T) {
    let mut fut = std::pin::pin!(fut);
    let started = std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await;
    let done = work();
    match started {
        Poll::Ready(out) => (out, done),
        Poll::Pending => (fut.await, done),
    }
}

/// The first of `values` that is not present in `table.column`.
async fn missing_reference(
    pool: &AnyPool,
    table: &str,
    column: &str,
    values: &[&str],
) -> Result<Option<String>> {
    let mut unique: Vec<&str> = values.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut found = std::collections::HashSet::new();
    for chunk in unique.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {column} FROM {table} WHERE {column} IN ({})",
            placeholders.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
        for v in chunk {
            q = q.bind(v.to_string());
        }
        found.extend(q.fetch_all(pool).await?);
    }
    Ok(values
        .iter()
        .find(|v| !found.contains(**v))
        .map(|v| v.to_string()))
}

/// How many of `queued` rows the next statement writes: a full batch, or else the largest
/// power of two that fits. A statement of 1,000 rows takes about a millisecond to parse, and
/// a writer that flushes every day would otherwise parse a new size each time; with these
/// sizes a table needs at most a dozen statements, each prepared once per connection.
fn batch_size(queued: usize, batch_rows: usize) -> usize {
    if queued >= batch_rows {
        batch_rows
    } else {
        1 << queued.ilog2()
    }
}

fn upsert_sql(spec: &TableSpec, rows: usize, positional: bool, keep_existing: bool) -> String {
    let cols: Vec<&str> = spec.columns.iter().map(|c| c.name).collect();
    let n = cols.len();
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", spec.name, cols.join(", "));
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..n {
            if c > 0 {
                sql.push_str(", ");
            }
            if positional {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", r * n + c + 1);
            }
        }
        sql.push(')');
    }
    // The columns an existing row takes from the new one: neither its key nor a value
    // written only into new rows.
    let updated: Vec<&str> = spec
        .columns
        .iter()
        .filter(|c| !spec.key.contains(&c.name) && !c.on_insert)
        .map(|c| c.name)
        .collect();
    let updates: Vec<String> = updated
        .iter()
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let _ = write!(sql, " ON CONFLICT ({}) ", spec.key.join(", "));
    if updates.is_empty() || keep_existing {
        sql.push_str("DO NOTHING");
    } else {
        // A row whose values are all the same is not written at all, so it fires no trigger
        // and marks no day for a rollup rebuild: re-importing an unchanged export is cheap.
        let changed: Vec<String> = updated
            .iter()
            .map(|c| format!("{t}.{c} IS DISTINCT FROM excluded.{c}", t = spec.name))
            .collect();
        let _ = write!(
            sql,
            "DO UPDATE SET {} WHERE {}",
            updates.join(", "),
            changed.join(" OR ")
        );
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{CAMPAIGN_SKUS, CAPACITY, col, on_insert};

    /// The future is started before the work runs, and finished after it.
    #[tokio::test]
    async fn alongside_starts_the_future_then_works_then_waits() {
        let log = std::cell::RefCell::new(Vec::new());
        let fut = async {
            log.borrow_mut().push("started");
            tokio::task::yield_now().await;
            log.borrow_mut().push("finished");
            1
        };
        let out = alongside(fut, || {
            log.borrow_mut().push("work");
            2
        })
        .await;
        assert_eq!(out, (1, 2));
        assert_eq!(*log.borrow(), ["started", "work", "finished"]);
    }

    #[test]
    fn batches_are_full_or_a_power_of_two() {
        assert_eq!(batch_size(5_000, 727), 727);
        assert_eq!(batch_size(727, 727), 727);
        assert_eq!(batch_size(726, 727), 512);
        assert_eq!(batch_size(3, 727), 2);
        assert_eq!(batch_size(1, 727), 1);
        // 726 rows go as 512 + 128 + 64 + 16 + 4 + 2.
        let (mut left, mut sizes) = (726, Vec::new());
        while left > 0 {
            let n = batch_size(left, 727);
            sizes.push(n);
            left -= n;
        }
        assert_eq!(sizes, [512, 128, 64, 16, 4, 2]);
    }

    #[test]
    fn upsert_sql_numbers_placeholders_across_rows() {
        assert!(
            upsert_sql(&CAPACITY, 2, true, false)
                .starts_with("INSERT INTO capacity (day, orders) VALUES (?, ?), (?, ?) ON")
        );
        let sql = upsert_sql(&CAPACITY, 2, false, false);
        assert_eq!(
            sql,
            "INSERT INTO capacity (day, orders) VALUES ($1, $2), ($3, $4) \
             ON CONFLICT (day) DO UPDATE SET orders = excluded.orders \
             WHERE capacity.orders IS DISTINCT FROM excluded.orders"
        );
        assert!(upsert_sql(&CAMPAIGN_SKUS, 1, false, false).ends_with("DO NOTHING"));
        assert!(upsert_sql(&CAPACITY, 1, false, true).ends_with("DO NOTHING"));
    }

    /// A column written only into new rows is in the insert, and neither updated nor
    /// compared on a conflict.
    #[test]
    fn an_insert_only_column_is_left_alone_on_conflict() {
        const GUESSED: TableSpec = TableSpec {
            name: "orders",
            columns: &[
                col("order_id", ColType::Text),
                col("status", ColType::Text),
                on_insert("derived_type", ColType::Text),
            ],
            key: &["order_id"],
            refs: &[],
        };
        assert_eq!(
            upsert_sql(&GUESSED, 1, false, false),
            "INSERT INTO orders (order_id, status, derived_type) VALUES ($1, $2, $3) \
             ON CONFLICT (order_id) DO UPDATE SET status = excluded.status \
             WHERE orders.status IS DISTINCT FROM excluded.status"
        );
    }

    /// A writer gives out its full batches and keeps the rest, with their lines.
    #[test]
    fn full_batches_are_taken_and_the_rest_kept() {
        let mut w = BatchWriter::new(&CAPACITY, false);
        let batch = w.batch_rows();
        assert_eq!(batch, 1_000);
        for line in 0..2_500 {
            w.queue(vec![SqlValue::Int(line as i64), SqlValue::Int(1)], line)
                .unwrap();
        }
        let (rows, lines) = w.take_full();
        assert_eq!((rows.len(), lines.len()), (2_000, 2_000));
        assert_eq!(lines.last(), Some(&1_999));
        assert_eq!(w.queued(), 500);
        assert_eq!(w.lines.first(), Some(&2_000));
        assert_eq!(w.rows[0][0], SqlValue::Int(2_000));
        let (rows, _) = w.take_full();
        assert!(rows.is_empty());
        assert_eq!(w.queued(), 500);
    }

    #[test]
    fn a_key_repeated_in_a_file_is_refused_with_both_lines() {
        let day = |d: &str| SqlValue::Text(d.into());
        let mut w = BatchWriter::new(&CAPACITY, true);
        w.queue(vec![day("2025-01-01"), SqlValue::Int(5)], 2)
            .unwrap();
        w.queue(vec![day("2025-01-02"), SqlValue::Int(5)], 3)
            .unwrap();
        let e = w
            .queue(vec![day("2025-01-01"), SqlValue::Int(6)], 4)
            .unwrap_err();
        assert_eq!(e.line, Some(4));
        assert!(e.message.ends_with("already on line 2"), "{}", e.message);
        // A text and a number that print alike are different keys.
        w.queue(vec![day("7"), SqlValue::Int(1)], 5).unwrap();
        w.queue(vec![SqlValue::Int(7), SqlValue::Int(1)], 6)
            .unwrap();
        w.queue(vec![SqlValue::Float(7.0), SqlValue::Int(1)], 7)
            .unwrap();
        w.queue(vec![SqlValue::Null, SqlValue::Int(1)], 8).unwrap();
        assert_eq!(w.rows.len(), 6);
        // Without the check, repeats are queued as they come.
        let mut unchecked = BatchWriter::new(&CAPACITY, false);
        for line in [2, 3] {
            unchecked
                .queue(vec![day("2025-01-01"), SqlValue::Int(5)], line)
                .unwrap();
        }
        assert_eq!(unchecked.rows.len(), 2);
    }
}
