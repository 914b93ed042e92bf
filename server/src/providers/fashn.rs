//! FASHN (PROVIDERS.md): `POST /run?webhook_url=…`, `GET /status/{id}`. Its webhooks are not
//! signed: the callback URL carries the job's token, and the webhook handler asks
//! `/status/{id}` before believing anything.
//!
//! Settings: `FASHN_API_KEY`, `FASHN_MODEL`, `FASHN_API_BASE`, and `FASHN_INPUTS` (an
//! `input_map` for the `inputs` object, by default tryon-v1.6's fields).

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::clock::Timestamp;
use crate::config::Config;
use crate::providers::http::{error_text, fetch_json, send_json, urls};
use crate::providers::input_map::InputMap;
use crate::providers::report::{self, Report};
use crate::providers::settings::Settings;
use crate::providers::{
    Authenticity, FetchError, Provider, RegistryError, SubmitError, TaskInput, TaskState, WebhookError, WebhookEvent, callback,
};

pub const NAME: &str = "fashn";
const DEFAULT_MODEL: &str = "tryon-v1.6";
const DEFAULT_API_BASE: &str = "https://api.fashn.ai/v1";
const DEFAULT_INPUTS: &str = "model_image=$person,garment_image=$garment,category=auto";

/// A prediction as `/status/{id}` and the webhook describe it.
#[derive(Debug, Deserialize)]
struct Prediction {
    id: String,
    status: String,
    #[serde(default)]
    output: Value,
    #[serde(default)]
    error: Value,
}

impl Report for Prediction {
    fn id(&self) -> &str {
        &self.id
    }

    fn status(&self) -> &str {
        &self.status
    }

    fn state(&self) -> Option<TaskState> {
        let reason = |fallback: &str| error_text(&self.error).unwrap_or_else(|| fallback.to_owned());
        Some(match self.status.as_str() {
            "starting" | "in_queue" | "processing" => TaskState::Pending,
            "completed" => TaskState::Succeeded { outputs: urls(&self.output) },
            "failed" => TaskState::Failed { reason: reason("the prediction failed") },
            "canceled" => TaskState::Failed { reason: reason("the prediction was canceled") },
            "time_out" => TaskState::Failed { reason: reason("the prediction timed out") },
            _ => return None,
        })
    }
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
        let url = reqwest::Url::parse_with_params(&format!("{}/run", self.api_base), [("webhook_url", &task.callback_url)])
            .map_err(|e| SubmitError::Rejected(format!("bad API URL: {e}")))?;
        let body = json!({ "model_name": self.model, "inputs": self.inputs.build(task) });
        let answer = send_json(self.http.post(url).bearer_auth(&self.key).json(&body)).await?;
        match answer["id"].as_str().filter(|id| !id.is_empty()) {
            Some(id) => Ok(id.to_owned()),
            // `{id: null, error}` with a 2xx: the run was refused.
            None => Err(SubmitError::Rejected(error_text(&answer["error"]).unwrap_or_else(|| format!("no id in {answer}")))),
        }
    }

    /// Unsigned: only the token proves anything, and the body's state is a hint the webhook
    /// handler replaces with `fetch`.
    async fn parse_webhook(&self, _headers: &HeaderMap, query: Option<&str>, body: &[u8], _now: Timestamp) -> Result<WebhookEvent, WebhookError> {
        let token = callback::token(query)?;
        let (task_id, state) = report::from_webhook::<Prediction>(body)?;
        Ok(WebhookEvent { task_id, state, authenticity: Authenticity::Token(token) })
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        let url = format!("{}/status/{task_id}", self.api_base);
        report::from_query::<Prediction>(fetch_json(self.http.get(url).bearer_auth(&self.key)).await?)
    }
}
