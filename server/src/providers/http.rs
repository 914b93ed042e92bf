//! Calling a provider's API, and the one rule that sorts its failures: a connection error, a
//! timeout, a 5xx or a 429 means the provider cannot take work now (`Unavailable`: failover
//! tries the next one); any other 4xx means it refused this task (`Rejected`: another provider
//! would most likely refuse it too). `Retry-After` is not honoured beyond that classification:
//! the registry's cool-down already stops us hammering a provider that keeps failing.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

use crate::providers::{FetchError, SubmitError};

/// Below `CALL_TIMEOUT`, the most a provider call may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(25);
/// How much of an error body is kept for logs and the job's error message.
const ERROR_BODY_CHARS: usize = 300;

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().unwrap_or_default()
}

/// What a failed call was, in the words of the trait.
pub(crate) fn classify(status: StatusCode, body: &str) -> SubmitError {
    let detail: String = body.chars().take(ERROR_BODY_CHARS).collect();
    let message = format!("HTTP {}: {detail}", status.as_u16());
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        SubmitError::Unavailable(message)
    } else {
        SubmitError::Rejected(message)
    }
}

/// Sends a request and reads its JSON answer, classifying every way it can fail.
pub(crate) async fn send_json(request: RequestBuilder) -> Result<Value, SubmitError> {
    // Connection refused, DNS, TLS and timeouts all land here: the provider is unreachable.
    let response = request.send().await.map_err(|e| {
        let answer = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "no connection"
        } else {
            "no answer"
        };
        SubmitError::Unavailable(format!("{answer}: {e}"))
    })?;
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|e| SubmitError::Unavailable(format!("HTTP {} unread: {e}", status.as_u16())))?;
    if !status.is_success() {
        return Err(classify(status, &text));
    }
    // A 2xx that is not JSON is a broken provider, not a refusal of this task.
    serde_json::from_str(&text)
        .map_err(|e| SubmitError::Unavailable(format!("HTTP {} not JSON: {e}", status.as_u16())))
}

/// The same call for a status query, where the distinction does not matter: the reconciler
/// simply asks again later.
pub(crate) async fn fetch_json(request: RequestBuilder) -> Result<Value, FetchError> {
    send_json(request).await.map_err(|e| FetchError(e.to_string()))
}

/// A provider's error field, whatever its shape: a string, `{message}`, `{name, message}` or `{detail}`.
pub(crate) fn error_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => {
            let text = ["message", "detail", "name", "type"]
                .iter()
                .find_map(|k| o.get(*k).and_then(Value::as_str));
            Some(text.map_or_else(|| value.to_string(), str::to_owned))
        }
        other => Some(other.to_string()),
    }
}

/// Output URLs as providers list them: one string, or an array of strings.
pub(crate) fn urls(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_and_throttling_are_unavailable_other_client_errors_rejected() {
        for code in [500, 502, 503, 504, 429] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(matches!(classify(status, ""), SubmitError::Unavailable(_)), "{code}");
        }
        for code in [400, 401, 402, 403, 404, 409, 422] {
            let status = StatusCode::from_u16(code).expect("status");
            assert!(matches!(classify(status, ""), SubmitError::Rejected(_)), "{code}");
        }
    }

    #[test]
    fn a_failed_call_answers_with_its_status_and_never_its_body() {
        let failed = classify(StatusCode::SERVICE_UNAVAILABLE, "token r8_secret is over quota");
        assert_eq!(failed.answer(), "HTTP 503");
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        // Port 9 (discard) is closed on loopback in any test environment we run in.
        let result = send_json(client().get("http://127.0.0.1:9/")).await;
        assert!(matches!(result, Err(SubmitError::Unavailable(_))), "{result:?}");
        assert_eq!(result.err().map(|e| e.answer().to_owned()).as_deref(), Some("no connection"));
    }

    #[test]
    fn error_fields_of_any_shape_read_as_text() {
        assert_eq!(error_text(&Value::Null), None);
        assert_eq!(error_text(&serde_json::json!("boom")), Some("boom".into()));
        assert_eq!(
            error_text(&serde_json::json!({"name": "ImageLoadError", "message": "bad image"})),
            Some("bad image".into())
        );
        assert_eq!(
            error_text(&serde_json::json!({"detail": "throttled"})),
            Some("throttled".into())
        );
    }

    #[test]
    fn outputs_are_one_url_or_many() {
        assert_eq!(urls(&serde_json::json!("https://x/1.png")), vec!["https://x/1.png"]);
        assert_eq!(urls(&serde_json::json!(["a", "b"])), vec!["a", "b"]);
        assert!(urls(&Value::Null).is_empty());
    }
}
