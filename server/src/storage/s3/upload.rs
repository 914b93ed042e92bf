//! Streaming an object into S3 through bounded part buffers: an object that fits in the first
//! part goes up in a single PUT; a larger one goes up as a multipart upload in which part n is
//! uploaded while part n + 1 is read from the source, so that the download never waits for the
//! store and a mirror holds at most two parts. A failure aborts the multipart upload, and S3 only
//! shows an object once it is complete, so nothing is ever left under the key.

use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::remote;
use crate::storage::{ByteStream, StorageError};

/// The size of each part and of each buffer that gathers one: S3's minimum (every part but the
/// last must have at least 5 MiB, and R2 wants them all the same size). Two of them, one being
/// uploaded and one being filled, are the memory a mirror holds.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

pub(super) struct Upload<'a> {
    pub client: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub key: &'a str,
    pub content_type: &'a str,
}

/// Cuts a stream of chunks of any size into parts of `PART_SIZE` bytes (the last may be shorter).
struct Parts {
    body: ByteStream,
    /// The unused tail of the last chunk received.
    carry: Bytes,
    ended: bool,
    /// The buffer of a part already uploaded, to fill again: two buffers serve a whole upload,
    /// where a fresh one per part would leave the allocator holding freed ones (measured: a
    /// third part's worth of resident memory).
    spare: Option<BytesMut>,
}

impl Parts {
    /// Takes back an uploaded part's buffer when nothing else holds it any more.
    fn recycle(&mut self, part: Bytes) {
        if let Ok(mut buf) = part.try_into_mut() {
            buf.clear();
            self.spare = Some(buf);
        }
    }

    /// The next part. A chunk that holds a whole part is sliced without copying; small chunks
    /// are gathered into one buffer of at most `PART_SIZE` bytes. Empty only at the end.
    async fn next_part(&mut self) -> Result<Bytes, StorageError> {
        let mut buf = self.spare.take().unwrap_or_default();
        loop {
            let missing = PART_SIZE - buf.len();
            if self.carry.len() >= missing {
                if buf.is_empty() {
                    return Ok(self.carry.split_to(PART_SIZE));
                }
                buf.extend_from_slice(&self.carry.split_to(missing));
                return Ok(buf.freeze());
            }
            // The carry is shorter than what the part still needs: it joins the buffer once
            // another chunk is known to follow; at the end, a lone chunk goes out uncopied.
            match self.body.next().await {
                Some(chunk) => {
                    let chunk = chunk.map_err(StorageError::Body)?;
                    if buf.capacity() < PART_SIZE {
                        buf.reserve(PART_SIZE);
                    }
                    buf.extend_from_slice(&std::mem::replace(&mut self.carry, chunk));
                }
                None => {
                    self.ended = true;
                    if buf.is_empty() {
                        return Ok(std::mem::take(&mut self.carry));
                    }
                    buf.extend_from_slice(&std::mem::take(&mut self.carry));
                    return Ok(buf.freeze());
                }
            }
        }
    }
}

/// The most one PUT may carry (S3's limit); a longer object goes up in parts.
const SINGLE_PUT_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// A stream of known length as a request body for the SDK. The SDK wants a `Sync` body; the
/// mutex makes one of a `Send` stream and is never contended (polling has `&mut` access).
/// The stream's own failure is kept aside: the SDK reports a failing body only as a dispatch
/// failure, and the caller needs the original (a download refused past its cap).
struct StreamedBody {
    stream: std::sync::Mutex<ByteStream>,
    len: u64,
    failure: std::sync::Arc<std::sync::Mutex<Option<crate::storage::BodyError>>>,
}

impl http_body::Body for StreamedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        let stream = this.stream.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        stream.poll_next_unpin(cx).map(|chunk| {
            chunk.map(|chunk| match chunk {
                Ok(bytes) => Ok(http_body::Frame::data(bytes)),
                Err(error) => {
                    let message = error.to_string();
                    if let Ok(mut kept) = this.failure.lock() {
                        kept.get_or_insert(error);
                    }
                    Err(std::io::Error::other(message))
                }
            })
        })
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.len)
    }
}

