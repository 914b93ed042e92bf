//! `fitroom storage sweep`: objects that nothing references and that are older than an hour,
//! left by crashes (an input stored for a job whose transaction then rolled back, a result
//! copied for a job that ended otherwise), are deleted. The hour keeps the objects of work in
//! flight: a result is written before its job records it.

use std::collections::HashSet;

use super::{Listed, Storage, StorageError};
use crate::clock::Timestamp;
use crate::db::Db;

/// Objects younger than this are left alone.
pub const GRACE_MS: i64 = 3_600_000;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// What a sweep found, and (unless it was a dry run) deleted.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Swept {
    pub examined: usize,
    pub unreferenced: Vec<String>,
}

/// Every key a job still references. A job the shopper deleted references nothing: its objects
/// are deleted after it is marked, so a crash in between leaves them to this sweep.
async fn referenced(db: &Db) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT person_key, garment_key, result_key FROM jobs WHERE deleted_at IS NULL \
         AND (person_key IS NOT NULL OR garment_key IS NOT NULL OR result_key IS NOT NULL)",
    )
    .fetch_all(db.pool())
    .await?;
    let mut keys: HashSet<String> =
        rows.into_iter().flat_map(|(a, b, c)| [a, b, c]).flatten().collect();
    let saved: Vec<(String,)> = sqlx::query_as(
        "SELECT storage_key FROM saved_photos UNION ALL SELECT storage_key FROM garments",
    )
    .fetch_all(db.pool())
    .await?;
    keys.extend(saved.into_iter().map(|(k,)| k));
    Ok(keys)
}

pub async fn sweep(
    db: &Db,
    storage: &dyn Storage,
    now: Timestamp,
    dry_run: bool,
) -> Result<Swept, SweepError> {
    sweep_older_than(db, storage, now, GRACE_MS, dry_run).await
}

/// Like `sweep`, with another grace than the hour: 0 once nothing is in flight (every process
/// stopped or idle), as at the end of the chaos soak.
pub async fn sweep_older_than(
    db: &Db,
    storage: &dyn Storage,
    now: Timestamp,
    grace_ms: i64,
    dry_run: bool,
) -> Result<Swept, SweepError> {
    let mut swept = Swept::default();
    // Listed first, references read after: an object whose job records it in between is seen
    // as referenced.
    let mut objects: Vec<Listed> = Vec::new();
    for prefix in ["inputs/", "results/", "photos/", "garments/"] {
        objects.extend(storage.list(prefix).await?);
    }
    let keep = referenced(db).await?;
    for object in objects {
        swept.examined += 1;
        if keep.contains(&object.key) || now.millis() - object.modified.millis() < grace_ms {
            continue;
        }
        if !dry_run {
            storage.delete(&object.key).await?;
        }
        swept.unreferenced.push(object.key);
    }
    Ok(swept)
}
