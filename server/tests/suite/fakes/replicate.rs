//! Replicate: `POST /v1/models/{owner}/{name}/predictions`, `POST /v1/predictions` (with a
//! `version`), `GET /v1/predictions/{id}`, `Authorization: Bearer`, and completion webhooks
//! signed per Standard Webhooks with a `whsec_` secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use fitroom_server::clock::SharedClock;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{Core, Delivery, Protocol, bind, maybe_complete, new_core, serve};

pub const TOKEN: &str = "r8_fake_token";
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const MODEL: &str = "cuuupid/idm-vton";

/// What every finished prediction of the fake reports as its compute time, in seconds.
pub const PREDICT_TIME: f64 = 4.2;

pub struct FakeReplicate {
    pub core: Core,
    next: AtomicU32,
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` with the decoded `whsec_` key.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD.decode(secret.trim_start_matches("whsec_")).expect("base64 secret");
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key).expect("key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

impl FakeReplicate {
    pub async fn start(clock: SharedClock) -> Arc<Self> {
        let (listener, base) = bind().await;
        let fake =
            Arc::new(FakeReplicate { core: new_core(&base, clock), next: AtomicU32::new(1) });
        let router = Router::new()
            .route("/v1/models/{owner}/{name}/predictions", post(create))
            .route("/v1/predictions", post(create))
            .route("/v1/predictions/{id}", get(show))
            .with_state(fake.clone());
        serve(listener, router);
        fake
    }

    /// The settings that point Fitroom's `replicate` adapter at this fake.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("REPLICATE_API_TOKEN", TOKEN.to_owned()),
            ("REPLICATE_WEBHOOK_SECRET", SECRET.to_owned()),
            ("REPLICATE_MODEL", MODEL.to_owned()),
            ("REPLICATE_API_BASE", format!("{}/v1", self.core.base)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn prediction(&self, id: &str) -> Value {
        let task = self.core.task(id).expect("known prediction");
        json!({
            "id": id,
            "model": MODEL,
            "version": "c871bb9b046607b680449ecbae55fd8c6d945e0a1948644bf2361b3d021d3ff4",
            "input": {},
            "output": task.output.map(|url| json!([url])),
            "error": task.error,
            "logs": "",
            "status": task.status,
            // The seconds of compute Replicate bills, once the prediction has ended.
            "metrics": if task.status == "succeeded" { json!({ "predict_time": PREDICT_TIME }) } else { json!({}) },
            "created_at": "2026-01-01T00:00:00.000Z",
            "urls": {
                "get": format!("{}/v1/predictions/{id}", self.core.base),
                "cancel": format!("{}/v1/predictions/{id}/cancel", self.core.base),
            },
        })
    }

    /// The webhook for a prediction, signed with `secret` at `timestamp`.
    pub fn webhook_signed_with(&self, id: &str, secret: &str, timestamp: i64) -> Delivery {
        let task = self.core.task(id).expect("known prediction");
        let body = serde_json::to_vec(&self.prediction(id)).expect("json");
        let message_id = format!("msg_{id}");
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", message_id.parse().expect("header"));
        headers.insert("webhook-timestamp", timestamp.to_string().parse().expect("header"));
        headers.insert(
            "webhook-signature",
            sign(secret, &message_id, timestamp, &body).parse().expect("header"),
        );
        Delivery { url: task.callback, headers, body }
    }

    async fn create(self: Arc<Self>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let request =
            match self.core.accept(&format!("Bearer {TOKEN}"), "POST", &uri, &headers, &body) {
                Ok(request) => request,
                Err(failure) => return failure,
            };
        let Some(callback) = request["webhook"].as_str() else {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"detail": "webhook is required here"})),
            )
                .into_response();
        };
        let id = format!("pred{}", self.next.fetch_add(1, Ordering::SeqCst));
        self.core.add_task(&id, callback, "starting");
        maybe_complete(self.clone(), id.clone());
        (StatusCode::CREATED, axum::Json(self.prediction(&id))).into_response()
    }
}

impl Protocol for FakeReplicate {
    fn core(&self) -> &Core {
        &self.core
    }

    fn success_word(&self) -> &'static str {
        "succeeded"
    }

    fn webhook(&self, id: &str) -> Delivery {
        self.webhook_signed_with(id, SECRET, self.core.now_secs())
    }
}

/// Both creation endpoints answer alike; the test reads which one was called from the record.
async fn create(
    State(fake): State<Arc<FakeReplicate>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    fake.create(uri, headers, body).await
}

async fn show(
    State(fake): State<Arc<FakeReplicate>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(failure) = fake.core.accept(&format!("Bearer {TOKEN}"), "GET", &uri, &headers, b"") {
        return failure;
    }
    match fake.core.task(&id) {
        Some(_) => axum::Json(fake.prediction(&id)).into_response(),
        None => {
            (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not found."}))).into_response()
        }
    }
}
