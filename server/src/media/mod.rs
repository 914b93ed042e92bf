//! Images as Fitroom handles them: recognised by their bytes (never by a file name), decoded to
//! prove they are whole, bounded in pixels, and re-encoded so that no metadata survives.

mod sniff;
pub mod normalize;

pub use normalize::{MAX_PIXELS, NormalizedImage, normalize};
pub use sniff::{ImageKind, sniff};
