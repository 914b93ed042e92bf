//! Saved person photos: a shopper ticks "Save this photo" once, and later try-ons use it without
//! an upload (`person_photo_id`). Each is its own object, owned by one account: another account's
//! id is answered like one that does not exist.

use fitroom_types::SavedPhoto;

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::{PhotoId, UserId};
use crate::media::NormalizedImage;
use crate::storage::{Storage, StorageError};

#[derive(Debug, thiserror::Error)]
pub enum PhotoError {
    #[error("no such photo")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

fn view(public_url: &str, id: &str, created_at: i64) -> SavedPhoto {
    SavedPhoto {
        id: id.to_owned(),
        created_at: Timestamp::from_millis(created_at).to_rfc3339(),
        url: format!("{public_url}/api/photos/{id}"),
    }
}

/// Keeps `image` (already normalised, metadata stripped) as one of `user`'s photos. `Ok(None)`
/// when the account was deleted meanwhile (its request had signed in before): the row is written
/// only for an account that still exists, and the object goes with a row that was not.
pub async fn save(
    db: &Db,
    storage: &dyn Storage,
    user: &UserId,
    image: &NormalizedImage,
    now: Timestamp,
) -> Result<Option<PhotoId>, PhotoError> {
    let id = PhotoId::generate();
    let key = format!("photos/{user}/{id}.{}", image.kind.extension());
    storage.put(&key, bytes::Bytes::from(image.bytes.clone()), image.kind.content_type()).await?;
    let written = sqlx::query(
        "INSERT INTO saved_photos (id, user_id, storage_key, content_type, created_at) \
         SELECT $1, $2, $3, $4, $5 WHERE EXISTS \
         (SELECT 1 FROM users WHERE id = $2 AND deleted_at IS NULL)",
    )
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(&key)
    .bind(image.kind.content_type())
    .bind(now.millis())
    .execute(db.pool())
    .await;
    match written {
        Ok(done) if done.rows_affected() == 1 => Ok(Some(id)),
        // Nothing may outlive a save that did not happen: the object goes too.
        Ok(_) => {
            storage.delete(&key).await?;
            Ok(None)
        }
        Err(e) => {
            let _ = storage.delete(&key).await;
            Err(e.into())
        }
    }
}

/// The user's saved photos, newest first.
pub async fn list(db: &Db, user: &UserId, public_url: &str) -> Result<Vec<SavedPhoto>, PhotoError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT id, created_at FROM saved_photos WHERE user_id = $1 ORDER BY created_at DESC, id DESC",
    )
    .bind(user.as_str())
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(|(id, at)| view(public_url, id, *at)).collect())
}

/// The bytes of one of the user's photos, for a try-on; `NotFound` for anyone else's.
pub async fn load(
    db: &Db,
    storage: &dyn Storage,
    user: &UserId,
    id: &str,
) -> Result<bytes::Bytes, PhotoError> {
    let key = stored_key(db, user, id).await?;
    Ok(storage.get(&key).await?.ok_or(PhotoError::NotFound)?.bytes)
}

/// The storage key of one of the user's photos; `NotFound` for anyone else's.
pub async fn stored_key(db: &Db, user: &UserId, id: &str) -> Result<String, PhotoError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT storage_key FROM saved_photos WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.as_str())
            .fetch_optional(db.pool())
            .await?;
    row.map(|(key,)| key).ok_or(PhotoError::NotFound)
}

/// Deletes one of the user's photos (object and row).
pub async fn delete(
    db: &Db,
    storage: &dyn Storage,
    user: &UserId,
    id: &str,
) -> Result<(), PhotoError> {
    let key = stored_key(db, user, id).await?;
    storage.delete(&key).await?;
    sqlx::query("DELETE FROM saved_photos WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.as_str())
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Every saved photo of the user, for the export: `(id, key)`.
pub async fn keys_of(db: &Db, user: &UserId) -> Result<Vec<(String, String)>, PhotoError> {
    Ok(sqlx::query_as(
        "SELECT id, storage_key FROM saved_photos WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user.as_str())
    .fetch_all(db.pool())
    .await?)
}

/// Deletes every saved photo of the user (account deletion); answers how many.
pub async fn erase_all(db: &Db, storage: &dyn Storage, user: &UserId) -> Result<usize, PhotoError> {
    let photos = keys_of(db, user).await?;
    for (_, key) in &photos {
        storage.delete(key).await?;
    }
    sqlx::query("DELETE FROM saved_photos WHERE user_id = $1")
        .bind(user.as_str())
        .execute(db.pool())
        .await?;
    Ok(photos.len())
}
