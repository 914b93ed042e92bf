//! fal's webhooks (Ed25519 over request id, user id, timestamp and the body's SHA-256) on
//! arbitrary headers and bodies: a forged delivery never verifies; a correctly signed arbitrary
//! body never crashes the parser. The key cache starts full, so no input reaches the network.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use ed25519_dalek::{Signer, SigningKey};
use fitroom_server::providers::fal::{Fal, KeyCache};
use fitroom_server::providers::input_map::InputMap;
use fitroom_server::providers::{Authenticity, Provider};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const USER: &str = "fal_user_fuzz";

fn key() -> SigningKey {
    SigningKey::from_bytes(&[11; 32])
}

fn provider() -> &'static Fal {
    static PROVIDER: OnceLock<Fal> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let keys = KeyCache::with_keys("http://127.0.0.1:9/jwks".into(), reqwest::Client::new(), vec![key().verifying_key()], common::NOW);
        let inputs = InputMap::parse("model_image=$person").expect("inputs");
        Fal::new("key".into(), USER.into(), "fal-ai/x".into(), "http://127.0.0.1:9".into(), inputs, keys)
    })
}

const HEADERS: [&str; 4] = ["x-fal-webhook-request-id", "x-fal-webhook-user-id", "x-fal-webhook-timestamp", "x-fal-webhook-signature"];

fuzz_target!(|data: &[u8]| {
    let (mut headers, body) = common::split(data, &HEADERS);
    let p = provider();
    assert!(common::block_on(p.parse_webhook(&headers, None, body, common::NOW)).is_err(), "a forged webhook verified");

    let timestamp = (common::NOW.millis() / 1000).to_string();
    let request_id = headers.get(HEADERS[0]).and_then(|v| v.to_str().ok()).unwrap_or("req").to_owned();
    let message = format!("{request_id}\n{USER}\n{timestamp}\n{}", hex::encode(Sha256::digest(body)));
    headers.insert(HEADERS[0], request_id.parse().expect("header"));
    headers.insert(HEADERS[1], USER.parse().expect("header"));
    headers.insert(HEADERS[2], timestamp.parse().expect("header"));
    headers.insert(HEADERS[3], hex::encode(key().sign(message.as_bytes()).to_bytes()).parse().expect("header"));
    if let Ok(event) = common::block_on(p.parse_webhook(&headers, None, body, common::NOW)) {
        assert_eq!(event.authenticity, Authenticity::Signed);
        assert_eq!(event.task_id, request_id);
    }
});
