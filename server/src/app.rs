//! The shared state of a running Fitroom process.

use std::sync::Arc;

use crate::accounts::{Accounts, SignupGift};
use crate::billing::{Catalog, Stripe};
use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::db::Db;
use crate::fault::FaultPoints;
use crate::jobs::Jobs;
use crate::ledger::Ledger;
use crate::limits::Limits;
use crate::providers::Registry;
use crate::providers::local::LocalProvider;
use crate::signing::Signer;
use crate::storage::{self, Storage};

/// Cloned by every extractor of every request, so a clone is one reference count, not a copy
/// of each service (some hold strings and clients).
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub ledger: Ledger,
    pub storage: Arc<dyn Storage>,
    pub clock: SharedClock,
    pub accounts: Accounts,
    pub limits: Limits,
    pub signer: Signer,
    pub jobs: Jobs,
    /// The `local` provider when enabled: its output URLs are served by this process.
    pub local_provider: Option<LocalProvider>,
    pub catalog: Arc<Catalog>,
    pub stripe: Stripe,
    /// Exports being written by this process (`privacy::export`).
    pub exports: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Connects to the database (applying migrations) and to object storage.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: SharedClock) -> anyhow::Result<Self> {
        Self::build_with(config, clock, FaultPoints::default()).await
    }

    /// With the fault points that tests arm to simulate a crash between two steps.
    pub async fn build_with(
        config: Config,
        clock: SharedClock,
        faults: FaultPoints,
    ) -> anyhow::Result<Self> {
        let db = Db::connect_with(config.db_settings()).await?;
        db.migrate().await?;
        let storage = storage::from_config(&config).await?;
        let ledger = Ledger::with_faults(db.clone(), clock.clone(), faults.clone());
        let signer = Signer::load_or_create(config.secret.as_deref(), &config.data_dir)?;
        let (registry, local_provider) = Registry::build(&config, &signer, &clock)?;
        if local_provider.is_some() && db.backend() == crate::db::Backend::Postgres {
            tracing::warn!(
                "the local provider is a single-process provider: its running tasks are known only \
                 to the process that took them, so with several processes on this database use a \
                 real provider (README.md, Providers)"
            );
        }
        let config = Arc::new(config);
        let jobs = Jobs::new(
            ledger.clone(),
            storage.clone(),
            registry,
            signer.clone(),
            config.clone(),
            faults,
        );
        let catalog = Arc::new(Catalog::load(config.var("FITROOM_CATALOG"))?);
        let stripe = Stripe::new(
            config.var("STRIPE_SECRET_KEY").map(str::to_owned),
            config.var("STRIPE_WEBHOOK_SECRET").map(str::to_owned),
            config.var("STRIPE_API_BASE").map(str::to_owned),
        );
        let gift = SignupGift { credits: config.signup_credits, days: config.signup_credits_days };
        let limits = Limits::new(&config, &db, clock.clone());
        let mailer = crate::mail::Mailer::from_config(&config)?;
        let accounts =
            Accounts::new(db.clone(), ledger.clone(), clock.clone(), gift, limits.clone())
                .with_mail(crate::accounts::MailSettings {
                    mailer,
                    public_url: config.public_url.clone(),
                    verify: config.verify_email,
                });
        Ok(AppState(Arc::new(Services {
            config,
            db,
            ledger,
            storage,
            clock,
            accounts,
            limits,
            signer,
            jobs,
            local_provider,
            catalog,
            stripe,
            exports: Arc::new(tokio::sync::Semaphore::new(
                crate::privacy::export::MAX_EXPORTS_AT_ONCE,
            )),
        })))
    }
}

impl AppState {
    /// Upkeep no request should pay for: recorded durations folded into their histograms and
    /// deleted accounts whose erasure was cut off finished every ten seconds, limits forgotten
    /// once their budget is whole again and garments from links past their retention deleted
    /// every minute.
    pub fn spawn_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        tokio::spawn(async move {
            crate::privacy::export::remove_leftovers(&state.config.data_dir);
            let mut every = tokio::time::interval(std::time::Duration::from_secs(10));
            for tick in 0u64.. {
                every.tick().await;
                state.jobs.metrics.upkeep();
                let erasures = crate::privacy::erasure::finish_pending(&state).await;
                if erasures != Default::default() {
                    tracing::info!(?erasures, "pending account erasures");
                }
                if tick % 6 == 0
                    && let Err(e) = state.limits.prune().await
                {
                    tracing::warn!(error = %e, "pruning the rate limits failed");
                }
                if tick % 6 == 0
                    && let Err(e) = crate::garments::sweep_expired(&state).await
                {
                    tracing::warn!(error = %e, "deleting the garments past their retention failed");
                }
            }
        })
    }
}
