//! `Credits`: a whole, non-negative number of credits.
//!
//! Keeps the lower bound of 0 ≤ consumed + held ≤ granted in the types: no amount the ledger
//! computes or reads back can be negative (reading one is a decode error). Credits are integers,
//! never floats, so what replaying the journal rebuilds is exact.

use serde::{Deserialize, Serialize};

/// A non-negative whole number of credits. Credits are integers, never floats.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Credits(i64);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a number of credits cannot be negative (got {0})")]
pub struct NegativeCredits(pub i64);

impl Credits {
    pub const ZERO: Credits = Credits(0);

    pub fn new(amount: i64) -> Result<Self, NegativeCredits> {
        if amount < 0 { Err(NegativeCredits(amount)) } else { Ok(Credits(amount)) }
    }

    pub const fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl TryFrom<i64> for Credits {
    type Error = NegativeCredits;
    fn try_from(amount: i64) -> Result<Self, Self::Error> {
        Credits::new(amount)
    }
}

impl From<Credits> for i64 {
    fn from(c: Credits) -> i64 {
        c.0
    }
}

impl std::fmt::Display for Credits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_amounts_cannot_exist() {
        assert_eq!(Credits::new(-1), Err(NegativeCredits(-1)));
        assert!(serde_json::from_str::<Credits>("-5").is_err());
        assert_eq!(serde_json::from_str::<Credits>("5").ok(), Some(Credits(5)));
    }
}
