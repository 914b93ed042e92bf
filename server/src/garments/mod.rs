//! Garments from a shop's product link: the page is fetched under the same address rules as a
//! provider's output (no private addresses unless `FITROOM_FETCH_ALLOW_PRIVATE`, redirects
//! checked, size-capped, timed out), its product picture found (`product_page`), downloaded the
//! same way, re-encoded without metadata like every upload, and kept as the shopper's garment
//! for `garment_id` for a while (`retention_hours`): a try-on that uses it takes its own copy,
//! which goes with that try-on's photos.

pub mod product_page;

use fitroom_types::upload::MAX_UPLOAD_BYTES;
use futures_util::StreamExt;

use crate::AppState;
use crate::ids::{GarmentId, UserId};
use crate::jobs::download::{self, DownloadError, DownloadPolicy};
use crate::jobs::retention;
use crate::media::{self, NormalizedImage};
use crate::storage::StorageError;

/// Garments go after at most this many at a time, so that one sweep stays short.
const SWEEP_BATCH: i64 = 100;

/// How long a garment taken from a link is kept after it was fetched: as long as a try-on's
/// photos (`FITROOM_INPUT_RETENTION_HOURS`), and at least an hour, so that a garment just fetched
/// can still be tried on when the photos of finished try-ons go at once.
pub fn retention_hours(config: &crate::Config) -> u64 {
    config.input_retention_hours.max(1)
}

/// The most of a product page that is read.
const MAX_PAGE_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum GarmentError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("the page names no product picture")]
    NoGarmentFound,
    #[error("no such garment")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A garment as `POST /api/garments/from-url` answers it.
pub use fitroom_types::FetchedGarment as GarmentView;

fn refused(e: DownloadError) -> GarmentError {
    match e {
        DownloadError::Refused(why) | DownloadError::Transient(why) => {
            GarmentError::InvalidUrl(why)
        }
    }
}

/// Fetches the page, finds its garment, stores the picture as `user`'s garment.
pub async fn from_url(
    state: &AppState,
    user: &UserId,
    url: &str,
) -> Result<GarmentView, GarmentError> {
    let url = url.trim();
    let parsed = url::Url::parse(url).map_err(|_| GarmentError::InvalidUrl("not a URL".into()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(GarmentError::InvalidUrl("only http and https links".into()));
    }
    let policy = DownloadPolicy {
        max_bytes: MAX_PAGE_BYTES,
        allow_private: state.config.fetch_allow_private,
    };
    let (page_url, html) = download::fetch_page(url, &policy).await.map_err(refused)?;
    let page_url = url::Url::parse(page_url.as_str()).map_err(|_| GarmentError::NoGarmentFound)?;
    let found = product_page::find(&html, &page_url).ok_or(GarmentError::NoGarmentFound)?;

    let image_policy = DownloadPolicy { max_bytes: MAX_UPLOAD_BYTES, ..policy };
    // A picture that is not an image, too big or gone: the page named no usable garment.
    let picture = download::open(found.image.to_string(), &image_policy)
        .await
        .map_err(|_| GarmentError::NoGarmentFound)?;
    let mut body = picture.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.map_err(|_| GarmentError::NoGarmentFound)?);
    }
    let image = {
        let _turn = media::decoding_turn().await;
        tokio::task::spawn_blocking(move || media::normalize(&bytes))
            .await
            .map_err(|_| GarmentError::NoGarmentFound)?
            .map_err(|_| GarmentError::NoGarmentFound)?
    };
    let id = GarmentId::generate();
    store(state, user, &id, &image, page_url.as_str(), found.title.as_deref()).await?;
    tracing::info!(user = %user, garment = %id, source = %page_url, "garment taken from a product page");
    Ok(GarmentView {
        garment_id: id.to_string(),
        image_url: format!("{}/api/garments/{id}", state.config.public_url),
        title: found.title,
    })
}

