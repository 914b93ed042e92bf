//! Conflicts between concurrent transactions are retried here and never reach a user.

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

/// PostgreSQL serialization failures and deadlocks, SQLite's busy and locked states.
pub fn is_retryable(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(db) = err else {
        return matches!(err, sqlx::Error::PoolTimedOut);
    };
    match db.code().as_deref() {
        // PostgreSQL: serialization_failure, deadlock_detected, lock_not_available.
        Some("40001") | Some("40P01") | Some("55P03") => true,
        // SQLite: SQLITE_BUSY (5) and its extended codes, SQLITE_LOCKED (6).
        Some(code) => matches!(code, "5" | "6" | "261" | "517" | "262" | "773"),
        None => {
            let message = db.message();
            message.contains("database is locked") || message.contains("database table is locked")
        }
    }
}

/// Runs `op` again while it fails with a retryable conflict: exponential backoff from 1 ms to
/// 128 ms with jitter (`backon`), so that contending transactions spread out, for at most 50 tries.
pub async fn with_retry<T, E, F, Fut>(op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: AsRetryable,
{
    let backoff = ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(1))
        .with_max_delay(Duration::from_millis(128))
        .with_jitter()
        .with_max_times(49);
    op.retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|e: &E| e.is_retryable())
        .notify(|_, wait| tracing::debug!(?wait, "retrying a conflicting transaction"))
        .await
}

/// Errors that can say whether they came from a transient conflict.
pub trait AsRetryable {
    fn is_retryable(&self) -> bool;
}

impl AsRetryable for sqlx::Error {
    fn is_retryable(&self) -> bool {
        is_retryable(self)
    }
}
