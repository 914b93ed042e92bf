//! `/api/generations` (docs/api.md, Generations).

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use fitroom_types::Generation;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::http::object::{self, Caching};
use crate::http::page_size::page_size;
use crate::http::session::CurrentUser;
use crate::http::upload;
use crate::http::{ApiError, ErrorCode};
use crate::ids::JobId;
use crate::jobs::{Created, JobStatus, NewGeneration};
use crate::media::{self, NormalizedImage};

fn image_error(field: &str, e: media::normalize::ImageError) -> ApiError {
    use media::normalize::ImageError;
    match e {
        ImageError::Unsupported => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("{field} must be a JPEG, PNG or WebP image."),
        ),
        ImageError::TooManyPixels { .. } | ImageError::TooDeep { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("{field}: {e}."))
        }
        ImageError::Broken(_) => ApiError::invalid(format!("{field} could not be read: {e}.")),
    }
}

pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    let multipart = multipart.map_err(|_| {
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the generation as multipart/form-data.",
        )
    })?;
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key =
                v.to_str().map_err(|_| ApiError::invalid("Idempotency-Key must be text."))?.trim();
            if key.is_empty() || key.len() > 255 {
                return Err(ApiError::invalid("Idempotency-Key must be 1 to 255 characters."));
            }
            Some(key.to_owned())
        }
    };
    if state.accounts.verify_mode() == crate::accounts::VerifyEmail::Required
        && !state.accounts.email_verified(&user.id).await?
    {
        return Err(ApiError::new(
            ErrorCode::EmailUnverified,
            "Confirm your email address first: follow the link we mailed you.",
        ));
    }
    if !state.limits.submit_by_user.allow(user.id.as_str()).await.map_err(ApiError::internal)? {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "Too many generation requests. Wait a minute and try again.",
        ));
    }
    let form = upload::read(multipart, state.jobs.registry()).await?;
    let digest = form.digest();
    state.jobs.precheck(&user.id, idempotency_key.as_deref(), &digest).await?;
    // Decoding is CPU work and memory: off the async workers, a bounded number at a time.
    // A saved photo is the shopper's own or it does not exist: 404 before anything is written.
    let save_photo = form.save_photo && matches!(form.person, upload::Person::Upload(_));
    let person_bytes = match form.person {
        upload::Person::Upload(bytes) => bytes,
        upload::Person::Saved(id) => {
            crate::photos::load(&state.db, state.storage.as_ref(), &user.id, &id).await?.to_vec()
        }
    };
    // So is a garment taken from a product page.
    let garment_bytes = match form.garment_id {
        Some(id) => Some(crate::garments::load(&state, &user.id, &id).await?),
        None => form.garment,
    };
    let (person, garment) = {
        let _turn = media::decoding_turn().await;
        let (person, garment) = (person_bytes, garment_bytes);
        tokio::task::spawn_blocking(move || {
            let person = media::normalize(&person).map_err(|e| image_error("Your photo", e))?;
            let garment = garment
                .map(|g| media::normalize(&g).map_err(|e| image_error("The garment photo", e)))
                .transpose()?;
            Ok::<(NormalizedImage, Option<NormalizedImage>), ApiError>((person, garment))
        })
        .await
        .map_err(ApiError::internal)??
    };

    let kept = save_photo.then(|| person.clone());
    let created = state
        .jobs
        .create(NewGeneration {
            user: user.id.clone(),
            person,
            garment,
            prompt: form.prompt,
            aspect_ratio: form.aspect_ratio,
            provider: form.provider,
            idempotency_key,
            digest,
        })
        .await?;
    // Kept only for a generation that was accepted: a refused request changes nothing.
    if let (Some(image), Created::New(_)) = (&kept, &created) {
        crate::photos::save(&state.db, state.storage.as_ref(), &user.id, image, state.clock.now())
            .await?;
    }
    let public_url = &state.config.public_url;
    Ok(match created {
        Created::New(job) => (StatusCode::ACCEPTED, Json(job.generation(public_url))),
        Created::Existing(job) => (StatusCode::OK, Json(job.generation(public_url))),
    }
    .into_response())
}

pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Generation>, ApiError> {
    let job = state.jobs.status(&user.id, &JobId::from_string(id)).await?;
    Ok(Json(job.generation(&state.config.public_url)))
}

#[derive(Serialize)]
pub struct GenerationList {
    items: Vec<Generation>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<GenerationList>, ApiError> {
    let limit = page_size(q.limit.as_deref(), 50, 200)?;
    let jobs = state.jobs.list(&user.id, limit).await?;
    let items = jobs.iter().map(|j| j.generation(&state.config.public_url)).collect();
    Ok(Json(GenerationList { items }))
}

pub async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Generation>, ApiError> {
    let job = state.jobs.cancel(&user.id, &JobId::from_string(id)).await?;
    Ok(Json(job.generation(&state.config.public_url)))
}

pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.jobs.delete(&user.id, &JobId::from_string(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The result image, from Fitroom's storage, for its owner only; streamed, with ranges.
pub async fn result(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let job = state.jobs.get(&user.id, &JobId::from_string(id)).await?;
    let key = job
        .result_key
        .filter(|_| job.status == JobStatus::Succeeded)
        .ok_or_else(ApiError::not_found)?;
    // Results never change once stored: the key names the object, so a tag of the key is strong.
    let etag = format!("\"{}\"", &hex::encode(state.signer.mac(key.as_bytes()))[..32]);
    let caching = Caching { etag: Some(etag), cache_control: "private, max-age=3600" };
    object::serve(state.storage.as_ref(), &key, &headers, &caching)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)
}
