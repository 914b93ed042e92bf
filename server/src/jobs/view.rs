//! A job as its shopper sees it: the one `Generation` the REST API, the server functions and
//! the browser share (docs/api.md, `Generation`).

use fitroom_types::{Generation, GenerationStatus};

use crate::jobs::{Job, JobStatus};

impl From<JobStatus> for GenerationStatus {
    fn from(status: JobStatus) -> Self {
        match status {
            JobStatus::Queued => GenerationStatus::Queued,
            JobStatus::Processing => GenerationStatus::Processing,
            JobStatus::Succeeded => GenerationStatus::Succeeded,
            JobStatus::Failed => GenerationStatus::Failed,
            JobStatus::Canceled => GenerationStatus::Canceled,
        }
    }
}

impl Job {
    /// The result is offered only once it is in our storage and the job succeeded, and always
    /// as a Fitroom URL that needs the owner's session, never a provider's.
    pub fn generation(&self, public_url: &str) -> Generation {
        let result_url = (self.status == JobStatus::Succeeded && self.result_key.is_some())
            .then(|| format!("{public_url}/api/generations/{}/result", self.id));
        Generation {
            id: self.id.to_string(),
            status: self.status.into(),
            cost: self.cost.get(),
            provider: Some(self.provider.clone()),
            created_at: self.created_at.to_rfc3339(),
            updated_at: self.updated_at.to_rfc3339(),
            result_url,
            error: self.error.clone(),
        }
    }
}
