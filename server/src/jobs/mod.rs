//! Generation jobs: the whole life of a generation, and the only code that moves one.
//!
//! | step | file |
//! |---|---|
//! | the job and its credit hold are written together | `create.rs` |
//! | the task is offered to the providers, under a lease | `submit.rs` |
//! | a provider says something (verified webhook or poll) | `report.rs` |
//! | the output is copied into our storage | `mirror.rs` |
//! | the job ends and its hold is settled or released | `finish.rs` |
//! | the only writer of a job's status | `transition.rs` (rules in `status.rs`) |
//! | one process at a time on a job (submission, copy, poll) | `lease.rs` |
//! | overdue jobs and holds are finished | `reconciler.rs` |
//! | input photos are deleted once the retention has passed | `retention.rs` |
//! | an account's generations are erased with it | `erase.rs` |
//! | the shopper cancels or deletes | `cancel.rs`, `delete.rs` |
//! | the timeline of every step | `events.rs` |
//! | outputs are downloaded under address and size rules | `download.rs` |
//! | a job as its shopper sees it (`Generation`) | `view.rs` |

mod cancel;
mod create;
mod delete;
pub mod download;
mod erase;
mod events;
mod failure;
mod finish;
mod lease;
mod mirror;
mod reconciler;
mod record;
mod report;
pub(crate) mod retention;
mod status;
mod status_cache;
mod submit;
mod transition;
mod view;

use std::sync::Arc;

pub use create::{Created, NewGeneration};
pub use download::DownloadPolicy;
pub use erase::ErasedJobs;
pub use events::{EventKind, JobEvent};
pub use failure::FailureCode;
pub use mirror::MAX_OUTPUT_BYTES;
pub use reconciler::{Pass, spawn as spawn_reconciler};
pub use record::Job;
pub(crate) use record::{JOB_COLUMNS, from_row};
pub use report::{Reported, Source, TaskReport};
pub use status::{JobStatus, UNFINISHED};
use status_cache::StatusCache;
pub use submit::RoutePlan;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;
use crate::fault::FaultPoints;
use crate::ids::{JobId, UserId};
use crate::ledger::{Ledger, LedgerError};
use crate::providers::Registry;
use crate::signing::Signer;
use crate::storage::{Storage, StorageError};

/// Every fault point of a generation's life, for the crash tests.
pub const FAULT_POINTS: &[&str] = &[
    "create:after_job",
    "create:after_freeze",
    "create:after_commit",
    "create:after_person_input",
    "create:after_inputs",
    "submit:after_accepted",
    "report:after_output_recorded",
    "mirror:after_download",
    "mirror:after_store",
    "finish:after_transition",
];

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown provider {0:?}")]
    UnknownProvider(String),
    #[error("you already have {0} generations running")]
    TooManyJobs(u32),
    #[error("no such generation")]
    NotFound,
    #[error("the account is deleted")]
    AccountClosed,
    #[error("every provider is cooling down or over budget")]
    NoProviderAvailable,
    #[error("the Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the generation is still running")]
    StillRunning,
    #[error("the generation has already finished")]
    AlreadyFinished,
    #[error("the webhook's callback token does not match its job")]
    InvalidWebhookToken,
    #[error("asking the provider failed: {0}")]
    ProviderQuery(String),
    #[error("a job cannot move from {from:?} to {to:?}")]
    IllegalMove { from: JobStatus, to: JobStatus },
    #[error("{0}")]
    Internal(String),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Fault(#[from] crate::fault::InjectedFault),
}

impl crate::db::AsRetryable for JobError {
    fn is_retryable(&self) -> bool {
        match self {
            JobError::Ledger(e) => e.is_retryable(),
            JobError::Database(e) => crate::db::is_retryable(e),
            _ => false,
        }
    }
}

#[derive(Clone)]
pub struct Jobs {
    pub(crate) db: Db,
    pub(crate) ledger: Ledger,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) registry: Registry,
    pub(crate) signer: Signer,
    pub(crate) config: Arc<Config>,
    pub(crate) clock: SharedClock,
    pub(crate) faults: FaultPoints,
    pub(crate) statuses: Arc<StatusCache>,
    /// The routing window's figures, reused for a moment between submissions.
    pub(crate) window: Arc<crate::spend::figures::WindowCache>,
    pub metrics: crate::metrics::Metrics,
}

impl Jobs {
    /// The database and the clock are the ledger's: a job and its hold are written together.
    pub fn new(
        ledger: Ledger,
        storage: Arc<dyn Storage>,
        registry: Registry,
        signer: Signer,
        config: Arc<Config>,
        faults: FaultPoints,
    ) -> Self {
        let db = ledger.db().clone();
        let clock = ledger.clock().clone();
        Jobs {
            db,
            ledger,
            storage,
            registry,
            signer,
            config,
            clock,
            faults,
            statuses: Arc::new(status_cache::new()),
            window: Arc::default(),
            metrics: Default::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The status endpoint every open page polls: at most one indexed read per job and second,
    /// the rest from memory (see `status_cache`).
    pub async fn status(&self, user: &UserId, id: &JobId) -> Result<Arc<Job>, JobError> {
        if let Some(job) = self.statuses.get(id) {
            // The cache is shared by all users: an id is answered only to its owner.
            return if &job.user == user { Ok(job) } else { Err(JobError::NotFound) };
        }
        let epoch = self.statuses.epoch();
        let job = Arc::new(self.get(user, id).await?);
        self.statuses.put(epoch, id.clone(), job.clone());
        Ok(job)
    }

    /// One indexed read, always from the database: for decisions that must see the latest state.
    pub async fn get(&self, user: &UserId, id: &JobId) -> Result<Job, JobError> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM jobs WHERE id = $1 AND user_id = $2 AND deleted_at IS NULL",
            record::JOB_COLUMNS
        ))
        .bind(id.as_str())
        .bind(user.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        row.as_ref().map(record::from_row).transpose()?.ok_or(JobError::NotFound)
    }

    pub async fn list(&self, user: &UserId, limit: u32) -> Result<Vec<Job>, JobError> {
        let rows = sqlx::query(&format!(
            "SELECT {} FROM jobs WHERE user_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT $2",
            record::JOB_COLUMNS
        ))
        .bind(user.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        rows.iter().map(record::from_row).collect::<Result<_, _>>().map_err(Into::into)
    }

    /// Any job, whoever owns it (webhooks and the reconciler act for the system).
    pub async fn load_job(&self, id: &JobId) -> Result<Option<Job>, JobError> {
        self.load(id).await
    }

    pub(crate) async fn load(&self, id: &JobId) -> Result<Option<Job>, JobError> {
        let row = sqlx::query(&format!("SELECT {} FROM jobs WHERE id = $1", record::JOB_COLUMNS))
            .bind(id.as_str())
            .fetch_optional(self.db.pool())
            .await?;
        Ok(row.as_ref().map(record::from_row).transpose()?)
    }

    /// A job's steps, oldest first.
    pub async fn timeline(&self, id: &JobId) -> Result<Vec<JobEvent>, JobError> {
        Ok(events::timeline(self.db.pool(), id).await?)
    }
}
