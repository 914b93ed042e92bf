use serde::{Deserialize, Serialize};

/// A person photo the shopper kept (`GET /api/photos`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPhoto {
    pub id: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// A Fitroom URL only the owner's session can open.
    pub url: String,
}

/// A garment taken from a shop's product page (`POST /api/garments/from-url`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchedGarment {
    pub garment_id: String,
    /// A Fitroom URL only the owner's session can open.
    pub image_url: String,
    pub title: Option<String>,
}
