//! What the provider webhook targets share: the input's first line holds header values
//! separated by `|`, the rest is the body; providers are built once; async parsing runs on one
//! current-thread runtime.
#![allow(dead_code)]

use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use fitroom_server::Config;
use fitroom_server::clock::Timestamp;

pub const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

/// Header values (in `names` order) and the body of one fuzz input.
pub fn split<'a>(data: &'a [u8], names: &[&'static str]) -> (HeaderMap, &'a [u8]) {
    let at = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(at);
    let head = String::from_utf8_lossy(head);
    let mut headers = HeaderMap::new();
    for (name, value) in names.iter().zip(head.split('|')) {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    (headers, body.get(1..).unwrap_or_default())
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime"))
        .block_on(future)
}

pub fn config(pairs: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Config::from_source(&env).expect("config")
}
