//! The shapes the server sends and the browser reads, defined once: the REST API serialises
//! these, the server functions return them, and the wasm client deserialises them
//! (docs/api.md). Also the upload rules both sides check, so the page refuses what the server
//! would refuse before anything is sent.

pub mod admin;
mod balance;
mod credits;
mod error_body;
mod generation;
mod photo;
pub mod upload;

pub use balance::{Balance, Me};
pub use credits::{LedgerEntry, Package};
pub use error_body::{ErrorBody, ErrorDetail};
pub use generation::{Generation, GenerationStatus};
pub use photo::{FetchedGarment, SavedPhoto};
