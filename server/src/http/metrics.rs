//! `GET /metrics`: Prometheus text. Unfinished jobs and provider health are read at scrape time;
//! finished jobs, submissions, webhooks and reconciler actions are counted as they happen.

use std::collections::{BTreeMap, BTreeSet};

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::http::ApiError;
use crate::http::client::ClientAddr;
use crate::jobs::{JobStatus, UNFINISHED};
use crate::spend::Usd;

/// Who may read `/metrics` (docs/api.md, Conventions): with `FITROOM_METRICS_TOKEN` set, a
/// request that shows it as a bearer token; without, loopback clients only (a scraper on the
/// same machine). Anyone else is answered as if there were nothing here.
fn may_read(state: &AppState, client: Option<IpAddr>, headers: &HeaderMap) -> bool {
    match &state.config.metrics_token {
        Some(token) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|shown| bool::from(shown.trim().as_bytes().ct_eq(token.as_bytes()))),
        // `to_canonical`: a dual-stack listener sees IPv4 loopback as `::ffff:127.0.0.1`.
        None => client.is_some_and(|ip| ip.to_canonical().is_loopback()),
    }
}

pub async fn metrics(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    if !may_read(&state, client, &headers) {
        return Err(ApiError::not_found());
    }
    // Unfinished jobs only, through the index on status: a scrape costs the same however many
    // jobs have ever finished (those are counted as they finish, `fitroom_jobs_finished_total`).
    let rows: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "SELECT status, provider, COUNT(*) FROM jobs WHERE status IN {UNFINISHED} GROUP BY status, provider"
    ))
    .fetch_all(state.db.pool())
    .await
    .map_err(ApiError::internal)?;
    let metrics = &state.jobs.metrics;
    let counts: BTreeMap<(String, String), i64> =
        rows.into_iter().map(|(status, provider, n)| ((status, provider), n)).collect();
    // Every status of every provider, so that a count that fell to zero is reported as zero.
    let providers: BTreeSet<String> = state
        .jobs
        .registry()
        .names()
        .into_iter()
        .map(str::to_owned)
        .chain(counts.keys().map(|(_, p)| p.clone()))
        .collect();
    for provider in &providers {
        for status in JobStatus::ALL.into_iter().filter(|s| !s.is_finished()) {
            let n = counts.get(&(status.as_str().to_owned(), provider.clone())).copied();
            metrics.gauge(
                "fitroom_jobs",
                &[("status", status.as_str()), ("provider", provider)],
                n.unwrap_or(0) as f64,
            );
        }
    }
    // Per provider, from the database (the same figures every process sees): spend this
    // period, what is left of its budget, success rate and latency over the routing window,
    // and whether it is cooling down.
    for row in crate::console::providers::rows(&state).await.map_err(ApiError::from)? {
        let labels = [("provider", row.name.as_str())];
        metrics.gauge("fitroom_provider_spend_usd", &labels, row.spend);
        if let Some(budget) = state.config.spend.budget(&row.name) {
            // In micro-dollars, as the ledger keeps them: the row's spend is a whole number of
            // them, so rounding recovers it exactly, and a float subtraction would print
            // 9.499999999999998 for $9.50.
            let spent = (row.spend * 1_000_000.0).round() as i64;
            let remaining = Usd::from_micros((budget.limit.micros() - spent).max(0));
            metrics.gauge("fitroom_provider_budget_remaining_usd", &labels, remaining.as_f64());
        }
        if let Some(rate) = row.success_rate {
            metrics.gauge("fitroom_provider_success_rate", &labels, rate);
        }
        for (quantile, value) in [("0.5", row.p50_ms), ("0.95", row.p95_ms)] {
            if let Some(ms) = value {
                metrics.gauge(
                    "fitroom_provider_latency_seconds",
                    &[("provider", row.name.as_str()), ("quantile", quantile)],
                    ms as f64 / 1000.0,
                );
            }
        }
        metrics.gauge(
            "fitroom_provider_cooling_down",
            &labels,
            f64::from(u8::from(row.state == "cooling")),
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], metrics.render()))
}
