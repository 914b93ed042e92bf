//! Buying credit packages: a catalog, Stripe Checkout, and a signed webhook that grants each paid
//! session exactly once.

mod catalog;
mod stripe;

pub use catalog::{Catalog, CatalogError, CatalogItem};
pub use stripe::{Stripe, StripeError, StripeEvent, verify_signature};
