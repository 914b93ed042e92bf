//! A shopper's photos are kept only while a generation needs them: their input photos are
//! deleted from storage `FITROOM_INPUT_RETENTION_HOURS` after the job ends (0: at the next
//! sweep), and the job forgets their keys and the provider's links to its images (docs/api.md,
//! Configuration). Results go after `FITROOM_RESULT_RETENTION_DAYS` when that is set, else when
//! the shopper deletes the generation.
//!
//! Safe with several processes sweeping at once: each row is claimed before its objects are
//! deleted (`sweep_after`, like the reconciler's leases), so two processes split a batch
//! instead of both working all of it. A row whose deletion fails is left alone for a back-off
//! that doubles with each failure, so rows that keep failing never head every batch.

use crate::clock::Timestamp;
use crate::ids::JobId;
use crate::jobs::erase::FORGET_PROVIDER_LINKS;
use crate::jobs::reconciler::Pass;
use crate::jobs::{JobError, Jobs};

const BATCH: i64 = 100;
/// How long a sweep may work on a row before another process may take it over.
pub(crate) const LEASE_SECS: i64 = 300;
/// The wait after a row's first failure; it doubles with each further one, up to `MAX_BACKOFF_SECS`.
const BACKOFF_SECS: i64 = 60;
const MAX_BACKOFF_SECS: i64 = 6 * 3_600;

/// Jobs that keep input photos, or the provider's link to an image.
const KEEPING_INPUTS: &str =
    "(person_key IS NOT NULL OR garment_key IS NOT NULL OR output_url IS NOT NULL)";
/// Jobs that keep a result.
const KEEPING_RESULT: &str = "result_key IS NOT NULL";

/// How long a row waits after its `failures`-th failure in a row.
pub(crate) fn backoff_secs(failures: i64) -> i64 {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    BACKOFF_SECS.saturating_mul(1 << doublings).min(MAX_BACKOFF_SECS)
}

/// A job whose photos are due: its id and its two input keys.
type InputsRow = (String, Option<String>, Option<String>);

/// What a sweep deletes from one due row.
enum Due {
    /// The input photos (either may be gone already); the provider's links go with them.
    Inputs(Option<String>, Option<String>),
    /// The stored result.
    Result(String),
}

/// Which sweep: each claims and backs off a row on columns of its own, so that one failing
/// (a result that cannot be deleted) never holds up the other (that job's input photos).
#[derive(Clone, Copy)]
enum Sweep {
    Inputs,
    Results,
}

impl Sweep {
    /// The rows this sweep is for: a claim matches only while the row still is one, so a row
    /// another process swept since it was read is not swept again.
    fn keeping(self) -> &'static str {
        match self {
            Sweep::Inputs => KEEPING_INPUTS,
            Sweep::Results => KEEPING_RESULT,
        }
    }

    /// Until when the row is claimed or backing off, and how many failures in a row it had.
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Sweep::Inputs => ("sweep_after", "sweep_failures"),
            Sweep::Results => ("result_sweep_after", "result_sweep_failures"),
        }
    }

    /// Rows nobody works on for this sweep and that are not backing off, at `$1`.
    fn unclaimed(self) -> String {
        let (after, _) = self.columns();
        format!("({after} IS NULL OR {after} <= $1)")
    }
}

impl Due {
    fn sweep(&self) -> Sweep {
        match self {
            Due::Inputs(..) => Sweep::Inputs,
            Due::Result(_) => Sweep::Results,
        }
    }

    /// Forgets what was deleted and gives the claim back: `$1` the job, `$2` the time.
    fn forget_sql(&self) -> String {
        let forgotten = match self {
            Due::Inputs(..) => "person_key = NULL, garment_key = NULL",
            Due::Result(_) => "result_key = NULL, result_deleted_at = $2",
        };
        let (after, failures) = self.sweep().columns();
        format!(
            "UPDATE jobs SET {forgotten}, {FORGET_PROVIDER_LINKS}, {after} = NULL, \
             {failures} = 0 WHERE id = $1"
        )
    }

    fn keys(&self) -> Vec<&str> {
        match self {
            Due::Inputs(person, garment) => {
                [person, garment].into_iter().flatten().map(String::as_str).collect()
            }
            Due::Result(key) => vec![key],
        }
    }
}

impl Jobs {
    /// Deletes the photos of jobs that ended more than the retention ago, a batch per pass.
    pub(crate) async fn sweep_inputs(&self, pass: &mut Pass) {
        let hours =
            i64::try_from(self.config.input_retention_hours).unwrap_or(i64::MAX / 3_600_000);
        let cutoff = self.clock.now().plus_millis(-hours.saturating_mul(3_600_000));
        let columns = "id, person_key, garment_key";
        let Some(due) = self.due::<InputsRow>(columns, Sweep::Inputs, cutoff, pass).await else {
            return;
        };
        for (id, person, garment) in due {
            if self.sweep_row(&JobId::from_string(id), Due::Inputs(person, garment), pass).await {
                pass.deleted_inputs += 1;
                self.metrics.count("fitroom_reconciler_actions", &[("action", "delete_inputs")]);
            }
        }
    }

