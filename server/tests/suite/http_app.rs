//! An in-process Fitroom for HTTP specs: the real router and state, a manual clock, no sockets.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use fitroom_server::{AppState, Config};
use serde_json::Value;
use tower::ServiceExt;

use crate::common::TestDb;

pub struct TestApp {
    pub t: TestDb,
    pub state: AppState,
    router: axum::Router,
    _data_dir: tempfile::TempDir,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The session cookie this reply sets, as a `Cookie` header value.
    pub fn cookie(&self) -> String {
        let set = self
            .headers
            .get(header::SET_COOKIE)
            .expect("a Set-Cookie header")
            .to_str()
            .expect("ascii");
        set.split(';').next().expect("name=value").to_owned()
    }

    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn new(t: TestDb) -> TestApp {
        Self::with_env(t, &[]).await
    }

    pub async fn with_env(t: TestDb, extra: &[(&str, &str)]) -> TestApp {
        let data_dir = tempfile::tempdir().expect("data dir");
        let mut env: HashMap<String, String> = HashMap::new();
        env.extend(t.database_env());
        env.insert("FITROOM_DATA_DIR".into(), data_dir.path().display().to_string());
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let config = Config::from_source(&env).expect("config");
        let state =
            AppState::build_with_clock(config, Arc::new(t.clock.clone())).await.expect("state");
        let router = fitroom_server::http::router(state.clone());
        TestApp { t, state, router, _data_dir: data_dir }
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes =
            axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024).await.expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut req = Request::get(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::empty()).expect("request")).await
    }

    pub async fn post_json(&self, path: &str, body: Value, cookie: Option<&str>) -> Reply {
        let mut req = Request::post(path).header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        self.send(req.body(Body::from(body.to_string())).expect("request")).await
    }

    /// Registers a shopper and returns their session cookie.
    pub async fn signed_up(&self, email: &str) -> String {
        let reply = self
            .post_json(
                "/api/auth/register",
                serde_json::json!({ "email": email, "password": "correct horse battery" }),
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{:?}", reply.body);
        reply.cookie()
    }
}
