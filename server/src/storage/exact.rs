//! A stream that must carry exactly the number of bytes its source declared (an HTTP
//! `Content-Length`): a store that sends it in one request of that length relies on it, and a
//! source that sends more or less than it promised is broken, whatever the store.

use futures_util::StreamExt;

use super::{BodyError, ByteStream};

#[derive(Debug, thiserror::Error)]
#[error("the source declared {declared} bytes and sent {sent}")]
pub struct LengthMismatch {
    pub declared: u64,
    pub sent: u64,
}

/// `body`, failing as soon as it passes `len` bytes, or at its end when it fell short.
pub fn exactly(body: ByteStream, len: u64) -> ByteStream {
    let mismatch = move |sent| -> BodyError { Box::new(LengthMismatch { declared: len, sent }) };
    // The state: the stream, the bytes it sent so far, and whether it has already failed.
    futures_util::stream::unfold((body, 0u64, false), move |(mut body, sent, failed)| async move {
        if failed {
            return None;
        }
        match body.next().await {
            Some(Ok(chunk)) => {
                let sent = sent + chunk.len() as u64;
                let item = if sent > len { Err(mismatch(sent)) } else { Ok(chunk) };
                let failed = item.is_err();
                Some((item, (body, sent, failed)))
            }
            Some(Err(e)) => Some((Err(e), (body, sent, true))),
            None if sent < len => Some((Err(mismatch(sent)), (body, sent, true))),
            None => None,
        }
    })
    .fuse() // an HTTP body may be polled again after it ended
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::TryStreamExt;

    fn chunks(sizes: &[usize]) -> ByteStream {
        let items: Vec<Result<Bytes, BodyError>> =
            sizes.iter().map(|&n| Ok(Bytes::from(vec![1u8; n]))).collect();
        futures_util::stream::iter(items).boxed()
    }

    async fn total(body: ByteStream) -> Result<usize, String> {
        body.try_fold(0, |n, c| async move { Ok(n + c.len()) }).await.map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn the_declared_length_passes_untouched() {
        assert_eq!(total(exactly(chunks(&[3, 4, 5]), 12)).await, Ok(12));
        assert_eq!(total(exactly(chunks(&[]), 0)).await, Ok(0));
    }

    #[tokio::test]
    async fn more_bytes_than_declared_fail_as_soon_as_they_arrive() {
        assert_eq!(
            total(exactly(chunks(&[3, 4, 5]), 6)).await,
            Err("the source declared 6 bytes and sent 7".into())
        );
    }

    #[tokio::test]
    async fn fewer_bytes_than_declared_fail_at_the_end() {
        assert_eq!(
            total(exactly(chunks(&[3, 4]), 12)).await,
            Err("the source declared 12 bytes and sent 7".into())
        );
    }
}
