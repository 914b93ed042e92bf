//! The local provider's webhook verification and parsing, on arbitrary headers and bodies.
#![no_main]

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use fitroom_server::clock::{ManualClock, Timestamp};
use fitroom_server::config::LocalProviderConfig;
use fitroom_server::providers::Provider;
use fitroom_server::providers::local::LocalProvider;
use fitroom_server::signing::Signer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (head, body) = data.split_at(split);
    let head = String::from_utf8_lossy(head);
    let mut parts = head.splitn(2, '|');
    let mut headers = HeaderMap::new();
    if let Some(Ok(v)) = parts.next().map(HeaderValue::from_str) {
        headers.insert("x-local-timestamp", v);
    }
    if let Some(Ok(v)) = parts.next().map(HeaderValue::from_str) {
        headers.insert("x-local-signature", v);
    }
    let clock = ManualClock::at(Timestamp::from_millis(1_700_000_000_000));
    let config = LocalProviderConfig { delay_ms: 0, failure_rate: 0.0, webhook_copies: 1, drop_rate: 0.0 };
    let provider = LocalProvider::new(config, "http://127.0.0.1:9", std::env::temp_dir(), Signer::from_key([7; 32]), Arc::new(clock.clone()));
    // A forged webhook must never verify.
    let now = fitroom_server::clock::Clock::now(&clock);
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    assert!(runtime.block_on(provider.parse_webhook(&headers, None, body, now)).is_err());
});
