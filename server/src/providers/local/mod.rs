//! The `local` provider, Fitroom's default: real code on this machine, no network beyond
//! loopback. It takes tasks like any provider, does real image work, publishes the result at its
//! own URL that expires, and calls back over HTTP with a signed webhook, the path every real
//! provider takes. Its knobs make failures, duplicate deliveries and lost webhooks on demand.

mod placement;
mod render;
mod routes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

pub use routes::router;

use crate::clock::{SharedClock, Timestamp};
use crate::config::LocalProviderConfig;
use crate::providers::{
    Authenticity, FetchError, Provider, SubmitError, TaskInput, TaskState, WebhookError,
    WebhookEvent, timestamp_is_fresh,
};
use crate::signing::Signer;

pub const NAME: &str = "local";
const SIGNATURE_HEADER: &str = "x-local-signature";
const TIMESTAMP_HEADER: &str = "x-local-timestamp";
/// Output URLs expire, as every provider's do.
const OUTPUT_TTL_SECS: i64 = 600;
/// Finished tasks are forgotten after this long (a restart forgets them at once).
const KEEP_TASKS_MS: i64 = 3_600_000;

#[derive(Clone, Debug)]
enum LocalState {
    Running,
    Succeeded,
    Failed(String),
}

struct LocalTask {
    state: LocalState,
    created_at: Timestamp,
}

/// The payload of a `local` webhook.
#[derive(Debug, Serialize, Deserialize)]
struct Callback {
    task_id: String,
    status: String,
    output_url: Option<String>,
    error: Option<String>,
}

/// Cheap to clone: every clone is the same provider, so a task can outlive `submit`'s borrow.
#[derive(Clone)]
pub struct LocalProvider {
    inner: Arc<Inner>,
}

pub struct Inner {
    tasks: Mutex<HashMap<String, LocalTask>>,
    /// Outputs live on disk, like a real provider's, so they outlive a restart of Fitroom.
    dir: PathBuf,
    config: LocalProviderConfig,
    public_url: String,
    signer: Signer,
    http: reqwest::Client,
    clock: SharedClock,
}

