//! An amount of US dollars in millionths: what providers charge per task is often a fraction of a
//! cent, and money is never a float in storage.

use std::fmt;
use std::str::FromStr;

/// Stored and serialised as whole millionths.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(transparent)]
pub struct Usd(i64);

const MICROS: i64 = 1_000_000;

impl Usd {
    pub const ZERO: Usd = Usd(0);

    pub fn from_micros(micros: i64) -> Usd {
        Usd(micros)
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    /// For JSON and metrics, where the API promises a number; never stored.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / MICROS as f64
    }

    /// `seconds` of compute at `self` per second, to the nearest millionth; `None` for a
    /// negative or unreadable duration.
    pub fn per_second_for(self, seconds: f64) -> Option<Usd> {
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Usd((self.0 as f64 * seconds).round() as i64))
    }

    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("expected an amount of US dollars like 0.012 (at most 6 decimals, not negative)")]
pub struct UsdError;

impl FromStr for Usd {
    type Err = UsdError;

    /// `0.012`, `25`, `$1.50`: exact decimal parsing, no float on the way.
    fn from_str(text: &str) -> Result<Usd, UsdError> {
        let text = text.trim();
        let text = text.strip_prefix('$').unwrap_or(text);
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !digits(whole)
            || !digits(fraction)
            || fraction.len() > 6
            || whole.len() > 12
        {
            return Err(UsdError);
        }
        let whole: i64 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| UsdError)? };
        let fraction: i64 = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<6}").parse().map_err(|_| UsdError)?
        };
        Ok(Usd(whole * MICROS + fraction))
    }
}

impl fmt::Display for Usd {
    /// `$0.012`, `$25`, `$1.5`: as many decimals as the amount needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (whole, fraction) = (abs / MICROS as u64, abs % MICROS as u64);
        if fraction == 0 {
            write!(f, "{sign}${whole}")
        } else {
            let fraction = format!("{fraction:06}");
            write!(f, "{sign}${whole}.{}", fraction.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_exactly() {
        assert_eq!("0.012".parse::<Usd>(), Ok(Usd(12_000)));
        assert_eq!("25".parse::<Usd>(), Ok(Usd(25_000_000)));
        assert_eq!("$1.5".parse::<Usd>(), Ok(Usd(1_500_000)));
        assert_eq!(".5".parse::<Usd>(), Ok(Usd(500_000)));
        assert_eq!("0.000001".parse::<Usd>(), Ok(Usd(1)));
    }

    #[test]
    fn nonsense_is_refused() {
        for bad in ["", ".", "-1", "1.0000001", "1e3", "abc", "1.2.3", "nan"] {
            assert_eq!(bad.parse::<Usd>(), Err(UsdError), "{bad:?}");
        }
    }

    #[test]
    fn compute_time_is_priced_to_the_millionth() {
        let per_second: Usd = "0.0014".parse().unwrap();
        assert_eq!(per_second.per_second_for(2.5), Some(Usd(3_500)));
        assert_eq!(per_second.per_second_for(-1.0), None);
        assert_eq!(per_second.per_second_for(f64::NAN), None);
    }

    #[test]
    fn amounts_print_with_the_decimals_they_need() {
        assert_eq!(Usd(12_000).to_string(), "$0.012");
        assert_eq!(Usd(25_000_000).to_string(), "$25");
        assert_eq!(Usd(1_500_000).to_string(), "$1.5");
        assert_eq!(Usd(12_000).as_f64(), 0.012);
    }
}
