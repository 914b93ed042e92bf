use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::AsyncWriteExt;

use super::{Object, Storage, StorageError, validate_key};

/// Objects as files under a directory; the content type sits beside each in `<file>.type`.
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub async fn new(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        tokio::fs::create_dir_all(root.join(".tmp")).await?;
        Ok(LocalStorage { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn type_path(path: &Path) -> PathBuf {
        let mut p = path.as_os_str().to_owned();
        p.push(".type");
        PathBuf::from(p)
    }

    /// Write to a temporary file, flush it to disk, then rename: a crash never leaves half an
    /// object under a real key.
    async fn write_atomically(&self, path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let tmp = self.root.join(".tmp").join(uuid::Uuid::new_v4().simple().to_string());
        let mut file = tokio::fs::File::create(&tmp).await?;
        let written = async {
            file.write_all(bytes).await?;
            file.sync_all().await?;
            tokio::fs::rename(&tmp, path).await
        }
        .await;
        if written.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        Ok(written?)
    }
}

#[async_trait]
impl Storage for LocalStorage {
    fn kind(&self) -> &'static str {
        "local"
    }

    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        self.write_atomically(&Self::type_path(&path), content_type.as_bytes()).await?;
        self.write_atomically(&path, &bytes).await
    }

    async fn get(&self, key: &str) -> Result<Option<Object>, StorageError> {
        let path = self.path(key)?;
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let content_type = tokio::fs::read_to_string(Self::type_path(&path))
            .await
            .unwrap_or_else(|_| "application/octet-stream".to_owned());
        Ok(Some(Object { bytes: Bytes::from(bytes), content_type }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        for p in [Self::type_path(&path), path] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StorageError> {
        let probe = self.root.join(".tmp").join("health");
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_object_round_trips_with_its_content_type_and_can_be_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStorage::new(dir.path()).await.expect("store");
        store.put("results/a.png", Bytes::from_static(b"png!"), "image/png").await.expect("put");
        let got = store.get("results/a.png").await.expect("get").expect("present");
        assert_eq!(&got.bytes[..], b"png!");
        assert_eq!(got.content_type, "image/png");
        store.delete("results/a.png").await.expect("delete");
        assert!(store.get("results/a.png").await.expect("get").is_none());
        store.delete("results/a.png").await.expect("deleting twice is fine");
        store.health().await.expect("healthy");
    }
}
