use serde::{Deserialize, Serialize};

/// A shopper's credits: what they can spend and what running generations hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub available: i64,
    pub held: i64,
}

/// The part of `GET /api/me` the page reads after a generation ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    pub credits: Balance,
}
