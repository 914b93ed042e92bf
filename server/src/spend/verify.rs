//! The spend ledger's invariants, checked by `fitroom ledger verify` beside the credits ledger:
//! each budget row commits exactly what its held and settled tasks say; no task is still held
//! once its job ended; a job settles at most one task, only when it succeeded, at a known cost.

use crate::db::Db;

pub async fn verify(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    let mut violations = Vec::new();
    let budgets: Vec<(String, String, i64, i64, i64)> = sqlx::query_as(
        "SELECT b.provider, b.period, b.period_start, b.committed_micros, \
           CAST(COALESCE((SELECT SUM(CASE WHEN t.state = 'settled' THEN t.cost_micros ELSE t.estimate_micros END) \
             FROM provider_tasks t WHERE t.provider = b.provider AND t.period = b.period \
             AND t.period_start = b.period_start AND t.state <> 'released'), 0) AS BIGINT) \
         FROM provider_budgets b",
    )
    .fetch_all(db.pool())
    .await?;
    for (provider, period, start, committed, tasks) in budgets {
        if committed != tasks {
            violations.push(format!(
                "provider budget {provider}/{period} from {start}: commits {committed} µ$ but its tasks add up to {tasks} µ$"
            ));
        }
    }
    let held: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.job_id, j.status FROM provider_tasks t JOIN jobs j ON j.id = t.job_id \
         WHERE t.state = 'held' AND j.status IN ('succeeded', 'failed', 'canceled')",
    )
    .fetch_all(db.pool())
    .await?;
    for (task, job, status) in held {
        violations
            .push(format!("provider task {task} is still held but its job {job} is {status}"));
    }
    let doubles: Vec<(String, i64)> = sqlx::query_as(
        "SELECT job_id, COUNT(*) FROM provider_tasks WHERE state = 'settled' \
         GROUP BY job_id HAVING COUNT(*) > 1",
    )
    .fetch_all(db.pool())
    .await?;
    for (job, n) in doubles {
        violations.push(format!("job {job} settled {n} provider tasks; at most one may be"));
    }
    let wrong: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.job_id, j.status FROM provider_tasks t JOIN jobs j ON j.id = t.job_id \
         WHERE t.state = 'settled' AND (t.cost_micros IS NULL OR j.status <> 'succeeded')",
    )
    .fetch_all(db.pool())
    .await?;
    for (task, job, status) in wrong {
        violations.push(format!(
            "provider task {task} is settled but its job {job} is {status} or its cost unknown"
        ));
    }
    Ok(violations)
}
