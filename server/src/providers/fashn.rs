//! FASHN (docs/providers.md): `POST /run?webhook_url=…`, `GET /status/{id}`. Its webhooks are not
//! signed: the callback URL carries the job's token, and the webhook handler asks
//! `/status/{id}` before believing anything.
//!
//! Settings: `FASHN_API_KEY`, `FASHN_MODEL`, `FASHN_API_BASE`, and `FASHN_INPUTS` (an
//! `input_map` for the `inputs` object, by default tryon-v1.6's fields).

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

pub const NAME: &str = "fashn";
const DEFAULT_MODEL: &str = "tryon-v1.6";
const DEFAULT_API_BASE: &str = "https://api.fashn.ai/v1";
const DEFAULT_INPUTS: &str = "model_image=$person,garment_image=$garment,category=auto";

/// FASHN's status words (the SDK adds `canceled` and `time_out`).
fn word(status: &str) -> Option<Word> {
    Some(match status {
        "starting" | "in_queue" | "processing" => Word::Pending,
        "completed" => Word::Succeeded,
        "failed" => Word::Failed("the prediction failed"),
        "canceled" => Word::Failed("the prediction was canceled"),
        "time_out" => Word::Failed("the prediction timed out"),
        _ => return None,
    })
}

pub struct Fashn {
    key: String,
    model: String,
    api_base: String,
    inputs: InputMap,
    http: reqwest::Client,
}

impl Fashn {
    pub fn from_config(config: &Config) -> Result<Self, RegistryError> {
        let s = Settings::new(config, NAME);
        Ok(Fashn {
            key: s.required("FASHN_API_KEY")?,
            model: s.or("FASHN_MODEL", DEFAULT_MODEL),
            api_base: s.url("FASHN_API_BASE", DEFAULT_API_BASE)?,
            inputs: s.inputs("FASHN_INPUTS", DEFAULT_INPUTS)?,
            http: crate::providers::http::client(),
        })
    }
}

#[async_trait]
impl Provider for Fashn {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/run", self.api_base),
            [("webhook_url", &task.callback_url)],
        )
        .map_err(|e| SubmitError::Rejected(format!("bad API URL: {e}")))?;
        let body = json!({ "model_name": self.model, "inputs": self.inputs.build(task) });
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
        let url = format!("{}/status/{task_id}", self.api_base);
        report::from_query(fetch_json(self.http.get(url).bearer_auth(&self.key)).await?, word, None)
    }
}
