//! Evolink, an aggregator (docs/providers.md): try-on is an image-edit model given
//! `image_urls: [person, garment]` and an instruction; `POST /v1/images/generations` with a
//! `callback_url`, `GET /v1/tasks/{id}`. Callbacks are not signed: the callback URL carries the
//! job's token, and the webhook handler asks `/v1/tasks/{id}` before believing anything.
//! Evolink only calls back to https URLs, so `FITROOM_PUBLIC_URL` must be https in production.
//!
//! Settings: `EVOLINK_API_KEY`, `EVOLINK_MODEL` (no default: the aggregator serves many),
//! `EVOLINK_API_BASE`, and `EVOLINK_INPUTS` (an `input_map`).

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde_json::json;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::providers::http::{fetch_json, send_json};
use crate::providers::input_map::InputMap;
use crate::providers::report::{self, Word};
use crate::providers::settings::Settings;
use crate::providers::{
    FetchError, Provider, RegistryError, SubmitError, TaskInput, TaskState, WebhookError,
    WebhookEvent,
};

pub const NAME: &str = "evolink";
const DEFAULT_API_BASE: &str = "https://api.evolink.ai";
const DEFAULT_INPUTS: &str =
    "prompt=$instruction,image_urls[]=$person,image_urls[]=$garment,size=$aspect_ratio";

/// Evolink's status words; callbacks spell cancelled the British way, accept both.
fn word(status: &str) -> Option<Word> {
    Some(match status {
        "pending" | "processing" => Word::Pending,
        "completed" => Word::Succeeded,
        "failed" => Word::Failed("the task failed"),
        "cancelled" | "canceled" => Word::Failed("the task was cancelled"),
        _ => return None,
    })
}

pub struct Evolink {
    key: String,
    model: String,
    api_base: String,
    inputs: InputMap,
    http: reqwest::Client,
}

impl Evolink {
    pub fn from_config(config: &Config) -> Result<Self, RegistryError> {
        let s = Settings::new(config, NAME);
        if !config.is_https() {
            tracing::warn!(
                "Evolink only calls back to https URLs; FITROOM_PUBLIC_URL is not https, so its jobs will be finished by polling"
            );
        }
        Ok(Evolink {
            key: s.required("EVOLINK_API_KEY")?,
            model: s.required("EVOLINK_MODEL")?,
            api_base: s.url("EVOLINK_API_BASE", DEFAULT_API_BASE)?,
            inputs: s.inputs("EVOLINK_INPUTS", DEFAULT_INPUTS)?,
            http: crate::providers::http::client(),
        })
    }
}

#[async_trait]
impl Provider for Evolink {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError> {
        let mut body = self.inputs.build(task);
        body.insert("model".into(), json!(self.model));
        body.insert("callback_url".into(), json!(task.callback_url));
        let url = format!("{}/v1/images/generations", self.api_base);
        report::created_id(
            &send_json(self.http.post(url).bearer_auth(&self.key).json(&body)).await?,
        )
    }

    async fn parse_webhook(
        &self,
        _headers: &HeaderMap,
        query: Option<&str>,
        body: &[u8],
        _now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        report::unsigned_webhook(query, body, word)
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        let url = format!("{}/v1/tasks/{task_id}", self.api_base);
        report::from_query(fetch_json(self.http.get(url).bearer_auth(&self.key)).await?, word, None)
    }
}
