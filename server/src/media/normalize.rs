use std::io::Cursor;
use std::sync::LazyLock;

use tokio::sync::{Semaphore, SemaphorePermit};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::{ImageKind, sniff};

/// 40 megapixels: more than any phone camera, far less than a decompression bomb.
pub const MAX_PIXELS: u64 = 40_000_000;

/// The most memory one decoded image may take: 40 MP of 8-bit RGB fits (120 MB), the same
/// pixels at 16 bits per channel with alpha (320 MB) do not. Checked from the header before
/// anything is allocated, and given to the decoder as its allocation limit.
pub const MAX_DECODED_BYTES: u64 = 160 * 1024 * 1024;

/// Decodes running at once, process-wide: each may take up to `MAX_DECODED_BYTES`, so this is
/// what bounds the memory uploads can take, whatever the number of requests.
static DECODES: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// Waits for a turn to decode; hold it while `normalize` or `decode` runs.
pub async fn decoding_turn() -> Option<SemaphorePermit<'static>> {
    DECODES.acquire().await.ok()
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("not a JPEG, PNG or WebP image")]
    Unsupported,
    #[error("the image is {width}×{height} pixels; the limit is {MAX_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
    #[error("the image is {width}×{height} pixels at a depth that needs more than {} MiB to open", MAX_DECODED_BYTES / (1024 * 1024))]
    TooDeep { width: u32, height: u32 },
    #[error("the image is damaged or incomplete: {0}")]
    Broken(String),
}

/// An image ready to store: upright, re-encoded, without EXIF, GPS or any other metadata.
#[derive(Clone, Debug)]
pub struct NormalizedImage {
    pub bytes: Vec<u8>,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
}

/// Checks the bytes, applies the EXIF orientation, and re-encodes: JPEG stays JPEG (photos),
/// PNG and WebP become PNG (lossless). Re-encoding from pixels is what strips the metadata.
pub fn normalize(bytes: &[u8]) -> Result<NormalizedImage, ImageError> {
    let image = decode(bytes)?;
    let (kind, format) = match sniff(bytes) {
        Some(ImageKind::Jpeg) => (ImageKind::Jpeg, ImageFormat::Jpeg),
        Some(_) => (ImageKind::Png, ImageFormat::Png),
        None => return Err(ImageError::Unsupported),
    };
    let image =
        if kind == ImageKind::Jpeg { DynamicImage::ImageRgb8(image.to_rgb8()) } else { image };
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).map_err(|e| ImageError::Broken(e.to_string()))?;
    Ok(NormalizedImage {
        bytes: out.into_inner(),
        kind,
        width: image.width(),
        height: image.height(),
    })
}

/// Decodes an accepted image upright, refusing pixel bombs before allocating for them.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, ImageError> {
    let kind = sniff(bytes).ok_or(ImageError::Unsupported)?;
    let format = match kind {
        ImageKind::Jpeg => ImageFormat::Jpeg,
        ImageKind::Png => ImageFormat::Png,
        ImageKind::Webp => ImageFormat::WebP,
    };
    let reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder = reader.into_decoder().map_err(|e| ImageError::Broken(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(ImageError::TooManyPixels { width, height });
    }
    if decoder.total_bytes() > MAX_DECODED_BYTES {
        return Err(ImageError::TooDeep { width, height });
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    decoder.set_limits(limits).map_err(|e| ImageError::Broken(e.to_string()))?;
    let orientation = decoder.orientation().ok();
    let mut image =
        DynamicImage::from_decoder(decoder).map_err(|e| ImageError::Broken(e.to_string()))?;
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        DynamicImage::new_rgb8(width, height).write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    /// A PNG whose header claims `width`×`height` at `depth` bits and colour `colour`, followed
    /// by a few bytes of image data: what a decompression bomb looks like before it inflates.
    fn png_claiming(width: u32, height: u32, depth: u8, colour: u8) -> Vec<u8> {
        fn crc(bytes: &[u8]) -> u32 {
            let mut c = 0xffff_ffffu32;
            for b in bytes {
                c ^= u32::from(*b);
                for _ in 0..8 {
                    c = if c & 1 == 1 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
                }
            }
            !c
        }
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let sum = crc(&out[start..]);
            out.extend_from_slice(&sum.to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[depth, colour, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        chunk(&mut out, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn a_pixel_bomb_is_refused_from_its_header() {
        assert_eq!(
            decode(&png_claiming(20_000, 20_000, 8, 2)).err(),
            Some(ImageError::TooManyPixels { width: 20_000, height: 20_000 })
        );
    }

    #[test]
    fn a_deep_image_that_would_not_fit_in_memory_is_refused_from_its_header() {
        // 36 MP is under the pixel limit, but 16-bit RGBA makes it 288 MB once decoded.
        assert_eq!(
            decode(&png_claiming(6_000, 6_000, 16, 6)).err(),
            Some(ImageError::TooDeep { width: 6_000, height: 6_000 })
        );
        // The same pixels at 8-bit grey are 36 MB: past the header checks, then refused only
        // because the data is not really there.
        assert!(matches!(decode(&png_claiming(6_000, 6_000, 8, 0)), Err(ImageError::Broken(_))));
    }

    #[test]
    fn a_valid_png_is_kept_as_png() {
        let image = normalize(&png(4, 3)).expect("valid");
        assert_eq!((image.kind, image.width, image.height), (ImageKind::Png, 4, 3));
    }

    #[test]
    fn truncated_images_are_broken() {
        let bytes = png(64, 64);
        assert!(matches!(normalize(&bytes[..bytes.len() / 2]), Err(ImageError::Broken(_))));
    }

    #[test]
    fn other_formats_are_unsupported() {
        assert_eq!(normalize(b"GIF89a....").err(), Some(ImageError::Unsupported));
    }
}
