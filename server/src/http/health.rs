use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database and object storage both answer.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (db, storage) = tokio::join!(state.db.ping(), state.storage.health());
    let mut checks = serde_json::Map::new();
    checks.insert("database".into(), check(db.map_err(|e| e.to_string())));
    checks.insert("storage".into(), check(storage.map_err(|e| e.to_string())));
    let ready = checks.values().all(|c| c["status"] == "ok");
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({ "status": if ready { "ok" } else { "unavailable" }, "checks": checks });
    (status, Json(body))
}

fn check(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({ "status": "ok" }),
        Err(error) => json!({ "status": "error", "error": error }),
    }
}
