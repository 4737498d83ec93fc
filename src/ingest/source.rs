//! Opening an export: its encoding, the lines some platforms put before the header, the
//! separator, and a record reader with a bound on each record.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, anyhow, bail};

/// The longest record an import reads: 1 MiB. A file with no line ends (or a quote that is
/// never closed) is refused at this length instead of filling memory.
pub const MAX_RECORD: u64 = 1 << 20;

/// How far into a file the header is looked for: GA4 puts about ten comment lines first.
const PREAMBLE_BYTES: usize = 64 << 10;
const PREAMBLE_LINES: usize = 40;

/// A file being imported, positioned after its header.
#[derive(Debug)]
pub struct Source {
    pub name: String,
    /// The header's fields, trimmed of ASCII spaces.
    pub headers: csv::StringRecord,
    /// Lines before the header (a report title, a date range, `#` comments).
    pub skipped: u64,
    reader: csv::Reader<Bounded<BufReader<File>>>,
    record_start: Arc<AtomicU64>,
    last_line: u64,
    /// How far through the file the reading is, in bytes.
    pub progress: crate::progress::Progress,
    records: u64,
}

/// The first line that looks like a header: its fields, trimmed.
pub type Header = Vec<String>;

impl Source {
    /// Opens `path` and takes as its header the first line, after any preamble, that
    /// `accept` takes. Where none does, the error shows the first line that could be one.
    /// `flexible` lets records have fewer or more fields than the header (platforms'
    /// totals rows); dawnpost's own files must not.
    pub fn open(path: &Path, accept: &dyn Fn(&Header) -> bool, flexible: bool) -> Result<Source> {
        let name = path.display().to_string();
        let mut file = File::open(path).with_context(|| format!("cannot open {name}"))?;
        let mut prefix = Vec::with_capacity(PREAMBLE_BYTES);
        (&mut file)
            .take(PREAMBLE_BYTES as u64)
            .read_to_end(&mut prefix)
            .with_context(|| format!("cannot read {name}"))?;
        let bom = check_encoding(&name, &prefix)?;
        let (offset, skipped, delimiter) = find_header(&name, &prefix[bom..], accept)?;
        file.seek(SeekFrom::Start((bom + offset) as u64))
            .with_context(|| format!("cannot read {name}"))?;
        let record_start = Arc::new(AtomicU64::new(0));
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .delimiter(delimiter)
            .flexible(flexible)
            // Only `\n` ends a record: with CRLF as the terminator the reader numbers every
            // line of a Windows file one short. The `\r` left at a line's end is trimmed
            // with the rest of the field's spaces by whoever reads the field.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(Bounded {
                inner: BufReader::with_capacity(1 << 16, file),
                read: 0,
                record_start: record_start.clone(),
            });
        let headers: csv::StringRecord = match reader.headers() {
            Ok(h) => h.iter().map(str::trim_ascii).collect(),
            Err(e) if is_too_long(&e) => bail!(
                "{name}:{}: a record is longer than {} MiB (a missing closing quote, or not \
                 a CSV file?)",
                skipped + 1,
                MAX_RECORD >> 20
            ),
            Err(e) => bail!("{name}:{}: cannot read the header line: {e}", skipped + 1),
        };
        // The first glance split a line; the reader may read more than that line (a quoted
        // line break in a column name) or more than the glance saw (a header past 64 KiB).
        // What is imported is the reader's header, so it must be a header `accept` takes.
        let fields: Header = headers.iter().map(|h| h.trim().to_string()).collect();
        if !accept(&fields) {
            return Err(anyhow!(HeaderNotFound {
                file: name,
                line: skipped + 1,
                fields,
            }));
        }
        Ok(Source {
            name,
            headers,
            skipped,
            reader,
            record_start,
            last_line: skipped + 1,
            progress: crate::progress::Progress::default(),
            records: 0,
        })
    }

    /// Reads the next record into `record` and returns its line, or None at the end.
    ///
    /// Its fields are as the file has them, spaces and all: each reader trims the fields it
    /// reads ([`cell`]). The CSV reader's own trimming copied every record into a new one,
    /// three quarters of the time it took to read a Shopify export's 68 columns.
    pub fn next(&mut self, record: &mut csv::StringRecord) -> Result<Option<u64>> {
        self.record_start
            .store(self.reader.position().byte(), Ordering::Relaxed);
        match self.reader.read_record(record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let line = record.position().map_or(0, |p| p.line()) + self.skipped;
                self.last_line = line;
                self.records += 1;
                if self.records.is_multiple_of(4_096) {
                    self.progress.set(self.reader.position().byte());
                }
                Ok(Some(line))
            }
            Err(e) if is_too_long(&e) => Err(anyhow!(
                "{}:{}: a record is longer than {} MiB (a missing closing quote, or not a \
                 CSV file?)",
                self.name,
                self.last_line + 1,
                MAX_RECORD >> 20
            )),
            Err(e) => Err(anyhow!(
                "{}:{}: malformed CSV: {e}",
                self.name,
                e.position().map_or(0, |p| p.line()) + self.skipped
            )),
        }
    }
}

