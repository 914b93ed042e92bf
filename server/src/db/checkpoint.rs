//! SQLite's WAL checkpoints, moved off the commit path.
//!
//! Left to itself SQLite checkpoints inside whichever COMMIT pushes the WAL past 1000 pages: that
//! commit copies the pages into the database and fsyncs both files while holding the write lock.
//! A ledger operation writes ~10 pages, so every ~100th shopper paid for everyone's checkpoint.
//! Instead one task checkpoints ten times a second (PASSIVE: it never waits for, or blocks, a
//! writer). Ten rather than one: under a steady write load a second's worth of WAL is tens of
//! megabytes of fresh file pages for the kernel to allocate, and copying back a tenth of a second
//! at a time measured ~12 % more ledger operations per second (BENCHMARKS.md); an idle database
//! costs one query that finds nothing to do. Durability is unchanged: commits were never fsynced
//! under `synchronous = NORMAL`; the WAL is fsynced at checkpoints, which come at least every
//! 100 ms instead of every 1000 pages.

use std::time::Duration;

use sqlx::AnyPool;

pub const INTERVAL: Duration = Duration::from_millis(100);

/// How many WAL pages may pile up before a commit checkpoints after all: only reached if this
/// task cannot keep up or is gone (a process without a runtime), so the WAL stays bounded.
pub const AUTOCHECKPOINT_PAGES: u32 = 50_000;

/// The WAL file is truncated back to this size after a checkpoint has emptied it.
pub const JOURNAL_SIZE_LIMIT_BYTES: u64 = 64 * 1024 * 1024;

/// Runs until the pool is closed. Needs a tokio runtime; without one nothing is spawned and
/// SQLite's own (bounded) auto-checkpoint still applies.
pub fn spawn(pool: AnyPool) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                if pool.is_closed() {
                    return;
                }
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying in a second");
            }
        }
    });
}
