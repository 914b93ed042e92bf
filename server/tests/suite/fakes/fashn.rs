//! FASHN: `POST /v1/run?webhook_url=…` with `{model_name, inputs}`, `GET /v1/status/{id}`,
//! `Authorization: Bearer`; status words `starting`, `in_queue`, `processing`, `completed`,
//! `failed` (and `canceled`, `time_out`); unsigned webhooks carrying the status payload.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use fitroom_server::clock::SharedClock;
use serde_json::{Value, json};

use super::{Core, Delivery, Protocol, bind, maybe_complete, new_core, serve};

pub const KEY: &str = "fa-fake-key";

pub struct FakeFashn {
    pub core: Core,
    next: AtomicU32,
}

impl FakeFashn {
    pub async fn start(clock: SharedClock) -> Arc<Self> {
        let (listener, base) = bind().await;
        let fake = Arc::new(FakeFashn { core: new_core(&base, clock), next: AtomicU32::new(1) });
        let router = Router::new()
            .route("/v1/run", post(run))
            .route("/v1/status/{id}", get(status))
            .with_state(fake.clone());
        serve(listener, router);
        fake
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("FASHN_API_KEY".into(), KEY.into()),
            ("FASHN_API_BASE".into(), format!("{}/v1", self.core.base)),
        ]
    }

    pub fn status_of(&self, id: &str) -> Value {
        let task = self.core.task(id).expect("known prediction");
        json!({
            "id": id,
            "status": task.status,
            "output": task.output.map(|url| json!([url])),
            "error": task.error.map(|message| json!({"name": "PipelineError", "message": message})),
        })
    }
}

impl Protocol for FakeFashn {
    fn core(&self) -> &Core {
        &self.core
    }

    fn success_word(&self) -> &'static str {
        "completed"
    }

    fn webhook(&self, id: &str) -> Delivery {
        let task = self.core.task(id).expect("known prediction");
        Delivery {
            url: task.callback,
            headers: HeaderMap::new(),
            body: serde_json::to_vec(&self.status_of(id)).expect("json"),
        }
    }
}

async fn run(
    State(fake): State<Arc<FakeFashn>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(failure) = fake.core.accept(&format!("Bearer {KEY}"), "POST", &uri, &headers, &body)
    {
        return failure;
    }
    let Some(callback) = fake.core.last_request().query_param("webhook_url") else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"id": null, "error": "webhook_url missing"})),
        )
            .into_response();
    };
    let id = format!("fashn-{}", fake.next.fetch_add(1, Ordering::SeqCst));
    fake.core.add_task(&id, &callback, "starting");
    maybe_complete(fake.clone(), id.clone());
    axum::Json(json!({"id": id, "error": null})).into_response()
}

async fn status(
    State(fake): State<Arc<FakeFashn>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(failure) = fake.core.accept(&format!("Bearer {KEY}"), "GET", &uri, &headers, b"") {
        return failure;
    }
    match fake.core.task(&id) {
        Some(_) => axum::Json(fake.status_of(&id)).into_response(),
        None => (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not found"}))).into_response(),
    }
}
