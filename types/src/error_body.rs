use serde::{Deserialize, Serialize};

/// Every error answer of the API: `{"error":{"code","message"}}` (docs/api.md, Conventions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable code such as `insufficient_credits`.
    pub code: String,
    /// Plain words for a shopper; never internal text.
    pub message: String,
}
