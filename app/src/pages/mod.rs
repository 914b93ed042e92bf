pub mod account;
pub mod admin;
pub mod auth;
pub mod history;
pub mod not_found;
pub mod tryon;
