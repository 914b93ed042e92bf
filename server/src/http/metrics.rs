//! `GET /metrics`: Prometheus text. Jobs by status and provider, provider health, submissions,
//! webhooks and reconciler actions.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;
use crate::http::ApiError;
use crate::metrics::label_text;

pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT status, provider, COUNT(*) FROM jobs GROUP BY status, provider ORDER BY status, provider")
            .fetch_all(state.db.pool())
            .await
            .map_err(ApiError::internal)?;
    let mut out = String::from("# TYPE fitroom_jobs gauge\n");
    for (status, provider, n) in rows {
        out.push_str(&format!(
            "fitroom_jobs{} {n}\n",
            label_text(&[("status", status), ("provider", provider)])
        ));
    }
    out.push_str("# TYPE fitroom_provider_cooling_down gauge\n");
    let now = state.clock.now();
    for (name, health) in state.jobs.registry().health() {
        let labels = label_text(&[("provider", name.to_owned())]);
        out.push_str(&format!(
            "fitroom_provider_cooling_down{labels} {}\n",
            u8::from(health.is_cooling(now))
        ));
        out.push_str(&format!(
            "fitroom_provider_consecutive_failures{labels} {}\n",
            health.consecutive_failures
        ));
    }
    state.jobs.metrics.render(&mut out);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}
