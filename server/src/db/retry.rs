//! Conflicts between concurrent transactions are retried here and never reach a user.

use std::future::Future;
use std::time::Duration;

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

/// Runs `op` again while it fails with a retryable conflict, with a short randomised backoff.
pub async fn with_retry<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: AsRetryable,
{
    const ATTEMPTS: u32 = 50;
    let mut attempt = 0;
    loop {
        match op().await {
            Err(err) if attempt + 1 < ATTEMPTS && err.is_retryable() => {
                attempt += 1;
                let cap_ms = 2u64.saturating_pow(attempt.min(7));
                let wait = rand::random_range(1..=cap_ms.max(2));
                tracing::debug!(attempt, wait_ms = wait, "retrying a conflicting transaction");
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            other => return other,
        }
    }
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
