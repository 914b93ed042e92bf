//! The rules of `POST /api/generations` that do not need the server: the browser checks them
//! before sending, the server parses every upload through them (docs/api.md, Generations).

use std::fmt;

/// The most one image of an upload may weigh, in bytes.
pub const MAX_UPLOAD_BYTES: usize = 25 * 1024 * 1024;

/// The image types Fitroom accepts, as the browser reports them (the server checks the bytes).
pub const ACCEPTED_IMAGE_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// The most characters a description may have.
pub const MAX_PROMPT_CHARS: usize = 1000;

/// The picture's shape, `w:h` with both sides from 1 to 32 (`3:4`, `9:16`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AspectRatio {
    width: u8,
    height: u8,
}

impl AspectRatio {
    pub fn parse(text: &str) -> Result<Self, UploadError> {
        let side = |t: &str| t.trim().parse::<u8>().ok().filter(|n| (1..=32).contains(n));
        let (w, h) = text.split_once(':').ok_or(UploadError::AspectRatio)?;
        match (side(w), side(h)) {
            (Some(width), Some(height)) => Ok(AspectRatio { width, height }),
            _ => Err(UploadError::AspectRatio),
        }
    }

    pub fn width(self) -> u32 {
        u32::from(self.width)
    }

    pub fn height(self) -> u32 {
        u32::from(self.height)
    }
}

impl fmt::Display for AspectRatio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.width, self.height)
    }
}

/// A description of the outfit: trimmed, not empty, at most `MAX_PROMPT_CHARS` characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt(String);

impl Prompt {
    /// `Ok(None)` for a blank field: a description is optional when a garment photo is given.
    pub fn parse(text: &str) -> Result<Option<Self>, UploadError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        if text.chars().count() > MAX_PROMPT_CHARS {
            return Err(UploadError::PromptTooLong);
        }
        Ok(Some(Prompt(text.to_owned())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An image the browser is about to send, checked by what the browser knows of it.
pub fn check_image(content_type: &str, bytes: u64) -> Result<(), UploadError> {
    if !ACCEPTED_IMAGE_TYPES.contains(&content_type) {
        return Err(UploadError::ImageType);
    }
    if bytes > MAX_UPLOAD_BYTES as u64 {
        return Err(UploadError::ImageTooLarge);
    }
    Ok(())
}

/// What is wrong with an upload, in words a shopper reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UploadError {
    AspectRatio,
    PromptTooLong,
    ImageType,
    ImageTooLarge,
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UploadError::AspectRatio => "aspect_ratio must look like 3:4.",
            UploadError::PromptTooLong => "The description may be at most 1000 characters.",
            UploadError::ImageType => "Choose a JPEG, PNG or WebP image.",
            UploadError::ImageTooLarge => "Each image may be at most 25 MiB.",
        })
    }
}

impl std::error::Error for UploadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aspect_ratios_are_two_small_whole_numbers() {
        assert_eq!(AspectRatio::parse("3:4").map(|r| r.to_string()), Ok("3:4".into()));
        assert_eq!(AspectRatio::parse(" 9 : 16 ").map(|r| (r.width(), r.height())), Ok((9, 16)));
        for bad in ["", "3", "3:", ":4", "0:4", "3:33", "a:b", "3:4:5", "-3:4", "300:4"] {
            assert_eq!(AspectRatio::parse(bad), Err(UploadError::AspectRatio), "{bad:?}");
        }
    }

    #[test]
    fn a_blank_prompt_is_no_prompt_and_a_long_one_is_refused() {
        assert_eq!(Prompt::parse("  \n"), Ok(None));
        assert_eq!(
            Prompt::parse("  a green shirt ").map(|p| p.map(|p| p.as_str().to_owned())),
            Ok(Some("a green shirt".into()))
        );
        let longest = "é".repeat(MAX_PROMPT_CHARS);
        assert!(Prompt::parse(&longest).is_ok(), "characters are counted, not bytes");
        assert_eq!(Prompt::parse(&format!("{longest}e")), Err(UploadError::PromptTooLong));
    }

    #[test]
    fn the_browser_refuses_other_types_and_oversized_images() {
        assert_eq!(check_image("image/png", MAX_UPLOAD_BYTES as u64), Ok(()));
        assert_eq!(check_image("image/gif", 10), Err(UploadError::ImageType));
        assert_eq!(
            check_image("image/jpeg", MAX_UPLOAD_BYTES as u64 + 1),
            Err(UploadError::ImageTooLarge)
        );
    }
}
