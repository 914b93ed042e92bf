//! Fitroom's own object storage: provider URLs expire, so every image a shopper sees is a copy
//! kept here, on local disk (the embedded default) or in S3 / Cloudflare R2.
//!
//! Objects go in and come out as streams: a 25 MiB result passes through a bounded buffer and is
//! never held whole in memory, and a reader can ask for a byte range.

mod exact;
mod local;
mod range;
mod s3;
pub mod sweep;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

pub use exact::{LengthMismatch, exactly};
pub use local::LocalStorage;
pub use range::{ByteRange, Span};
pub use s3::{PART_SIZE as S3_PART_SIZE, S3Storage};

use crate::config::{Config, StorageConfig};

/// Why the bytes given to a streaming write stopped coming (a download that failed or was
/// refused); the writer hands it back untouched in `StorageError::Body`.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Bytes on their way into or out of storage, a chunk at a time.
pub type ByteStream = BoxStream<'static, Result<Bytes, BodyError>>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage request failed: {0}")]
    Remote(String),
    /// The stream being written failed; nothing was stored under the key.
    #[error("the bytes to store stopped coming: {0}")]
    Body(BodyError),
    /// A stored object's bytes stopped coming part way through a read.
    #[error("reading the stored object failed: {0}")]
    Reading(BodyError),
}

/// A stored object read back whole.
#[derive(Clone, Debug)]
pub struct Object {
    pub bytes: Bytes,
    pub content_type: String,
}

/// A stored object being read: the bytes of `span` stream out of `body`.
pub struct ObjectBody {
    pub content_type: String,
    /// The length of the whole object, whatever part of it is read.
    pub len: u64,
    pub span: Span,
    pub body: ByteStream,
}

/// One stored object, as listing finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub modified: crate::clock::Timestamp,
}

/// What reading a key found.
pub enum Read {
    Missing,
    /// The object exists, but no byte of it lies in the requested range.
    Unsatisfiable {
        len: u64,
    },
    Found(ObjectBody),
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `local` or `s3`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// Stores the stream under `key` and returns its length. The stream is read through a bounded
    /// buffer, never gathered whole; a reader never sees half of it under `key`, and when the
    /// stream or the store fails nothing is left under `key`.
    async fn put_stream(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<u64, StorageError>;
    /// Like `put_stream`, for a stream that declared its length beforehand (a download with a
    /// `Content-Length`). The stream must carry exactly `len` bytes, or nothing is stored; a store
    /// that can send it in one request of that length, without buffering, does (S3).
    async fn put_stream_of_len(
        &self,
        key: &str,
        body: ByteStream,
        len: u64,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        self.put_stream(key, exactly(body, len), content_type).await
    }
    /// Streams the object, or the part of it in `range`.
    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Read, StorageError>;
    /// Deleting what is not there is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// A cheap round trip that proves the store answers.
    async fn health(&self) -> Result<(), StorageError>;
    /// Every object whose key starts with `prefix`, with when it was last written (for the
    /// sweep of objects nothing references).
    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StorageError>;
    /// A URL that reads the object without credentials until `ttl` passes, when the store can
    /// make one (S3 presigning); `None` means Fitroom serves it through its own signed route.
    async fn presign_get(
        &self,
        _key: &str,
        _ttl: std::time::Duration,
    ) -> Result<Option<String>, StorageError> {
        Ok(None)
    }

    /// Stores bytes already in memory (a normalised upload).
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        let body = futures_util::stream::once(async move { Ok(bytes) }).boxed();
        self.put_stream(key, body, content_type).await.map(drop)
    }

    /// Reads a whole object into memory: for small objects only (uploaded inputs, tests).
    async fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        let mut object = match self.read(key, None).await? {
            Read::Found(object) => object,
            Read::Missing => return Ok(None),
            Read::Unsatisfiable { .. } => {
                return Err(StorageError::Remote("a whole read was refused as a range".into()));
            }
        };
        let mut bytes = BytesMut::with_capacity(usize::try_from(object.span.len()).unwrap_or(0));
        while let Some(chunk) = object.body.next().await {
            bytes.extend_from_slice(&chunk.map_err(StorageError::Reading)?);
        }
        Ok(Some(Object { bytes: bytes.freeze(), content_type: object.content_type }))
    }
}

/// Keys are ours (`results/<job>.png`), but they become paths and URLs: keep them boring.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let ok = !key.is_empty()
        && key.len() <= 512
        && !key.starts_with('/')
        && key.split('/').all(|part| !part.is_empty() && part != "." && part != "..")
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'));
    if ok { Ok(()) } else { Err(StorageError::InvalidKey(key.to_owned())) }
}

pub async fn from_config(config: &Config) -> Result<Arc<dyn Storage>, StorageError> {
    Ok(match &config.storage {
        StorageConfig::Local => Arc::new(LocalStorage::new(config.data_dir.join("objects")).await?),
        StorageConfig::S3(s3) => Arc::new(S3Storage::new(s3).await),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_cannot_escape_the_store() {
        for bad in ["", "/etc/passwd", "a/../b", "a//b", "./a", "a b", "a\\b"] {
            assert!(validate_key(bad).is_err(), "{bad:?} should be refused");
        }
        for good in ["results/job_1.png", "uploads/u/p-1.jpg"] {
            assert!(validate_key(good).is_ok(), "{good:?} should be accepted");
        }
    }
}
