//! `GET /api/credits` and `GET /api/credits/ledger` (docs/api.md, Credits).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::clock::Timestamp;
use crate::http::ApiError;
use crate::http::page_size::page_size;
use crate::http::session::CurrentUser;
use crate::ledger::{Entry, Package};

pub fn package_json(p: &Package, now: Timestamp) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "granted": p.granted,
        "remaining": p.remaining(),
        "held": p.held,
        "granted_at": p.granted_at.to_rfc3339(),
        "expires_at": p.expires_at.map(Timestamp::to_rfc3339),
        "status": p.status_at(now).as_str(),
    })
}

pub fn entry_json(e: &Entry) -> Value {
    json!({
        "id": e.id,
        "at": e.at.to_rfc3339(),
        "kind": e.kind.as_str(),
        "amount": e.amount,
        "package_id": e.package,
        "hold_id": e.hold,
        "job_id": e.job,
    })
}

pub async fn credits(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Value>, ApiError> {
    let balance = state.ledger.balance(&user.id).await?;
    let packages: Vec<Value> =
        balance.packages.iter().map(|p| package_json(p, balance.now)).collect();
    Ok(Json(json!({ "available": balance.available, "held": balance.held, "packages": packages })))
}

#[derive(Deserialize)]
pub struct LedgerQuery {
    limit: Option<String>,
}

pub const DEFAULT_LEDGER_LIMIT: u32 = 50;
pub const MAX_LEDGER_LIMIT: u32 = 500;

pub async fn ledger(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<LedgerQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = page_size(query.limit.as_deref(), DEFAULT_LEDGER_LIMIT, MAX_LEDGER_LIMIT)?;
    let entries = state.ledger.entries(&user.id, limit).await?;
    Ok(Json(json!({ "entries": entries.iter().map(entry_json).collect::<Vec<_>>() })))
}
