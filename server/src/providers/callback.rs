//! The callback URL Fitroom hands to every provider, and what its query string carries back:
//! `{public_url}/webhooks/{provider}?job={id}&token={token}`. The job id lets a webhook that
//! outruns the recording of the task id find its job; the token is the only proof an unsigned
//! provider's webhook (FASHN, Evolink) can give.

use crate::ids::JobId;
use crate::providers::WebhookError;

pub fn url(public_url: &str, provider: &str, job: &JobId, token: &str) -> String {
    format!("{public_url}/webhooks/{provider}?job={job}&token={token}")
}

/// One parameter of a query string, percent-decoded; the first when it repeats.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The per-job token of an unsigned provider's webhook; without it nothing can be believed.
pub fn token(query: Option<&str>) -> Result<String, WebhookError> {
    query_param(query, "token")
        .filter(|t| !t.is_empty())
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
        assert_eq!(query_param(query, "job").as_deref(), Some("job_1"));
        assert_eq!(query_param(Some("a=1&token=x%2By+z"), "token").as_deref(), Some("x+y z"));
        assert_eq!(token(query), Ok("abc123".to_owned()));
        assert!(token(Some("job=job_1")).is_err());
        assert!(token(Some("token=")).is_err());
        assert!(token(None).is_err());
    }
}
