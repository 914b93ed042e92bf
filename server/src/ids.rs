//! Typed identifiers: a `HoldId` cannot be passed where a `JobId` is expected.

use serde::{Deserialize, Serialize};

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A fresh id: a prefix that says what it names, then a time-ordered UUID.
            pub fn generate() -> Self {
                $name(format!(concat!($prefix, "_{}"), uuid::Uuid::now_v7().simple()))
            }

            /// Wraps an id read from storage or from a request path (unknown ids simply match nothing).
            pub fn from_string(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A shopper's account.
    UserId, "usr"
);
id_type!(
    /// A credit package: credits granted together, with one expiry.
    PackageId, "pkg"
);
id_type!(
    /// A two-phase reservation of credits for one job.
    HoldId, "hold"
);
id_type!(
    /// A generation job.
    JobId, "job"
);
id_type!(
    /// One append-only ledger line.
    EntryId, "ent"
);
id_type!(
    /// One step in a job's timeline.
    EventId, "evt"
);
id_type!(
    /// A person photo a shopper kept to try on again.
    PhotoId, "pho"
);
id_type!(
    /// A garment picture a shopper took from a shop's product page.
    GarmentId, "gar"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_say_what_they_name() {
        let a = HoldId::generate();
        let b = HoldId::generate();
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("hold_"));
    }
}
