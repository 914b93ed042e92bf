//! Configuration from the environment, as docs/api.md (Configuration) lists it.
//!
//! Every variable, its default and its meaning:
//!
//! | variable | default |
//! |---|---|
//! | `DATABASE_URL` | `sqlite://data/fitroom.db` |
//! | `DATABASE_DIRECT_URL` / `FITROOM_DATABASE_POOLER` | none / `none` (or `transaction`) |
//! | `FITROOM_ADDR` | `127.0.0.1:3000` (overrides `LEPTOS_SITE_ADDR`) |
//! | `FITROOM_PUBLIC_URL` | `http://<FITROOM_ADDR>` |
//! | `FITROOM_DATA_DIR` | `data` |
//! | `FITROOM_STORAGE` | `local` (or `s3`, with `S3_*`) |
//! | `FITROOM_PROVIDERS` / `FITROOM_PROVIDER` | `local` / first of the list |
//! | `FITROOM_SIGNUP_CREDITS` / `FITROOM_SIGNUP_CREDITS_DAYS` | `3` / `7` |
//! | `FITROOM_GENERATION_COST` | `1` |
//! | `FITROOM_MAX_ACTIVE_JOBS` / `FITROOM_SUBMITS_PER_MINUTE` / `FITROOM_LOGINS_PER_MINUTE` | `4` / `30` / `10` |
//! | `FITROOM_RESETS_PER_HOUR` | `5` |
//! | `FITROOM_RECONCILE_EVERY_SECS` / `FITROOM_POLL_AFTER_SECS` / `FITROOM_JOB_TIMEOUT_SECS` | `5` / `60` / `900` |
//! | `FITROOM_LOCAL_DELAY_MS` / `_FAILURE_RATE` / `_WEBHOOK_COPIES` / `_DROP_RATE` | `2000` / `0` / `1` / `0` |
//! | `FITROOM_FETCH_ALLOW_PRIVATE` | `false` |
//! | `FITROOM_LOG_FORMAT` | `pretty` on a terminal, else `json` |

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use ipnet::IpNet;

use crate::ledger::Credits;

/// Where environment values come from: the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, key: &str) -> Option<String>;
    /// Every non-empty variable, for the adapters that read keys of their own.
    fn all(&self) -> HashMap<String, String>;
}

pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }

    fn all(&self) -> HashMap<String, String> {
        std::env::vars().filter(|(_, v)| !v.trim().is_empty()).collect()
    }
}

