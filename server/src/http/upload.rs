//! A generation's multipart form, read and parsed into types at the door: past this file an
//! upload is a `GenerationForm` whose fields are already valid (docs/api.md, Generations).

use axum::extract::Multipart;
use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use fitroom_types::upload::{AspectRatio, MAX_UPLOAD_BYTES, Prompt, UploadError};
use sha2::{Digest, Sha256};

use crate::http::{ApiError, ErrorCode};
use crate::jobs::JobError;
use crate::providers::{ProviderName, Registry};

/// The largest body `POST /api/generations` accepts: two images and the text fields.
pub const MAX_FORM_BYTES: usize = 2 * MAX_UPLOAD_BYTES + 64 * 1024;

/// A generation's form once every field is known to be acceptable. The images are still the
/// bytes as sent: decoding them is CPU work done off the async threads (`media::normalize`).
pub struct GenerationForm {
    pub person: Vec<u8>,
    pub garment: Option<Vec<u8>>,
    pub prompt: Option<Prompt>,
    pub aspect_ratio: Option<AspectRatio>,
    pub provider: Option<ProviderName>,
}

impl GenerationForm {
    /// SHA-256 over every field as received, each length-prefixed so that no two different
    /// forms can run together into the same bytes.
    pub fn digest(&self) -> String {
        let mut hash = Sha256::new();
        let mut field = |bytes: Option<&[u8]>| match bytes {
            None => hash.update([0u8]),
            Some(b) => {
                hash.update([1u8]);
                hash.update((b.len() as u64).to_be_bytes());
                hash.update(b);
            }
        };
        field(Some(&self.person));
        field(self.garment.as_deref());
        field(self.prompt.as_ref().map(|p| p.as_str().as_bytes()));
        let ratio = self.aspect_ratio.map(|r| r.to_string());
        field(ratio.as_deref().map(str::as_bytes));
        field(self.provider.map(|p| p.as_str().as_bytes()));
        hex::encode(hash.finalize())
    }
}

fn too_large() -> ApiError {
    ApiError::new(ErrorCode::PayloadTooLarge, UploadError::ImageTooLarge.to_string())
}

fn unreadable(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large()
    } else {
        // The parser's words describe the client's own bytes; nothing internal is in them.
        ApiError::invalid(format!("The form could not be read: {}", e.body_text()))
    }
}

pub async fn read(
    mut multipart: Multipart,
    registry: &Registry,
) -> Result<GenerationForm, ApiError> {
    let mut person = None;
    let mut garment = None;
    let mut prompt = None;
    let mut aspect_ratio = None;
    let mut provider = None;
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(unreadable)?;
        let text = || {
            std::str::from_utf8(&bytes)
                .map_err(|_| ApiError::invalid(format!("{name} must be text.")))
        };
        match name.as_str() {
            "person_image" | "garment_image" => {
                if bytes.len() > MAX_UPLOAD_BYTES {
                    return Err(too_large());
                }
                // A file input left empty arrives as a part with no bytes: no image.
                let image = (!bytes.is_empty()).then(|| bytes.to_vec());
                if name == "person_image" {
                    person = image;
                } else {
                    garment = image;
                }
            }
            "prompt" => prompt = Prompt::parse(text()?)?,
            "aspect_ratio" => {
                let text = text()?.trim();
                aspect_ratio = if text.is_empty() { None } else { Some(AspectRatio::parse(text)?) };
            }
            "provider" => {
                let text = text()?.trim();
                provider = if text.is_empty() {
                    None
                } else {
                    Some(
                        registry
                            .name(text)
                            .ok_or_else(|| JobError::UnknownProvider(text.to_ascii_lowercase()))?,
                    )
                };
            }
            _ => {} // browsers may add fields of their own
        }
    }
    let person = person.ok_or_else(|| ApiError::invalid("Add your photo (person_image)."))?;
    if garment.is_none() && prompt.is_none() {
        return Err(ApiError::invalid(
            "Add a garment photo (garment_image) or describe the outfit (prompt).",
        ));
    }
    Ok(GenerationForm { person, garment, prompt, aspect_ratio, provider })
}
