use crate::db::AsRetryable;
use crate::fault::InjectedFault;
use crate::ledger::{Credits, HoldState};

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("not enough credits: {requested} requested, {available} available")]
    InsufficientCredits { requested: Credits, available: Credits },
    #[error("no such user")]
    UnknownUser,
    #[error("no such hold")]
    UnknownHold,
    #[error("no such package")]
    UnknownPackage,
    #[error("a refund is a share from 0 to all of a positive payment")]
    InvalidRefundShare,
    #[error("the hold was already {0}")]
    AlreadyResolved(HoldState),
    #[error("this idempotency key was used for a different request")]
    IdempotencyMismatch,
    #[error("a grant needs a positive number of credits")]
    NonPositiveGrant,
    #[error("a hold needs a positive number of credits")]
    NonPositiveHold,
    #[error("a package cannot expire before it is granted")]
    ExpiresInThePast,
    /// A guarded update matched no row: another transaction changed the package in between.
    /// An operation wrote before its first read took the user's lock (a bug, never input).
    #[error("ledger transaction used before it took its lock")]
    NotLocked,
    /// A text value holds a NUL character, which neither database can store.
    #[error("text values cannot contain NUL characters")]
    InvalidText,
    #[error("concurrent change detected; retry")]
    Conflict,
    #[error(transparent)]
    Fault(#[from] InjectedFault),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl AsRetryable for LedgerError {
    fn is_retryable(&self) -> bool {
        match self {
            LedgerError::Conflict => true,
            LedgerError::Database(e) => crate::db::is_retryable(e),
            _ => false,
        }
    }
}