impl Source for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }

    fn all(&self) -> HashMap<String, String> {
        self.clone()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("configuration variable {key}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageConfig {
    Local,
    S3(S3Config),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    /// R2 rejects some of the SDK's default checksums; `S3_CHECKSUMS=when_required` turns them off.
    pub checksums_when_required: bool,
    /// `S3_TIMEOUT_SECS` (default 60): the most one request to the store may take, and the most
    /// a response may stall between bytes (capped at 30 s); connecting gets 5 s.
    pub timeout_secs: u64,
}

#[derive(Clone, Debug)]
pub struct LocalProviderConfig {
    pub delay_ms: u64,
    pub failure_rate: f64,
    pub webhook_copies: u32,
    pub drop_rate: f64,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    /// `DATABASE_DIRECT_URL`: the database itself, for migrations, when `DATABASE_URL` is a pooler.
    pub database_direct_url: Option<String>,
    /// `FITROOM_DATABASE_POOLER`: `transaction` when `DATABASE_URL` is PgBouncer in transaction
    /// mode (see `db::pool`).
    pub database_pooler: crate::db::Pooler,
    pub addr: SocketAddr,
    pub public_url: String,
    pub data_dir: PathBuf,
    pub storage: StorageConfig,
    pub providers: Vec<String>,
    pub default_provider: String,
    pub signup_credits: Credits,
    pub signup_credits_days: i64,
    pub generation_cost: Credits,
    pub max_active_jobs: u32,
    pub submits_per_minute: u32,
    pub logins_per_minute: u32,
    /// `FITROOM_SIGNUPS_PER_HOUR` per client address (0: no limit).
    pub signups_per_hour: u32,
    /// `FITROOM_RESETS_PER_HOUR` password-reset requests per address and per client address
    /// (0: no limit); a budget of their own, apart from sign-ins.
    pub resets_per_hour: u32,
    /// `FITROOM_TRUSTED_PROXIES`: only from these is `X-Forwarded-For` believed.
    pub trusted_proxies: Vec<IpNet>,
    /// `FITROOM_METRICS_TOKEN`: `/metrics` asks for it as a bearer token; without it, `/metrics`
    /// answers loopback clients only.
    pub metrics_token: Option<String>,
    pub reconcile_every_secs: u64,
    pub poll_after_secs: u64,
    pub job_timeout_secs: u64,
    /// `FITROOM_INPUT_RETENTION_HOURS` (default 24): input photos are deleted this long after
    /// their job ends (0: at the next sweep).
    pub input_retention_hours: u64,
    /// `FITROOM_RESULT_RETENTION_DAYS` (default 0: kept until the shopper deletes them).
    pub result_retention_days: u64,
    /// `FITROOM_SMTP_URL`: without it, mail goes to `<data dir>/outbox/` and the log.
    pub smtp_url: Option<String>,
    /// `FITROOM_MAIL_FROM` (default `Fitroom <noreply@localhost>`).
    pub mail_from: String,
    /// `FITROOM_VERIFY_EMAIL` (default `off`).
    pub verify_email: crate::accounts::VerifyEmail,
    /// `FITROOM_PROVIDER_PRICES` and `FITROOM_PROVIDER_BUDGETS`.
    pub spend: crate::spend::SpendSettings,
    /// `FITROOM_ROUTING_WINDOW` (default 1 h): the sliding window routing and the provider
    /// figures measure over.
    pub routing_window_secs: u64,
    /// `FITROOM_ROUTING` (default `ordered`).
    pub routing: crate::spend::routing::Strategy,
    /// `FITROOM_ROUTING_EXPLORE` (default 0.05): the share of tasks that measured strategies
    /// send first to another provider, so that it is measured.
    pub routing_explore: f64,
    pub local: LocalProviderConfig,
    pub fetch_allow_private: bool,
    /// `FITROOM_SECRET`: signs URLs and the local provider's webhooks; several processes sharing
    /// a database must share it. Without it a key is kept in `<data>/secret.key`.
    pub secret: Option<String>,
    /// Every variable as read, so provider adapters can take their own keys (`REPLICATE_*`, …).
    pub raw: HashMap<String, String>,
}

struct Reader<'a> {
    source: &'a dyn Source,
}

impl Reader<'_> {
    fn string(&self, key: &'static str) -> Option<String> {
        self.source.get(key).map(|v| v.trim().to_owned())
    }

    fn or(&self, key: &'static str, default: &str) -> String {
        self.string(key).unwrap_or_else(|| default.to_owned())
    }

    fn parsed<T>(&self, key: &'static str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        match self.string(key) {
            None => Ok(default),
            Some(value) => {
                value.parse().map_err(|e: T::Err| ConfigError { key, reason: e.to_string(), value })
            }
        }
    }

    fn rate(&self, key: &'static str) -> Result<f64, ConfigError> {
        let rate: f64 = self.parsed(key, 0.0)?;
        if (0.0..=1.0).contains(&rate) {
            Ok(rate)
        } else {
            Err(ConfigError {
                key,
                value: rate.to_string(),
                reason: "must be between 0 and 1".into(),
            })
        }
    }

    /// Comma-separated addresses or CIDR blocks (`10.0.0.0/8,192.0.2.1`).
    fn networks(&self, key: &'static str) -> Result<Vec<IpNet>, ConfigError> {
        let Some(list) = self.string(key) else { return Ok(Vec::new()) };
        list.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| ConfigError {
                        key,
                        value: item.to_owned(),
                        reason: "expected an IP address or a CIDR block".into(),
                    })
            })
            .collect()
    }

    fn bool(&self, key: &'static str) -> Result<bool, ConfigError> {
        match self.string(key).map(|v| v.to_ascii_lowercase()) {
            None => Ok(false),
            Some(v) if matches!(v.as_str(), "1" | "true" | "yes" | "on") => Ok(true),
            Some(v) if matches!(v.as_str(), "0" | "false" | "no" | "off") => Ok(false),
            Some(value) => Err(ConfigError { key, value, reason: "expected true or false".into() }),
        }
    }
}