async fn store(
    state: &AppState,
    user: &UserId,
    id: &GarmentId,
    image: &NormalizedImage,
    source: &str,
    title: Option<&str>,
) -> Result<(), GarmentError> {
    let key = format!("garments/{user}/{id}.{}", image.kind.extension());
    state
        .storage
        .put(&key, bytes::Bytes::from(image.bytes.clone()), image.kind.content_type())
        .await?;
    let written = sqlx::query(
        "INSERT INTO garments (id, user_id, storage_key, content_type, source_url, title, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(&key)
    .bind(image.kind.content_type())
    .bind(source)
    .bind(title)
    .bind(state.clock.now().millis())
    .execute(state.db.pool())
    .await;
    if let Err(e) = written {
        let _ = state.storage.delete(&key).await;
        return Err(e.into());
    }
    Ok(())
}

/// The storage key of one of `user`'s garments; `NotFound` for anyone else's.
pub async fn stored_key(state: &AppState, user: &UserId, id: &str) -> Result<String, GarmentError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT storage_key FROM garments WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user.as_str())
            .fetch_optional(state.db.pool())
            .await?;
    row.map(|(k,)| k).ok_or(GarmentError::NotFound)
}

/// The picture of one of `user`'s garments, for a try-on.
pub async fn load(state: &AppState, user: &UserId, id: &str) -> Result<Vec<u8>, GarmentError> {
    let key = stored_key(state, user, id).await?;
    let object = state.storage.get(&key).await?.ok_or(GarmentError::NotFound)?;
    Ok(object.bytes.to_vec())
}

/// Every garment of the user, for the export: `(id, key)`.
pub async fn keys_of(
    state: &AppState,
    user: &UserId,
) -> Result<Vec<(String, String)>, GarmentError> {
    Ok(sqlx::query_as(
        "SELECT id, storage_key FROM garments WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(user.as_str())
    .fetch_all(state.db.pool())
    .await?)
}

/// Deletes every garment of the user (account deletion).
pub async fn erase_all(state: &AppState, user: &UserId) -> Result<usize, GarmentError> {
    let garments = keys_of(state, user).await?;
    for (_, key) in &garments {
        state.storage.delete(key).await?;
    }
    sqlx::query("DELETE FROM garments WHERE user_id = $1")
        .bind(user.as_str())
        .execute(state.db.pool())
        .await?;
    Ok(garments.len())
}

/// Deletes the garments fetched more than `retention_hours` ago, oldest first, a batch per call
/// (run by `AppState::spawn_housekeeping`); answers how many went. Each row is claimed first, as
/// the job retention sweeps claim theirs, so that processes sweeping at once split the batch;
/// the object goes before the row, and a failure backs the row off (longer after each) instead
/// of stopping the sweep, so one garment that cannot be deleted never holds up the rest.
pub async fn sweep_expired(state: &AppState) -> Result<usize, GarmentError> {
    let hours = i64::try_from(retention_hours(&state.config)).unwrap_or(i64::MAX / 3_600_000);
    let now = state.clock.now();
    let cutoff = now.plus_millis(-hours.saturating_mul(3_600_000));
    let due: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, storage_key, sweep_failures FROM garments WHERE created_at <= $1 \
         AND (sweep_after IS NULL OR sweep_after <= $2) ORDER BY created_at LIMIT $3",
    )
    .bind(cutoff.millis())
    .bind(now.millis())
    .bind(SWEEP_BATCH)
    .fetch_all(state.db.pool())
    .await?;
    let mut deleted = 0;
    for (id, key, failures) in &due {
        let claimed = sqlx::query(
            "UPDATE garments SET sweep_after = $1 WHERE id = $2 \
             AND (sweep_after IS NULL OR sweep_after <= $3)",
        )
        .bind(now.plus_secs(retention::LEASE_SECS).millis())
        .bind(id)
        .bind(now.millis())
        .execute(state.db.pool())
        .await?;
        if claimed.rows_affected() == 0 {
            continue; // another process has it
        }
        match delete_one(state, id, key).await {
            Ok(()) => deleted += 1,
            Err(e) => {
                tracing::warn!(garment = %id, error = %e, "deleting an expired garment failed; backing off");
                let failures = failures + 1;
                sqlx::query(
                    "UPDATE garments SET sweep_failures = $1, sweep_after = $2 WHERE id = $3",
                )
                .bind(failures)
                .bind(now.plus_secs(retention::backoff_secs(failures)).millis())
                .bind(id)
                .execute(state.db.pool())
                .await?;
            }
        }
    }
    Ok(deleted)
}

async fn delete_one(state: &AppState, id: &str, key: &str) -> Result<(), GarmentError> {
    state.storage.delete(key).await?;
    sqlx::query("DELETE FROM garments WHERE id = $1").bind(id).execute(state.db.pool()).await?;
    Ok(())
}
