//! Fitroom's backend core. No Leptos here: everything is usable and tested without a browser.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod billing;
pub mod cache;
pub mod cli;
pub mod clock;
pub mod config;
pub mod console;
pub mod db;
pub mod fault;
pub mod garments;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod ledger;
pub mod limits;
pub mod mail;
pub mod media;
pub mod metrics;
pub mod photos;
pub mod privacy;
pub mod providers;
pub mod signing;
pub mod spend;
pub mod storage;
pub mod telemetry;

pub use app::AppState;
pub use config::Config;
