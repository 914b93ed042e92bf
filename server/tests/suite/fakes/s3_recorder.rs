//! A recording proxy in front of the real S3-compatible server: every request goes through
//! unchanged (the `Host` header too, so SigV4 signatures still verify) and is noted with what
//! the storage tests need to see on the wire: multipart calls, part sizes, `Range` headers and
//! how many bytes came back.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};

/// One S3 request and its answer.
#[derive(Clone, Debug)]
pub struct S3Call {
    pub method: String,
    pub query: String,
    pub range: Option<String>,
    pub sent: usize,
    pub status: u16,
    pub received: usize,
}

impl S3Call {
    fn has_param(&self, name: &str) -> bool {
        url::form_urlencoded::parse(self.query.as_bytes()).any(|(k, _)| k == name)
    }

    pub fn is_create_multipart(&self) -> bool {
        self.method == "POST" && self.has_param("uploads")
    }

    pub fn is_upload_part(&self) -> bool {
        self.method == "PUT" && self.has_param("partNumber")
    }

    /// PutObject: one request with the whole object.
    pub fn is_put_object(&self) -> bool {
        self.method == "PUT" && !self.has_param("partNumber")
    }

    pub fn is_complete_multipart(&self) -> bool {
        self.method == "POST" && self.has_param("uploadId")
    }

    /// GetObject (the SDK may add `x-id=GetObject`; listings carry `list-type`).
    pub fn is_get(&self) -> bool {
        self.method == "GET" && !self.has_param("list-type") && !self.has_param("uploadId")
    }
}

#[derive(Clone)]
struct Upstream {
    base: String,
    http: reqwest::Client,
    calls: Arc<Mutex<Vec<S3Call>>>,
}

pub struct S3Recorder {
    pub endpoint: String,
    calls: Arc<Mutex<Vec<S3Call>>>,
}

impl S3Recorder {
    pub async fn start(upstream: &str) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            calls: calls.clone(),
        };
        let app = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        S3Recorder { endpoint, calls }
    }

    /// Every call since the last `take`.
    pub fn take(&self) -> Vec<S3Call> {
        std::mem::take(&mut *self.calls.lock().expect("calls"))
    }
}

/// Headers the proxy's own connections decide. A response keeps its `content-length`: a HEAD's
/// is the object's length, which the store reads.
fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, skip: &[&str]) {
    for (name, value) in from {
        if !skip.contains(&name.as_str()) {
            to.append(HeaderName::from(name), value.clone());
        }
    }
}

async fn forward(State(up): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 * 1024 * 1024).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut headers = HeaderMap::new();
    copy_headers(
        &parts.headers,
        &mut headers,
        &["connection", "keep-alive", "transfer-encoding", "content-length"],
    );
    let answer = up
        .http
        .request(parts.method.clone(), format!("{}{path_and_query}", up.base))
        .headers(headers)
        .body(body.clone())
        .send()
        .await;
    let Ok(answer) = answer else { return StatusCode::BAD_GATEWAY.into_response() };
    let status = answer.status();
    let mut response_headers = HeaderMap::new();
    copy_headers(
        answer.headers(),
        &mut response_headers,
        &["connection", "keep-alive", "transfer-encoding"],
    );
    let bytes = answer.bytes().await.unwrap_or_default();
    up.calls.lock().expect("calls").push(S3Call {
        method: parts.method.to_string(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        range: parts.headers.get("range").and_then(|v| v.to_str().ok()).map(str::to_owned),
        sent: body.len(),
        status: status.as_u16(),
        received: bytes.len(),
    });
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    response
}
