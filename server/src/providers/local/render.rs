//! The `local` provider's image work: real pixels, no model. The garment is composited onto the
//! person (or, for a described outfit, the torso is recoloured) and the picture is marked as a
//! local preview so that nobody mistakes it for a real try-on.

use std::io::Cursor;

use image::imageops::{self, FilterType};
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};

use super::placement;
use crate::media::normalize::decode;

const MAX_SIDE: u32 = 1024;

pub fn render(
    person: &[u8],
    garment: Option<&[u8]>,
    prompt: Option<&str>,
    aspect: Option<&str>,
) -> Result<Vec<u8>, String> {
    let person = decode(person).map_err(|e| format!("person image: {e}"))?;
    let cropped = crop_to_aspect(person, aspect);
    // Large photos are scaled down; small ones keep their size.
    let cropped = if cropped.width().max(cropped.height()) > MAX_SIDE {
        cropped.resize(MAX_SIDE, MAX_SIDE, FilterType::Triangle)
    } else {
        cropped
    };
    let mut canvas = cropped.to_rgba8();
    match (garment, prompt) {
        (Some(garment), _) => {
            let garment = decode(garment).map_err(|e| format!("garment image: {e}"))?;
            overlay_garment(&mut canvas, garment);
        }
        (None, Some(prompt)) => recolour_torso(&mut canvas, colour_for(prompt)),
        (None, None) => return Err("nothing to try on: no garment and no description".into()),
    }
    stamp_preview_banner(&mut canvas);
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(canvas)
        .write_to(&mut out, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// `3:4` → the largest centred 3:4 crop. Unknown or absent ratios keep the photo as it is.
fn crop_to_aspect(image: DynamicImage, aspect: Option<&str>) -> DynamicImage {
    let Some((w, h)) = aspect.and_then(|a| a.split_once(':')) else { return image };
    let (Ok(w), Ok(h)) = (w.trim().parse::<u32>(), h.trim().parse::<u32>()) else { return image };
    if w == 0 || h == 0 || w > 100 || h > 100 {
        return image;
    }
    let (iw, ih) = (image.width(), image.height());
    let (cw, ch) = if u64::from(iw) * u64::from(h) > u64::from(ih) * u64::from(w) {
        ((u64::from(ih) * u64::from(w) / u64::from(h)) as u32, ih)
    } else {
        (iw, (u64::from(iw) * u64::from(h) / u64::from(w)) as u32)
    };
    image.crop_imm((iw - cw) / 2, (ih - ch) / 2, cw.max(1), ch.max(1))
}

/// Puts the garment on the person's torso (`placement`): its plain background cut away, scaled
/// to the shoulders, clipped at the torso's bottom.
fn overlay_garment(canvas: &mut RgbaImage, garment: DynamicImage) {
    let Some(garment) = placement::cut_out_garment(garment.to_rgba8()) else { return };
    let slot = placement::torso(canvas);
    let height = (u64::from(garment.height()) * u64::from(slot.width())
        / u64::from(garment.width().max(1))) as u32;
    let mut garment = imageops::resize(&garment, slot.width(), height.max(1), FilterType::Triangle);
    // Whatever falls below the torso is cut off.
    let visible = garment.height().min(slot.height());
    garment = imageops::crop_imm(&garment, 0, 0, garment.width(), visible).to_image();
    for pixel in garment.pixels_mut() {
        pixel.0[3] = (u16::from(pixel.0[3]) * 235 / 255) as u8;
    }
    imageops::overlay(canvas, &garment, i64::from(slot.left), i64::from(slot.top));
}

fn colour_for(prompt: &str) -> [u8; 3] {
    // A stable colour per description, so the same words give the same preview.
    let hash = prompt
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100000001b3));
    [(hash >> 16) as u8 | 0x30, (hash >> 8) as u8 | 0x20, hash as u8 | 0x40]
}