impl Upload<'_> {
    /// A stream of known length goes up as it arrives, in one PUT of that length: nothing is
    /// buffered beyond the chunk in flight, and the download never waits for a part to fill.
    /// Its payload is not signed (a stream cannot be hashed before it is sent): TLS protects it
    /// in transit, and the CRC32 checksum the SDK trails after it is checked by the store.
    pub(super) async fn run_of_len(self, body: ByteStream, len: u64) -> Result<u64, StorageError> {
        if len > SINGLE_PUT_MAX {
            return self.run(body).await;
        }
        let failure = std::sync::Arc::default();
        let body = SdkBody::from_body_1_x(StreamedBody {
            stream: std::sync::Mutex::new(body.fuse().boxed()),
            len,
            failure: std::sync::Arc::clone(&failure),
        });
        let length = i64::try_from(len).map_err(|_| StorageError::Remote("too long".into()))?;
        let sent = self
            .client
            .put_object()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .content_length(length)
            .body(body)
            .customize()
            .disable_payload_signing()
            .send()
            .await;
        match sent {
            Ok(_) => Ok(len),
            Err(e) => {
                let kept = failure.lock().ok().and_then(|mut kept| kept.take());
                Err(kept.map_or_else(|| remote(e), StorageError::Body))
            }
        }
    }

    pub(super) async fn run(self, body: ByteStream) -> Result<u64, StorageError> {
        let mut parts = Parts { body, carry: Bytes::new(), ended: false, spare: None };
        let first = parts.next_part().await?;
        if parts.ended {
            let len = first.len() as u64;
            self.client
                .put_object()
                .bucket(self.bucket)
                .key(self.key)
                .content_type(self.content_type)
                .body(SdkBody::from(first))
                .customize()
                .disable_payload_signing()
                .send()
                .await
                .map_err(remote)?;
            return Ok(len);
        }
        self.multipart(first, parts).await
    }

    async fn multipart(&self, first: Bytes, mut parts: Parts) -> Result<u64, StorageError> {
        let created = self
            .client
            .create_multipart_upload()
            .bucket(self.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .send()
            .await
            .map_err(remote)?;
        let upload_id = created
            .upload_id()
            .ok_or_else(|| StorageError::Remote("no upload id".into()))?
            .to_owned();
        let uploaded = async {
            let mut completed = Vec::new();
            let mut len = 0u64;
            let mut part = first;
            while !part.is_empty() {
                len += part.len() as u64;
                let number = i32::try_from(completed.len() + 1)
                    .map_err(|_| StorageError::Remote("too many parts".into()))?;
                // The next part is read while this one goes up; the first error stops both.
                let next =
                    async { if parts.ended { Ok(Bytes::new()) } else { parts.next_part().await } };
                let sent = part.clone();
                let (done, next) =
                    tokio::try_join!(self.upload_part(&upload_id, number, part), next)?;
                completed.push(done);
                parts.recycle(sent);
                part = next;
            }
            self.client
                .complete_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder().set_parts(Some(completed)).build(),
                )
                .send()
                .await
                .map_err(remote)?;
            Ok(len)
        }
        .await;
        if uploaded.is_err() {
            // Parts of an abandoned upload are billed until aborted.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(self.bucket)
                .key(self.key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        uploaded
    }

    async fn upload_part(
        &self,
        upload_id: &str,
        number: i32,
        part: Bytes,
    ) -> Result<CompletedPart, StorageError> {
        let sent = self
            .client
            .upload_part()
            .bucket(self.bucket)
            .key(self.key)
            .upload_id(upload_id)
            .part_number(number)
            .body(SdkBody::from(part))
            .customize()
            .disable_payload_signing()
            .send()
            .await
            .map_err(remote)?;
        Ok(CompletedPart::builder()
            .part_number(number)
            .set_e_tag(sent.e_tag().map(str::to_owned))
            .set_checksum_crc32(sent.checksum_crc32().map(str::to_owned))
            .build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts_of(chunks: Vec<usize>) -> Parts {
        let body =
            futures_util::stream::iter(chunks.into_iter().map(|n| Ok(Bytes::from(vec![7u8; n]))))
                .boxed();
        Parts { body, carry: Bytes::new(), ended: false, spare: None }
    }

    async fn sizes(mut parts: Parts) -> Vec<usize> {
        let mut out = Vec::new();
        loop {
            let part = parts.next_part().await.expect("part");
            if !part.is_empty() {
                out.push(part.len());
            }
            if parts.ended {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn small_chunks_are_gathered_into_whole_parts() {
        let chunk = 64 * 1024;
        let chunks = vec![chunk; (2 * PART_SIZE + 3 * 1024 * 1024) / chunk];
        assert_eq!(sizes(parts_of(chunks)).await, vec![PART_SIZE, PART_SIZE, 3 * 1024 * 1024]);
    }

    #[tokio::test]
    async fn one_big_chunk_is_cut_into_parts() {
        assert_eq!(sizes(parts_of(vec![2 * PART_SIZE + 1])).await, vec![PART_SIZE, PART_SIZE, 1]);
    }

    #[tokio::test]
    async fn a_small_object_is_one_short_part() {
        assert_eq!(sizes(parts_of(vec![10, 20, 30])).await, vec![60]);
        assert_eq!(sizes(parts_of(vec![])).await, Vec::<usize>::new());
    }

    #[tokio::test]
    async fn chunks_that_straddle_a_boundary_are_split_across_parts() {
        assert_eq!(
            sizes(parts_of(vec![PART_SIZE - 1, 2, PART_SIZE])).await,
            vec![PART_SIZE, PART_SIZE, 1]
        );
    }
}
