//! Which providers are enabled, in which failover order, and which are cooling down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::clock::Timestamp;
use crate::providers::{Provider, evolink, fal, fashn, replicate};

/// After this many consecutive submission failures a provider is skipped for `COOL_DOWN_MS`:
/// long enough to stop hammering a provider that is down, short enough to notice it is back.
pub const FAILURES_BEFORE_COOL_DOWN: u32 = 3;
pub const COOL_DOWN_MS: i64 = 30_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error(
        "unknown provider {0:?} in FITROOM_PROVIDERS (known: local, replicate, fal, fashn, evolink)"
    )]
    Unknown(String),
    #[error("provider {name} is missing its setting {variable}")]
    MissingSetting { name: String, variable: &'static str },
    #[error("provider {name}: {variable} is invalid: {reason}")]
    InvalidSetting { name: String, variable: &'static str, reason: String },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProviderHealth {
    pub consecutive_failures: u32,
    pub cooling_until: Option<Timestamp>,
}

impl ProviderHealth {
    pub fn is_cooling(&self, now: Timestamp) -> bool {
        self.cooling_until.is_some_and(|until| until > now)
    }
}

/// The name of a provider this process has enabled: only the registry makes one, so a request
/// that carries one names a provider that exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProviderName(&'static str);

impl ProviderName {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for ProviderName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

#[derive(Clone)]
pub struct Registry {
    providers: Vec<Arc<dyn Provider>>,
    default: String,
    health: Arc<Mutex<HashMap<&'static str, ProviderHealth>>>,
}

impl Registry {
    /// The providers named in `FITROOM_PROVIDERS`, in that order.
    pub fn build(
        config: &crate::config::Config,
        signer: &crate::signing::Signer,
        clock: &crate::clock::SharedClock,
    ) -> Result<(Self, Option<crate::providers::local::LocalProvider>), RegistryError> {
        let mut providers: Vec<Arc<dyn Provider>> = Vec::new();
        let mut local = None;
        for name in &config.providers {
            match name.as_str() {
                crate::providers::local::NAME => {
                    let provider = crate::providers::local::LocalProvider::new(
                        config.local.clone(),
                        &config.public_url,
                        config.data_dir.join("local-provider"),
                        signer.clone(),
                        clock.clone(),
                    );
                    local = Some(provider.clone());
                    providers.push(Arc::new(provider));
                }
                replicate::NAME => {
                    providers.push(Arc::new(replicate::Replicate::from_config(config)?))
                }
                fal::NAME => providers.push(Arc::new(fal::Fal::from_config(config)?)),
                fashn::NAME => providers.push(Arc::new(fashn::Fashn::from_config(config)?)),
                evolink::NAME => providers.push(Arc::new(evolink::Evolink::from_config(config)?)),
                other => return Err(RegistryError::Unknown(other.to_owned())),
            }
        }
        Ok((Registry::new(providers, &config.default_provider), local))
    }

    pub fn new(providers: Vec<Arc<dyn Provider>>, default: &str) -> Self {
        Registry { providers, default: default.to_owned(), health: Arc::default() }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Provider>> {
        self.providers.iter().find(|p| p.name() == name)
    }

    /// The enabled provider a request names, whatever its case and surrounding spaces.
    pub fn name(&self, text: &str) -> Option<ProviderName> {
        let text = text.trim();
        self.providers
            .iter()
            .map(|p| p.name())
            .find(|n| n.eq_ignore_ascii_case(text))
            .map(ProviderName)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.providers.iter().map(|p| p.name()).collect()
    }

    /// The order to try for a task: the requested (or default) provider first, then the rest of
    /// the failover order, skipping those cooling down unless nothing else is left.
    pub fn failover_order(&self, first: Option<&str>, now: Timestamp) -> Vec<Arc<dyn Provider>> {
        let first = first.unwrap_or(&self.default);
        let mut order: Vec<Arc<dyn Provider>> = Vec::new();
        if let Some(p) = self.get(first) {
            order.push(p.clone());
        }
        order.extend(self.providers.iter().filter(|p| p.name() != first).cloned());
        let health = self.lock();
        let healthy: Vec<_> = order
            .iter()
            .filter(|p| !health.get(p.name()).is_some_and(|h| h.is_cooling(now)))
            .cloned()
            .collect();
        if healthy.is_empty() { order } else { healthy }
    }

    pub fn record_success(&self, name: &'static str) {
        self.lock().insert(name, ProviderHealth::default());
    }

    pub fn record_failure(&self, name: &'static str, now: Timestamp) {
        let mut health = self.lock();
        let h = health.entry(name).or_default();
        h.consecutive_failures += 1;
        if h.consecutive_failures >= FAILURES_BEFORE_COOL_DOWN {
            h.cooling_until = Some(now.plus_millis(COOL_DOWN_MS));
            tracing::warn!(
                provider = name,
                failures = h.consecutive_failures,
                "provider cooling down"
            );
        }
    }

    pub fn health(&self) -> Vec<(&'static str, ProviderHealth)> {
        let health = self.lock();
        self.providers
            .iter()
            .map(|p| (p.name(), health.get(p.name()).copied().unwrap_or_default()))
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<&'static str, ProviderHealth>> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }
}