/// The length of a UTF-8 byte-order mark to skip; other encodings are refused by name.
fn check_encoding(name: &str, prefix: &[u8]) -> Result<usize> {
    if prefix.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Ok(3);
    }
    if prefix.starts_with(&[0xFF, 0xFE]) || prefix.starts_with(&[0xFE, 0xFF]) {
        bail!("{name}: the file is UTF-16; download it as CSV (UTF-8), or re-save it as UTF-8");
    }
    Ok(0)
}

/// Where the header starts (bytes), how many lines come before it, and its separator.
fn find_header(
    name: &str,
    prefix: &[u8],
    accept: &dyn Fn(&Header) -> bool,
) -> Result<(usize, u64, u8)> {
    let mut offset = 0;
    let mut first: Option<(u64, Header)> = None;
    for (n, raw) in prefix
        .split(|b| *b == b'\n')
        .take(PREAMBLE_LINES)
        .enumerate()
    {
        let at = offset;
        offset += raw.len() + 1;
        let line = String::from_utf8_lossy(raw);
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let delimiter = if line.contains('\t') { b'\t' } else { b',' };
        let fields = split_line(line, delimiter);
        if accept(&fields) {
            return Ok((at, n as u64, delimiter));
        }
        first.get_or_insert((n as u64 + 1, fields));
    }
    match first {
        Some((line, fields)) => Err(anyhow!(HeaderNotFound {
            file: name.to_string(),
            line,
            fields,
        })),
        None => bail!("{name}: the file is empty (no header line)"),
    }
}

/// No line of a file's start was a header the format (or any format) knows.
#[derive(Debug, thiserror::Error)]
#[error("{file}:{line}: not a header dawnpost knows: {}", excerpt_fields(.fields))]
pub struct HeaderNotFound {
    pub file: String,
    pub line: u64,
    pub fields: Header,
}

