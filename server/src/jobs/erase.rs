//! Erasing a shopper's generations when their account is deleted: every unfinished one is
//! canceled (its hold released), then every object any of them ever had in storage is deleted,
//! results that arrived after the end included, and the generations leave the history.

use crate::ids::{JobId, UserId};
use crate::jobs::mirror::result_keys;
use crate::jobs::{JOB_COLUMNS, JobError, Jobs, from_row};

impl Jobs {
    /// Cancels, then deletes the stored images of, every generation of `user`; answers how many
    /// objects were deleted (or found already gone).
    pub async fn erase_all(&self, user: &UserId) -> Result<usize, JobError> {
        let rows = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE user_id = $1"))
            .bind(user.as_str())
            .fetch_all(self.db.pool())
            .await?;
        let jobs = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
        for job in jobs.iter().filter(|j| !j.status.is_finished()) {
            match self.cancel(user, &job.id).await {
                Ok(_) | Err(JobError::AlreadyFinished) => {}
                Err(e) => return Err(e),
            }
        }
        let mut deleted = 0;
        for job in &jobs {
            let keys = [&job.person_key, &job.garment_key, &job.result_key]
                .into_iter()
                .flatten()
                .cloned()
                .chain(inputs_of(&job.id))
                .chain(result_keys(&job.id));
            for key in keys {
                self.storage.delete(&key).await?;
                deleted += 1;
            }
            self.statuses.forget(&job.id);
        }
        sqlx::query(
            "UPDATE jobs SET deleted_at = $1, person_key = NULL, garment_key = NULL, result_key = NULL, \
             prompt = NULL WHERE user_id = $2",
        )
        .bind(self.clock.now().millis())
        .bind(user.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(deleted)
    }
}

/// Every key a job's inputs may have had, whatever their format: retention forgets the keys it
/// deleted, and a crash may have left an object whose key was never recorded.
fn inputs_of(job: &JobId) -> impl Iterator<Item = String> + '_ {
    ["person", "garment"].into_iter().flat_map(move |name| {
        ["jpg", "png", "webp"].into_iter().map(move |ext| format!("inputs/{job}/{name}.{ext}"))
    })
}
