//! The shopper deletes a finished generation: it leaves their history, and every object it ever
//! had in storage goes, including a result copied after the job had already ended.

use crate::ids::{JobId, UserId};
use crate::jobs::erase::FORGET_PROVIDER_LINKS;
use crate::jobs::mirror::result_keys;
use crate::jobs::{JobError, Jobs};

impl Jobs {
    /// Hides a finished generation from history and deletes its stored images.
    pub async fn delete(&self, user: &UserId, id: &JobId) -> Result<(), JobError> {
        let job = self.get(user, id).await?;
        if !job.status.is_finished() {
            return Err(JobError::StillRunning);
        }
        // Marked first, then emptied: a crash in between leaves objects nothing references,
        // which the storage sweep removes, never a generation whose images are gone.
        sqlx::query(&format!(
            "UPDATE jobs SET deleted_at = $1, {FORGET_PROVIDER_LINKS} WHERE id = $2 AND user_id = $3"
        ))
            .bind(self.clock.now().millis())
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(self.db.pool())
            .await?;
        self.statuses.forget(id);
        let inputs = [&job.person_key, &job.garment_key].into_iter().flatten().cloned();
        for key in inputs.chain(result_keys(id)).chain(job.result_key.clone()) {
            self.storage.delete(&key).await?;
        }
        Ok(())
    }
}