fn recolour_torso(canvas: &mut RgbaImage, colour: [u8; 3]) {
    let (w, h) = canvas.dimensions();
    for y in h * 30 / 100..h * 80 / 100 {
        for x in w * 25 / 100..w * 75 / 100 {
            let p = canvas.get_pixel_mut(x, y);
            // Keep the photo's light and shade: the new colour is scaled by the pixel's brightness.
            let luma = (u32::from(p[0]) * 30 + u32::from(p[1]) * 59 + u32::from(p[2]) * 11) / 100;
            for (channel, c) in colour.iter().enumerate() {
                let target = u32::from(*c) * (90 + luma * 165 / 255) / 255;
                p[channel] = ((u32::from(p[channel]) * 35 + target * 65) / 100).min(255) as u8;
            }
        }
    }
}

/// A dark band along the bottom reading LOCAL PREVIEW, drawn with a 5×7 pixel font.
fn stamp_preview_banner(canvas: &mut RgbaImage) {
    let (w, h) = canvas.dimensions();
    let band = (h / 12).max(16).min(h);
    for y in h.saturating_sub(band)..h {
        for x in 0..w {
            let p = canvas.get_pixel_mut(x, y);
            for c in 0..3 {
                p[c] = (u16::from(p[c]) * 35 / 100) as u8;
            }
            p[3] = 255;
        }
    }
    let text = "LOCAL PREVIEW";
    let scale = ((band * 6 / 10) / 7).max(1);
    let text_width = text.len() as u32 * 6 * scale;
    let x0 = w.saturating_sub(text_width) / 2;
    let y0 = h - band + band.saturating_sub(7 * scale) / 2;
    for (i, ch) in text.chars().enumerate() {
        let glyph = glyph(ch);
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..5 {
                if bits & (0b10000 >> col) != 0 {
                    for dy in 0..scale {
                        for dx in 0..scale {
                            let x = x0 + (i as u32 * 6 + col) * scale + dx;
                            let y = y0 + row as u32 * scale + dy;
                            if x < w && y < h {
                                canvas.put_pixel(x, y, Rgba([255, 255, 255, 255]));
                            }
                        }
                    }
                }
            }
        }
    }
}

