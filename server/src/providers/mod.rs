//! AI providers behind one trait. Adding one is a module and a line in `registry::build`.

pub mod callback;
pub mod evolink;
pub mod fal;
pub mod fashn;
mod http;
pub mod input_map;
pub mod local;
mod registry;
pub mod replicate;
mod report;
mod settings;
pub mod standard_webhooks;

use async_trait::async_trait;
use axum::http::HeaderMap;

pub use registry::{ProviderName, Registry, RegistryError};

use crate::clock::Timestamp;
use crate::ids::JobId;

/// The most one call to a provider (a submission, a status query) may take, whatever the
/// adapter's own HTTP client does: the reconciler and the submission never wait longer.
pub const CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Signed webhooks further than this from our clock are refused (replays): the tolerance of every
/// scheme we verify (Standard Webhooks, fal, the local provider).
pub const WEBHOOK_TOLERANCE_SECS: u64 = 300;

/// Whether a webhook's unix timestamp is within the tolerance of `now`.
pub fn timestamp_is_fresh(now: Timestamp, unix_secs: i64) -> bool {
    // abs_diff: a forged timestamp near i64::MIN or i64::MAX must not overflow (found by fuzzing).
    (now.millis() / 1000).abs_diff(unix_secs) <= WEBHOOK_TOLERANCE_SECS
}

/// What a provider is asked to make.
#[derive(Clone, Debug)]
pub struct TaskInput {
    pub job: JobId,
    /// Short-lived signed URLs of Fitroom's copies of the shopper's images.
    pub person_image_url: String,
    pub garment_image_url: Option<String>,
    pub prompt: Option<String>,
    pub aspect_ratio: Option<String>,
    /// Where the provider must POST its webhook (carries a per-job token for unsigned providers).
    pub callback_url: String,
}

/// A task's state in Fitroom's words, whatever the provider calls it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    /// `cost`: what the provider says this task cost us, when it says (Replicate's compute time
    /// at `REPLICATE_PRICE_PER_SECOND`); the configured price stands otherwise.
    Succeeded {
        outputs: Vec<String>,
        #[serde(default)]
        cost: Option<crate::spend::Usd>,
    },
    Failed {
        reason: String,
    },
}

impl TaskState {
    pub fn is_final(&self) -> bool {
        !matches!(self, TaskState::Pending)
    }
}

/// How a webhook proved it came from the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authenticity {
    /// The signature checked out: the payload can be believed.
    Signed,
    /// Unsigned provider: the URL's token must match the job's, and the task is fetched again
    /// from the provider's API before anything is believed.
    Token(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookEvent {
    pub task_id: String,
    pub state: TaskState,
    pub authenticity: Authenticity,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookError {
    #[error("invalid signature: {0}")]
    BadSignature(String),
    #[error("malformed webhook: {0}")]
    Malformed(String),
}

/// Each message starts with the provider's answer in a few words (`HTTP 503`, `timed out`,
/// `no connection`, …), then `: ` and the detail, which may quote its body or a URL.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// Down, overloaded, timed out, 5xx or 429: another provider may take the task.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused this task (4xx): trying elsewhere would not help it.
    #[error("provider rejected the task: {0}")]
    Rejected(String),
}

impl SubmitError {
    /// The provider's answer without the detail, which may quote its body or a URL carrying a
    /// callback token: what a job's timeline keeps.
    pub fn answer(&self) -> &str {
        let (SubmitError::Unavailable(message) | SubmitError::Rejected(message)) = self;
        message.split_once(": ").map_or(message.as_str(), |(answer, _)| answer)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("provider query failed: {0}")]
pub struct FetchError(pub String);

#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The name in `FITROOM_PROVIDERS` and in `/webhooks/{name}`.
    fn name(&self) -> &'static str;

    /// Starts a task; returns the provider's task id.
    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError>;

    /// Verifies a webhook delivery and reads it. `query` is the callback URL's query string.
    /// Async because verifying may need the provider's current public keys (fal's JWKS).
    async fn parse_webhook(
        &self,
        headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError>;

    /// Asks the provider for a task's state (webhooks that never came, unsigned webhooks).
    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError>;

    /// The bare task id that this provider's webhooks name, from the id `submit` returned. The
    /// same by default; a provider whose recorded id carries more (fal keeps its status and
    /// result URLs in it) says which part it is. Deliveries are bound to jobs by it.
    fn task_key<'a>(&self, task_id: &'a str) -> &'a str {
        task_id
    }

    /// Whether its output URLs may point at private or loopback addresses (self-hosted).
    fn serves_private_outputs(&self) -> bool {
        false
    }
}
