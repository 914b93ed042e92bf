//! Evolink: `POST /v1/images/generations` with `{model, prompt, image_urls, callback_url, …}`,
//! `GET /v1/tasks/{id}`, `Authorization: Bearer`; status words `pending`, `processing`,
//! `completed`, `failed` (callbacks may say `cancelled`); unsigned callbacks with the task.

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

pub const KEY: &str = "sk-evolink-fake";
pub const MODEL: &str = "gemini-2.5-flash-image";

pub struct FakeEvolink {
    pub core: Core,
    next: AtomicU32,
}

impl FakeEvolink {
    pub async fn start(clock: SharedClock) -> Arc<Self> {
        let (listener, base) = bind().await;
        let fake = Arc::new(FakeEvolink { core: new_core(&base, clock), next: AtomicU32::new(1) });
        let router = Router::new()
            .route("/v1/images/generations", post(create))
            .route("/v1/tasks/{id}", get(task))
            .with_state(fake.clone());
        serve(listener, router);
        fake
    }

    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            ("EVOLINK_API_KEY".into(), KEY.into()),
            ("EVOLINK_MODEL".into(), MODEL.into()),
            ("EVOLINK_API_BASE".into(), self.core.base.clone()),
        ]
    }

    pub fn task_of(&self, id: &str) -> Value {
        let task = self.core.task(id).expect("known task");
        let done = task.status == "completed";
        json!({
            "id": id,
            "object": "image.generation.task",
            "model": MODEL,
            "status": task.status,
            "progress": if done { 100 } else { 10 },
            "results": task.output.map(|url| json!([url])).unwrap_or(json!([])),
            "error": task.error.map(|message| json!({"code": "generation_failed", "message": message})),
        })
    }
}

impl Protocol for FakeEvolink {
    fn core(&self) -> &Core {
        &self.core
    }

    fn success_word(&self) -> &'static str {
        "completed"
    }

    fn webhook(&self, id: &str) -> Delivery {
        let task = self.core.task(id).expect("known task");
        Delivery {
            url: task.callback,
            headers: HeaderMap::new(),
            body: serde_json::to_vec(&self.task_of(id)).expect("json"),
        }
    }
}

async fn create(
    State(fake): State<Arc<FakeEvolink>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = match fake.core.accept(&format!("Bearer {KEY}"), "POST", &uri, &headers, &body) {
        Ok(request) => request,
        Err(failure) => return failure,
    };
    let Some(callback) = request["callback_url"].as_str() else {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "callback_url missing"}})),
        )
            .into_response();
    };
    let id = format!("task-evo-{}", fake.next.fetch_add(1, Ordering::SeqCst));
    fake.core.add_task(&id, callback, "pending");
    maybe_complete(fake.clone(), id.clone());
    axum::Json(fake.task_of(&id)).into_response()
}

async fn task(
    State(fake): State<Arc<FakeEvolink>>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(failure) = fake.core.accept(&format!("Bearer {KEY}"), "GET", &uri, &headers, b"") {
        return failure;
    }
    match fake.core.task(&id) {
        Some(_) => axum::Json(fake.task_of(&id)).into_response(),
        None => {
            (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"message": "task not found"}})))
                .into_response()
        }
    }
}
