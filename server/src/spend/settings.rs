//! What each provider costs us and may spend: `FITROOM_PROVIDER_PRICES` (`name=usd,…`) and
//! `FITROOM_PROVIDER_BUDGETS` (`name=usd/period,…`, period `hour`, `day` or `month`, UTC
//! calendar).

use std::collections::HashMap;

use time::{Date, OffsetDateTime, Time};

use super::Usd;
use crate::clock::Timestamp;

/// A budget's calendar period, in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Period {
    Hour,
    Day,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Option<Period> {
        match text.trim().to_ascii_lowercase().as_str() {
            "hour" | "h" => Some(Period::Hour),
            "day" | "d" => Some(Period::Day),
            "month" | "mo" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Hour => "hour",
            Period::Day => "day",
            Period::Month => "month",
        }
    }

    /// The start of the period that `now` falls in.
    pub fn start(self, now: Timestamp) -> Timestamp {
        let millis = now.millis();
        match self {
            Period::Hour => Timestamp::from_millis(millis - millis.rem_euclid(3_600_000)),
            Period::Day => Timestamp::from_millis(millis - millis.rem_euclid(86_400_000)),
            Period::Month => {
                let Ok(t) = OffsetDateTime::from_unix_timestamp(millis.div_euclid(1000)) else {
                    return Timestamp::from_millis(millis - millis.rem_euclid(86_400_000));
                };
                let first = Date::from_calendar_date(t.year(), t.month(), 1)
                    .map(|d| d.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp())
                    .unwrap_or(t.unix_timestamp());
                Timestamp::from_millis(first * 1000)
            }
        }
    }
}

/// A provider's spending limit per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub limit: Usd,
    pub period: Period,
}

/// Prices and budgets per provider, as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpendSettings {
    prices: HashMap<String, Usd>,
    budgets: HashMap<String, Budget>,
}

impl SpendSettings {
    pub fn parse(prices: Option<&str>, budgets: Option<&str>) -> Result<SpendSettings, String> {
        let mut settings = SpendSettings::default();
        for (name, value) in pairs(prices.unwrap_or_default())? {
            let price = value.parse::<Usd>().map_err(|e| format!("{name}: {e}"))?;
            settings.prices.insert(name, price);
        }
        for (name, value) in pairs(budgets.unwrap_or_default())? {
            let (amount, period) = value
                .split_once('/')
                .ok_or_else(|| format!("{name}: expected usd/period, like 25/day"))?;
            let limit = amount.parse::<Usd>().map_err(|e| format!("{name}: {e}"))?;
            let period = Period::parse(period)
                .ok_or_else(|| format!("{name}: the period must be hour, day or month"))?;
            settings.budgets.insert(name, Budget { limit, period });
        }
        Ok(settings)
    }

    /// What one generation costs at `provider` (0 when no price is set).
    pub fn price(&self, provider: &str) -> Usd {
        self.prices.get(provider).copied().unwrap_or(Usd::ZERO)
    }

    pub fn budget(&self, provider: &str) -> Option<Budget> {
        self.budgets.get(provider).copied()
    }

    /// The first provider the settings name that `enabled` does not list, with the variable that
    /// names it: a misspelt name would otherwise leave its price unused or its budget unenforced
    /// without a word.
    pub fn unknown_name(&self, enabled: &[String]) -> Option<(&'static str, &str)> {
        let mut named: Vec<(&'static str, &str)> = self
            .prices
            .keys()
            .map(|name| ("FITROOM_PROVIDER_PRICES", name.as_str()))
            .chain(self.budgets.keys().map(|name| ("FITROOM_PROVIDER_BUDGETS", name.as_str())))
            .collect();
        named.sort_unstable();
        named.into_iter().find(|(_, name)| !enabled.iter().any(|e| e == name))
    }
}

fn pairs(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let (name, value) =
                item.split_once('=').ok_or_else(|| format!("{item:?}: expected name=value"))?;
            Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn prices_and_budgets_parse() {
        let s = SpendSettings::parse(
            Some("replicate=0.012, fal=0.04,local=0"),
            Some("replicate=25/day,fal=100/month,local=1/hour"),
        )
        .unwrap();
        assert_eq!(s.price("replicate"), Usd::from_micros(12_000));
        assert_eq!(s.price("fashn"), Usd::ZERO);
        assert_eq!(
            s.budget("replicate"),
            Some(Budget { limit: Usd::from_micros(25_000_000), period: Period::Day })
        );
        assert_eq!(s.budget("fal").map(|b| b.period), Some(Period::Month));
        assert_eq!(s.budget("fashn"), None);
    }

    #[test]
    fn malformed_settings_are_refused() {
        assert!(SpendSettings::parse(Some("replicate"), None).is_err());
        assert!(SpendSettings::parse(Some("replicate=-1"), None).is_err());
        assert!(SpendSettings::parse(None, Some("replicate=25")).is_err());
        assert!(SpendSettings::parse(None, Some("replicate=25/week")).is_err());
    }

    #[test]
    fn a_name_no_enabled_provider_has_is_found_with_its_variable() {
        let enabled = ["replicate".to_owned(), "fal".to_owned()];
        let fine = SpendSettings::parse(Some("replicate=0.01"), Some("fal=5/day")).unwrap();
        assert_eq!(fine.unknown_name(&enabled), None);
        let price = SpendSettings::parse(Some("replicate=0.01,replicat=0.02"), None).unwrap();
        assert_eq!(price.unknown_name(&enabled), Some(("FITROOM_PROVIDER_PRICES", "replicat")));
        let budget = SpendSettings::parse(None, Some("fashn=5/day")).unwrap();
        assert_eq!(budget.unknown_name(&enabled), Some(("FITROOM_PROVIDER_BUDGETS", "fashn")));
    }

    #[test]
    fn periods_start_on_the_utc_calendar() {
        let now = at("2026-12-04T22:07:19.500Z");
        assert_eq!(Period::Hour.start(now), at("2026-12-04T22:00:00Z"));
        assert_eq!(Period::Day.start(now), at("2026-12-04T00:00:00Z"));
        assert_eq!(Period::Month.start(now), at("2026-12-01T00:00:00Z"));
        // The last millisecond of a period is still in it; the next one starts the next.
        assert_eq!(Period::Day.start(at("2026-12-04T23:59:59.999Z")), at("2026-12-04T00:00:00Z"));
        assert_eq!(Period::Month.start(at("2027-01-01T00:00:00Z")), at("2027-01-01T00:00:00Z"));
    }
}
