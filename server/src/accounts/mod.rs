//! Shopper accounts: registration, sign-in, server-side sessions, and their life after: verified
//! addresses, password resets and changes, sessions listed and ended.

pub mod admin;
mod email;
pub(crate) mod lifecycle;
mod password;
mod service;
pub mod session;
pub mod token;

pub use email::{Email, InvalidEmail};
pub use lifecycle::{SessionInfo, VerifyEmail};
pub use password::{Password, PasswordHasher, WeakPassword};
pub use service::{Accounts, AccountsError, Client, MailSettings, SignupGift, User};
pub use session::{SessionPolicy, SessionToken};
