//! Stand-ins for the AI providers, each a small axum server on a loopback port that speaks its
//! provider's protocol as docs/providers.md describes it: endpoints, auth header, JSON fields, status
//! words, webhook signatures. They record every API request, can be told to fail, and serve
//! real PNG outputs, so an adapter is tested against the wire format and never against itself.

#![expect(
    clippy::result_large_err,
    reason = "fakes answer with axum responses as their errors, as handlers do"
)]

pub mod checks;
pub mod evolink;
pub mod fal;
pub mod fashn;
pub mod replicate;
pub mod s3_recorder;
pub mod smtp;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use fitroom_server::clock::SharedClock;
use serde_json::{Value, json};

/// One API request as the fake received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&format!("http://x/?{}", self.query.as_deref()?)).ok()?;
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
}

/// A task the fake knows: where to call back, and its state in the provider's own words.
#[derive(Clone, Debug)]
pub struct FakeTask {
    pub callback: String,
    pub status: String,
    pub output: Option<String>,
    pub error: Option<String>,
}

/// A webhook the fake would send (or sent): where, with which headers, which body.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Delivery {
    pub fn query(&self) -> Option<&str> {
        self.url.split_once('?').map(|(_, q)| q)
    }
}

/// What every fake shares: its address, its clock (webhook timestamps must agree with the
/// tested app's), the requests it saw, its tasks, and the failure it was told to answer with.
pub struct Core {
    pub base: String,
    pub clock: SharedClock,
    requests: Mutex<Vec<Recorded>>,
    tasks: Mutex<HashMap<String, FakeTask>>,
    failure: Mutex<Option<u16>>,
    /// When set, each new task succeeds at once and its webhook is delivered this many times.
    auto_copies: Mutex<Option<u32>>,
    http: reqwest::Client,
}

pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Core {
    fn new(base: String, clock: SharedClock) -> Core {
        Core {
            base,
            clock,
            requests: Mutex::default(),
            tasks: Mutex::default(),
            failure: Mutex::default(),
            auto_copies: Mutex::default(),
            http: reqwest::Client::new(),
        }
    }

    pub fn now_secs(&self) -> i64 {
        self.clock.now().millis() / 1000
    }

    /// Every API request from now on answers `status` (503 down, 429 throttled, 422 refused…).
    pub fn fail_with(&self, status: u16) {
        *lock(&self.failure) = Some(status);
    }

    pub fn complete_tasks_automatically(&self, webhook_copies: u32) {
        *lock(&self.auto_copies) = Some(webhook_copies);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.requests).clone()
    }

    pub fn last_request(&self) -> Recorded {
        lock(&self.requests).last().cloned().expect("the fake received a request")
    }

    /// Records an API request; answers the configured failure, if any, instead of serving it.
    pub fn receive(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, Response> {
        let body = serde_json::from_slice(body).unwrap_or(Value::Null);
        lock(&self.requests).push(Recorded {
            method: method.to_owned(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers: headers.clone(),
            body: body.clone(),
        });
        match *lock(&self.failure) {
            Some(429) => Err((
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "1")],
                axum::Json(json!({"detail": "Request was throttled."})),
            )
                .into_response()),
            Some(code) => {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Err((status, axum::Json(json!({"detail": format!("fake failure {code}"), "error": {"message": "fake failure"}}))).into_response())
            }
            None => Ok(body),
        }
    }

    /// Refuses a request without the expected `Authorization` header.
    pub fn check_auth(&self, headers: &HeaderMap, expected: &str) -> Result<(), Response> {
        match headers.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(value) if value == expected => Ok(()),
            _ => Err((StatusCode::UNAUTHORIZED, axum::Json(json!({"detail": "Invalid token."})))
                .into_response()),
        }
    }

    /// Checks the auth header, then records the request (or answers the configured failure).
    pub fn accept(
        &self,
        auth: &str,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value, Response> {
        self.check_auth(headers, auth)?;
        self.receive(method, uri, headers, body)
    }

    pub fn add_task(&self, id: &str, callback: &str, status: &str) {
        let task = FakeTask {
            callback: callback.to_owned(),
            status: status.to_owned(),
            output: None,
            error: None,
        };
        lock(&self.tasks).insert(id.to_owned(), task);
    }

    pub fn task(&self, id: &str) -> Option<FakeTask> {
        lock(&self.tasks).get(id).cloned()
    }

    pub fn set_status(&self, id: &str, status: &str) {
        if let Some(task) = lock(&self.tasks).get_mut(id) {
            task.status = status.to_owned();
        }
    }

    /// The task succeeds with a real PNG at the fake's own URL.
    pub fn succeed(&self, id: &str, status: &str) {
        if let Some(task) = lock(&self.tasks).get_mut(id) {
            task.status = status.to_owned();
            task.output = Some(format!("{}/outputs/{id}.png", self.base));
            task.error = None;
        }
    }

    pub fn fail(&self, id: &str, status: &str, error: &str) {
        if let Some(task) = lock(&self.tasks).get_mut(id) {
            task.status = status.to_owned();
            task.error = Some(error.to_owned());
            task.output = None;
        }
    }

    pub fn auto_copies(&self) -> Option<u32> {
        *lock(&self.auto_copies)
    }

    pub async fn deliver(&self, delivery: &Delivery) -> u16 {
        let response = self
            .http
            .post(&delivery.url)
            .headers(delivery.headers.clone())
            .header("content-type", "application/json")
            .body(delivery.body.clone())
            .send()
            .await;
        response.map(|r| r.status().as_u16()).unwrap_or(0)
    }
}

/// Each fake's behaviour for automatic completion: which word means done, and its webhook.
pub trait Protocol: Send + Sync + 'static {
    fn core(&self) -> &Core;
    fn success_word(&self) -> &'static str;
    fn webhook(&self, id: &str) -> Delivery;
}

/// After a new task: when told to, finish it at once and deliver its webhook (copies included).
pub fn maybe_complete<P: Protocol>(fake: std::sync::Arc<P>, id: String) {
    let Some(copies) = fake.core().auto_copies() else { return };
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        fake.core().succeed(&id, fake.success_word());
        let delivery = fake.webhook(&id);
        for _ in 0..copies {
            fake.core().deliver(&delivery).await;
        }
    });
}

/// A loopback listener and its base URL, known before the fake's state is built.
pub async fn bind() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (listener, base)
}

pub fn new_core(base: &str, clock: SharedClock) -> Core {
    Core::new(base.to_owned(), clock)
}

/// Serves the fake's routes plus `/outputs/{id}.png`: a real image, as providers serve theirs.
pub fn serve(listener: tokio::net::TcpListener, router: Router) {
    let router = router.route("/outputs/{file}", get(output));
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("fake serves");
    });
}

async fn output(Path(_file): Path<String>) -> Response {
    ([("content-type", "image/png")], crate::http_server::png(64, 80, [30, 120, 60]))
        .into_response()
}

/// A base URL where nothing listens: connection refused.
pub async fn closed_base() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    base
}
