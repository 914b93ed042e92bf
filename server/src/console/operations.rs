//! The `/admin` overview: how the last hour went per provider, what credits are held right now,
//! and when the ledgers were last checked.

use fitroom_types::admin::{Operations, ProviderHour};

use super::ConsoleError;
use crate::AppState;

const HOUR_MS: i64 = 3_600_000;

pub async fn overview(state: &AppState) -> Result<Operations, ConsoleError> {
    let since = state.clock.now().millis() - HOUR_MS;
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT provider, COUNT(*), \
                CAST(COALESCE(SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN status IN ('queued', 'processing') THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM jobs WHERE created_at >= $1 GROUP BY provider ORDER BY provider",
    )
    .bind(since)
    .fetch_all(state.db.pool())
    .await?;
    let (open_holds, held_credits): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM holds WHERE state = 'open'",
    )
    .fetch_one(state.db.pool())
    .await?;
    let last_hour = rows
        .into_iter()
        .map(|(provider, jobs, succeeded, failed, unfinished)| {
            let finished = succeeded + failed;
            ProviderHour {
                provider,
                jobs,
                succeeded,
                failed,
                unfinished,
                // Canceled jobs say nothing about the provider: neither success nor failure.
                success_rate: (finished > 0).then(|| succeeded as f64 / finished as f64),
            }
        })
        .collect();
    Ok(Operations {
        last_hour,
        providers: super::providers::rows(state).await?,
        open_holds,
        held_credits,
        last_verification: super::verification::last(&state.db).await?,
    })
}
