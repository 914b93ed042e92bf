//! Provider spend as a second ledger (docs/design.md): what each provider costs us, held per task
//! while it runs and settled or released with its job; budgets per provider and UTC period that
//! hold across processes; cool-downs shared through the database; and the figures routing and the
//! operator read.

pub mod figures;
pub mod health;
pub mod routing;
mod settings;
pub mod tasks;
mod usd;
pub mod verify;

pub use settings::{Budget, Period, SpendSettings};
pub use usd::{Usd, UsdError};
