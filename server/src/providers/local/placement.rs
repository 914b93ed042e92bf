//! Where the `local` provider puts a garment, so that its preview looks like a try-on rather than
//! a pasted square:
//!
//! 1. The garment photo's plain background is removed by a flood fill from its four corners
//!    (pixels within `GARMENT_TOLERANCE` of the corner's colour become transparent), and the
//!    garment is cropped to what is left (a photo that is all one colour is kept whole).
//! 2. The person is found as the subject against their background: the background's colour is
//!    the mean of the photo's border, and the subject is every pixel further from it than
//!    `SUBJECT_TOLERANCE`. When the subject fills (nearly) the whole width, as on a busy
//!    background, the photo's own proportions stand in for it.
//! 3. Proportions of the subject's box (top `t`, height `h`): the shoulders are at `t + 0.22 h`,
//!    the torso ends at `t + 0.60 h`. The shoulder width is the subject's width on the shoulder
//!    row. The garment is scaled to 1.1 × that width, centred on the shoulders, its top on the
//!    shoulder row, and clipped to the torso's bottom plus a fifth.

use std::collections::VecDeque;

use image::{Rgba, RgbaImage};

pub const GARMENT_TOLERANCE: u8 = 32;
pub const SUBJECT_TOLERANCE: u32 = 60;
const SHOULDERS: f32 = 0.22;
const TORSO_END: f32 = 0.60;
const GARMENT_OVER_SHOULDERS: f32 = 1.1;

/// A rectangle in pixels, right and bottom exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Box {
    pub left: u32,
    pub top: u32,
    pub right: u32,
    pub bottom: u32,
}

impl Box {
    pub fn width(&self) -> u32 {
        self.right.saturating_sub(self.left)
    }

    pub fn height(&self) -> u32 {
        self.bottom.saturating_sub(self.top)
    }
}

fn close(a: &Rgba<u8>, b: &Rgba<u8>, tolerance: u8) -> bool {
    a.0.iter().zip(b.0.iter()).take(3).all(|(x, y)| x.abs_diff(*y) <= tolerance)
}

/// Makes the garment's plain background transparent (flood fill from each corner) and crops to
/// the garment. A photo that is all one colour (a swatch of fabric) has no background to cut and
/// is kept whole; `None` only for an empty image.
pub fn cut_out_garment(garment: RgbaImage) -> Option<RgbaImage> {
    let (w, h) = garment.dimensions();
    if w == 0 || h == 0 {
        return None;
    }
    let original = garment.clone();
    let mut garment = garment;
    let mut seen = vec![false; (w * h) as usize];
    for (cx, cy) in [(0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)] {
        let seed = *garment.get_pixel(cx, cy);
        let mut queue = VecDeque::from([(cx, cy)]);
        while let Some((x, y)) = queue.pop_front() {
            let i = (y * w + x) as usize;
            if seen[i] || !close(garment.get_pixel(x, y), &seed, GARMENT_TOLERANCE) {
                continue;
            }
            seen[i] = true;
            garment.get_pixel_mut(x, y).0[3] = 0;
            if x > 0 {
                queue.push_back((x - 1, y));
            }
            if y > 0 {
                queue.push_back((x, y - 1));
            }
            if x + 1 < w {
                queue.push_back((x + 1, y));
            }
            if y + 1 < h {
                queue.push_back((x, y + 1));
            }
        }
    }
    let Some(kept) = bounds(w, h, |x, y| garment.get_pixel(x, y).0[3] > 0) else {
        return Some(original);
    };
    Some(
        image::imageops::crop_imm(&garment, kept.left, kept.top, kept.width(), kept.height())
            .to_image(),
    )
}

/// The smallest box around every pixel for which `inside` holds.
fn bounds(w: u32, h: u32, inside: impl Fn(u32, u32) -> bool) -> Option<Box> {
    let mut found: Option<Box> = None;
    for y in 0..h {
        for x in 0..w {
            if inside(x, y) {
                let b = found.get_or_insert(Box { left: x, top: y, right: x + 1, bottom: y + 1 });
                b.left = b.left.min(x);
                b.right = b.right.max(x + 1);
                b.top = b.top.min(y);
                b.bottom = b.bottom.max(y + 1);
            }
        }
    }
    found
}

/// Where a garment goes on this photo: the box it is scaled into.
pub fn torso(person: &RgbaImage) -> Box {
    let (w, h) = person.dimensions();
    let border: Vec<&Rgba<u8>> = (0..w)
        .flat_map(|x| [person.get_pixel(x, 0), person.get_pixel(x, h - 1)])
        .chain((0..h).flat_map(|y| [person.get_pixel(0, y), person.get_pixel(w - 1, y)]))
        .collect();
    let n = border.len().max(1) as u32;
    let mean: [u32; 3] =
        [0, 1, 2].map(|c| border.iter().map(|p| u32::from(p.0[c])).sum::<u32>() / n);
    let is_subject = |x: u32, y: u32| {
        let p = person.get_pixel(x, y);
        (0..3).map(|c| u32::from(p.0[c]).abs_diff(mean[c])).sum::<u32>() > SUBJECT_TOLERANCE
    };
    let whole = Box { left: 0, top: 0, right: w, bottom: h };
    let subject = bounds(w, h, is_subject).filter(|b| b.width() < w * 95 / 100).unwrap_or(whole);
    let shoulder_row = subject.top + (subject.height() as f32 * SHOULDERS) as u32;
    let row = shoulder_row.min(h - 1);
    let span = bounds(w, 1, |x, _| subject == whole || is_subject(x, row))
        .map(|b| (b.left, b.right))
        .unwrap_or((subject.left, subject.right));
    let (left, right) = if subject == whole { (w * 28 / 100, w * 72 / 100) } else { span };
    let shoulders = right - left;
    let width = ((shoulders as f32 * GARMENT_OVER_SHOULDERS) as u32).clamp(1, w);
    let centre = (left + right) / 2;
    let garment_left = centre.saturating_sub(width / 2).min(w - width);
    let torso_end = subject.top + (subject.height() as f32 * TORSO_END) as u32;
    Box {
        left: garment_left,
        top: row,
        right: garment_left + width,
        bottom: (torso_end + subject.height() / 5).clamp(row + 1, h),
    }
}
