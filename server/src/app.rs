//! The shared state of a running Fitroom process.

use std::sync::Arc;

use crate::accounts::{Accounts, SignupGift};
use crate::clock::{SharedClock, SystemClock};
use crate::http::limits::RateLimits;
use crate::config::Config;
use crate::db::Db;
use crate::ledger::Ledger;
use crate::storage::{self, Storage};

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub ledger: Ledger,
    pub storage: Arc<dyn Storage>,
    pub clock: SharedClock,
    pub accounts: Accounts,
    pub limits: RateLimits,
}

impl AppState {
    /// Connects to the database (applying migrations) and to object storage.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        let storage = storage::from_config(&config).await?;
        let ledger = Ledger::new(db.clone(), clock.clone());
        let gift = SignupGift { credits: config.signup_credits, days: config.signup_credits_days };
        let accounts = Accounts::new(db.clone(), ledger.clone(), clock.clone(), gift);
        Ok(AppState {
            config: Arc::new(config),
            db,
            ledger,
            storage,
            clock,
            accounts,
            limits: RateLimits::default(),
        })
    }
}
