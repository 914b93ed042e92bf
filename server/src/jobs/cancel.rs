//! The shopper ends an unfinished generation: it becomes `canceled` and its hold is released.

use crate::audit::AdminWrite;
use crate::ids::{JobId, UserId};
use crate::jobs::transition::Step;
use crate::jobs::{Job, JobError, Jobs};

impl Jobs {
    /// Cancels an unfinished generation; its hold is released. A result that arrives later is
    /// not kept (see `mirror`).
    pub async fn cancel(&self, user: &UserId, id: &JobId) -> Result<Job, JobError> {
        self.get(user, id).await?;
        if !self.finish(id, Step::Canceled).await? {
            return Err(JobError::AlreadyFinished);
        }
        self.get(user, id).await
    }

    /// An operator cancels a generation, whoever's it is; `by` goes into the audit log in the
    /// same transaction as the cancel.
    pub async fn cancel_as_operator(
        &self,
        id: &JobId,
        by: &AdminWrite<'_>,
    ) -> Result<Job, JobError> {
        let job = self.load(id).await?.ok_or(JobError::NotFound)?;
        if !self.finish(id, Step::CanceledByOperator(by)).await? {
            return Err(JobError::AlreadyFinished);
        }
        self.get(&job.user, id).await
    }
}
