//! fal.ai's queue API (docs/providers.md): a request is queued with `?fal_webhook=`, its answer names
//! the URLs to ask about it later, and the webhook is signed with Ed25519 by a key of fal's JWKS.
//!
//! Settings: `FAL_KEY`, `FAL_USER_ID` (webhooks for other fal accounts are refused), `FAL_MODEL`,
//! `FAL_QUEUE_BASE`, `FAL_JWKS_URL`, and `FAL_INPUTS` (an `input_map`, by default the fields of
//! `fal-ai/fashn/tryon/v1.6`).

pub mod jwks;
pub mod signature;

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::providers::http::{classify, error_text, fetch_json, send_json};
use crate::providers::input_map::InputMap;
use crate::providers::settings::Settings;
use crate::providers::{
    Authenticity, FetchError, Provider, RegistryError, SubmitError, TaskInput, TaskState,
    WebhookError, WebhookEvent,
};

pub use jwks::KeyCache;
pub use signature::Claims;

pub const NAME: &str = "fal";
const DEFAULT_MODEL: &str = "fal-ai/fashn/tryon/v1.6";
const DEFAULT_QUEUE_BASE: &str = "https://queue.fal.run";
const DEFAULT_JWKS_URL: &str = "https://rest.alpha.fal.ai/.well-known/jwks.json";
const DEFAULT_INPUTS: &str = "model_image=$person,garment_image=$garment,category=auto";
/// The header fal sets on a failed request's result.
const ERROR_TYPE_HEADER: &str = "x-fal-error-type";

/// What Fitroom records as a fal task id: the request id and the two URLs fal's answer gave for
/// it (fal says to use those, not to build them; they drop a model's sub-path), space-separated
/// since none of them contains a space.
#[derive(Debug, PartialEq, Eq)]
struct Handle<'a> {
    request_id: &'a str,
    status_url: &'a str,
    response_url: &'a str,
}

impl<'a> Handle<'a> {
    fn parse(stored: &'a str) -> Option<Self> {
        let mut parts = stored.split(' ');
        let handle = Handle {
            request_id: parts.next()?,
            status_url: parts.next()?,
            response_url: parts.next()?,
        };
        parts.next().is_none().then_some(handle)
    }

    fn encode(&self) -> String {
        format!("{} {} {}", self.request_id, self.status_url, self.response_url)
    }
}

#[derive(Deserialize)]
struct Queued {
    request_id: String,
    status_url: String,
    response_url: String,
}

/// A webhook's body.
#[derive(Deserialize)]
struct Callback {
    request_id: String,
    status: String,
    #[serde(default)]
    payload: Value,
    #[serde(default)]
    error: Value,
    #[serde(default)]
    payload_error: Value,
}

pub struct Fal {
    key: String,
    user_id: String,
    model: String,
    queue_base: String,
    inputs: InputMap,
    keys: KeyCache,
    http: reqwest::Client,
}

/// The pictures of a result payload: `images[].url`, or `image.url` for single-image models
/// (fal's docs do not confirm the output key, so both shapes are read: docs/providers.md).
fn image_urls(payload: &Value) -> Vec<String> {
    let images = payload["images"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(&payload["image"]));
    images.filter_map(|image| image["url"].as_str()).map(str::to_owned).collect()
}

impl Fal {
    pub fn from_config(config: &Config) -> Result<Self, RegistryError> {
        let s = Settings::new(config, NAME);
        let http = crate::providers::http::client();
        let model = s.or("FAL_MODEL", DEFAULT_MODEL).trim_matches('/').to_owned();
        Ok(Self::new(
            s.required("FAL_KEY")?,
            s.required("FAL_USER_ID")?,
            model,
            s.url("FAL_QUEUE_BASE", DEFAULT_QUEUE_BASE)?,
            s.inputs("FAL_INPUTS", DEFAULT_INPUTS)?,
            KeyCache::new(s.url("FAL_JWKS_URL", DEFAULT_JWKS_URL)?, http.clone()),
        ))
    }

    /// With a key cache of the caller's (fuzzing starts with known keys and no network).
    pub fn new(
        key: String,
        user_id: String,
        model: String,
        queue_base: String,
        inputs: InputMap,
        keys: KeyCache,
    ) -> Self {
        Fal {
            key,
            user_id,
            model,
            queue_base,
            inputs,
            keys,
            http: crate::providers::http::client(),
        }
    }

    fn auth(&self) -> String {
        format!("Key {}", self.key)
    }

    async fn verify(&self, claims: &Claims, now: Timestamp) -> Result<(), WebhookError> {
        let unavailable =
            |e: String| WebhookError::BadSignature(format!("fal's keys are unavailable: {e}"));
        if claims.signed_by_any(&self.keys.keys(now).await.map_err(unavailable)?) {
            return Ok(());
        }
        match self.keys.refetch(now).await {
            Some(Ok(keys)) if claims.signed_by_any(&keys) => Ok(()),
            Some(Err(e)) => Err(unavailable(e)),
            _ => Err(WebhookError::BadSignature("no key of fal's JWKS made this signature".into())),
        }
    }