fn glyph(c: char) -> [u8; 7] {
    match c {
        'L' => [0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b10000, 0b11111],
        'O' => [0b01110, 0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01110],
        'C' => [0b01110, 0b10001, 0b10000, 0b10000, 0b10000, 0b10001, 0b01110],
        'A' => [0b01110, 0b10001, 0b10001, 0b11111, 0b10001, 0b10001, 0b10001],
        'P' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10000, 0b10000, 0b10000],
        'R' => [0b11110, 0b10001, 0b10001, 0b11110, 0b10100, 0b10010, 0b10001],
        'E' => [0b11111, 0b10000, 0b10000, 0b11110, 0b10000, 0b10000, 0b11111],
        'V' => [0b10001, 0b10001, 0b10001, 0b10001, 0b10001, 0b01010, 0b00100],
        'I' => [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110],
        'W' => [0b10001, 0b10001, 0b10001, 0b10101, 0b10101, 0b10101, 0b01010],
        _ => [0; 7],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
        let img = RgbaImage::from_pixel(w, h, Rgba([rgb[0], rgb[1], rgb[2], 255]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgba8(img).write_to(&mut out, ImageFormat::Png).expect("encode");
        out.into_inner()
    }

    #[test]
    fn the_garment_lands_on_the_person_and_the_preview_is_marked() {
        let person = solid(300, 400, [200, 180, 160]);
        let garment = solid(100, 100, [200, 0, 0]);
        let out = decode(&render(&person, Some(&garment), None, Some("3:4")).expect("render"))
            .expect("decodes")
            .to_rgba8();
        assert_eq!(out.dimensions(), (300, 400));
        let centre = out.get_pixel(150, 160);
        assert!(centre[0] > 150 && centre[1] < 60, "garment colour at the chest: {centre:?}");
        let banner = out.get_pixel(5, 395);
        assert!(banner[0] < 100, "the preview band darkens the bottom: {banner:?}");
    }

    #[test]
    fn a_description_recolours_the_torso() {
        let person = solid(200, 200, [128, 128, 128]);
        let out =
            decode(&render(&person, None, Some("a green linen shirt"), None).expect("render"))
                .expect("decodes")
                .to_rgba8();
        assert_ne!(out.get_pixel(100, 100), &Rgba([128, 128, 128, 255]));
        assert_eq!(out.get_pixel(5, 5), &Rgba([128, 128, 128, 255]), "outside the torso unchanged");
    }

    #[test]
    fn tiny_photos_are_handled_too() {
        let person = solid(8, 8, [200, 180, 160]);
        let garment = solid(3, 3, [200, 0, 0]);
        let out = render(&person, Some(&garment), None, Some("9:16")).expect("render");
        assert!(decode(&out).is_ok());
    }

    /// The sample person and garment shipped in `public/samples/` (drawn by the project).
    fn sample(name: &str) -> Vec<u8> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../public/samples").join(name);
        std::fs::read(path).expect("the samples are in public/samples")
    }

    #[test]
    fn on_the_samples_the_garment_lands_inside_the_torso() {
        let person = decode(&sample("person.png")).expect("person").to_rgba8();
        let slot = placement::torso(&person);
        // The drawn figure: torso x 95..=205, y 110..=270; head above, legs below.
        assert!(slot.left >= 80 && slot.right <= 220, "{slot:?}");
        assert!(slot.top >= 105 && slot.top <= 125, "the shoulders: {slot:?}");
        assert!(slot.bottom <= 320, "{slot:?}");
        let out = decode(
            &render(&sample("person.png"), Some(&sample("garment-green-shirt.png")), None, None)
                .expect("render"),
        )
        .expect("decodes")
        .to_rgba8();
        let green = |p: &Rgba<u8>| p[1] > 90 && p[0] < 90 && p[2] < 120;
        let mut inside = 0;
        for (x, y, p) in out.enumerate_pixels() {
            if green(p) {
                assert!(
                    x >= slot.left && x < slot.right && y >= slot.top && y < slot.bottom,
                    "green at {x},{y} outside {slot:?}"
                );
                inside += 1;
            }
        }
        assert!(inside > 5_000, "the shirt is there: {inside} green pixels");
        // The shirt's white background did not come along: the wall beside the torso is unchanged.
        assert_eq!(out.get_pixel(20, 150), person.get_pixel(20, 150));
        assert_eq!(out.get_pixel(150, 20), person.get_pixel(150, 20), "nor over the head");
    }

    #[test]
    fn a_swatch_with_no_background_is_kept_whole_and_a_plain_backdrop_is_cut() {
        let plain = RgbaImage::from_pixel(20, 20, Rgba([200, 0, 0, 255]));
        assert_eq!(placement::cut_out_garment(plain.clone()), Some(plain));
        let mut framed = RgbaImage::from_pixel(20, 20, Rgba([250, 250, 250, 255]));
        for y in 5..15 {
            for x in 8..12 {
                framed.put_pixel(x, y, Rgba([20, 30, 200, 255]));
            }
        }
        let cut = placement::cut_out_garment(framed).expect("the garment");
        assert_eq!(cut.dimensions(), (4, 10), "cropped to the garment");
    }

    #[test]
    fn aspect_ratios_crop_the_centre() {
        let img = crop_to_aspect(DynamicImage::new_rgb8(400, 400), Some("3:4"));
        assert_eq!((img.width(), img.height()), (300, 400));
        let img = crop_to_aspect(DynamicImage::new_rgb8(400, 400), Some("nonsense"));
        assert_eq!((img.width(), img.height()), (400, 400));
    }
}