impl LocalProvider {
    pub fn new(
        config: LocalProviderConfig,
        public_url: &str,
        dir: PathBuf,
        signer: Signer,
        clock: SharedClock,
    ) -> Self {
        let http =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        LocalProvider {
            inner: Arc::new(Inner {
                tasks: Mutex::default(),
                dir,
                config,
                public_url: public_url.to_owned(),
                signer,
                http,
                clock,
            }),
        }
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, LocalTask>> {
        self.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn output_url(&self, task_id: &str) -> String {
        let path = format!("/providers/local/outputs/{task_id}");
        let expires = self.clock.now().plus_secs(OUTPUT_TTL_SECS);
        format!("{}{}", self.public_url, self.signer.sign_path(&path, expires))
    }

    fn output_path(&self, task_id: &str) -> Option<PathBuf> {
        // Task ids are ours (`local_<hex>`); anything else never names a file.
        let valid =
            task_id.starts_with("local_") && task_id[6..].bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| self.dir.join(format!("{task_id}.png")))
    }

    pub(crate) async fn output(&self, task_id: &str) -> Option<Vec<u8>> {
        tokio::fs::read(self.output_path(task_id)?).await.ok()
    }

    async fn save_output(&self, task_id: &str, png: &[u8]) -> Result<(), String> {
        let path = self.output_path(task_id).ok_or("bad task id")?;
        tokio::fs::create_dir_all(&self.dir).await.map_err(|e| e.to_string())?;
        let tmp = self.dir.join(format!(".{task_id}.tmp"));
        tokio::fs::write(&tmp, png).await.map_err(|e| e.to_string())?;
        tokio::fs::rename(&tmp, &path).await.map_err(|e| e.to_string())
    }

    /// Outputs expire like any provider's: files older than an hour are removed.
    fn prune_outputs(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let old = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_millis() as i64 > KEEP_TASKS_MS);
            if old {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.signer
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn sign_body(&self, timestamp: i64, body: &[u8]) -> String {
        let mut message = format!("{timestamp}.").into_bytes();
        message.extend_from_slice(body);
        format!("v1={}", hex::encode(self.signer.mac(&message)))
    }

    async fn download(&self, url: &str) -> Result<Vec<u8>, String> {
        let response =
            self.http.get(url).send().await.map_err(|e| format!("fetching {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("fetching an input answered {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        Ok(bytes.to_vec())
    }

    /// The work of one task, after the configured delay; then the webhook(s).
    async fn run(self: Arc<Self>, task_id: String, task: TaskInput) {
        tokio::time::sleep(Duration::from_millis(self.config.delay_ms)).await;
        let outcome = async {
            if rand::random::<f64>() < self.config.failure_rate {
                return Err(
                    "the local provider failed this task on purpose (FITROOM_LOCAL_FAILURE_RATE)"
                        .to_owned(),
                );
            }
            let person = self.download(&task.person_image_url).await?;
            let garment = match &task.garment_image_url {
                Some(url) => Some(self.download(url).await?),
                None => None,
            };
            let (prompt, aspect) = (task.prompt.clone(), task.aspect_ratio.clone());
            // Rendering decodes both photos: it waits for a decoding turn like an upload does.
            let _turn = crate::media::decoding_turn().await;
            tokio::task::spawn_blocking(move || {
                render::render(&person, garment.as_deref(), prompt.as_deref(), aspect.as_deref())
            })
            .await
            .map_err(|e| e.to_string())?
        }
        .await;

        let outcome = match outcome {
            Ok(png) => self.save_output(&task_id, &png).await,
            Err(e) => Err(e),
        };
        let callback = match outcome {
            Ok(()) => {
                self.set_state(&task_id, LocalState::Succeeded);
                Callback {
                    output_url: Some(self.output_url(&task_id)),
                    task_id: task_id.clone(),
                    status: "succeeded".into(),
                    error: None,
                }
            }
            Err(reason) => {
                tracing::info!(task = %task_id, %reason, "local task failed");
                self.set_state(&task_id, LocalState::Failed(reason.clone()));
                Callback {
                    task_id: task_id.clone(),
                    status: "failed".into(),
                    output_url: None,
                    error: Some(reason),
                }
            }
        };
        if rand::random::<f64>() < self.config.drop_rate {
            tracing::info!(task = %task_id, "local webhook dropped on purpose (FITROOM_LOCAL_DROP_RATE)");
            return;
        }
        let body = serde_json::to_vec(&callback).unwrap_or_default();
        for copy in 0..self.config.webhook_copies.max(1) {
            let timestamp = self.clock.now().millis() / 1000;
            let result = self
                .http
                .post(&task.callback_url)
                .header("content-type", "application/json")
                .header(TIMESTAMP_HEADER, timestamp.to_string())
                .header(SIGNATURE_HEADER, self.sign_body(timestamp, &body))
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    tracing::warn!(task = %task_id, copy, status = %r.status(), "local webhook refused")
                }
                Err(e) => {
                    tracing::warn!(task = %task_id, copy, error = %e, "local webhook not delivered")
                }
            }
        }
    }

    fn set_state(&self, task_id: &str, state: LocalState) {
        if let Some(task) = self.lock().get_mut(task_id) {
            task.state = state;
        }
    }
}

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    async fn submit(&self, task: &TaskInput) -> Result<String, SubmitError> {
        let now = self.inner.clock.now();
        let task_id = format!("local_{}", uuid::Uuid::now_v7().simple());
        {
            let mut tasks = self.inner.lock();
            tasks.retain(|_, t| now.millis() - t.created_at.millis() < KEEP_TASKS_MS);
            tasks
                .insert(task_id.clone(), LocalTask { state: LocalState::Running, created_at: now });
        }
        self.inner.prune_outputs();
        tokio::spawn(self.inner.clone().run(task_id.clone(), task.clone()));
        Ok(task_id)
    }

    async fn parse_webhook(
        &self,
        headers: &HeaderMap,
        _query: Option<&str>,
        body: &[u8],
        now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let timestamp: i64 = header(TIMESTAMP_HEADER)
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| WebhookError::BadSignature("missing timestamp".into()))?;
        if !timestamp_is_fresh(now, timestamp) {
            return Err(WebhookError::BadSignature("timestamp outside the tolerance".into()));
        }
        let signature = header(SIGNATURE_HEADER)
            .ok_or_else(|| WebhookError::BadSignature("missing signature".into()))?;
        let mut message = format!("{timestamp}.").into_bytes();
        message.extend_from_slice(body);
        let valid = signature
            .split(',')
            .filter_map(|part| part.trim().strip_prefix("v1="))
            .any(|sig| self.inner.signer.verify(&message, sig));
        if !valid {
            return Err(WebhookError::BadSignature("signature mismatch".into()));
        }
        let callback: Callback =
            serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
        let state = match callback.status.as_str() {
            "succeeded" => TaskState::Succeeded {
                outputs: callback.output_url.into_iter().collect(),
                cost: None,
            },
            "failed" => {
                TaskState::Failed { reason: callback.error.unwrap_or_else(|| "failed".into()) }
            }
            "running" => TaskState::Pending,
            other => return Err(WebhookError::Malformed(format!("unknown status {other:?}"))),
        };
        Ok(WebhookEvent { task_id: callback.task_id, state, authenticity: Authenticity::Signed })
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        let state = self.inner.lock().get(task_id).map(|t| t.state.clone());
        Ok(match state {
            Some(LocalState::Running) => TaskState::Pending,
            Some(LocalState::Succeeded) => {
                TaskState::Succeeded { outputs: vec![self.inner.output_url(task_id)], cost: None }
            }
            Some(LocalState::Failed(reason)) => TaskState::Failed { reason },
            // Not in memory (Fitroom restarted): a finished output is still on disk.
            None => match self.inner.output_path(task_id).filter(|p| p.exists()) {
                Some(_) => TaskState::Succeeded {
                    outputs: vec![self.inner.output_url(task_id)],
                    cost: None,
                },
                None => TaskState::Failed {
                    reason: "the local provider has no such task (was it restarted?)".into(),
                },
            },
        })
    }

    fn serves_private_outputs(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn provider(clock: &ManualClock) -> LocalProvider {
        let config = LocalProviderConfig {
            delay_ms: 0,
            failure_rate: 0.0,
            webhook_copies: 1,
            drop_rate: 0.0,
        };
        LocalProvider::new(
            config,
            "http://127.0.0.1:9",
            std::env::temp_dir(),
            Signer::from_key([7; 32]),
            Arc::new(clock.clone()),
        )
    }

    fn headers(timestamp: &str, signature: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TIMESTAMP_HEADER, timestamp.parse().expect("header"));
        h.insert(SIGNATURE_HEADER, signature.parse().expect("header"));
        h
    }

    #[tokio::test]
    async fn extreme_timestamps_are_refused_without_overflow() {
        // Regression: fuzz/artifacts/webhook_local/crash-87617376… panicked on subtraction.
        let clock = ManualClock::at(Timestamp::from_millis(1_700_000_000_000));
        let p = provider(&clock);
        for t in ["-9223372036854775808", "9223372036854775807", "-1"] {
            let err = p
                .parse_webhook(&headers(t, "v1=00"), None, b"{}", clock.now())
                .await
                .expect_err("refused");
            assert!(matches!(err, WebhookError::BadSignature(_)), "{t}");
        }
    }

    #[tokio::test]
    async fn a_correctly_signed_webhook_parses_and_a_tampered_one_does_not() {
        let clock = ManualClock::at(Timestamp::from_millis(1_700_000_000_000));
        let p = provider(&clock);
        let t = clock.now().millis() / 1000;
        let body = br#"{"task_id":"local_1","status":"failed","output_url":null,"error":"boom"}"#;
        let sig = p.inner.sign_body(t, body);
        let event = p
            .parse_webhook(&headers(&t.to_string(), &sig), None, body, clock.now())
            .await
            .expect("valid");
        assert_eq!(event.state, TaskState::Failed { reason: "boom".into() });
        let tampered =
            br#"{"task_id":"local_2","status":"failed","output_url":null,"error":"boom"}"#;
        assert!(
            p.parse_webhook(&headers(&t.to_string(), &sig), None, tampered, clock.now())
                .await
                .is_err()
        );
    }
}
