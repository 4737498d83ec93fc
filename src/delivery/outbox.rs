//! The file outbox: one .eml file per message, written whole or not at all.

use std::io::ErrorKind;
use std::path::Path;

use super::DeliveryError;
use crate::text::fnv1a;

/// The longest readable prefix of a file name; the rest is a hash, so any valid address
/// (up to 254 characters) gives a name well under the usual 255-byte limit.
const READABLE: usize = 60;

/// The file name for one message: a readable prefix (report, date, recipient) cut to a
/// bound, then a hash of the whole and of the message's unique id.
pub fn file_stem(report: &str, date: &str, recipient: &str, unique: &str) -> String {
    let readable: String = format!("{report}-{date}-{recipient}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+') {
                c
            } else {
                '_'
            }
        })
        .take(READABLE)
        .collect();
    let hash = fnv1a(format!("{report}\n{date}\n{recipient}\n{unique}").as_bytes());
    format!("{readable}-{hash:016x}")
}

/// Writes `bytes` to `dir/stem.eml` through a temporary file that is renamed into place, so a
/// reader never sees half a message, and that is removed on any failure. `mark` is awaited
/// just before the rename, the moment the message becomes visible; its error holds it back.
pub async fn write(
    dir: &Path,
    stem: &str,
    bytes: Vec<u8>,
    mark: &impl AsyncFn() -> Result<(), DeliveryError>,
) -> Result<(), DeliveryError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io_failure(&e, dir))?;
    let path = dir.join(format!("{stem}.eml"));
    let tmp = dir.join(format!(".{stem}.eml.tmp"));
    let written = async {
        tokio::fs::write(&tmp, bytes)
            .await
            .map_err(|e| io_failure(&e, &tmp))?;
        mark().await?;
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(|e| io_failure(&e, &path))
    }
    .await;
    if written.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    written
}

/// A full disk may empty; a name too long, a read-only or forbidden folder will not.
fn io_failure(e: &std::io::Error, path: &Path) -> DeliveryError {
    const ENAMETOOLONG: i32 = 36;
    let text = format!("cannot write {}: {e}", path.display());
    let permanent = e.raw_os_error() == Some(ENAMETOOLONG)
        || matches!(
            e.kind(),
            ErrorKind::PermissionDenied
                | ErrorKind::ReadOnlyFilesystem
                | ErrorKind::InvalidFilename
                | ErrorKind::InvalidInput
                | ErrorKind::NotADirectory
                | ErrorKind::IsADirectory
        );
    if permanent {
        DeliveryError::Permanent(text)
    } else {
        DeliveryError::Transient(text)
    }
}

/// The outbox folder, for messages.
pub fn describe(dir: &Path) -> String {
    format!("outbox {}", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_address_gives_a_short_name_and_distinct_addresses_distinct_names() {
        let local = "a".repeat(64);
        let domain = format!("{}.example", "b".repeat(180));
        let long = format!("{local}@{domain}");
        let stem = file_stem("daily", "2026-03-01", &long, "x1");
        assert!(stem.len() + ".eml".len() < 100, "{stem}");
        assert!(stem.starts_with("daily-2026-03-01-aaaa"), "{stem}");
        let other = file_stem("daily", "2026-03-01", &format!("{local}@{domain}x"), "x1");
        assert_ne!(stem, other);
        assert_ne!(stem, file_stem("daily", "2026-03-01", &long, "x2"));
        assert!(!file_stem("r", "d", "../../etc/passwd", "u").contains('/'));
    }
}
