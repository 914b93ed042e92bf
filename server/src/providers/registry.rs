//! Which providers are enabled, and in which failover order. Whether one is cooling down or over
//! budget lives in the database (`crate::spend`), shared by every process.

use std::collections::HashSet;
use std::sync::Arc;

use crate::providers::{Provider, evolink, fal, fashn, replicate};

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
        Registry { providers, default: default.to_owned() }
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
    /// the failover order, without those in `skip` (cooling down or over budget, as the
    /// database says).
    pub fn failover_order(
        &self,
        first: Option<&str>,
        skip: &HashSet<String>,
    ) -> Vec<Arc<dyn Provider>> {
        let first = first.unwrap_or(&self.default);
        let mut order: Vec<Arc<dyn Provider>> = Vec::new();
        if let Some(p) = self.get(first) {
            order.push(p.clone());
        }
        order.extend(self.providers.iter().filter(|p| p.name() != first).cloned());
        order.retain(|p| !skip.contains(p.name()));
        order
    }
}
