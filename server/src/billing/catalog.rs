use serde::{Deserialize, Serialize};

/// A package for sale.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogItem {
    pub id: String,
    pub name: String,
    pub credits: i64,
    pub valid_days: i64,
    /// In the currency's smallest unit (cents), as Stripe counts it.
    pub price: i64,
    pub currency: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub items: Vec<CatalogItem>,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read the catalog {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("catalog item {0:?} is invalid: credits, valid_days and price must be positive")]
    Invalid(String),
}

#[derive(Deserialize)]
struct CatalogFile {
    packages: Vec<CatalogItem>,
}

impl Default for Catalog {
    /// `starter` (10 credits, 30 days), `plus` (50, 90 days), `pro` (200, 365 days).
    fn default() -> Self {
        let item = |id: &str, name: &str, credits, valid_days, price| CatalogItem {
            id: id.into(),
            name: name.into(),
            credits,
            valid_days,
            price,
            currency: "usd".into(),
        };
        Catalog {
            items: vec![
                item("starter", "Starter", 10, 30, 500),
                item("plus", "Plus", 50, 90, 2000),
                item("pro", "Pro", 200, 365, 6000),
            ],
        }
    }
}

impl Catalog {
    /// The default catalog, or the TOML file named by `FITROOM_CATALOG` (`[[packages]]` tables
    /// with `id`, `name`, `credits`, `valid_days`, `price`, `currency`), which replaces it.
    pub fn load(path: Option<&str>) -> Result<Self, CatalogError> {
        let Some(path) = path else { return Ok(Catalog::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| CatalogError::Read { path: path.into(), reason: e.to_string() })?;
        let file: CatalogFile = toml::from_str(&text)
            .map_err(|e| CatalogError::Read { path: path.into(), reason: e.to_string() })?;
        for item in &file.packages {
            if item.credits <= 0 || item.valid_days <= 0 || item.price <= 0 || item.id.is_empty() {
                return Err(CatalogError::Invalid(item.id.clone()));
            }
        }
        Ok(Catalog { items: file.packages })
    }

    pub fn get(&self, id: &str) -> Option<&CatalogItem> {
        self.items.iter().find(|i| i.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_has_the_three_packages() {
        let c = Catalog::default();
        let summary: Vec<_> =
            c.items.iter().map(|i| (i.id.as_str(), i.credits, i.valid_days)).collect();
        assert_eq!(summary, vec![("starter", 10, 30), ("plus", 50, 90), ("pro", 200, 365)]);
    }

    #[test]
    fn a_catalog_file_replaces_the_defaults_and_is_validated() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("catalog.toml");
        std::fs::write(&path, "[[packages]]\nid = \"tiny\"\nname = \"Tiny\"\ncredits = 2\nvalid_days = 3\nprice = 99\ncurrency = \"eur\"\n").expect("write");
        let c = Catalog::load(path.to_str()).expect("load");
        assert_eq!(c.items.len(), 1);
        assert_eq!(c.get("tiny").map(|i| i.currency.as_str()), Some("eur"));
        std::fs::write(&path, "[[packages]]\nid = \"free\"\nname = \"Free\"\ncredits = 0\nvalid_days = 3\nprice = 99\ncurrency = \"eur\"\n").expect("write");
        assert!(matches!(Catalog::load(path.to_str()), Err(CatalogError::Invalid(_))));
    }
}
