//! Cool-downs shared by every process: consecutive submission failures are counted in the
//! database, so a provider that one process saw fail `FAILURES_BEFORE_COOL_DOWN` times is skipped
//! by all of them until the cool-down ends. After it, one failure cools it down again (it has not
//! shown it is back); one success clears the count.

use std::collections::HashSet;

use sqlx::AnyConnection;

use crate::clock::Timestamp;
use crate::db::{Db, with_retry};

/// After this many consecutive submission failures a provider is skipped for `COOL_DOWN_MS`:
/// long enough to stop hammering a provider that is down, short enough to notice it is back.
pub const FAILURES_BEFORE_COOL_DOWN: i64 = 3;
pub const COOL_DOWN_MS: i64 = 30_000;

/// The providers cooling down at `now`.
pub async fn cooling(db: &Db, now: Timestamp) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT provider FROM provider_health WHERE cooling_until > $1")
            .bind(now.millis())
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(p,)| p).collect())
}

/// When `provider` stops cooling down, if it is.
pub async fn cooling_until(
    db: &Db,
    provider: &str,
    now: Timestamp,
) -> Result<Option<Timestamp>, sqlx::Error> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT cooling_until FROM provider_health WHERE provider = $1")
            .bind(provider)
            .fetch_optional(db.pool())
            .await?;
    Ok(row
        .and_then(|(until,)| until)
        .filter(|&until| until > now.millis())
        .map(Timestamp::from_millis))
}

/// One more failure in a row; the third (or any after a cool-down) starts a cool-down.
/// `Ok(true)` when this failure started one.
pub async fn record_failure(db: &Db, provider: &str, now: Timestamp) -> Result<bool, sqlx::Error> {
    let until = now.plus_millis(COOL_DOWN_MS).millis();
    with_retry(|| async {
        let (failures, cooling_until): (i64, Option<i64>) = sqlx::query_as(
            "INSERT INTO provider_health (provider, consecutive_failures, cooling_until, updated_at) \
             VALUES ($1, 1, NULL, $2) \
             ON CONFLICT (provider) DO UPDATE SET \
               consecutive_failures = provider_health.consecutive_failures + 1, \
               cooling_until = CASE WHEN provider_health.consecutive_failures + 1 >= $3 \
                 THEN $4 ELSE provider_health.cooling_until END, \
               updated_at = $2 \
             RETURNING consecutive_failures, cooling_until",
        )
        .bind(provider)
        .bind(now.millis())
        .bind(FAILURES_BEFORE_COOL_DOWN)
        .bind(until)
        .fetch_one(db.pool())
        .await?;
        Ok(failures >= FAILURES_BEFORE_COOL_DOWN && cooling_until == Some(until))
    })
    .await
}

/// Clears a provider's count and cool-down; a healthy provider costs no write.
const CLEAR: &str = "UPDATE provider_health SET consecutive_failures = 0, cooling_until = NULL, \
     updated_at = $1 WHERE provider = $2 AND (consecutive_failures <> 0 OR cooling_until IS NOT NULL)";

/// A success clears the count.
pub async fn record_success(db: &Db, provider: &str, now: Timestamp) -> Result<(), sqlx::Error> {
    with_retry(|| async {
        sqlx::query(CLEAR).bind(now.millis()).bind(provider).execute(db.pool()).await.map(|_| ())
    })
    .await
}

/// The operator's reset, on the caller's transaction (the console audits it in the same one):
/// the provider is tried again at once.
pub async fn reset_in(
    conn: &mut AnyConnection,
    provider: &str,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(CLEAR).bind(now.millis()).bind(provider).execute(conn).await.map(|_| ())
}
