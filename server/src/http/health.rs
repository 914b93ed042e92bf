use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// The process is up.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// The process can serve: the database and object storage both answer. What failed is named,
/// never described: the cause goes to the log.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (db, storage) = tokio::join!(state.db.ping(), state.storage.health());
    let mut checks = serde_json::Map::new();
    checks.insert("database".into(), check("database", db.map_err(|e| e.to_string())));
    checks.insert("storage".into(), check("storage", storage.map_err(|e| e.to_string())));
    let ready = checks.values().all(|c| c["status"] == "ok");
    // Providers are reported, not required: a provider cooling down is routed around.
    let now = state.clock.now();
    let providers: serde_json::Map<String, Value> = state
        .jobs
        .registry()
        .health()
        .into_iter()
        .map(|(name, h)| {
            let status = if h.is_cooling(now) { "cooling_down" } else { "ok" };
            (
                name.to_owned(),
                json!({ "status": status, "consecutive_failures": h.consecutive_failures }),
            )
        })
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    // Payments are reported, not required: without them shoppers still spend what they have.
    let payments = match state.stripe.disabled_reason() {
        None => json!({ "status": "ok" }),
        Some(reason) => json!({ "status": "disabled", "reason": reason }),
    };
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "checks": checks,
        "providers": providers,
        "payments": payments,
    });
    (status, Json(body))
}

fn check(name: &str, result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({ "status": "ok" }),
        Err(error) => {
            tracing::error!(check = name, %error, "readiness check failed");
            json!({ "status": "error" })
        }
    }
}
