//! Downloading a provider's output: http(s) or `data:` only, size-capped, checked to be an image
//! by its first bytes, and never from private, loopback or link-local addresses (checked after
//! DNS, on every redirect) unless the provider is configured as local. The body is never held
//! whole: it streams from the provider into storage through the store's bounded buffer.

mod address;
mod data_uri;

pub use address::is_forbidden;

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{self, BoxStream};
use futures_util::{StreamExt, TryStreamExt};

use crate::media::{ImageKind, sniff};
use crate::storage::{ByteStream, Storage, StorageError};

#[derive(Clone, Copy, Debug)]
pub struct DownloadPolicy {
    pub max_bytes: usize,
    pub allow_private: bool,
}

/// An output whose first bytes proved it an image; the rest is still on its way.
pub struct Download {
    pub kind: ImageKind,
    /// Every byte, the sniffed ones included; fails with a `DownloadError` past the size cap.
    pub body: ByteStream,
    /// The length the source declared (`Content-Length`), which lets a store take the body in
    /// one request as it arrives; the body fails if it carries more or fewer bytes.
    pub len: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DownloadError {
    /// Will never work: bad scheme, forbidden address, not an image, too big, gone.
    #[error("{0}")]
    Refused(String),
    /// May work later: network trouble, 5xx.
    #[error("{0}")]
    Transient(String),
}

/// Why copying an output into storage failed.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// The output itself is at fault (too big, broken, gone) or the network is.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Our store is: retry later.
    #[error(transparent)]
    Storage(StorageError),
}

const MAX_REDIRECTS: usize = 5;
/// Enough bytes to recognise every accepted format (WebP needs 12).
const SNIFF_BYTES: usize = 12;

fn too_large() -> DownloadError {
    DownloadError::Refused("the output is larger than the size cap".into())
}

/// Starts downloading an output: follows redirects with the address checks, reads the first
/// bytes to learn the image type, and returns the rest as a capped stream.
pub async fn open(url: String, policy: &DownloadPolicy) -> Result<Download, DownloadError> {
    let source = if url.starts_with("data:") {
        data_uri::decode(url, policy.max_bytes)?
    } else {
        let response = get_http(&url, policy).await?;
        let len = response.content_length();
        if len.is_some_and(|n| n > policy.max_bytes as u64) {
            return Err(too_large());
        }
        let body =
            response.bytes_stream().map_err(|e| DownloadError::Transient(e.to_string())).boxed();
        return Ok(Download { len, ..sniffed(body, policy.max_bytes).await? });
    };
    sniffed(source, policy.max_bytes).await
}

/// Fetches a web page (a shop's product page) with the same address rules as outputs: its final
/// address after redirects and its text, at most `max_bytes`. Only HTML is read.
pub async fn fetch_page(
    url: &str,
    policy: &DownloadPolicy,
) -> Result<(reqwest::Url, String), DownloadError> {
    let response = get_http(url, policy).await?;
    let is_html = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.contains("html") || t.contains("xml"));
    if !is_html {
        return Err(DownloadError::Refused("the page is not HTML".into()));
    }
    let final_url = response.url().clone();
    let mut body = response.bytes_stream();
    let mut bytes = BytesMut::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.map_err(|e| DownloadError::Transient(e.to_string()))?);
        if bytes.len() > policy.max_bytes {
            return Err(DownloadError::Refused("the page is larger than the size cap".into()));
        }
    }
    Ok((final_url, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Copies a download into storage under `key`. Nothing is left under `key` when it fails.
pub async fn store(
    storage: &dyn Storage,
    key: &str,
    download: Download,
) -> Result<u64, MirrorError> {
    let content_type = download.kind.content_type();
    let stored = match download.len {
        Some(len) => storage.put_stream_of_len(key, download.body, len, content_type).await,
        None => storage.put_stream(key, download.body, content_type).await,
    };
    stored.map_err(|e| match e {
        // The download broke off or passed the cap part way through: the store gives our own
        // error back, unchanged.
        StorageError::Body(body) => match body.downcast::<DownloadError>() {
            Ok(fetch) => MirrorError::Download(*fetch),
            Err(other) => MirrorError::Download(DownloadError::Transient(other.to_string())),
        },
        other => MirrorError::Storage(other),
    })
}

/// Reads until the type is known (or the output ends), so that nothing is written anywhere for
/// an output that is not an image; then counts every byte against the cap.
async fn sniffed(
    mut source: BoxStream<'static, Result<Bytes, DownloadError>>,
    max_bytes: usize,
) -> Result<Download, DownloadError> {
    let mut head = BytesMut::new();
    while head.len() < SNIFF_BYTES {
        match source.next().await {
            Some(chunk) => head.extend_from_slice(&chunk?),
            None => break,
        }
    }
    if head.len() > max_bytes {
        return Err(too_large());
    }
    let kind = sniff(&head).ok_or_else(|| {
        DownloadError::Refused("the output is not a JPEG, PNG or WebP image".into())
    })?;
    let mut seen = head.len();
    let rest = source.map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len();
        if seen > max_bytes { Err(too_large()) } else { Ok(chunk) }
    });
    let body = stream::once(async move { Ok(head.freeze()) })
        .chain(rest)
        .map_err(|e: DownloadError| -> crate::storage::BodyError { Box::new(e) })
        .boxed();
    Ok(Download { kind, body, len: None })
}

