use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use super::{ImageKind, sniff};

/// 40 megapixels: more than any phone camera, far less than a decompression bomb.
pub const MAX_PIXELS: u64 = 40_000_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImageError {
    #[error("not a JPEG, PNG or WebP image")]
    Unsupported,
    #[error("the image is {width}×{height} pixels; the limit is {MAX_PIXELS} pixels")]
    TooManyPixels { width: u32, height: u32 },
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
