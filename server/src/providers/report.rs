//! A provider's description of one task, as Replicate, FASHN and Evolink all shape it in their
//! webhook bodies and status answers alike: an id, a status word, the output URL(s) and an
//! error. Each adapter only says what its status words mean.

use serde::Deserialize;
use serde_json::Value;

use crate::providers::http::{error_text, urls};
use crate::providers::{
    Authenticity, FetchError, SubmitError, TaskState, WebhookError, WebhookEvent, callback,
};
use crate::spend::Usd;

/// What a provider's status word means.
pub(crate) enum Word {
    Pending,
    Succeeded,
    /// Failed; the text explains it when the provider gave no error.
    Failed(&'static str),
}

/// A provider's table of status words; `None` for a word it does not know.
pub(crate) type Words = fn(&str) -> Option<Word>;

#[derive(Debug, Deserialize)]
struct Report {
    id: String,
    status: String,
    /// `output` (Replicate, FASHN) or `results` (Evolink): one URL or several.
    #[serde(default, alias = "results")]
    output: Value,
    #[serde(default)]
    error: Value,
    /// Replicate's `metrics.predict_time`: the seconds of compute it bills.
    #[serde(default)]
    metrics: Value,
}

impl Report {
    /// `per_second`: what a second of the provider's compute costs us, when it bills by time and
    /// reports the time.
    fn state(&self, words: Words, per_second: Option<Usd>) -> Option<TaskState> {
        Some(match words(&self.status)? {
            Word::Pending => TaskState::Pending,
            Word::Succeeded => TaskState::Succeeded {
                outputs: urls(&self.output),
                cost: per_second
                    .zip(self.metrics["predict_time"].as_f64())
                    .and_then(|(price, seconds)| price.per_second_for(seconds)),
            },
            Word::Failed(fallback) => TaskState::Failed {
                reason: error_text(&self.error).unwrap_or_else(|| fallback.to_owned()),
            },
        })
    }
}

/// A webhook body: the task id and its state; an unknown word makes it malformed.
pub(crate) fn from_webhook(
    body: &[u8],
    words: Words,
    per_second: Option<Usd>,
) -> Result<(String, TaskState), WebhookError> {
    let report: Report =
        serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let state = report
        .state(words, per_second)
        .ok_or_else(|| WebhookError::Malformed(format!("unknown status {:?}", report.status)))?;
    Ok((report.id, state))
}

/// An unsigned provider's webhook: only the callback URL's token proves anything, and the
/// body's state is a hint the webhook handler replaces with a status query.
pub(crate) fn unsigned_webhook(
    query: Option<&str>,
    body: &[u8],
    words: Words,
) -> Result<WebhookEvent, WebhookError> {
    let token = callback::token(query)?;
    let (task_id, state) = from_webhook(body, words, None)?;
    Ok(WebhookEvent { task_id, state, authenticity: Authenticity::Token(token) })
}

/// A status query's answer.
pub(crate) fn from_query(
    answer: Value,
    words: Words,
    per_second: Option<Usd>,
) -> Result<TaskState, FetchError> {
    let report: Report =
        serde_json::from_value(answer).map_err(|e| FetchError(format!("unreadable task: {e}")))?;
    report
        .state(words, per_second)
        .ok_or_else(|| FetchError(format!("unknown status {:?}", report.status)))
}

/// The id of a created task; a 2xx answer without one (`{id: null, error}`) is a refusal.
pub(crate) fn created_id(answer: &Value) -> Result<String, SubmitError> {
    match answer["id"].as_str().filter(|id| !id.is_empty()) {
        Some(id) => Ok(id.to_owned()),
        None => Err(SubmitError::Rejected(format!(
            "no task id: {}",
            error_text(&answer["error"]).unwrap_or_else(|| answer.to_string())
        ))),
    }
}
