use serde::{Deserialize, Serialize};

/// A credit package as `GET /api/credits` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    pub id: String,
    pub name: String,
    pub granted: i64,
    pub remaining: i64,
    pub held: i64,
    pub granted_at: String,
    pub expires_at: Option<String>,
    /// `active`, `used_up` or `expired`.
    pub status: String,
}

/// One line of a shopper's ledger as `GET /api/credits/ledger` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    pub id: String,
    pub at: String,
    pub kind: String,
    pub amount: i64,
    pub package_id: Option<String>,
    pub hold_id: Option<String>,
    pub job_id: Option<String>,
}
