//! Buying credit packages: a catalog, Stripe Checkout, and a signed webhook that grants each paid
//! session exactly once and takes back the unspent credits of a refunded one.

mod catalog;
mod fulfilment;
mod refund;
mod stripe;

pub use catalog::{Catalog, CatalogError, CatalogItem};
pub use fulfilment::{Fulfilment, FulfilmentError};
pub use refund::{ChargeRefund, payment_ref};
pub use stripe::{Stripe, StripeError, StripeEvent, verify_signature};
