use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bytes::BytesMut;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};

use super::{
    BodyError, ByteRange, ByteStream, ObjectBody, Read, Span, Storage, StorageError, validate_key,
};

/// Objects as files under a directory; the content type sits beside each in `<file>.type`.
pub struct LocalStorage {
    root: PathBuf,
}

/// Incoming chunks are small (a TCP read each); gathering them saves a blocking-pool round trip
/// per chunk while keeping the memory of one write bounded.
const WRITE_BUFFER: usize = 256 * 1024;
const READ_CHUNK: usize = 64 * 1024;

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

    /// A fresh name in the temporary folder, on the same file system as the objects, so that a
    /// rename moves a finished file into place in one step.
    fn temp_path(&self) -> PathBuf {
        self.root.join(".tmp").join(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Writes the stream to a temporary file and syncs it; the caller renames it into place.
    async fn write_temp(tmp: &Path, mut body: ByteStream) -> Result<u64, StorageError> {
        let mut file = BufWriter::with_capacity(WRITE_BUFFER, tokio::fs::File::create(tmp).await?);
        let mut written = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(StorageError::Body)?;
            file.write_all(&chunk).await?;
            written += chunk.len() as u64;
        }
        file.flush().await?;
        file.get_ref().sync_all().await?;
        Ok(written)
    }

    /// The content type first, then the object: an object is never visible without its type.
    async fn commit(
        &self,
        tmp: &Path,
        path: &Path,
        content_type: &str,
    ) -> Result<(), StorageError> {
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        let type_tmp = self.temp_path();
        tokio::fs::write(&type_tmp, content_type.as_bytes()).await?;
        let type_path = Self::type_path(path);
        if let Err(e) = tokio::fs::rename(&type_tmp, &type_path).await {
            let _ = tokio::fs::remove_file(&type_tmp).await;
            return Err(e.into());
        }
        if let Err(e) = tokio::fs::rename(tmp, path).await {
            let _ = tokio::fs::remove_file(&type_path).await;
            return Err(e.into());
        }
        Ok(())
    }
}

/// The bytes of `span` from an open file, a chunk at a time.
fn file_stream(file: tokio::fs::File, span: Span) -> ByteStream {
    futures_util::stream::try_unfold(
        (file.take(span.len()), BytesMut::new()),
        |(mut file, mut buf)| async move {
            buf.reserve(READ_CHUNK);
            let n = file.read_buf(&mut buf).await?;
            if n == 0 {
                return Ok(None);
            }
            let chunk = buf.split().freeze();
            Ok(Some((chunk, (file, buf))))
        },
    )
    .map(|chunk: Result<_, std::io::Error>| chunk.map_err(|e| -> BodyError { Box::new(e) }))
    .boxed()
}

#[async_trait]
impl Storage for LocalStorage {
    fn kind(&self) -> &'static str {
        "local"
    }

    /// Temporary file written chunk by chunk, synced, then renamed over the key: a crash or a
    /// failing stream never leaves half an object under a real key.
    async fn put_stream(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        let path = self.path(key)?;
        let tmp = self.temp_path();
        let stored = async {
            let written = Self::write_temp(&tmp, body).await?;
            self.commit(&tmp, &path, content_type).await?;
            Ok(written)
        }
        .await;
        if stored.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
        }
        stored
    }

    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Read, StorageError> {
        let path = self.path(key)?;
        let mut file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Read::Missing),
            Err(e) => return Err(e.into()),
        };
        let len = file.metadata().await?.len();
        let span = match range {
            None => Span::whole(len),
            Some(range) => match range.resolve(len) {
                Some(span) => span,
                None => return Ok(Read::Unsatisfiable { len }),
            },
        };
        file.seek(SeekFrom::Start(span.start)).await?;
        let content_type = tokio::fs::read_to_string(Self::type_path(&path))
            .await
            .unwrap_or_else(|_| "application/octet-stream".to_owned());
        Ok(Read::Found(ObjectBody { content_type, len, span, body: file_stream(file, span) }))
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        // The object first: a type file without its object is harmless, the reverse is not.
        for p in [path.clone(), Self::type_path(&path)] {
            match tokio::fs::remove_file(&p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StorageError> {
        let probe = self.temp_path();
        tokio::fs::write(&probe, b"ok").await?;
        tokio::fs::remove_file(&probe).await?;
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<super::Listed>, StorageError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || walk(&root, &prefix))
            .await
            .map_err(|e| StorageError::Remote(e.to_string()))?
    }
}

/// Every object under `root` whose key (its path relative to `root`) starts with `prefix`: not
/// the temporary directory of writes in progress, nor the `.type` file beside each object.
fn walk(root: &std::path::Path, prefix: &str) -> Result<Vec<super::Listed>, StorageError> {
    let mut listed = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let Ok(relative) = path.strip_prefix(root) else { continue };
            let key = relative.to_string_lossy().replace(std::path::MAIN_SEPARATOR, "/");
            if key == ".tmp" {
                continue;
            }
            let meta = entry.metadata()?;
            if meta.is_dir() {
                dirs.push(path);
            } else if key.starts_with(prefix) && !key.ends_with(".type") {
                // `<key>.type` beside each object keeps its content type: part of the object.
                let modified = meta
                    .modified()?
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as i64)
                    .unwrap_or(0);
                listed.push(super::Listed {
                    key,
                    modified: crate::clock::Timestamp::from_millis(modified),
                });
            }
        }
    }
    listed.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

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

    #[tokio::test]
    async fn a_stream_that_fails_leaves_no_file_behind() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalStorage::new(dir.path()).await.expect("store");
        let failing = futures_util::stream::iter([
            Ok(Bytes::from_static(b"half")),
            Err("the download broke".into()),
        ])
        .boxed();
        let err =
            store.put_stream("results/b.png", failing, "image/png").await.expect_err("refused");
        assert!(matches!(err, StorageError::Body(_)), "{err:?}");
        assert!(!dir.path().join("results/b.png").exists());
        assert!(!dir.path().join("results/b.png.type").exists());
        assert_eq!(
            std::fs::read_dir(dir.path().join(".tmp")).expect("tmp").count(),
            0,
            "no temporary file left"
        );
    }
}
