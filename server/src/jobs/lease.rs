//! Claiming a job so that one process at a time works on it: a submission, a copy into storage or
//! a poll takes the job's lease (`lease_until`) with an update that matches only while nobody
//! holds it and the job is in the state the work needs. A lease runs out by itself, so a process
//! that dies holding one delays the job, never strands it.

use crate::ids::JobId;
use crate::jobs::{JobError, Jobs};

/// What a job is claimed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lease {
    /// Offering a queued job's task to the providers.
    Submission,
    /// Copying a recorded output into storage.
    Mirror,
    /// Asking the provider about a processing job.
    Poll,
}

/// How long a copy or a poll may hold a job before another process may take it over.
const WORK_LEASE_SECS: i64 = 120;
/// How often a provider is asked again about a task that is still running.
const POLL_AGAIN_SECS: i64 = 30;

impl Lease {
    /// The state the work needs.
    fn condition(self) -> &'static str {
        match self {
            Lease::Submission => "status = 'queued'",
            Lease::Mirror => "status = 'processing' AND output_url IS NOT NULL",
            Lease::Poll => "status = 'processing'",
        }
    }
}

impl Jobs {
    /// How long a submission may hold a job: every enabled provider timing out once, and a margin.
    pub(crate) fn submit_lease_secs(&self) -> i64 {
        let providers = self.registry.names().len().max(1) as u64;
        (crate::providers::CALL_TIMEOUT.as_secs() * providers + 30) as i64
    }

    /// Takes the job's lease for `lease`. False when the job is not in the state the work needs or
    /// another process holds it.
    pub(crate) async fn claim(&self, id: &JobId, lease: Lease) -> Result<bool, JobError> {
        let now = self.clock.now();
        let (secs, next_check) = match lease {
            Lease::Submission => (self.submit_lease_secs(), None),
            Lease::Mirror => (WORK_LEASE_SECS, None),
            Lease::Poll => (WORK_LEASE_SECS, Some(now.plus_secs(POLL_AGAIN_SECS).millis())),
        };
        let sql = format!(
            "UPDATE jobs SET lease_until = $1, next_check_at = COALESCE($2, next_check_at) \
             WHERE id = $3 AND {} AND (lease_until IS NULL OR lease_until < $4)",
            lease.condition()
        );
        let claimed = sqlx::query(&sql)
            .bind(now.plus_secs(secs).millis())
            .bind(next_check)
            .bind(id.as_str())
            .bind(now.millis())
            .execute(self.db.pool())
            .await?;
        Ok(claimed.rows_affected() == 1)
    }

    /// Gives the lease back before it runs out: the work is done.
    pub(crate) async fn release_lease(&self, id: &JobId) -> Result<(), JobError> {
        sqlx::query("UPDATE jobs SET lease_until = NULL WHERE id = $1 AND status IN ('queued', 'processing')")
            .bind(id.as_str())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }
}
