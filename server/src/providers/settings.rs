//! A provider adapter's own variables (docs/api.md, Provider settings): required keys fail at
//! startup naming the variable, the rest have defaults, URLs lose a trailing slash.

use crate::config::Config;
use crate::providers::RegistryError;
use crate::providers::input_map::InputMap;

pub(crate) struct Settings<'a> {
    config: &'a Config,
    provider: &'static str,
}

impl<'a> Settings<'a> {
    pub(crate) fn new(config: &'a Config, provider: &'static str) -> Self {
        Settings { config, provider }
    }

    pub(crate) fn required(&self, variable: &'static str) -> Result<String, RegistryError> {
        self.optional(variable).ok_or_else(|| RegistryError::MissingSetting {
            name: self.provider.to_owned(),
            variable,
        })
    }

    pub(crate) fn optional(&self, variable: &'static str) -> Option<String> {
        self.config.var(variable).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    }

    pub(crate) fn or(&self, variable: &'static str, default: &str) -> String {
        self.optional(variable).unwrap_or_else(|| default.to_owned())
    }

    /// A base URL, without the trailing slash that would double the one of every path.
    pub(crate) fn url(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<String, RegistryError> {
        let url = self.or(variable, default).trim_end_matches('/').to_owned();
        if url.starts_with("http://") || url.starts_with("https://") {
            Ok(url)
        } else {
            Err(self.invalid(variable, "must start with http:// or https://".into()))
        }
    }

    /// The model's input mapping (`input_map`'s format), or the provider's default.
    pub(crate) fn inputs(
        &self,
        variable: &'static str,
        default: &str,
    ) -> Result<InputMap, RegistryError> {
        InputMap::parse(&self.or(variable, default))
            .map_err(|e| self.invalid(variable, e.to_string()))
    }

    pub(crate) fn invalid(&self, variable: &'static str, reason: String) -> RegistryError {
        RegistryError::InvalidSetting { name: self.provider.to_owned(), variable, reason }
    }
}
