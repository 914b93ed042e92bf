//! Stripe signature verification on arbitrary headers and bodies: never a crash, never a pass.
#![no_main]

use fitroom_server::billing::verify_signature;
use fitroom_server::clock::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = data.split_at(split);
    let header = String::from_utf8_lossy(header);
    let now = Timestamp::from_millis(1_700_000_000_000);
    assert!(verify_signature(&header, body, "whsec_fuzz_secret_not_in_corpus", now).is_err());
});
