//! Each provider's figures over the routing window, read from the database so that every process
//! sees the same: tasks ended, success rate, time from submission to result, spend against
//! budget, and whether it is usable now.

use fitroom_types::admin::ProviderRow;

use super::{SpendSettings, Usd, health, tasks};
use crate::clock::Timestamp;
use crate::db::Db;
use crate::spend::settings::Period;

/// The most successes a window's percentiles are taken over (the newest).
const MAX_SAMPLES: i64 = 10_000;

/// A provider's record over a window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    pub succeeded: i64,
    pub failed: i64,
    /// Submission to result of each success, in milliseconds, ascending.
    pub durations_ms: Vec<i64>,
}

impl Measured {
    pub fn jobs(&self) -> i64 {
        self.succeeded + self.failed
    }

    pub fn success_rate(&self) -> Option<f64> {
        (self.jobs() > 0).then(|| self.succeeded as f64 / self.jobs() as f64)
    }

    /// The nearest-rank percentile `p` (0 < p ≤ 1) of the successes' durations.
    pub fn percentile_ms(&self, p: f64) -> Option<i64> {
        let n = self.durations_ms.len();
        if n == 0 {
            return None;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        Some(self.durations_ms[rank - 1])
    }
}

/// What `provider` did with the tasks it was sent that ended since `since`, from the spend
/// ledger's task rows rather than from the provider a job named at creation: a success is a
/// settled task; a failure is a task it was sent and did not take (unavailable or rejected) or
/// one it took whose job failed. Tasks that ended otherwise (a cancel, a crashed submission's
/// hold) say nothing about the provider and are not counted. Durations run from the job's
/// submission to its result.
pub async fn measure(db: &Db, provider: &str, since: Timestamp) -> Result<Measured, sqlx::Error> {
    let counts: (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN t.state = 'settled' THEN 1 ELSE 0 END), 0) AS BIGINT), \
                CAST(COALESCE(SUM(CASE WHEN t.submit_failure IS NOT NULL \
                  OR (t.state = 'released' AND t.task_key IS NOT NULL AND j.status = 'failed') \
                  THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM provider_tasks t JOIN jobs j ON j.id = t.job_id \
         WHERE t.provider = $1 AND t.resolved_at >= $2",
    )
    .bind(provider)
    .bind(since.millis())
    .fetch_one(db.pool())
    .await?;
    let rows: Vec<(i64,)> = sqlx::query_as(
        "SELECT j.finished_at - j.submitted_at FROM provider_tasks t JOIN jobs j ON j.id = t.job_id \
         WHERE t.provider = $1 AND t.resolved_at >= $2 AND t.state = 'settled' \
         AND j.submitted_at IS NOT NULL AND j.finished_at IS NOT NULL \
         ORDER BY t.resolved_at DESC LIMIT $3",
    )
    .bind(provider)
    .bind(since.millis())
    .bind(MAX_SAMPLES)
    .fetch_all(db.pool())
    .await?;
    let mut durations_ms: Vec<i64> = rows.into_iter().map(|(d,)| d.max(0)).collect();
    durations_ms.sort_unstable();
    Ok(Measured { succeeded: counts.0, failed: counts.1, durations_ms })
}

/// One row per enabled provider, in the configured order.
pub async fn rows(
    db: &Db,
    settings: &SpendSettings,
    providers: &[&str],
    window_ms: i64,
    now: Timestamp,
) -> Result<Vec<ProviderRow>, sqlx::Error> {
    let since = Timestamp::from_millis(now.millis() - window_ms);
    let mut rows = Vec::with_capacity(providers.len());
    for &name in providers {
        let price = settings.price(name);
        let budget = settings.budget(name);
        let measured = measure(db, name, since).await?;
        let spend = match budget {
            Some(budget) => tasks::committed(db, name, budget, now).await?,
            None => tasks::spent_since(db, name, Period::Day.start(now)).await?,
        };
        let cooling_until = health::cooling_until(db, name, now).await?;
        let over_budget =
            budget.is_some_and(|b| Usd::from_micros(spend.micros() + price.micros()) > b.limit);
        let state = if cooling_until.is_some() {
            "cooling"
        } else if over_budget {
            "over_budget"
        } else {
            "ok"
        };
        rows.push(ProviderRow {
            name: name.to_owned(),
            state: state.to_owned(),
            price: price.as_f64(),
            spend: spend.as_f64(),
            budget: budget.map(|b| b.limit.as_f64()),
            period: budget.map(|b| b.period.as_str().to_owned()),
            jobs: measured.jobs(),
            success_rate: measured.success_rate(),
            p50_ms: measured.percentile_ms(0.5),
            p95_ms: measured.percentile_ms(0.95),
            cooling_until: cooling_until.map(Timestamp::to_rfc3339),
        });
    }
    Ok(rows)
}

/// How long measured figures are reused within one process before the database is read again:
/// routing reads them on every submission, and they move slowly.
pub const CACHE_MS: i64 = 2_000;

/// The window's measurements of each provider, kept for `CACHE_MS`: a cache, not a source of
/// truth; every process reads the same rows.
#[derive(Default)]
pub struct WindowCache {
    kept: std::sync::Mutex<Option<(Timestamp, std::collections::HashMap<String, Measured>)>>,
}

impl WindowCache {
    pub async fn measured(
        &self,
        db: &Db,
        providers: &[&str],
        window_ms: i64,
        now: Timestamp,
    ) -> Result<std::collections::HashMap<String, Measured>, sqlx::Error> {
        if let Some((at, kept)) = self.kept.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
            && now.millis() - at.millis() < CACHE_MS
            && now >= *at
            && providers.iter().all(|p| kept.contains_key(*p))
        {
            return Ok(kept.clone());
        }
        let since = Timestamp::from_millis(now.millis() - window_ms);
        let mut fresh = std::collections::HashMap::new();
        for &name in providers {
            fresh.insert(name.to_owned(), measure(db, name, since).await?);
        }
        *self.kept.lock().unwrap_or_else(|p| p.into_inner()) = Some((now, fresh.clone()));
        Ok(fresh)
    }
}

/// Why a provider cannot take a task now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unusable {
    Cooling,
    OverBudget,
}

