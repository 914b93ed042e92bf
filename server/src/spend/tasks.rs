//! The spend ledger's holds: a task's estimated cost is reserved against its provider's budget
//! before the provider is called, settled when the job succeeds, released otherwise. The budget
//! row's conditional update (`committed + estimate <= limit`) is the one place concurrent
//! submissions meet, in every process: PostgreSQL re-checks the condition on the row it waited
//! for, SQLite writes one transaction at a time.

use sqlx::AnyConnection;

use super::{Budget, Usd};
use crate::clock::Timestamp;
use crate::db::{Db, with_retry};
use crate::ids::JobId;

/// One task's hold on a provider's spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskCharge(String);

impl TaskCharge {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What reserving a task's cost found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    Reserved(TaskCharge),
    /// The task would pass the provider's budget for this period.
    OverBudget {
        committed: Usd,
    },
    /// The provider is cooling down after consecutive submission failures.
    Cooling,
    /// The job is no longer queued (canceled, failed, or submitted by someone else meanwhile):
    /// nothing is held, and its task must not be sent.
    JobMovedOn,
}

/// Decides whether a task of `job` may go to `provider` now and, when it may, reserves
/// `estimate` against `budget` (when it has one), in one transaction: the job is still queued,
/// the provider is not cooling down, and the budget has room, as that transaction reads them.
///
/// A queued job holds one task's cost at a time: a hold its earlier submission left behind (a
/// crash between the provider's answer and its record) is released here. A retry of this
/// transaction after a commit that reported an error finds its own hold and reserves nothing
/// twice.
pub async fn reserve(
    db: &Db,
    job: &JobId,
    provider: &str,
    estimate: Usd,
    budget: Option<Budget>,
    now: Timestamp,
) -> Result<Reservation, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    with_retry(|| async {
        let mut tx = db.pool().begin().await?;
        // A write first, so that SQLite takes its write lock before reading anything; on
        // PostgreSQL it locks the job's row, so that a cancel or a failure of the job either
        // waits for this hold (and releases it) or is seen here, and no hold outlives its job.
        let queued = sqlx::query(
            "UPDATE jobs SET lease_until = lease_until WHERE id = $1 AND status = 'queued'",
        )
        .bind(job.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if queued == 0 {
            tx.rollback().await?;
            return Ok(Reservation::JobMovedOn);
        }
        let held: Vec<(String,)> =
            sqlx::query_as("SELECT id FROM provider_tasks WHERE job_id = $1 AND state = 'held'")
                .bind(job.as_str())
                .fetch_all(&mut *tx)
                .await?;
        if held.iter().any(|(h,)| *h == id) {
            tx.rollback().await?;
            return Ok(Reservation::Reserved(TaskCharge(id.clone())));
        }
        let cooling: Option<(i64,)> = sqlx::query_as(
            "SELECT cooling_until FROM provider_health WHERE provider = $1 AND cooling_until > $2",
        )
        .bind(provider)
        .bind(now.millis())
        .fetch_optional(&mut *tx)
        .await?;
        if cooling.is_some() {
            tx.rollback().await?;
            return Ok(Reservation::Cooling);
        }
        for (stale,) in &held {
            release_in(&mut tx, stale, None, now).await?;
        }
        let period = budget.map(|b| (b.period.as_str(), b.period.start(now).millis()));
        if let (Some(budget), Some((period, start))) = (budget, period) {
            sqlx::query(
                "INSERT INTO provider_budgets (provider, period, period_start, committed_micros) \
                 VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
            )
            .bind(provider)
            .bind(period)
            .bind(start)
            .execute(&mut *tx)
            .await?;
            let taken = sqlx::query(
                "UPDATE provider_budgets SET committed_micros = committed_micros + $1 \
                 WHERE provider = $2 AND period = $3 AND period_start = $4 \
                 AND committed_micros + $1 <= $5",
            )
            .bind(estimate.micros())
            .bind(provider)
            .bind(period)
            .bind(start)
            .bind(budget.limit.micros())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 0 {
                let (committed,): (i64,) = sqlx::query_as(
                    "SELECT committed_micros FROM provider_budgets \
                     WHERE provider = $1 AND period = $2 AND period_start = $3",
                )
                .bind(provider)
                .bind(period)
                .bind(start)
                .fetch_one(&mut *tx)
                .await?;
                // The stale holds stay until the job ends or the next reservation: nothing here
                // is written.
                tx.rollback().await?;
                return Ok(Reservation::OverBudget { committed: Usd::from_micros(committed) });
            }
        }
        sqlx::query(
            "INSERT INTO provider_tasks (id, job_id, provider, estimate_micros, state, period, \
             period_start, created_at) VALUES ($1, $2, $3, $4, 'held', $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(job.as_str())
        .bind(provider)
        .bind(estimate.micros())
        .bind(period.map(|(p, _)| p))
        .bind(period.map(|(_, s)| s))
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Reservation::Reserved(TaskCharge(id.clone())))
    })
    .await
}