    /// A completed request's result: its pictures, or why it failed.
    async fn result(&self, response_url: &str) -> Result<TaskState, FetchError> {
        let response = self
            .http
            .get(response_url)
            .header("authorization", self.auth())
            .send()
            .await
            .map_err(|e| FetchError(e.to_string()))?;
        let status = response.status();
        let error_type = response
            .headers()
            .get(ERROR_TYPE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(|e| FetchError(e.to_string()))?;
        if status.is_success() {
            let payload: Value = serde_json::from_str(&text)
                .map_err(|e| FetchError(format!("unreadable result: {e}")))?;
            return Ok(TaskState::Succeeded { outputs: image_urls(&payload), cost: None });
        }
        match classify(status, &text) {
            // fal answers a failed request's result with a 4xx naming the error.
            SubmitError::Rejected(message) => {
                Ok(TaskState::Failed { reason: error_type.unwrap_or(message) })
            }
            SubmitError::Unavailable(message) => Err(FetchError(message)),
        }
    }
}

#[async_trait]
impl Provider for Fal {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/{}", self.queue_base, self.model),
            [("fal_webhook", &task.callback_url)],
        )
        .map_err(|e| SubmitError::Rejected(format!("bad queue URL: {e}")))?;
        let request =
            self.http.post(url).header("authorization", self.auth()).json(&self.inputs.build(task));
        let queued: Queued = serde_json::from_value(send_json(request).await?)
            .map_err(|e| SubmitError::Unavailable(format!("unreadable queue answer: {e}")))?;
        let handle = Handle {
            request_id: &queued.request_id,
            status_url: &queued.status_url,
            response_url: &queued.response_url,
        };
        if Handle::parse(&handle.encode()).as_ref() != Some(&handle) {
            return Err(SubmitError::Unavailable(
                "the queue answer has ids or URLs with spaces".into(),
            ));
        }
        Ok(handle.encode())
    }

    async fn parse_webhook(
        &self,
        headers: &HeaderMap,
        _query: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let claims = Claims::read(headers, body, &self.user_id, now)?;
        self.verify(&claims, now).await?;
        let callback: Callback =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        if callback.request_id != claims.request_id {
            return Err(WebhookError::Malformed(
                "the body is about another request than the signature".into(),
            ));
        }
        let state = match callback.status.as_str() {
            "OK" => match error_text(&callback.payload_error) {
                Some(reason) => TaskState::Failed {
                    reason: format!("the result could not be delivered: {reason}"),
                },
                None => TaskState::Succeeded { outputs: image_urls(&callback.payload), cost: None },
            },
            "ERROR" => TaskState::Failed {
                reason: error_text(&callback.error)
                    .or_else(|| error_text(&callback.payload["detail"]))
                    .unwrap_or_else(|| "the request failed".into()),
            },
            other => return Err(WebhookError::Malformed(format!("unknown status {other:?}"))),
        };
        Ok(WebhookEvent { task_id: callback.request_id, state, authenticity: Authenticity::Signed })
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        let handle = Handle::parse(task_id)
            .ok_or_else(|| FetchError(format!("{task_id:?} is not a fal task handle")))?;
        let status =
            fetch_json(self.http.get(handle.status_url).header("authorization", self.auth()))
                .await?;
        match status["status"].as_str() {
            Some("IN_QUEUE" | "IN_PROGRESS") => Ok(TaskState::Pending),
            Some("COMPLETED") => match error_text(&status["error"]) {
                Some(reason) => Ok(TaskState::Failed { reason }),
                None => self.result(handle.response_url).await,
            },
            other => Err(FetchError(format!("unknown status {other:?}"))),
        }
    }

    /// Webhooks name the bare request id; the recorded handle starts with it.
    fn task_key<'a>(&self, task_id: &'a str) -> &'a str {
        Handle::parse(task_id).map_or(task_id, |h| h.request_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_handle_keeps_the_urls_of_the_queue_answer() {
        let stored = "req_1 https://q/fal-ai/fashn/requests/req_1/status https://q/fal-ai/fashn/requests/req_1";
        let handle = Handle::parse(stored).expect("handle");
        assert_eq!(handle.request_id, "req_1");
        assert_eq!(handle.encode(), stored);
        assert!(Handle::parse("req_1").is_none());
        assert!(Handle::parse("a b c d").is_none());
    }

    #[test]
    fn pictures_are_read_from_images_or_image() {
        assert_eq!(image_urls(&json!({"images": [{"url": "a"}, {"url": "b"}]})), vec!["a", "b"]);
        assert_eq!(image_urls(&json!({"image": {"url": "c"}})), vec!["c"]);
        assert!(image_urls(&json!({"detail": "x"})).is_empty());
    }
}
