use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;
use crate::spend::figures::{Unusable, availability};

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
    // Providers: ready while any of them can take a task (not cooling down, within budget), as
    // the database says for every process. What failed is named; the cause goes to the log.
    let names = state.jobs.registry().names();
    let verdicts = availability(&state.db, &state.config.spend, &names, state.clock.now()).await;
    let mut providers = serde_json::Map::new();
    let mut usable = false;
    match verdicts {
        Ok(verdicts) => {
            for (name, verdict) in verdicts {
                let status = match verdict {
                    None => "ok",
                    Some(Unusable::Cooling) => "cooling_down",
                    Some(Unusable::OverBudget) => "over_budget",
                };
                usable |= verdict.is_none();
                providers.insert(name.to_owned(), json!({ "status": status }));
            }
        }
        Err(e) => tracing::error!(error = %e, "reading the providers' state failed"),
    }
    checks
        .insert("providers".into(), json!({ "status": if usable { "ok" } else { "unavailable" } }));
    let ready = ready && usable;
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
