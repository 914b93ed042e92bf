//! Streaming a stored object to a client: conditional requests (`If-None-Match`), single byte
//! ranges (`Range`, `If-Range`) and the caching headers the route chooses. The object flows from
//! storage to the socket a chunk at a time, whatever its size.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::storage::{ByteRange, Read, Storage, StorageError};

/// How a route lets clients cache what it serves.
pub struct Caching {
    /// A strong validator: the same value means the same bytes.
    pub etag: Option<String>,
    pub cache_control: &'static str,
}

/// Serves `key`; `None` when no object is stored there.
pub async fn serve(
    storage: &dyn Storage,
    key: &str,
    request: &HeaderMap,
    caching: &Caching,
) -> Result<Option<Response>, StorageError> {
    let etag = caching.etag.as_deref();
    if let Some(etag) = etag
        && header_text(request, header::IF_NONE_MATCH)
            .is_some_and(|list| none_match_fails(list, etag))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        add_caching(response.headers_mut(), caching);
        return Ok(Some(response));
    }
    let range = requested_range(request, etag);
    let object = match storage.read(key, range).await? {
        Read::Missing => return Ok(None),
        Read::Unsatisfiable { len } => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            insert(response.headers_mut(), header::CONTENT_RANGE, format!("bytes */{len}"));
            insert(response.headers_mut(), header::ACCEPT_RANGES, "bytes".into());
            return Ok(Some(response));
        }
        Read::Found(object) => object,
    };
    let mut response = Response::new(Body::from_stream(object.body));
    let headers = response.headers_mut();
    insert(headers, header::CONTENT_TYPE, object.content_type);
    insert(headers, header::CONTENT_LENGTH, object.span.len().to_string());
    insert(headers, header::ACCEPT_RANGES, "bytes".into());
    add_caching(headers, caching);
    if range.is_some() {
        let (span, len) = (object.span, object.len);
        insert(
            headers,
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{len}", span.start, span.end.saturating_sub(1)),
        );
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    Ok(Some(response))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Header values we build from numbers, our own ETags and stored content types; a value that
/// is somehow not a valid header is left out rather than failing the response.
fn insert(headers: &mut HeaderMap, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::try_from(value) {
        headers.insert(name, value);
    }
}

fn add_caching(headers: &mut HeaderMap, caching: &Caching) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(caching.cache_control));
    if let Some(etag) = &caching.etag {
        insert(headers, header::ETAG, etag.clone());
    }
}

/// `If-None-Match` holds `*` or a list of tags, compared weakly (RFC 9110 §13.1.2): the client
/// already has these bytes.
fn none_match_fails(list: &str, etag: &str) -> bool {
    let ours = etag.trim_start_matches("W/");
    list.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == ours)
}

/// The range to serve. `If-Range` makes it conditional: the range only applies while the
/// client's copy is current, i.e. its tag equals ours by strong comparison; a date (we send no
/// `Last-Modified`), a weak or a stale tag means the whole object, as RFC 9110 §13.1.5 says.
fn requested_range(request: &HeaderMap, etag: Option<&str>) -> Option<ByteRange> {
    let range = ByteRange::parse_header(header_text(request, header::RANGE)?)?;
    match request.get(header::IF_RANGE) {
        None => Some(range),
        Some(condition) => {
            let current = etag.is_some_and(|etag| {
                !etag.starts_with("W/") && condition.to_str().ok() == Some(etag)
            });
            current.then_some(range)
        }
    }
}

/// An object only its owner may see (a saved photo, a garment, an operator's view of a job's
/// image): never cached anywhere, 404 once it is gone.
pub async fn serve_private(
    storage: &dyn Storage,
    key: &str,
    request: &HeaderMap,
) -> Result<Response, crate::http::ApiError> {
    let caching = Caching { etag: None, cache_control: "private, no-store" };
    serve(storage, key, request, &caching)
        .await
        .map_err(crate::http::ApiError::internal)?
        .ok_or_else(crate::http::ApiError::not_found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(k, v)| (k.clone(), HeaderValue::from_str(v).expect("value"))).collect()
    }

    #[test]
    fn if_none_match_accepts_lists_stars_and_weak_forms() {
        assert!(none_match_fails("\"a\"", "\"a\""));
        assert!(none_match_fails("\"x\", W/\"a\"", "\"a\""));
        assert!(none_match_fails("*", "\"a\""));
        assert!(!none_match_fails("\"b\"", "\"a\""));
    }

    #[test]
    fn a_range_applies_only_while_if_range_names_the_current_object() {
        let tag = Some("\"v1\"");
        let range = Some(ByteRange::FromTo { first: 0, last: 9 });
        assert_eq!(requested_range(&headers(&[(header::RANGE, "bytes=0-9")]), tag), range);
        assert_eq!(
            requested_range(
                &headers(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"v1\"")]),
                tag
            ),
            range
        );
        assert_eq!(
            requested_range(
                &headers(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"v0\"")]),
                tag
            ),
            None
        );
        assert_eq!(
            requested_range(
                &headers(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "W/\"v1\"")]),
                tag
            ),
            None
        );
        let date = "Wed, 21 Oct 2015 07:28:00 GMT";
        assert_eq!(
            requested_range(
                &headers(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, date)]),
                tag
            ),
            None
        );
        assert_eq!(
            requested_range(
                &headers(&[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"v1\"")]),
                None
            ),
            None
        );
        assert_eq!(requested_range(&headers(&[]), tag), None);
    }
}
