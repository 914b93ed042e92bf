//! `LedgerError`: why a ledger operation did not happen.
//!
//! Some errors are an invariant refusing: `InsufficientCredits` (`insufficient_credits`) is a
//! freeze that would overdraw, answered with nothing written; `AlreadyResolved` is the opposite
//! move of a hold that has already moved (the same move again is not an error: it reports the
//! first outcome); `Conflict` is a guarded write that found the state changed since it was read:
//! the transaction is rolled back and retried (`AsRetryable`).

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
    /// An operation wrote before its first read took the user's lock (a bug, never input).
    #[error("ledger transaction used before it took its lock")]
    NotLocked,
    /// A text value holds a NUL character, which neither database can store.
    #[error("text values cannot contain NUL characters")]
    InvalidText,
    /// A guarded write refused, or changed another number of rows than it must: another
    /// transaction changed the state in between.
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
