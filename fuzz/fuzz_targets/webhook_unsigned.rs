//! FASHN's and Evolink's unsigned webhooks on arbitrary query strings and bodies: never a
//! crash, and nothing is believed without the token (the handler then asks the provider).
#![no_main]

#[path = "common/mod.rs"]
mod common;

use std::sync::OnceLock;

use fitroom_server::providers::evolink::Evolink;
use fitroom_server::providers::fashn::Fashn;
use fitroom_server::providers::{Authenticity, Provider};
use libfuzzer_sys::fuzz_target;

fn providers() -> &'static [Box<dyn Provider>; 2] {
    static PROVIDERS: OnceLock<[Box<dyn Provider>; 2]> = OnceLock::new();
    PROVIDERS.get_or_init(|| {
        let config = common::config(&[
            ("FASHN_API_KEY", "fuzz"),
            ("FASHN_API_BASE", "http://127.0.0.1:9/v1"),
            ("EVOLINK_API_KEY", "fuzz"),
            ("EVOLINK_MODEL", "fuzz-model"),
            ("EVOLINK_API_BASE", "http://127.0.0.1:9"),
        ]);
        [Box::new(Fashn::from_config(&config).expect("fashn")), Box::new(Evolink::from_config(&config).expect("evolink"))]
    })
}

fuzz_target!(|data: &[u8]| {
    let at = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (query, body) = data.split_at(at);
    let query = String::from_utf8_lossy(query);
    let body = body.get(1..).unwrap_or_default();
    for provider in providers() {
        if let Ok(event) = common::block_on(provider.parse_webhook(&Default::default(), Some(&query), body, common::NOW)) {
            match event.authenticity {
                Authenticity::Token(token) => assert!(!token.is_empty() && query.contains(&format!("token={token}"))),
                Authenticity::Signed => panic!("an unsigned provider claimed a signature"),
            }
        }
    }
});
