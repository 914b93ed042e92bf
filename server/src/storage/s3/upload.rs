//! Streaming an object into S3 through one bounded part buffer: an object that fits in the first
//! part goes up in a single PUT; a larger one goes up as a multipart upload, one part at a time,
//! so a mirror never holds more than one part of it. A failure aborts the multipart upload, and
//! S3 only shows an object once it is complete, so nothing is ever left under the key.

use aws_sdk_s3::primitives::ByteStream as SdkBody;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::remote;
use crate::storage::{ByteStream, StorageError};

/// The size of each part and of the buffer that gathers it: S3 wants at least 5 MiB per part
/// (the last excepted), and the buffer is the memory one mirror holds.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

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
}

impl Parts {
    /// The next part. A chunk that holds a whole part is sliced without copying; small chunks
    /// are gathered into one buffer of at most `PART_SIZE` bytes. Empty only at the end.
    async fn next_part(&mut self) -> Result<Bytes, StorageError> {
        let mut buf = BytesMut::new();
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
                    if buf.capacity() == 0 {
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

impl Upload<'_> {
    pub(super) async fn run(self, body: ByteStream) -> Result<u64, StorageError> {
        let mut parts = Parts { body, carry: Bytes::new(), ended: false };
        let first = parts.next_part().await?;
        if parts.ended {
            let len = first.len() as u64;
            self.client
                .put_object()
                .bucket(self.bucket)
                .key(self.key)
                .content_type(self.content_type)
                .body(SdkBody::from(first))
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
            // One part in memory at a time: the next is read only once this one is stored.
            while !part.is_empty() {
                len += part.len() as u64;
                let number = i32::try_from(completed.len() + 1)
                    .map_err(|_| StorageError::Remote("too many parts".into()))?;
                completed.push(self.upload_part(&upload_id, number, part).await?);
                part = if parts.ended { Bytes::new() } else { parts.next_part().await? };
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
        Parts { body, carry: Bytes::new(), ended: false }
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
        let chunks = vec![64 * 1024; 20 * 16]; // 20 MiB in 64 KiB chunks
        assert_eq!(sizes(parts_of(chunks)).await, vec![PART_SIZE, PART_SIZE, 4 * 1024 * 1024]);
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
