//! Fitroom's own object storage: provider URLs expire, so every image a shopper sees is a copy
//! kept here, on local disk (the embedded default) or in S3 / Cloudflare R2.

mod local;
mod s3;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

pub use local::LocalStorage;
pub use s3::S3Storage;

use crate::config::{Config, StorageConfig};

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("invalid object key {0:?}")]
    InvalidKey(String),
    #[error("storage I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("object storage request failed: {0}")]
    Remote(String),
}

/// A stored object read back whole.
#[derive(Clone, Debug)]
pub struct Object {
    pub bytes: Bytes,
    pub content_type: String,
}

#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// `local` or `s3`, for logs and `/readyz`.
    fn kind(&self) -> &'static str;
    /// Stores the object; a reader never sees half of it under `key`.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError>;
    async fn get(&self, key: &str) -> Result<Option<Object>, StorageError>;
    /// Deleting what is not there is not an error.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;
    /// A cheap round trip that proves the store answers.
    async fn health(&self) -> Result<(), StorageError>;
    /// A URL that reads the object without credentials until `ttl` passes, when the store can
    /// make one (S3 presigning); `None` means Fitroom serves it through its own signed route.
    async fn presign_get(&self, _key: &str, _ttl: std::time::Duration) -> Result<Option<String>, StorageError> {
        Ok(None)
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
