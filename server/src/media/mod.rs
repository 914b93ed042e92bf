//! Images as Fitroom handles them: recognised by their bytes (never by a file name), decoded to
//! prove they are whole, bounded in pixels, and re-encoded so that no metadata survives.

pub mod normalize;
mod sniff;

pub use normalize::{MAX_DECODED_BYTES, MAX_PIXELS, NormalizedImage, decoding_turn, normalize};
pub use sniff::{ImageKind, sniff};
