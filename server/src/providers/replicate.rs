//! Replicate (docs/providers.md): predictions created with a webhook that fires once, on completion,
//! signed per Standard Webhooks with the account's `whsec_…` secret.
//!
//! Settings: `REPLICATE_API_TOKEN`, `REPLICATE_WEBHOOK_SECRET`, `REPLICATE_MODEL` (`owner/name`,
//! `owner/name:version` or a bare version id), `REPLICATE_API_BASE`, and `REPLICATE_INPUTS`
//! (an `input_map`, by default IDM-VTON's fields), `REPLICATE_PRICE_PER_SECOND` (what a second of
//! compute costs: a success is then charged to the spend ledger at its `metrics.predict_time`).

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde_json::json;

use crate::clock::Timestamp;
use crate::config::Config;
use crate::providers::http::{fetch_json, send_json};
use crate::providers::input_map::InputMap;
use crate::providers::report::{self, Word};
use crate::providers::settings::Settings;
use crate::providers::standard_webhooks::Secret;
use crate::providers::{
    Authenticity, FetchError, Provider, RegistryError, SubmitError, TaskInput, TaskState,
    WebhookError, WebhookEvent,
};
use crate::spend::Usd;

pub const NAME: &str = "replicate";
const DEFAULT_API_BASE: &str = "https://api.replicate.com/v1";
/// IDM-VTON's input names (unconfirmed by the model's docs, hence configurable: docs/providers.md).
const DEFAULT_INPUTS: &str = "human_img=$person,garm_img=$garment,garment_des=$prompt";

/// Which endpoint creates a prediction: a model's own, or the generic one with a version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Model {
    Named { owner: String, name: String },
    Version(String),
}

impl Model {
    pub fn parse(text: &str) -> Result<Self, String> {
        // `owner/name:version` pins a version: the generic endpoint takes the version id.
        if let Some((_, version)) = text.split_once(':') {
            return Self::version(version);
        }
        match text.split_once('/') {
            Some((owner, name)) if !owner.is_empty() && !name.is_empty() && !name.contains('/') => {
                Ok(Model::Named { owner: owner.to_owned(), name: name.to_owned() })
            }
            Some(_) => Err("expected owner/name, owner/name:version or a version id".into()),
            None => Self::version(text),
        }
    }

    fn version(id: &str) -> Result<Self, String> {
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Model::Version(id.to_owned()))
        } else {
            Err(format!("{id:?} is not a version id"))
        }
    }
}

pub struct Replicate {
    token: String,
    secret: Secret,
    model: Model,
    api_base: String,
    inputs: InputMap,
    /// `REPLICATE_PRICE_PER_SECOND`: with it, a success costs its `predict_time` at this price
    /// instead of the configured price per generation.
    price_per_second: Option<Usd>,
    http: reqwest::Client,
}

/// Replicate's status words (the last four are final).
fn word(status: &str) -> Option<Word> {
    Some(match status {
        "starting" | "processing" => Word::Pending,
        "succeeded" => Word::Succeeded,
        "failed" => Word::Failed("the prediction failed"),
        "canceled" => Word::Failed("the prediction was canceled"),
        "aborted" => Word::Failed("the prediction was aborted"),
        _ => return None,
    })
}

impl Replicate {
    pub fn from_config(config: &Config) -> Result<Self, RegistryError> {
        let s = Settings::new(config, NAME);
        let secret = Secret::parse(&s.required("REPLICATE_WEBHOOK_SECRET")?)
            .map_err(|reason| s.invalid("REPLICATE_WEBHOOK_SECRET", reason))?;
        let model = Model::parse(&s.required("REPLICATE_MODEL")?)
            .map_err(|reason| s.invalid("REPLICATE_MODEL", reason))?;
        Ok(Replicate {
            token: s.required("REPLICATE_API_TOKEN")?,
            secret,
            model,
            api_base: s.url("REPLICATE_API_BASE", DEFAULT_API_BASE)?,
            inputs: s.inputs("REPLICATE_INPUTS", DEFAULT_INPUTS)?,
            price_per_second: match config.var("REPLICATE_PRICE_PER_SECOND") {
                None => None,
                Some(text) => Some(
                    text.parse::<Usd>()
                        .map_err(|e| s.invalid("REPLICATE_PRICE_PER_SECOND", e.to_string()))?,
                ),
            },
            http: crate::providers::http::client(),
        })
    }
}

#[async_trait]
impl Provider for Replicate {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError> {
        let mut body = json!({
            "input": self.inputs.build(task),
            "webhook": task.callback_url,
            // Only the final state: Fitroom has no use for progress events.
            "webhook_events_filter": ["completed"],
        });
        let url = match &self.model {
            Model::Named { owner, name } => {
                format!("{}/models/{owner}/{name}/predictions", self.api_base)
            }
            Model::Version(version) => {
                body["version"] = json!(version);
                format!("{}/predictions", self.api_base)
            }
        };
        report::created_id(
            &send_json(self.http.post(url).bearer_auth(&self.token).json(&body)).await?,
        )
    }

    async fn parse_webhook(
        &self,
        headers: &HeaderMap,
        _query: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        self.secret.verify(headers, body, now)?;
        let (task_id, state) = report::from_webhook(body, word, self.price_per_second)?;
        Ok(WebhookEvent { task_id, state, authenticity: Authenticity::Signed })
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        let url = format!("{}/predictions/{task_id}", self.api_base);
        report::from_query(
            fetch_json(self.http.get(url).bearer_auth(&self.token)).await?,
            word,
            self.price_per_second,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_are_named_or_pinned_to_a_version() {
        assert_eq!(
            Model::parse("cuuupid/idm-vton"),
            Ok(Model::Named { owner: "cuuupid".into(), name: "idm-vton".into() })
        );
        assert_eq!(
            Model::parse("cuuupid/idm-vton:c871bb9b0466"),
            Ok(Model::Version("c871bb9b0466".into()))
        );
        assert_eq!(Model::parse("c871bb9b0466"), Ok(Model::Version("c871bb9b0466".into())));
        for bad in ["a/b/c", "/x", "x/", "x:", "not a version"] {
            assert!(Model::parse(bad).is_err(), "{bad}");
        }
    }
}
