//! Shopper accounts: registration, sign-in, server-side sessions.

pub mod admin;
mod email;
mod password;
mod service;
pub mod session;

pub use email::{Email, InvalidEmail};
pub use password::{Password, PasswordHasher, WeakPassword};
pub use service::{Accounts, AccountsError, SignupGift, User};
pub use session::{SessionPolicy, SessionToken};
