//! Where a shopper goes after signing in: `next` only ever leads to a path on this site
//! (docs/api.md, Conventions). Anything else (another host, `//`, backslashes, control
//! characters, or any of those percent-encoded) leads to `/`.

use percent_encoding::percent_decode_str;
use url::Url;

/// Any origin will do: only whether `next` stays on it matters.
const SITE: &str = "https://fitroom.invalid/";

/// `next` as a same-site path (with its query), or `/`.
pub fn same_site_path(next: &str) -> String {
    let home = || "/".to_owned();
    // Browsers drop tabs and newlines from URLs and read `\` as `/`: `/\t/evil.com` and
    // `/\evil.com` lead to another host. Look at the text and at it decoded, once and twice.
    let once = percent_decode_str(next).decode_utf8_lossy();
    let twice = percent_decode_str(&once).decode_utf8_lossy().into_owned();
    for text in [next, once.as_ref(), twice.as_str()] {
        let bare = text.trim_start_matches(|c: char| c.is_control() || c == ' ');
        if text.chars().any(|c| c.is_control() || c == '\\')
            || !bare.starts_with('/')
            || bare.starts_with("//")
        {
            return home();
        }
    }
    let Ok(site) = Url::parse(SITE) else { return home() };
    let Ok(url) = site.join(next) else { return home() };
    if url.origin() != site.origin() {
        return home();
    }
    let mut path = url.path().to_owned();
    if let Some(query) = url.query() {
        path.push('?');
        path.push_str(query);
    }
    if path.starts_with("//") { home() } else { path }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_on_this_site_are_kept() {
        assert_eq!(same_site_path("/history"), "/history");
        assert_eq!(same_site_path("/account?tab=credits"), "/account?tab=credits");
        assert_eq!(same_site_path("/a/../history"), "/history");
        assert_eq!(same_site_path("/"), "/");
    }

    #[test]
    fn an_open_redirect_is_never_built() {
        for attack in [
            "https://evil.com",
            "//evil.com",
            "///evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/%09/evil.com",
            "/\t/evil.com",
            "/\n/evil.com",
            "%2F%2Fevil.com",
            "/%2F/evil.com",
            "/%5Cevil.com",
            "/%252F%252Fevil.com",
            " //evil.com",
            "javascript:alert(1)",
            "evil.com",
            "",
            "/\u{0}",
            "http:/evil.com",
        ] {
            assert_eq!(same_site_path(attack), "/", "{attack:?}");
        }
    }
}