/// Whether each of `providers` can take one more task now: not cooling down, and its price still
/// fits its budget. A read, not a reservation: submission reserves.
pub async fn availability<'a>(
    db: &Db,
    settings: &SpendSettings,
    providers: &[&'a str],
    now: Timestamp,
) -> Result<Vec<(&'a str, Option<Unusable>)>, sqlx::Error> {
    let cooling = health::cooling(db, now).await?;
    let mut out = Vec::with_capacity(providers.len());
    for &name in providers {
        let verdict = if cooling.contains(name) {
            Some(Unusable::Cooling)
        } else if let Some(budget) = settings.budget(name) {
            let committed = tasks::committed(db, name, budget, now).await?;
            (committed.micros() + settings.price(name).micros() > budget.limit.micros())
                .then_some(Unusable::OverBudget)
        } else {
            None
        };
        out.push((name, verdict));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let m = Measured {
            succeeded: 10,
            failed: 0,
            durations_ms: (1..=10).map(|d| d * 100).collect(),
        };
        assert_eq!(m.percentile_ms(0.5), Some(500));
        assert_eq!(m.percentile_ms(0.95), Some(1000));
        assert_eq!(Measured::default().percentile_ms(0.5), None);
    }

    #[test]
    fn the_success_rate_counts_ended_tasks_only() {
        let m = Measured { succeeded: 3, failed: 1, durations_ms: vec![] };
        assert_eq!(m.success_rate(), Some(0.75));
        assert_eq!(Measured::default().success_rate(), None);
    }
}
