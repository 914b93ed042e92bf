//! A shopper's photos are kept only while a generation needs them: their input photos are
//! deleted from storage `FITROOM_INPUT_RETENTION_HOURS` after the job ends (0: at the next
//! sweep), and the job forgets their keys (docs/api.md, Configuration). The result stays until
//! the shopper deletes the generation.
//!
//! Safe with several processes sweeping at once: deleting an object that is gone is not an
//! error, and clearing the keys twice changes nothing.

use crate::ids::JobId;
use crate::jobs::Jobs;
use crate::jobs::reconciler::Pass;

const BATCH: i64 = 100;

/// A job whose photos are due: its id and its two input keys.
type Due = (String, Option<String>, Option<String>);

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
        let due = match due {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "reading the jobs whose photos are due failed");
                pass.failures += 1;
                return;
            }
        };
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