/// Follows redirects by hand, checking each hop's addresses, up to a success status.
async fn get_http(url: &str, policy: &DownloadPolicy) -> Result<reqwest::Response, DownloadError> {
    let mut current =
        reqwest::Url::parse(url).map_err(|e| DownloadError::Refused(format!("bad URL: {e}")))?;
    for _ in 0..=MAX_REDIRECTS {
        if !matches!(current.scheme(), "http" | "https") {
            return Err(DownloadError::Refused(format!(
                "the {} scheme is not allowed",
                current.scheme()
            )));
        }
        let host = current
            .host_str()
            .ok_or_else(|| DownloadError::Refused("URL without a host".into()))?
            .to_owned();
        let port = current.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.trim_matches(['[', ']']), port))
            .await
            .map_err(|e| DownloadError::Transient(format!("cannot resolve {host}: {e}")))?
            .collect();
        if addrs.is_empty() {
            return Err(DownloadError::Transient(format!("{host} has no address")));
        }
        if !policy.allow_private
            && let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip()))
        {
            return Err(DownloadError::Refused(format!(
                "{host} resolves to the private address {}",
                bad.ip()
            )));
        }
        // Connect to the address we checked, not to whatever a second lookup would say.
        // If that client cannot be built, nothing is fetched: falling back to an unpinned client
        // would connect wherever a second lookup says.
        let pinned = reqwest::Client::builder()
            // A proxy from the environment would connect to the host itself, past our checks.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(60))
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| DownloadError::Transient(format!("no HTTP client: {e}")))?;
        let response = pinned
            .get(current.clone())
            .send()
            .await
            .map_err(|e| DownloadError::Transient(e.to_string()))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| DownloadError::Refused("redirect without a location".into()))?;
            current = current
                .join(location)
                .map_err(|e| DownloadError::Refused(format!("bad redirect: {e}")))?;
            continue;
        }
        if status.is_server_error() || status.as_u16() == 429 {
            return Err(DownloadError::Transient(format!("the output URL answered {status}")));
        }
        if !status.is_success() {
            return Err(DownloadError::Refused(format!("the output URL answered {status}")));
        }
        if response.content_length().is_some_and(|n| n > policy.max_bytes as u64) {
            return Err(too_large());
        }
        return Ok(response);
    }
    Err(DownloadError::Refused("too many redirects".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(download: Download) -> Vec<u8> {
        download
            .body
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .expect("the whole body")
    }

    fn base64(bytes: &[u8]) -> String {
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
    }

    #[tokio::test]
    async fn other_schemes_and_private_hosts_are_refused_before_any_request() {
        let policy = DownloadPolicy { max_bytes: 1024, allow_private: false };
        for url in [
            "file:///etc/passwd",
            "ftp://example.com/x.png",
            "http://127.0.0.1:9/x.png",
            "http://169.254.169.254/latest/meta-data",
        ] {
            assert!(
                matches!(open(url.into(), &policy).await, Err(DownloadError::Refused(_))),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn data_uris_are_decoded_and_checked_to_be_images() {
        let policy = DownloadPolicy { max_bytes: 1024, allow_private: false };
        let png = b"\x89PNG\r\n\x1a\n0000";
        let ok =
            open(format!("data:image/png;base64,{}", base64(png)), &policy).await.expect("png");
        assert_eq!(ok.kind, ImageKind::Png);
        assert_eq!(collect(ok).await, png);
        let text = format!("data:text/plain;base64,{}", base64(b"hello"));
        assert!(matches!(open(text, &policy).await, Err(DownloadError::Refused(_))));
    }

    /// Serves `chunks` chunked (no Content-Length, so only counting can enforce a cap).
    async fn chunked_source(chunks: Vec<Vec<u8>>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = axum::Router::new().route(
            "/out",
            axum::routing::get(move || {
                let chunks = chunks.clone();
                async move {
                    axum::body::Body::from_stream(stream::iter(
                        chunks.into_iter().map(Ok::<_, std::io::Error>),
                    ))
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/out")
    }

    #[tokio::test]
    async fn the_size_cap_holds_while_the_body_streams() {
        let policy = DownloadPolicy { max_bytes: 100_000, allow_private: true };
        let mut first = b"\x89PNG\r\n\x1a\n".to_vec();
        first.resize(64 * 1024, 0);
        let url = chunked_source(vec![first, vec![0; 64 * 1024]]).await;
        let download = open(url, &policy).await.expect("the first bytes are an image");
        let mut body = download.body;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            if let Err(e) = chunk {
                failure = Some(e.downcast::<DownloadError>().expect("our error"));
                break;
            }
        }
        assert_eq!(failure.map(|e| *e), Some(too_large()));
    }

    #[tokio::test]
    async fn a_streamed_output_arrives_whole_and_typed_by_its_first_bytes() {
        let policy = DownloadPolicy { max_bytes: 1 << 20, allow_private: true };
        // The signature is split across chunks: the type is read across them.
        let url =
            chunked_source(vec![b"RIFF".to_vec(), b"\0\0\0\0WE".to_vec(), b"BPVP8 rest".to_vec()])
                .await;
        let download = open(url, &policy).await.expect("opens");
        assert_eq!(download.kind, ImageKind::Webp);
        assert_eq!(collect(download).await, b"RIFF\0\0\0\0WEBPVP8 rest");
        let text = chunked_source(vec![b"<html>not an image</html>".to_vec()]).await;
        assert!(matches!(open(text, &policy).await, Err(DownloadError::Refused(_))));
    }
}