fn excerpt_fields(fields: &Header) -> String {
    let shown: Vec<String> = fields
        .iter()
        .take(8)
        .map(|f| format!("`{}`", crate::text::cap(f, 40)))
        .collect();
    let more = fields.len().saturating_sub(8);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn split_line(line: &str, delimiter: u8) -> Header {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut record = csv::StringRecord::new();
    match reader.read_record(&mut record) {
        Ok(true) => record.iter().map(|f| f.trim().to_string()).collect(),
        _ => vec![line.to_string()],
    }
}

/// A reader that fails once the record being read has grown past [`MAX_RECORD`]. The CSV
/// reader reads ahead by its buffer (8 KiB) and ours (64 KiB), hence the allowance.
#[derive(Debug)]
struct Bounded<R> {
    inner: R,
    read: u64,
    /// Where the record now being read starts, in bytes from where reading began.
    record_start: Arc<AtomicU64>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let start = self.record_start.load(Ordering::Relaxed);
        if self.read.saturating_sub(start) > MAX_RECORD + (128 << 10) {
            return Err(std::io::Error::other(RecordTooLong));
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("record too long")]
struct RecordTooLong;

fn is_too_long(e: &csv::Error) -> bool {
    matches!(e.kind(), csv::ErrorKind::Io(io) if io.get_ref().is_some_and(|i| i.is::<RecordTooLong>()))
}

/// The columns of a header, found by name whatever their order or case.
#[derive(Debug)]
pub struct Columns<'a> {
    headers: &'a csv::StringRecord,
}

impl<'a> Columns<'a> {
    pub fn new(headers: &'a csv::StringRecord) -> Self {
        Columns { headers }
    }

    /// The first of `names` the header has. A name the header has twice is refused: which
    /// of the two holds the values cannot be told, and taking the first in silence read the
    /// wrong one.
    pub fn find(&self, names: &[&str]) -> Result<Option<usize>> {
        for n in names {
            if let Some(i) = self.only(&format!("`{n}`"), |h| h.eq_ignore_ascii_case(n))? {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// The one header `is` takes (trimmed), if any; two are refused, naming both positions.
    pub fn only(&self, what: &str, is: impl Fn(&str) -> bool) -> Result<Option<usize>> {
        let mut found = self
            .headers
            .iter()
            .map(str::trim)
            .enumerate()
            .filter(|(_, h)| is(h));
        let Some((i, first)) = found.next() else {
            return Ok(None);
        };
        match found.next() {
            None => Ok(Some(i)),
            Some((j, second)) if first.eq_ignore_ascii_case(second) => bail!(
                "column `{first}` is in the header twice, as columns {} and {}",
                i + 1,
                j + 1
            ),
            Some((j, second)) => bail!(
                "columns {} (`{first}`) and {} (`{second}`) are both {what}: which one to read \
                 cannot be told",
                i + 1,
                j + 1
            ),
        }
    }

    /// The header that starts with `prefix` (Meta puts the currency after the name). The
    /// prefix is compared by bytes, and a header whose bytes at that length fall inside a
    /// character (`Coût par résultat`) simply does not start with it.
    pub fn starting(&self, prefix: &str) -> Result<Option<(usize, &'a str)>> {
        let starts = |h: &str| {
            h.get(..prefix.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
        };
        let found = self.only(&format!("`{prefix} …`"), starts)?;
        Ok(found.and_then(|i| Some((i, self.headers.get(i)?.trim()))))
    }

    pub fn require(&self, names: &[&str]) -> Result<usize> {
        self.find(names)?.ok_or_else(|| {
            anyhow!(
                "missing column `{}`{}",
                names[0],
                if names.len() > 1 {
                    format!(" (or {})", names[1..].join(", "))
                } else {
                    String::new()
                }
            )
        })
    }
}

/// A header's fields match `names` (any order, any case) when each is present.
pub fn has_all(header: &Header, names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| header.iter().any(|h| h.eq_ignore_ascii_case(n)))
}

/// A record's field at `i`, trimmed, or empty where the column or the field is missing.
pub fn cell(record: &csv::StringRecord, i: Option<usize>) -> &str {
    i.and_then(|i| record.get(i)).unwrap_or("").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(names: &[&str]) -> csv::StringRecord {
        csv::StringRecord::from(names.to_vec())
    }

    #[test]
    fn a_prefix_never_cuts_a_character() {
        // `Amount spent` is 12 bytes; byte 12 of `Coût par résultat` is inside its `é`.
        let h = header(&["Coût par résultat", "Amount spent (EUR)"]);
        let found = Columns::new(&h).starting("Amount spent").unwrap();
        assert_eq!(found, Some((1, "Amount spent (EUR)")));
        assert_eq!(
            Columns::new(&h).find(&["COûT PAR RéSULTAT"]).unwrap(),
            Some(0)
        );
    }

    #[test]
    fn a_name_twice_is_refused_with_both_positions() {
        let h = header(&["Day", "Cost", "Clicks", " cost "]);
        let e = format!("{:#}", Columns::new(&h).require(&["Cost"]).unwrap_err());
        assert_eq!(
            e,
            "column `Cost` is in the header twice, as columns 2 and 4"
        );
        // A column not read may be named twice: nothing is read from the wrong one.
        assert_eq!(Columns::new(&h).require(&["Clicks"]).unwrap(), 2);
        let h = header(&["Amount spent (USD)", "Amount spent (EUR)"]);
        let e = format!(
            "{:#}",
            Columns::new(&h).starting("Amount spent").unwrap_err()
        );
        assert!(e.contains("columns 1 (`Amount spent (USD)`) and 2"), "{e}");
    }
}
