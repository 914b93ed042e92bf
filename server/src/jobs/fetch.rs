//! Downloading a provider's output: http(s) or `data:` only, size-capped, checked to be an image
//! by its bytes, and never from private, loopback or link-local addresses (checked after DNS,
//! on every redirect) unless the provider is configured as local.

use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use futures_util::StreamExt;

use crate::media::{ImageKind, sniff};

#[derive(Clone, Copy, Debug)]
pub struct FetchPolicy {
    pub max_bytes: usize,
    pub allow_private: bool,
}

#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// Will never work: bad scheme, forbidden address, not an image, too big, gone.
    #[error("{0}")]
    Refused(String),
    /// May work later: network trouble, 5xx.
    #[error("{0}")]
    Transient(String),
}

const MAX_REDIRECTS: usize = 5;

pub async fn download(client: &reqwest::Client, url: &str, policy: &FetchPolicy) -> Result<Fetched, FetchError> {
    let bytes = if let Some(data) = url.strip_prefix("data:") {
        decode_data_uri(data, policy.max_bytes)?
    } else {
        fetch_http(client, url, policy).await?
    };
    let kind = sniff(&bytes).ok_or_else(|| FetchError::Refused("the output is not a JPEG, PNG or WebP image".into()))?;
    Ok(Fetched { bytes, kind })
}

fn decode_data_uri(data: &str, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    let (meta, payload) = data.split_once(',').ok_or_else(|| FetchError::Refused("malformed data: URI".into()))?;
    if payload.len() / 4 * 3 > max_bytes {
        return Err(FetchError::Refused("the output is larger than the size cap".into()));
    }
    if !meta.ends_with(";base64") {
        return Err(FetchError::Refused("data: URIs must be base64".into()));
    }
    base64::engine::general_purpose::STANDARD
        .decode(payload.trim())
        .map_err(|e| FetchError::Refused(format!("bad base64 in data: URI: {e}")))
}

/// Loopback, private, link-local (cloud metadata at 169.254.169.254), unspecified, multicast…
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_loopback() || v4.is_private() || v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast()
                || v4.is_multicast() || v4.is_documentation()
                || v4.octets()[0] == 0
                || (v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64) // carrier-grade NAT
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_forbidden(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
        }
    }
}

async fn fetch_http(client: &reqwest::Client, url: &str, policy: &FetchPolicy) -> Result<Vec<u8>, FetchError> {
    let mut current = reqwest::Url::parse(url).map_err(|e| FetchError::Refused(format!("bad URL: {e}")))?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!("the {} scheme is not allowed", current.scheme())));
        }
        let host = current.host_str().ok_or_else(|| FetchError::Refused("URL without a host".into()))?.to_owned();
        let port = current.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| FetchError::Transient(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(FetchError::Transient(format!("{host} has no address")));
        }
        if !policy.allow_private {
            if let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
                return Err(FetchError::Refused(format!("{host} resolves to the private address {}", bad.ip())));
            }
        }
        // Connect to the address we checked, not to whatever a second lookup would say.
        let pinned = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .resolve_to_addrs(&host, &addrs)
            .build()
            .unwrap_or_else(|_| client.clone());
        let response = pinned.get(current.clone()).send().await.map_err(|e| FetchError::Transient(e.to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| FetchError::Refused("redirect without a location".into()))?;
            current = current.join(location).map_err(|e| FetchError::Refused(format!("bad redirect: {e}")))?;
            continue;
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(FetchError::Transient(format!("the output URL answered {status}")));
        }
        if !status.is_success() {
            return Err(FetchError::Refused(format!("the output URL answered {status}")));
        }
        if response.content_length().is_some_and(|n| n as usize > policy.max_bytes) {
            return Err(FetchError::Refused("the output is larger than the size cap".into()));
        }
        let mut body = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| FetchError::Transient(e.to_string()))?;
            if body.len() + chunk.len() > policy.max_bytes {
                return Err(FetchError::Refused("the output is larger than the size cap".into()));
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    Err(FetchError::Refused("too many redirects".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_metadata_addresses_are_forbidden() {
        for ip in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "172.16.0.1", "169.254.169.254", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "100.64.0.1"] {
            assert!(is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:4700::1111"] {
            assert!(!is_forbidden(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn other_schemes_and_private_hosts_are_refused_before_any_request() {
        let client = reqwest::Client::new();
        let policy = FetchPolicy { max_bytes: 1024, allow_private: false };
        for url in ["file:///etc/passwd", "ftp://example.com/x.png", "http://127.0.0.1:9/x.png", "http://169.254.169.254/latest/meta-data"] {
            assert!(matches!(download(&client, url, &policy).await, Err(FetchError::Refused(_))), "{url}");
        }
    }

    #[tokio::test]
    async fn data_uris_are_decoded_and_checked_to_be_images() {
        let client = reqwest::Client::new();
        let policy = FetchPolicy { max_bytes: 1024, allow_private: false };
        let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\n0000");
        let ok = download(&client, &format!("data:image/png;base64,{png}"), &policy).await.expect("png");
        assert_eq!(ok.kind, ImageKind::Png);
        let text = base64::engine::general_purpose::STANDARD.encode(b"hello");
        assert!(download(&client, &format!("data:text/plain;base64,{text}"), &policy).await.is_err());
    }
}
