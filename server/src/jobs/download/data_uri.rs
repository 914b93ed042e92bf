//! `data:` URIs, which some providers return instead of a link: the payload is already in memory
//! (in the job's row), so it is decoded a slice at a time rather than into a second whole copy.

use base64::Engine;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::{DownloadError, too_large};

/// Base64 text decoded per step: a multiple of 4 characters, so every slice but the last has no
/// padding and decodes on its own.
const TEXT_PER_CHUNK: usize = 64 * 1024;

/// The decoded bytes of `data:<type>;base64,<payload>` as a stream.
pub(super) fn decode(
    uri: String,
    max_bytes: usize,
) -> Result<BoxStream<'static, Result<Bytes, DownloadError>>, DownloadError> {
    let comma =
        uri.find(',').ok_or_else(|| DownloadError::Refused("malformed data: URI".into()))?;
    if !uri[..comma].ends_with(";base64") {
        return Err(DownloadError::Refused("data: URIs must be base64".into()));
    }
    let untrimmed = &uri[comma + 1..];
    let start = comma + 1 + (untrimmed.len() - untrimmed.trim_start().len());
    let len = untrimmed.trim().len();
    if len / 4 * 3 > max_bytes {
        return Err(too_large());
    }
    let text = Bytes::from(uri).slice(start..start + len);
    let steps = text.len().div_ceil(TEXT_PER_CHUNK);
    Ok(futures_util::stream::iter(0..steps)
        .map(move |i| {
            let slice = &text[i * TEXT_PER_CHUNK..((i + 1) * TEXT_PER_CHUNK).min(text.len())];
            base64::engine::general_purpose::STANDARD
                .decode(slice)
                .map(Bytes::from)
                .map_err(|e| DownloadError::Refused(format!("bad base64 in data: URI: {e}")))
        })
        .boxed())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn decoded(uri: String) -> Result<Vec<u8>, DownloadError> {
        let mut out = Vec::new();
        let mut stream = decode(uri, usize::MAX)?;
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn a_payload_longer_than_one_slice_decodes_to_the_same_bytes() {
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
        let text = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(decoded(format!("data:image/png;base64,{text}")).await.expect("decodes"), bytes);
        assert_eq!(
            decoded(format!("data:image/png;base64, {text}\n")).await.expect("decodes"),
            bytes,
            "surrounding blanks"
        );
    }

    #[tokio::test]
    async fn only_base64_payloads_are_accepted() {
        assert!(decoded("data:image/png,%89PNG".into()).await.is_err());
        assert!(decoded("data:image/png;base64".into()).await.is_err());
        assert!(decoded("data:image/png;base64,@@@@".into()).await.is_err());
    }
}
