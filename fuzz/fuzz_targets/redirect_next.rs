//! `next` after sign-in: whatever the text, the redirect stays on this site.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(next) = std::str::from_utf8(data) else { return };
    let path = fitroom_server::http::next::same_site_path(next);
    assert!(path.starts_with('/'), "{next:?} → {path:?}");
    assert!(!path.starts_with("//"), "{next:?} → {path:?}");
    assert!(!path.contains('\\'), "{next:?} → {path:?}");
    assert!(!path.chars().any(char::is_control), "{next:?} → {path:?}");
    // What a browser would make of it is on this site.
    let site = url::Url::parse("https://fitroom.invalid/").expect("base");
    let landed = site.join(&path).expect("a path joins");
    assert_eq!(landed.origin(), site.origin(), "{next:?} → {path:?}");
});