/// The provider accepted the task: this hold is the one the job's success settles. On the
/// caller's connection, inside the transaction that records the acceptance.
pub async fn accepted_in(
    conn: &mut AnyConnection,
    charge: &TaskCharge,
    task_key: &str,
) -> Result<(), sqlx::Error> {
    let held =
        sqlx::query("UPDATE provider_tasks SET task_key = $1 WHERE id = $2 AND state = 'held'")
            .bind(task_key)
            .bind(charge.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if held == 1 {
        return Ok(());
    }
    // The provider answered after this submission's lease had run out, and a resubmission
    // released this hold as a crashed one's. The task runs all the same and this job is now
    // bound to it: its cost is held again (the resubmission's own hold goes when its acceptance
    // finds the job moved on). The budget is not asked: the money is already being spent.
    let row: Option<HoldRow> = sqlx::query_as(
        "UPDATE provider_tasks SET state = 'held', task_key = $1, resolved_at = NULL, \
         submit_failure = NULL WHERE id = $2 AND state = 'released' \
         RETURNING provider, estimate_micros, period, period_start",
    )
    .bind(task_key)
    .bind(charge.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((provider, estimate, period, start)) = row {
        adjust_budget(conn, &provider, period.as_deref(), start, estimate).await?;
    }
    Ok(())
}

/// The provider said what the accepted task cost: the figure its success settles at. Inside the
/// transaction that records the report.
pub async fn reported_cost_in(
    conn: &mut AnyConnection,
    job: &JobId,
    task_key: &str,
    cost: Usd,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE provider_tasks SET cost_micros = $1 WHERE job_id = $2 AND task_key = $3 AND state = 'held'",
    )
    .bind(cost.micros())
    .bind(job.as_str())
    .bind(task_key)
    .execute(conn)
    .await?;
    Ok(())
}

type HeldRow = (String, String, Option<String>, i64, Option<i64>, Option<String>, Option<i64>);

/// Ends every hold of a job, inside the transaction that ends the job: the accepted task of a
/// success (`settle` names it by provider and task key) is settled at the cost the provider
/// reported, or its estimate; every other hold is released.
pub async fn resolve_job_in(
    conn: &mut AnyConnection,
    job: &JobId,
    settle: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let held: Vec<HeldRow> = sqlx::query_as(
        "SELECT id, provider, task_key, estimate_micros, cost_micros, period, period_start \
         FROM provider_tasks WHERE job_id = $1 AND state = 'held'",
    )
    .bind(job.as_str())
    .fetch_all(&mut *conn)
    .await?;
    let mut settled = false;
    for (id, provider, task_key, estimate, reported, period, start) in held {
        let settles = !settled
            && settle.is_some_and(|(p, key)| p == provider && task_key.as_deref() == Some(key));
        let cost = reported.unwrap_or(estimate);
        let (state, cost, change) = if settles {
            ("settled", Some(cost), cost - estimate)
        } else {
            ("released", None, -estimate)
        };
        settled |= settles;
        let moved = sqlx::query(
            "UPDATE provider_tasks SET state = $1, cost_micros = $2, resolved_at = $3 \
             WHERE id = $4 AND state = 'held'",
        )
        .bind(state)
        .bind(cost)
        .bind(now.millis())
        .bind(id.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if moved == 1 && change != 0 {
            adjust_budget(conn, &provider, period.as_deref(), start, change).await?;
        }
    }
    Ok(())
}

/// How a provider answered a task it was sent and did not take: what its success rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubmitFailure {
    Unavailable,
    Rejected,
}

impl SubmitFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitFailure::Unavailable => "unavailable",
            SubmitFailure::Rejected => "rejected",
        }
    }
}

