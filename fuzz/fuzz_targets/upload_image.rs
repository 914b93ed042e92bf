//! Upload sniffing and decoding: any bytes must be refused cleanly or normalised, never crash.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fitroom_server::media::sniff(data);
    if let Ok(image) = fitroom_server::media::normalize(data) {
        // What we store must itself be an image we accept.
        assert!(fitroom_server::media::sniff(&image.bytes).is_some());
    }
});
