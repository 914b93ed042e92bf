//! A shopper's photos are kept only while a generation needs them: their input photos are
//! deleted from storage `FITROOM_INPUT_RETENTION_HOURS` after the job ends (0: at the next
//! sweep), and the job forgets their keys (docs/api.md, Configuration). Results go after
//! `FITROOM_RESULT_RETENTION_DAYS` when that is set, else when the shopper deletes the generation.
//!
//! Safe with several processes sweeping at once: deleting an object that is gone is not an
//! error, and clearing the keys twice changes nothing.

use crate::ids::JobId;
use crate::jobs::Jobs;
use crate::jobs::reconciler::Pass;

const BATCH: i64 = 100;

/// A job whose photos are due: its id and its two input keys.
type Due = (String, Option<String>, Option<String>);

/// The rows a sweep found due, or `None` when reading them failed (logged and counted: the
/// next pass tries again).
fn due_rows<T>(rows: Result<Vec<T>, sqlx::Error>, what: &str, pass: &mut Pass) -> Option<Vec<T>> {
    match rows {
        Ok(rows) => Some(rows),
        Err(e) => {
            tracing::error!(error = %e, what, "reading the jobs whose stored images are due failed");
            pass.failures += 1;
            None
        }
    }
}

impl Jobs {
    /// Deletes the photos of jobs that ended more than the retention ago, a batch per pass.
    pub(crate) async fn sweep_inputs(&self, pass: &mut Pass) {
        let hours =
            i64::try_from(self.config.input_retention_hours).unwrap_or(i64::MAX / 3_600_000);
        let cutoff = self.clock.now().plus_millis(-hours.saturating_mul(3_600_000));
        let due: Result<Vec<Due>, _> = sqlx::query_as(
            "SELECT id, person_key, garment_key FROM jobs \
             WHERE (person_key IS NOT NULL OR garment_key IS NOT NULL) \
             AND finished_at IS NOT NULL AND finished_at <= $1 ORDER BY finished_at LIMIT $2",
        )
        .bind(cutoff.millis())
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await;
        let Some(due) = due_rows(due, "photos", pass) else { return };
        for (id, person, garment) in due {
            let id = JobId::from_string(id);
            match self.forget_inputs(&id, [person, garment].into_iter().flatten()).await {
                Ok(()) => pass.deleted_inputs += 1,
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "deleting a job's photos failed; will try again");
                    pass.failures += 1;
                }
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
        let due: Result<Vec<(String, String)>, _> = sqlx::query_as(
            "SELECT id, result_key FROM jobs WHERE result_key IS NOT NULL \
             AND finished_at IS NOT NULL AND finished_at <= $1 ORDER BY finished_at LIMIT $2",
        )
        .bind(cutoff.millis())
        .bind(BATCH)
        .fetch_all(self.db.pool())
        .await;
        let Some(due) = due_rows(due, "results", pass) else { return };
        for (id, key) in due {
            let id = JobId::from_string(id);
            let forgotten = async {
                self.storage.delete(&key).await?;
                sqlx::query(
                    "UPDATE jobs SET result_key = NULL, result_deleted_at = $1 WHERE id = $2",
                )
                .bind(self.clock.now().millis())
                .bind(id.as_str())
                .execute(self.db.pool())
                .await?;
                self.statuses.forget(&id);
                Ok::<_, crate::jobs::JobError>(())
            }
            .await;
            match forgotten {
                Ok(()) => {
                    pass.deleted_results += 1;
                    self.metrics
                        .count("fitroom_reconciler_actions", &[("action", "delete_result")]);
                }
                Err(e) => {
                    tracing::warn!(job = %id, error = %e, "deleting a job's result failed; will try again");
                    pass.failures += 1;
                }
            }
        }
    }

    async fn forget_inputs(
        &self,
        id: &JobId,
        keys: impl Iterator<Item = String>,
    ) -> Result<(), crate::jobs::JobError> {
        for key in keys {
            self.storage.delete(&key).await?;
        }
        sqlx::query("UPDATE jobs SET person_key = NULL, garment_key = NULL WHERE id = $1")
            .bind(id.as_str())
            .execute(self.db.pool())
            .await?;
        self.metrics.count("fitroom_reconciler_actions", &[("action", "delete_inputs")]);
        Ok(())
    }
}
