//! The callback URL Fitroom hands to every provider, and what its query string carries back:
//! `{public_url}/webhooks/{provider}?job={id}&token={token}`. The job id lets a webhook that
//! outruns the recording of the task id find its job; the token is the only proof an unsigned
//! provider's webhook (FASHN, Evolink) can give.

use crate::ids::JobId;
use crate::providers::WebhookError;

pub fn url(public_url: &str, provider: &str, job: &JobId, token: &str) -> String {
    format!("{public_url}/webhooks/{provider}?job={job}&token={token}")
}

/// One parameter of a query string, as sent (our ids and tokens need no decoding).
pub fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The per-job token of an unsigned provider's webhook; without it nothing can be believed.
pub fn token(query: Option<&str>) -> Result<String, WebhookError> {
    query_param(query, "token")
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| WebhookError::BadSignature("the callback URL carries no token".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_comes_back_from_the_url_we_built() {
        let job = JobId::from_string("job_1".to_owned());
        let url = url("https://fitroom.example", "fashn", &job, "abc123");
        let query = url.split_once('?').map(|(_, q)| q);
        assert_eq!(query_param(query, "job"), Some("job_1"));
        assert_eq!(token(query), Ok("abc123".to_owned()));
        assert!(token(Some("job=job_1")).is_err());
        assert!(token(Some("token=")).is_err());
        assert!(token(None).is_err());
    }
}
