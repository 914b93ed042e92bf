//! fal.ai's queue: `POST {queue}/{model}?fal_webhook=…` with `Authorization: Key`, answered with
//! the request's `status_url` and `response_url` (under the model's `owner/app`, without its
//! sub-path, as fal does); status words `IN_QUEUE`, `IN_PROGRESS`, `COMPLETED`; a failed
//! request's result is a 422 with `X-Fal-Error-Type`. Webhooks are signed with Ed25519 by a key
//! the fake publishes at its own `/.well-known/jwks.json`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use fitroom_server::clock::SharedClock;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Core, Delivery, Protocol, Recorded, bind, lock, maybe_complete, new_core, serve};

pub const KEY: &str = "fal_fake_key";
pub const USER_ID: &str = "fal_user_42";
pub const MODEL: &str = "fal-ai/fashn/tryon/v1.6";

pub struct FakeFal {
    pub core: Core,
    next: AtomicU32,
    /// The key that signs webhooks and is published in the JWKS (rotation replaces it).
    signing: Mutex<SigningKey>,
    pub jwks_requests: AtomicU32,
}

impl FakeFal {
    pub async fn start(clock: SharedClock) -> Arc<Self> {
        let (listener, base) = bind().await;
        let fake = Arc::new(FakeFal {
            core: new_core(&base, clock),
            next: AtomicU32::new(1),
            signing: Mutex::new(SigningKey::from_bytes(&[11; 32])),
            jwks_requests: AtomicU32::new(0),
        });
        serve(listener, Router::new().fallback(dispatch).with_state(fake.clone()));
        fake
    }

    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("FAL_KEY", KEY.to_owned()),
            ("FAL_USER_ID", USER_ID.to_owned()),
            ("FAL_QUEUE_BASE", self.core.base.clone()),
            ("FAL_JWKS_URL", format!("{}/.well-known/jwks.json", self.core.base)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// fal rotates its key: the JWKS publishes only the new one from now on.
    pub fn rotate_key(&self, seed: u8) {
        *lock(&self.signing) = SigningKey::from_bytes(&[seed; 32]);
    }

    fn webhook_body(&self, id: &str) -> Vec<u8> {
        let task = self.core.task(id).expect("known request");
        let body = match (task.status.as_str(), task.output, task.error) {
            ("COMPLETED", Some(url), _) => json!({
                "request_id": id, "gateway_request_id": id, "status": "OK",
                "payload": {"images": [{"url": url, "content_type": "image/png", "width": 64, "height": 80}]},
            }),
            (_, _, error) => json!({
                "request_id": id, "gateway_request_id": id, "status": "ERROR",
                "error": error.unwrap_or_else(|| "Invalid status code: 422".into()),
                "payload": {"detail": [{"msg": "the garment could not be read"}]},
            }),
        };
        serde_json::to_vec(&body).expect("json")
    }

    /// The webhook for a request, signed by `key` for `user` at `timestamp`.
    pub fn webhook_signed_by(
        &self,
        id: &str,
        key: &SigningKey,
        user: &str,
        timestamp: i64,
    ) -> Delivery {
        let task = self.core.task(id).expect("known request");
        let body = self.webhook_body(id);
        let message = format!("{id}\n{user}\n{timestamp}\n{}", hex::encode(Sha256::digest(&body)));
        let mut headers = HeaderMap::new();
        headers.insert("x-fal-webhook-request-id", id.parse().expect("header"));
        headers.insert("x-fal-webhook-user-id", user.parse().expect("header"));
        headers.insert("x-fal-webhook-timestamp", timestamp.to_string().parse().expect("header"));
        headers.insert(
            "x-fal-webhook-signature",
            hex::encode(key.sign(message.as_bytes()).to_bytes()).parse().expect("header"),
        );
        Delivery { url: task.callback, headers, body }
    }

    pub fn signing_key(&self) -> SigningKey {
        lock(&self.signing).clone()
    }

    fn jwks(&self) -> Value {
        let x = URL_SAFE_NO_PAD.encode(self.signing_key().verifying_key().as_bytes());
        json!({"keys": [
            {"kty": "RSA", "kid": "unrelated", "n": "sXch", "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "fal-webhook", "x": x},
        ]})
    }

    /// `owner/app` of a model path, where fal files its requests.
    fn app(model: &str) -> String {
        model.split('/').take(2).collect::<Vec<_>>().join("/")
    }

    fn submit(self: &Arc<Self>, uri: &Uri, request: &Recorded) -> Response {
        let Some(callback) = request.query_param("fal_webhook") else {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                axum::Json(json!({"detail": "fal_webhook missing"})),
            )
                .into_response();
        };
        let id = format!("req-{}", self.next.fetch_add(1, Ordering::SeqCst));
        let app = Self::app(uri.path().trim_start_matches('/'));
        self.core.add_task(&id, &callback, "IN_QUEUE");
        maybe_complete(self.clone(), id.clone());
        let requests = format!("{}/{app}/requests/{id}", self.core.base);
        axum::Json(json!({
            "request_id": id,
            "gateway_request_id": id,
            "status_url": format!("{requests}/status"),
            "response_url": requests,
            "cancel_url": format!("{requests}/cancel"),
        }))
        .into_response()
    }

    fn status(&self, id: &str) -> Response {
        match self.core.task(id) {
            Some(task) => {
                axum::Json(json!({"status": task.status, "request_id": id, "queue_position": 0}))
                    .into_response()
            }
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Request not found"})))
                .into_response(),
        }
    }

    fn result(&self, id: &str) -> Response {
        match self.core.task(id) {
            Some(task) => match task.output {
                Some(url) => axum::Json(json!({"images": [{"url": url, "content_type": "image/png"}]})).into_response(),
                None => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    [("x-fal-error-type", "image_load_error")],
                    axum::Json(json!({"detail": [{"msg": task.error.unwrap_or_default(), "type": "image_load_error"}]})),
                )
                    .into_response(),
            },
            None => (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Request not found"}))).into_response(),
        }
    }
}

impl Protocol for FakeFal {
    fn core(&self) -> &Core {
        &self.core
    }

    fn success_word(&self) -> &'static str {
        "COMPLETED"
    }

    fn webhook(&self, id: &str) -> Delivery {
        self.webhook_signed_by(id, &self.signing_key(), USER_ID, self.core.now_secs())
    }
}

/// One handler for the whole queue: model paths have any depth, so routes are matched by hand.
async fn dispatch(
    State(fake): State<Arc<FakeFal>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if method == Method::GET && uri.path() == "/.well-known/jwks.json" {
        fake.jwks_requests.fetch_add(1, Ordering::SeqCst);
        return axum::Json(fake.jwks()).into_response();
    }
    if let Err(failure) =
        fake.core.accept(&format!("Key {KEY}"), method.as_str(), &uri, &headers, &body)
    {
        return failure;
    }
    let request = fake.core.last_request();
    let segments: Vec<&str> = uri.path().trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        (Method::POST, _) => fake.submit(&uri, &request),
        (Method::GET, [_, _, "requests", id, "status"]) => fake.status(id),
        (Method::GET, [_, _, "requests", id]) => fake.result(id),
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"detail": "Not found"}))).into_response(),
    }
}
