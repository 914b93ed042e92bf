//! Erasing a shopper's generations when their account is deleted: every unfinished one is
//! canceled (its hold released through the usual ending), every generation is marked deleted
//! and forgets its keys and the provider's links, then every object any of them may have had in
//! storage is deleted, results that arrived after the end included. Run again as often as
//! needed (`privacy::erasure`): each step finds done what is done.

use crate::ids::{JobId, UserId};
use crate::jobs::mirror::result_keys;
use crate::jobs::transition::Step;
use crate::jobs::{JobError, Jobs};

/// What one erasure of a shopper's generations did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ErasedJobs {
    /// Generations canceled, or marked deleted, by this run: none once everything was erased.
    pub changed: usize,
    /// Objects deleted (or found already gone).
    pub deletes: usize,
}

impl Jobs {
    /// Cancels, then marks, then deletes the stored images of, every generation of `user`.
    pub async fn erase_all(&self, user: &UserId) -> Result<ErasedJobs, JobError> {
        let mut erased = ErasedJobs::default();
        let unfinished: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT id FROM jobs WHERE user_id = $1 AND status IN {}",
            crate::jobs::UNFINISHED
        ))
        .bind(user.as_str())
        .fetch_all(self.db.pool())
        .await?;
        for (id,) in unfinished {
            // `finish`, not `cancel`: a generation already marked deleted is still ended.
            if self.finish(&JobId::from_string(id), Step::Canceled).await? {
                erased.changed += 1;
            }
        }
        // Marked first, then emptied: the keys below follow from the ids alone, so a crash in
        // between leaves nothing the next run cannot find.
        erased.changed += sqlx::query(&format!(
            "UPDATE jobs SET deleted_at = COALESCE(deleted_at, $1), person_key = NULL, \
             garment_key = NULL, result_key = NULL, prompt = NULL, {FORGET_PROVIDER_LINKS} \
             WHERE user_id = $2 AND (deleted_at IS NULL OR person_key IS NOT NULL \
             OR garment_key IS NOT NULL OR result_key IS NOT NULL OR output_url IS NOT NULL)"
        ))
        .bind(self.clock.now().millis())
        .bind(user.as_str())
        .execute(self.db.pool())
        .await?
        .rows_affected() as usize;
        let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM jobs WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_all(self.db.pool())
            .await?;
        for (id,) in ids {
            let id = JobId::from_string(id);
            for key in inputs_of(&id).chain(result_keys(&id)) {
                self.storage.delete(&key).await?;
                erased.deletes += 1;
            }
            self.statuses.forget(&id);
        }
        Ok(erased)
    }
}

/// The assignments that drop every link to the provider's copies of a job's images: its output
/// URL, and a task id that carries URLs (fal's queue status and result); the bare task key stays,
/// so that a late delivery is still recognised as this finished job's.
pub(crate) const FORGET_PROVIDER_LINKS: &str = "output_url = NULL, provider_task_id = task_key";

/// Every key a job's inputs may have had, whatever their format: retention forgets the keys it
/// deleted, and a crash may have left an object whose key was never recorded.
fn inputs_of(job: &JobId) -> impl Iterator<Item = String> + '_ {
    ["person", "garment"].into_iter().flat_map(move |name| {
        ["jpg", "png", "webp"].into_iter().map(move |ext| format!("inputs/{job}/{name}.{ext}"))
    })
}
