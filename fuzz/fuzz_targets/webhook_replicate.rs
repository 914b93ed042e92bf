//! Replicate's webhooks (Standard Webhooks + prediction JSON) on arbitrary headers and bodies:
//! a forged delivery never verifies; a correctly signed arbitrary body never crashes the parser.
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use fitroom_server::providers::replicate::Replicate;
use fitroom_server::providers::standard_webhooks::Secret;
use fitroom_server::providers::{Authenticity, Provider};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn provider() -> &'static Replicate {
    static PROVIDER: OnceLock<Replicate> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let config = common::config(&[
            ("REPLICATE_API_TOKEN", "r8_fuzz"),
            ("REPLICATE_WEBHOOK_SECRET", SECRET),
            ("REPLICATE_MODEL", "cuuupid/idm-vton"),
            ("REPLICATE_API_BASE", "http://127.0.0.1:9/v1"),
        ]);
        Replicate::from_config(&config).expect("provider")
    })
}

fuzz_target!(|data: &[u8]| {
    let (mut headers, body) = common::split(data, &["webhook-id", "webhook-timestamp", "webhook-signature"]);
    let p = provider();
    assert!(common::block_on(p.parse_webhook(&headers, None, body, common::NOW)).is_err(), "a forged webhook verified");

    // The same body, correctly signed: only the JSON parsing can refuse it now.
    let timestamp = common::NOW.millis() / 1000;
    let signature = Secret::parse(SECRET).expect("secret").sign("msg_fuzz", timestamp, body);
    headers.insert("webhook-id", "msg_fuzz".parse().expect("header"));
    headers.insert("webhook-timestamp", timestamp.to_string().parse().expect("header"));
    headers.insert("webhook-signature", signature.parse().expect("header"));
    if let Ok(event) = common::block_on(p.parse_webhook(&headers, None, body, common::NOW)) {
        assert_eq!(event.authenticity, Authenticity::Signed);
    }
});
