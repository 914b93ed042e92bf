//! `GET /api/credits` and `GET /api/credits/ledger` (docs/api.md, Credits).

use axum::Json;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::http::ApiError;
use crate::http::page_size::page_size;
use crate::http::session::CurrentUser;

pub async fn credits(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Value>, ApiError> {
    let balance = state.ledger.balance(&user.id).await?;
    let packages: Vec<fitroom_types::Package> =
        balance.packages.iter().map(|p| p.view(balance.now)).collect();
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
    Ok(Json(
        json!({ "entries": entries.iter().map(crate::ledger::Entry::view).collect::<Vec<_>>() }),
    ))
}
