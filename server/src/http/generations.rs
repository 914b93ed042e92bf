//! `/api/generations` (docs/api.md, Generations).

use axum::Json;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::http::object::{self, Caching};
use crate::http::session::CurrentUser;
use crate::http::{ApiError, ErrorCode};
use crate::ids::JobId;
use crate::jobs::{Created, Job, JobError, JobStatus, NewGeneration};
use crate::media::{self, NormalizedImage};

pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;
pub const MAX_PROMPT_CHARS: usize = 1000;

pub fn generation_json(state: &AppState, job: &Job) -> Value {
    let result_url = (job.status == JobStatus::Succeeded && job.result_key.is_some())
        .then(|| format!("{}/api/generations/{}/result", state.config.public_url, job.id));
    json!({
        "id": job.id,
        "status": job.status.as_str(),
        "cost": job.cost,
        "provider": job.provider,
        "created_at": job.created_at.to_rfc3339(),
        "updated_at": job.updated_at.to_rfc3339(),
        "result_url": result_url,
        "error": job.error,
    })
}

fn image_error(field: &str, e: media::normalize::ImageError) -> ApiError {
    use media::normalize::ImageError;
    match e {
        ImageError::Unsupported => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("{field} must be a JPEG, PNG or WebP image."),
        ),
        ImageError::TooManyPixels { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge, format!("{field}: {e}."))
        }
        ImageError::Broken(_) => ApiError::invalid(format!("{field} could not be read: {e}.")),
    }
}

struct Upload {
    person: Option<Vec<u8>>,
    garment: Option<Vec<u8>>,
    prompt: Option<String>,
    aspect_ratio: Option<String>,
    provider: Option<String>,
}

async fn read_multipart(mut multipart: Multipart) -> Result<Upload, ApiError> {
    let mut upload =
        Upload { person: None, garment: None, prompt: None, aspect_ratio: None, provider: None };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "The upload is larger than 25 MiB per image.",
                ));
            }
            Err(e) => return Err(ApiError::invalid(format!("The form could not be read: {e}"))),
        };
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    ErrorCode::PayloadTooLarge,
                    "The upload is larger than 25 MiB per image.",
                ));
            }
            Err(e) => return Err(ApiError::invalid(format!("The form could not be read: {e}"))),
        };
        let text = || {
            String::from_utf8(bytes.to_vec())
                .map(|s| s.trim().to_owned())
                .map_err(|_| ApiError::invalid(format!("{name} must be text.")))
        };
        match name.as_str() {
            "person_image" | "garment_image" => {
                if bytes.len() > MAX_UPLOAD_BYTES {
                    return Err(ApiError::new(
                        ErrorCode::PayloadTooLarge,
                        "Each image may be at most 25 MiB.",
                    ));
                }
                let slot =
                    if name == "person_image" { &mut upload.person } else { &mut upload.garment };
                if !bytes.is_empty() {
                    *slot = Some(bytes.to_vec());
                }
            }
            "prompt" => upload.prompt = Some(text()?).filter(|p| !p.is_empty()),
            "aspect_ratio" => upload.aspect_ratio = Some(text()?).filter(|p| !p.is_empty()),
            "provider" => {
                upload.provider = Some(text()?.to_ascii_lowercase()).filter(|p| !p.is_empty())
            }
            _ => {} // unknown fields are ignored, as browsers may add their own
        }
    }
    Ok(upload)
}

fn valid_aspect_ratio(text: &str) -> bool {
    text.split_once(':').is_some_and(|(w, h)| {
        matches!((w.parse::<u32>(), h.parse::<u32>()), (Ok(w), Ok(h)) if (1..=32).contains(&w) && (1..=32).contains(&h))
    })
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
    if !state.limits.hit(
        &format!("submit:{}", user.id),
        state.config.submits_per_minute,
        state.clock.now(),
    ) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            "Too many generation requests. Wait a minute and try again.",
        ));
    }
    let upload = read_multipart(multipart).await?;
    let person =
        upload.person.ok_or_else(|| ApiError::invalid("Add your photo (person_image)."))?;
    if upload.garment.is_none() && upload.prompt.is_none() {
        return Err(ApiError::invalid(
            "Add a garment photo (garment_image) or describe the outfit (prompt).",
        ));
    }
    if upload.prompt.as_ref().is_some_and(|p| p.chars().count() > MAX_PROMPT_CHARS) {
        return Err(ApiError::invalid("The description may be at most 1000 characters."));
    }
    if let Some(ratio) = &upload.aspect_ratio
        && !valid_aspect_ratio(ratio)
    {
        return Err(ApiError::invalid("aspect_ratio must look like 3:4."));
    }
    if let Some(provider) = &upload.provider
        && state.jobs.registry().get(provider).is_none()
    {
        return Err(JobError::UnknownProvider(provider.clone()).into());
    }
    // Decoding is CPU work: keep it off the async workers.
    let garment = upload.garment;
    let (person, garment) = tokio::task::spawn_blocking(move || {
        let person = media::normalize(&person).map_err(|e| image_error("Your photo", e))?;
        let garment = garment
            .map(|g| media::normalize(&g).map_err(|e| image_error("The garment photo", e)))
            .transpose()?;
        Ok::<(NormalizedImage, Option<NormalizedImage>), ApiError>((person, garment))
    })
    .await
    .map_err(ApiError::internal)??;

    let created = state
        .jobs
        .create(NewGeneration {
            user: user.id.clone(),
            person,
            garment,
            prompt: upload.prompt,
            aspect_ratio: upload.aspect_ratio,
            provider: upload.provider,
            idempotency_key,
        })
        .await?;
    Ok(match created {
        Created::New(job) => {
            (StatusCode::ACCEPTED, Json(generation_json(&state, &job))).into_response()
        }
        Created::Existing(job) => {
            (StatusCode::OK, Json(generation_json(&state, &job))).into_response()
        }
    })
}

pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.jobs.status(&user.id, &JobId::from_string(id)).await?;
    Ok(Json(generation_json(&state, &job)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = match q.limit.as_deref() {
        None | Some("") => 50,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if n >= 1 => n.min(200),
            _ => return Err(ApiError::invalid("limit must be a whole number from 1 to 200.")),
        },
    };
    let jobs = state.jobs.list(&user.id, limit).await?;
    Ok(Json(
        json!({ "items": jobs.iter().map(|j| generation_json(&state, j)).collect::<Vec<_>>() }),
    ))
}

pub async fn cancel(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let job = state.jobs.cancel(&user.id, &JobId::from_string(id)).await?;
    Ok(Json(generation_json(&state, &job)))
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
    let etag = format!("\"{}\"", &crate::signing::hex(&state.signer.mac(key.as_bytes()))[..32]);
    let caching = Caching { etag: Some(etag), cache_control: "private, max-age=3600" };
    object::serve(state.storage.as_ref(), &key, &headers, &caching)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(ApiError::not_found)
}
