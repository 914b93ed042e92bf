//! A shopper's rights over their data (docs/api.md, Accounts lifecycle and privacy): a copy of
//! everything Fitroom keeps about them (`export`), and erasure (`deletion`).

pub mod deletion;
pub mod erasure;
pub mod export;

use crate::accounts::AccountsError;
use crate::jobs::JobError;
use crate::ledger::LedgerError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum PrivacyError {
    #[error(transparent)]
    Accounts(#[from] AccountsError),
    #[error(transparent)]
    Jobs(#[from] JobError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Photos(#[from] crate::photos::PhotoError),
    #[error(transparent)]
    Garments(#[from] crate::garments::GarmentError),
    #[error("writing the export failed: {0}")]
    Export(String),
    #[error("every export slot is taken")]
    ExportsBusy,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Fault(#[from] crate::fault::InjectedFault),
}