    /// Deletes the results of jobs that ended more than `FITROOM_RESULT_RETENTION_DAYS` ago
    /// (when set), a batch per pass; the generation stays, its `result_url` null.
    pub(crate) async fn sweep_results(&self, pass: &mut Pass) {
        let days =
            i64::try_from(self.config.result_retention_days).unwrap_or(i64::MAX / 86_400_000);
        if days == 0 {
            return;
        }
        let cutoff = self.clock.now().plus_millis(-days.saturating_mul(86_400_000));
        let columns = "id, result_key";
        let Some(due) = self.due::<(String, String)>(columns, Sweep::Results, cutoff, pass).await
        else {
            return;
        };
        for (id, key) in due {
            if self.sweep_row(&JobId::from_string(id), Due::Result(key), pass).await {
                pass.deleted_results += 1;
                self.metrics.count("fitroom_reconciler_actions", &[("action", "delete_result")]);
            }
        }
    }

    /// A batch of the rows that ended by `cutoff`, still keep what `keeping` names and that
    /// nobody holds, oldest first; `None` when reading them failed (logged and counted: the next
    /// pass tries again).
    async fn due<T>(
        &self,
        columns: &str,
        sweep: Sweep,
        cutoff: Timestamp,
        pass: &mut Pass,
    ) -> Option<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        let (keeping, unclaimed) = (sweep.keeping(), sweep.unclaimed());
        let rows = sqlx::query_as(&format!(
            "SELECT {columns} FROM jobs WHERE {keeping} AND finished_at IS NOT NULL \
             AND finished_at <= $2 AND {unclaimed} ORDER BY finished_at LIMIT $3"
        ))
        .bind(self.clock.now().millis())
        .bind(cutoff.millis())
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await;
        match rows {
            Ok(rows) => Some(rows),
            Err(e) => {
                tracing::error!(error = %e, keeping, "reading the jobs whose stored images are due failed");
                pass.failures += 1;
                None
            }
        }
    }

    /// Claims the row, deletes its due objects and forgets them; true when this process did.
    /// A row another process holds is skipped; a failure backs the row off.
    async fn sweep_row(&self, id: &JobId, due: Due, pass: &mut Pass) -> bool {
        match self.claim_for_sweep(id, &due).await {
            Ok(true) => {}
            Ok(false) => return false,
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "claiming a job for the retention sweep failed");
                pass.failures += 1;
                return false;
            }
        }
        let Err(e) = self.delete_due(id, &due).await else { return true };
        tracing::warn!(job = %id, error = %e, "deleting a job's stored images failed; will try again after a back-off");
        pass.failures += 1;
        if let Err(e) = self.back_off_sweep(id, due.sweep()).await {
            // The lease runs out by itself: the row is tried again then.
            tracing::warn!(job = %id, error = %e, "backing off a job's retention sweep failed");
        }
        false
    }

    async fn claim_for_sweep(&self, id: &JobId, due: &Due) -> Result<bool, JobError> {
        let now = self.clock.now();
        let sweep = due.sweep();
        let (after, _) = sweep.columns();
        let claimed = sqlx::query(&format!(
            "UPDATE jobs SET {after} = $2 WHERE id = $3 AND {} AND {}",
            sweep.unclaimed(),
            sweep.keeping()
        ))
        .bind(now.millis())
        .bind(now.plus_secs(LEASE_SECS).millis())
        .bind(id.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn delete_due(&self, id: &JobId, due: &Due) -> Result<(), JobError> {
        for key in due.keys() {
            self.storage.delete(key).await?;
        }
        let sql = due.forget_sql();
        let mut forget = sqlx::query(&sql).bind(id.as_str());
        if let Due::Result(_) = due {
            forget = forget.bind(self.clock.now().millis());
        }
        forget.execute(self.db.pool()).await?;
        self.statuses.forget(id);
        Ok(())
    }

    async fn back_off_sweep(&self, id: &JobId, sweep: Sweep) -> Result<(), JobError> {
        let (after, count) = sweep.columns();
        let (failures,): (i64,) =
            sqlx::query_as(&format!("SELECT {count} FROM jobs WHERE id = $1"))
                .bind(id.as_str())
                .fetch_one(self.db.pool())
                .await?;
        let failures = failures + 1;
        let next = self.clock.now().plus_secs(backoff_secs(failures));
        sqlx::query(&format!("UPDATE jobs SET {count} = $1, {after} = $2 WHERE id = $3"))
            .bind(failures)
            .bind(next.millis())
            .bind(id.as_str())
            .execute(self.db.pool())
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_row_waits_longer_after_each_failure_up_to_six_hours() {
        assert_eq!(backoff_secs(1), 60);
        assert_eq!(backoff_secs(2), 120);
        assert_eq!(backoff_secs(5), 960);
        assert_eq!(backoff_secs(30), MAX_BACKOFF_SECS);
        assert_eq!(backoff_secs(i64::MAX), MAX_BACKOFF_SECS);
    }
}
