//! Fitroom's backend, specified by behaviour. Every database test runs twice: on a fresh SQLite
//! file and on a fresh PostgreSQL database (scripts/test.sh starts a throwaway cluster).

mod accounts_lifecycle;
mod billing;
mod billing_refunds;
mod common;
mod fakes;
mod garments;
mod http_accounts;
mod http_admin;
mod http_app;
mod http_credits;
mod http_hardening;
mod http_limits;
mod http_ownership;
mod http_polling;
mod http_results;
mod http_server;
mod http_uploads;
mod jobs_lifecycle;
mod ledger_concurrency;
mod ledger_faults;
mod ledger_holds;
mod ledger_model;
mod ledger_packages;
mod ledger_verify;
mod migrations;
mod provider_spend;
mod providers_end_to_end;
mod providers_evolink;
mod providers_fal;
mod providers_fashn;
mod providers_replicate;
mod s3s;
mod saved_photos;
mod storage;
mod storage_outage;