/// A duration as seconds (`3600`) or with a unit (`90s`, `30m`, `1h`, `1d`); at least a second.
fn duration_secs(r: &Reader<'_>, key: &'static str, default: u64) -> Result<u64, ConfigError> {
    let Some(text) = r.string(key) else { return Ok(default) };
    let (number, unit) =
        text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let scale = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => 0,
    };
    match number.parse::<u64>() {
        Ok(n) if n > 0 && scale > 0 => Ok(n.saturating_mul(scale)),
        _ => Err(ConfigError {
            key,
            value: text.clone(),
            reason: "expected a duration like 3600, 30m or 1h".into(),
        }),
    }
}

impl Config {
    /// How to reach the database, as `Db::connect_with` takes it.
    pub fn db_settings(&self) -> crate::db::DbSettings {
        crate::db::DbSettings {
            url: self.database_url.clone(),
            direct_url: self.database_direct_url.clone(),
            pooler: self.database_pooler,
            max_connections: None,
        }
    }

    /// Reads `.env` when present (without overriding the real environment), then the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_source(&ProcessEnv)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let r = Reader { source };
        let addr_text = r
            .string("FITROOM_ADDR")
            .or_else(|| r.string("LEPTOS_SITE_ADDR"))
            .unwrap_or_else(|| "127.0.0.1:3000".to_owned());
        let addr: SocketAddr = addr_text.parse().map_err(|e: std::net::AddrParseError| {
            ConfigError { key: "FITROOM_ADDR", value: addr_text.clone(), reason: e.to_string() }
        })?;
        let public_url = r
            .string("FITROOM_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{addr}"))
            .trim_end_matches('/')
            .to_owned();
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError {
                key: "FITROOM_PUBLIC_URL",
                value: public_url,
                reason: "must start with http:// or https://".into(),
            });
        }

        let storage = match r.or("FITROOM_STORAGE", "local").as_str() {
            "local" => StorageConfig::Local,
            "s3" => StorageConfig::S3(S3Config {
                endpoint: r.string("S3_ENDPOINT"),
                bucket: r.string("S3_BUCKET").ok_or_else(|| ConfigError {
                    key: "S3_BUCKET",
                    value: String::new(),
                    reason: "required when FITROOM_STORAGE=s3".into(),
                })?,
                region: r.or("S3_REGION", "auto"),
                access_key_id: r.string("S3_ACCESS_KEY_ID"),
                secret_access_key: r.string("S3_SECRET_ACCESS_KEY"),
                checksums_when_required: r.or("S3_CHECKSUMS", "when_supported") == "when_required",
                timeout_secs: r.parsed("S3_TIMEOUT_SECS", 60)?,
            }),
            other => {
                return Err(ConfigError {
                    key: "FITROOM_STORAGE",
                    value: other.to_owned(),
                    reason: "expected local or s3".into(),
                });
            }
        };

        let providers: Vec<String> = r
            .or("FITROOM_PROVIDERS", "local")
            .split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        if providers.is_empty() {
            return Err(ConfigError {
                key: "FITROOM_PROVIDERS",
                value: String::new(),
                reason: "name at least one provider".into(),
            });
        }
        let default_provider = r
            .string("FITROOM_PROVIDER")
            .map(|p| p.to_ascii_lowercase())
            .unwrap_or_else(|| providers[0].clone());
        if !providers.contains(&default_provider) {
            return Err(ConfigError {
                key: "FITROOM_PROVIDER",
                value: default_provider,
                reason: "must be one of FITROOM_PROVIDERS".into(),
            });
        }

        let signup: i64 = r.parsed("FITROOM_SIGNUP_CREDITS", 3)?;
        let signup_credits = Credits::new(signup).map_err(|e| ConfigError {
            key: "FITROOM_SIGNUP_CREDITS",
            value: signup.to_string(),
            reason: e.to_string(),
        })?;
        let cost: i64 = r.parsed("FITROOM_GENERATION_COST", 1)?;
        let generation_cost =
            Credits::new(cost).ok().filter(|c| c.get() > 0).ok_or_else(|| ConfigError {
                key: "FITROOM_GENERATION_COST",
                value: cost.to_string(),
                reason: "must be a positive number of credits".into(),
            })?;

        let spend = crate::spend::SpendSettings::parse(
            r.string("FITROOM_PROVIDER_PRICES").as_deref(),
            r.string("FITROOM_PROVIDER_BUDGETS").as_deref(),
        )
        .map_err(|reason| ConfigError {
            key: "FITROOM_PROVIDER_PRICES / FITROOM_PROVIDER_BUDGETS",
            value: String::new(),
            reason,
        })?;
        if let Some((key, name)) = spend.unknown_name(&providers) {
            return Err(ConfigError {
                key,
                value: r.string(key).unwrap_or_default(),
                reason: format!(
                    "{name} is not an enabled provider (FITROOM_PROVIDERS={})",
                    providers.join(",")
                ),
            });
        }
        let routing_window_secs = duration_secs(&r, "FITROOM_ROUTING_WINDOW", 3600)?;
        let verify_text = r.or("FITROOM_VERIFY_EMAIL", "off");
        let verify_email =
            crate::accounts::VerifyEmail::parse(&verify_text).ok_or_else(|| ConfigError {
                key: "FITROOM_VERIFY_EMAIL",
                value: verify_text.clone(),
                reason: "expected off, credits or required".into(),
            })?;
        let routing_text = r.or("FITROOM_ROUTING", "ordered");
        let routing =
            crate::spend::routing::Strategy::parse(&routing_text).ok_or_else(|| ConfigError {
                key: "FITROOM_ROUTING",
                value: routing_text.clone(),
                reason: "expected ordered, cheapest, fastest, reliable or balanced".into(),
            })?;
        let routing_explore = match r.string("FITROOM_ROUTING_EXPLORE") {
            None => 0.05,
            Some(_) => r.rate("FITROOM_ROUTING_EXPLORE")?,
        };

        let pooler_text = r.or("FITROOM_DATABASE_POOLER", "none");
        let database_pooler =
            crate::db::Pooler::parse(&pooler_text).ok_or_else(|| ConfigError {
                key: "FITROOM_DATABASE_POOLER",
                value: pooler_text.clone(),
                reason: "expected none or transaction".into(),
            })?;

        Ok(Config {
            database_url: r.or("DATABASE_URL", "sqlite://data/fitroom.db"),
            database_direct_url: r.string("DATABASE_DIRECT_URL"),
            database_pooler,
            addr,
            public_url,
            data_dir: PathBuf::from(r.or("FITROOM_DATA_DIR", "data")),
            storage,
            providers,
            default_provider,
            signup_credits,
            signup_credits_days: r.parsed("FITROOM_SIGNUP_CREDITS_DAYS", 7)?,
            generation_cost,
            max_active_jobs: r.parsed("FITROOM_MAX_ACTIVE_JOBS", 4)?,
            submits_per_minute: r.parsed("FITROOM_SUBMITS_PER_MINUTE", 30)?,
            logins_per_minute: r.parsed("FITROOM_LOGINS_PER_MINUTE", 10)?,
            signups_per_hour: r.parsed("FITROOM_SIGNUPS_PER_HOUR", 20)?,
            resets_per_hour: r.parsed("FITROOM_RESETS_PER_HOUR", 5)?,
            trusted_proxies: r.networks("FITROOM_TRUSTED_PROXIES")?,
            metrics_token: r.string("FITROOM_METRICS_TOKEN").filter(|t| !t.is_empty()),
            reconcile_every_secs: r.parsed("FITROOM_RECONCILE_EVERY_SECS", 5)?,
            poll_after_secs: r.parsed("FITROOM_POLL_AFTER_SECS", 60)?,
            job_timeout_secs: r.parsed("FITROOM_JOB_TIMEOUT_SECS", 900)?,
            input_retention_hours: r.parsed("FITROOM_INPUT_RETENTION_HOURS", 24)?,
            result_retention_days: r.parsed("FITROOM_RESULT_RETENTION_DAYS", 0)?,
            smtp_url: r.string("FITROOM_SMTP_URL").filter(|u| !u.is_empty()),
            mail_from: r.or("FITROOM_MAIL_FROM", "Fitroom <noreply@localhost>"),
            verify_email,
            spend,
            routing_window_secs,
            routing,
            routing_explore,
            local: LocalProviderConfig {
                delay_ms: r.parsed("FITROOM_LOCAL_DELAY_MS", 2000)?,
                failure_rate: r.rate("FITROOM_LOCAL_FAILURE_RATE")?,
                webhook_copies: r.parsed("FITROOM_LOCAL_WEBHOOK_COPIES", 1)?,
                drop_rate: r.rate("FITROOM_LOCAL_DROP_RATE")?,
            },
            fetch_allow_private: r.bool("FITROOM_FETCH_ALLOW_PRIVATE")?,
            secret: r.string("FITROOM_SECRET"),
            raw: source.all(),
        })
    }

    /// A variable of a provider adapter's own (`REPLICATE_API_TOKEN`, …).
    pub fn var(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(String::as_str)
    }

    /// Cookies get `Secure` only when shoppers reach us over https.
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn no_environment_gives_the_embedded_default() {
        let config = Config::from_source(&env(&[])).expect("defaults are valid");
        assert_eq!(config.database_url, "sqlite://data/fitroom.db");
        assert_eq!(config.addr.to_string(), "127.0.0.1:3000");
        assert_eq!(config.public_url, "http://127.0.0.1:3000");
        assert_eq!(config.storage, StorageConfig::Local);
        assert_eq!(config.providers, vec!["local"]);
        assert_eq!(config.default_provider, "local");
        assert_eq!(config.signup_credits.get(), 3);
        assert_eq!(config.signup_credits_days, 7);
        assert_eq!(config.generation_cost.get(), 1);
        assert_eq!(config.max_active_jobs, 4);
        assert_eq!(config.local.delay_ms, 2000);
        assert!(!config.fetch_allow_private);
    }

    #[test]
    fn fitroom_addr_overrides_leptos_site_addr_and_sets_the_public_url() {
        let config = Config::from_source(&env(&[
            ("LEPTOS_SITE_ADDR", "127.0.0.1:4000"),
            ("FITROOM_ADDR", "127.0.0.1:5000"),
        ]))
        .expect("valid");
        assert_eq!(config.addr.port(), 5000);
        assert_eq!(config.public_url, "http://127.0.0.1:5000");
    }

    #[test]
    fn the_default_provider_must_be_enabled() {
        let err = Config::from_source(&env(&[
            ("FITROOM_PROVIDERS", "local,replicate"),
            ("FITROOM_PROVIDER", "fal"),
        ]))
        .expect_err("fal is not enabled");
        assert_eq!(err.key, "FITROOM_PROVIDER");
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        let err =
            Config::from_source(&env(&[("FITROOM_LOCAL_FAILURE_RATE", "1.5")])).expect_err("1.5");
        assert_eq!(err.key, "FITROOM_LOCAL_FAILURE_RATE");
    }

    #[test]
    fn s3_storage_needs_a_bucket() {
        let err = Config::from_source(&env(&[("FITROOM_STORAGE", "s3")])).expect_err("no bucket");
        assert_eq!(err.key, "S3_BUCKET");
    }

    #[test]
    fn a_zero_generation_cost_is_refused() {
        let err = Config::from_source(&env(&[("FITROOM_GENERATION_COST", "0")])).expect_err("free");
        assert_eq!(err.key, "FITROOM_GENERATION_COST");
    }
}
