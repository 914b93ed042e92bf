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
    pub person: Person,
    /// `save_photo=true`: keep the uploaded person photo among the shopper's saved photos.
    pub save_photo: bool,
    pub garment: Option<Vec<u8>>,
    /// `garment_id`: a garment taken from a product page, instead of `garment_image`.
    pub garment_id: Option<String>,
    pub prompt: Option<Prompt>,
    pub aspect_ratio: Option<AspectRatio>,
    pub provider: Option<ProviderName>,
}

/// Where the person photo comes from.
pub enum Person {
    Upload(Vec<u8>),
    /// `person_photo_id`: one of the shopper's saved photos.
    Saved(String),
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
        match &self.person {
            Person::Upload(bytes) => field(Some(bytes)),
            Person::Saved(id) => field(Some(format!("saved:{id}").as_bytes())),
        }
        field(self.save_photo.then_some(b"save".as_slice()));
        field(self.garment.as_deref());
        field(self.garment_id.as_deref().map(str::as_bytes));
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
    let mut person_photo_id = None;
    let mut save_photo = false;
    let mut garment = None;
    let mut garment_id = None;
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
            "person_photo_id" => {
                let text = text()?.trim();
                person_photo_id = (!text.is_empty()).then(|| text.to_owned());
            }
            "garment_id" => {
                let text = text()?.trim();
                garment_id = (!text.is_empty()).then(|| text.to_owned());
            }
            "save_photo" => {
                save_photo = match text()?.trim().to_ascii_lowercase().as_str() {
                    "true" | "1" | "on" | "yes" => true,
                    "" | "false" | "0" | "off" | "no" => false,
                    _ => return Err(ApiError::invalid("save_photo must be true or false.")),
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
    let person = match (person, person_photo_id) {
        (Some(bytes), None) => Person::Upload(bytes),
        (None, Some(id)) => Person::Saved(id),
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "Send either a photo (person_image) or a saved photo (person_photo_id), not both.",
            ));
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "Add your photo (person_image) or pick a saved one (person_photo_id).",
            ));
        }
    };
    if garment.is_some() && garment_id.is_some() {
        return Err(ApiError::invalid(
            "Send either a garment photo (garment_image) or a garment (garment_id), not both.",
        ));
    }
    if garment.is_none() && garment_id.is_none() && prompt.is_none() {
        return Err(ApiError::invalid(
            "Add a garment photo (garment_image) or describe the outfit (prompt).",
        ));
    }
    Ok(GenerationForm { person, save_photo, garment, garment_id, prompt, aspect_ratio, provider })
}