/// Releases one hold whose task was not taken: the provider refused it or could not take it
/// (`failure`, which its success rate counts), or the job moved on before the acceptance was
/// recorded (`None`). Nothing when it was already resolved.
pub async fn release(
    db: &Db,
    charge: &TaskCharge,
    failure: Option<SubmitFailure>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    with_retry(|| async {
        let mut tx = db.pool().begin().await?;
        release_in(&mut tx, charge.as_str(), failure, now).await?;
        tx.commit().await
    })
    .await
}

/// `release`, inside the caller's transaction.
pub async fn release_charge_in(
    conn: &mut AnyConnection,
    charge: &TaskCharge,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    release_in(conn, charge.as_str(), None, now).await
}

/// A released hold: its provider, estimate and budget period.
type HoldRow = (String, i64, Option<String>, Option<i64>);

async fn release_in(
    conn: &mut AnyConnection,
    id: &str,
    failure: Option<SubmitFailure>,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    let row: Option<HoldRow> = sqlx::query_as(
        "UPDATE provider_tasks SET state = 'released', resolved_at = $1, submit_failure = $2 \
         WHERE id = $3 AND state = 'held' \
         RETURNING provider, estimate_micros, period, period_start",
    )
    .bind(now.millis())
    .bind(failure.map(SubmitFailure::as_str))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((provider, estimate, period, start)) = row {
        adjust_budget(conn, &provider, period.as_deref(), start, -estimate).await?;
    }
    Ok(())
}

async fn adjust_budget(
    conn: &mut AnyConnection,
    provider: &str,
    period: Option<&str>,
    start: Option<i64>,
    change: i64,
) -> Result<(), sqlx::Error> {
    let (Some(period), Some(start)) = (period, start) else { return Ok(()) };
    sqlx::query(
        "UPDATE provider_budgets SET committed_micros = committed_micros + $1 \
         WHERE provider = $2 AND period = $3 AND period_start = $4",
    )
    .bind(change)
    .bind(provider)
    .bind(period)
    .bind(start)
    .execute(conn)
    .await?;
    Ok(())
}

/// What `provider` committed since `since`: settled tasks at their cost, tasks in flight at their
/// estimate.
pub async fn spent_since(db: &Db, provider: &str, since: Timestamp) -> Result<Usd, sqlx::Error> {
    let (micros,): (i64,) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN state = 'settled' THEN cost_micros ELSE estimate_micros END), 0) AS BIGINT) \
         FROM provider_tasks WHERE provider = $1 AND created_at >= $2 AND state <> 'released'",
    )
    .bind(provider)
    .bind(since.millis())
    .fetch_one(db.pool())
    .await?;
    Ok(Usd::from_micros(micros))
}

/// A budget period's committed amount, as the budget row keeps it.
pub async fn committed(
    db: &Db,
    provider: &str,
    budget: Budget,
    now: Timestamp,
) -> Result<Usd, sqlx::Error> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT committed_micros FROM provider_budgets \
         WHERE provider = $1 AND period = $2 AND period_start = $3",
    )
    .bind(provider)
    .bind(budget.period.as_str())
    .bind(budget.period.start(now).millis())
    .fetch_optional(db.pool())
    .await?;
    Ok(Usd::from_micros(row.map_or(0, |(c,)| c)))
}
