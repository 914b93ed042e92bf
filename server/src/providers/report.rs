//! A provider's description of one task, as its webhook body and its status query both carry
//! it: an id, a status word, and what the word means in Fitroom's terms.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::providers::{FetchError, TaskState, WebhookError};

pub(crate) trait Report: DeserializeOwned {
    fn id(&self) -> &str;
    fn status(&self) -> &str;
    /// `None` for a status word this adapter does not know.
    fn state(&self) -> Option<TaskState>;
}

/// A webhook body: the task id and its state; an unknown word makes it malformed.
pub(crate) fn from_webhook<R: Report>(body: &[u8]) -> Result<(String, TaskState), WebhookError> {
    let report: R = serde_json::from_slice(body).map_err(|e| WebhookError::Malformed(e.to_string()))?;
    let state = report.state().ok_or_else(|| WebhookError::Malformed(format!("unknown status {:?}", report.status())))?;
    Ok((report.id().to_owned(), state))
}

/// A status query's answer.
pub(crate) fn from_query<R: Report>(answer: Value) -> Result<TaskState, FetchError> {
    let report: R = serde_json::from_value(answer).map_err(|e| FetchError(format!("unreadable task: {e}")))?;
    report.state().ok_or_else(|| FetchError(format!("unknown status {:?}", report.status())))
}
