//! A generation's states and the only moves between them. `transition` is the one writer of a
//! job's status, and it asks `can_become` before every write.

use serde::Serialize;

/// A generation's life: `queued` (record and hold written) → `processing` (a provider took the
/// task) → `succeeded` (our copy stored, hold settled) | `failed` / `canceled` (hold released).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Processing,
    Succeeded,
    Failed,
    Canceled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Queued,
        JobStatus::Processing,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Canceled,
    ];

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
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Finished states are final: late and duplicate reports change nothing.
    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed | JobStatus::Canceled)
    }

    /// The legal moves. A success needs a task a provider accepted, so it comes from `processing`
    /// only; failing and canceling end any unfinished job.
    pub fn can_become(self, next: JobStatus) -> bool {
        use JobStatus::*;
        matches!(
            (self, next),
            (Queued, Processing)
                | (Processing, Succeeded)
                | (Queued | Processing, Failed | Canceled)
        )
    }

    /// The states from which a job may become `next`, for the conditional update that makes the
    /// move: derived from `can_become`, so the rule is written once.
    pub fn sources_of(next: JobStatus) -> impl Iterator<Item = JobStatus> {
        JobStatus::ALL.into_iter().filter(move |s| s.can_become(next))
    }
}

/// The SQL list of unfinished states, for `status IN (…)`.
pub const UNFINISHED: &str = "('queued', 'processing')";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_names_round_trip() {
        for status in JobStatus::ALL {
            assert_eq!(JobStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(JobStatus::parse("done"), None);
    }

    #[test]
    fn the_conditional_update_accepts_exactly_the_legal_sources() {
        let sources = |next| JobStatus::sources_of(next).collect::<Vec<_>>();
        assert_eq!(sources(JobStatus::Queued), vec![]);
        assert_eq!(sources(JobStatus::Processing), vec![JobStatus::Queued]);
        assert_eq!(sources(JobStatus::Succeeded), vec![JobStatus::Processing]);
        assert_eq!(sources(JobStatus::Failed), vec![JobStatus::Queued, JobStatus::Processing]);
        assert_eq!(sources(JobStatus::Canceled), vec![JobStatus::Queued, JobStatus::Processing]);
    }
}
