//! A panic caught at a boundary of work that must not take the process down with it (one
//! file's import, one shop's run of `serve`) and turned into that work's error.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;

/// Runs `work`; a panic inside it becomes an error that says it was a bug and quotes it.
///
/// Whatever `work` held is dropped as the panic unwinds: a transaction it had open is rolled
/// back, a connection it had is given back. That is why catching is sound here: nothing
/// half-done survives to be seen.
pub async fn caught<T>(work: impl Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(anyhow::anyhow!(
                "stopped on an internal error (a bug in dawnpost, please report it): {}",
                crate::text::cap(&what, 500)
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::caught;

    #[tokio::test]
    async fn a_panic_becomes_an_error_that_quotes_it() {
        let e = caught(async {
            let v: Vec<u8> = Vec::new();
            // Out of bounds, as a bug would be.
            let _ = v[usize::from(v.is_empty())];
            Ok(())
        })
        .await
        .unwrap_err();
        let text = e.to_string();
        assert!(text.starts_with("stopped on an internal error"), "{text}");
        assert!(text.contains("index out of bounds"), "{text}");
        assert_eq!(caught(async { Ok(7) }).await.unwrap(), 7);
        let plain = caught(async { Err::<(), _>(anyhow::anyhow!("no")) }).await;
        assert_eq!(plain.unwrap_err().to_string(), "no");
    }
}
