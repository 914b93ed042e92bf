//! The credit ledger: packages with expiry, two-phase holds (freeze → settle | release), and an
//! append-only journal from which every package's state can be rebuilt.
//!
//! The modules here are the ledger's rules, each naming the invariants it keeps: `package`
//! (grants, balances, the consumption order), `hold` (freeze, settle, release), `expiry`,
//! `refund`, `dispute` (chargebacks), `entry` (the journal), `credits` and `error`; `verify` checks every invariant over a
//! whole database. How an operation reaches the database (the user's lock, scripts of
//! statements, the statement catalogue, queues and group commit) is `engine`'s.
//!
//! Every operation runs in one transaction that first takes its user's lock, so that the balance
//! check and the reservation are atomic; conflicts are retried here (`with_retry`). An operation
//! costs two round trips: the lock with its reads, then its writes with the commit. The two the
//! benchmark counts cost one: a freeze lets the database allocate under the lock
//! (`hold::freeze_in`), and a settle of a hold this process froze needs nothing read
//! (`engine::known`).

mod credits;
mod deadline;
mod dispute;
mod engine;
mod entry;
mod error;
mod expiry;
mod hold;
mod package;
mod refund;
pub mod verify;
mod view;

pub use credits::{Credits, NegativeCredits};
pub use deadline::OverdueHold;
pub use dispute::DisputeClosed;
pub use engine::LedgerTx;
pub use entry::{Entry, EntryKind};
pub use error::LedgerError;
pub use hold::{Allocation, FreezeRequest, Frozen, Hold, HoldState, Resolution, Resolved};
pub use package::{Balance, Grant, Package, PackageStatus};
pub use refund::{RefundOutcome, RefundShare, Refunded};

use crate::clock::SharedClock;
use crate::db::Db;
use crate::fault::FaultPoints;

/// The fault points of the ledger's multi-row operations, for the fault-injection tests.
pub const FAULT_POINTS: &[&str] = &[
    "grant:after_package",
    "freeze:after_package_update",
    "freeze:after_hold",
    "freeze:after_entries",
    "resolve:after_package_update",
    "resolve:after_entries",
    "resolve:after_hold_update",
    "expire:after_package_update",
    "refund:after_target",
    "refund:after_package_update",
];

#[derive(Clone)]
pub struct Ledger {
    db: Db,
    clock: SharedClock,
    faults: FaultPoints,
    gates: std::sync::Arc<engine::Gates>,
    batches: Option<std::sync::Arc<engine::Batches>>,
    known: std::sync::Arc<engine::KnownHolds>,
}

impl Ledger {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self::with_faults(db, clock, FaultPoints::default())
    }

    pub fn with_faults(db: Db, clock: SharedClock, faults: FaultPoints) -> Self {
        let gates = engine::Gates::for_backend(db.backend());
        let batches = engine::Batches::for_gates(&gates).map(std::sync::Arc::new);
        Ledger {
            db,
            clock,
            faults,
            gates: std::sync::Arc::new(gates),
            batches,
            known: Default::default(),
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}
