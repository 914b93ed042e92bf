use serde::Serialize;

/// A generation's life: `queued` (record and hold written) → `processing` (a provider took the
/// task) → `succeeded` (our copy stored, hold settled) | `failed` / `canceled` (hold released).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Processing => "processing",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => JobStatus::Queued,
            "processing" => JobStatus::Processing,
            "succeeded" => JobStatus::Succeeded,
            "failed" => JobStatus::Failed,
            "canceled" => JobStatus::Canceled,
            _ => return None,
        })
    }

    /// Finished states are final: late and duplicate webhooks change nothing.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled)
    }

    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!((self, next), (Queued, Processing) | (Queued | Processing, Succeeded | Failed | Canceled))
    }
}

/// The SQL list of unfinished states, for `status IN (…)`.
pub const UNFINISHED: &str = "('queued', 'processing')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_jobs_never_move_again() {
        for done in [JobStatus::Succeeded, JobStatus::Failed, JobStatus::Canceled] {
            for next in [JobStatus::Queued, JobStatus::Processing, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Canceled] {
                assert!(!done.can_become(next), "{done:?} → {next:?}");
            }
        }
        assert!(JobStatus::Queued.can_become(JobStatus::Processing));
        assert!(JobStatus::Processing.can_become(JobStatus::Succeeded));
        assert!(!JobStatus::Processing.can_become(JobStatus::Queued));
    }
}
