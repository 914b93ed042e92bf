//! The outbox: one `.eml` file per mail, named so that they sort by time.

use std::path::{Path, PathBuf};

pub async fn write(dir: &Path, message: &[u8]) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!("{}.eml", uuid::Uuid::now_v7());
    let path = dir.join(name);
    // Written under a temporary name and renamed, so a reader never sees half a mail.
    let partial = dir.join(format!(".{}.partial", uuid::Uuid::new_v4()));
    tokio::fs::write(&partial, message).await?;
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}
