//! The credit ledger: packages with expiry, two-phase holds (freeze → settle | release), and an
//! append-only journal from which every package's state can be rebuilt.
//!
//! Every operation runs in one transaction that first bumps the user's `ledger_seq`: this row
//! write serialises one user's ledger operations on both databases (PostgreSQL row lock, SQLite
//! write lock) so that the balance check and the reservation are atomic, and it numbers the
//! entries so that replay does not depend on clocks. Conflicts are retried here. An operation
//! costs two round trips: the lock with its reads, then its writes with the commit (`script`).
//! The two the benchmark counts cost one: a freeze lets the database allocate under the lock
//! (`hold::freeze_in`), and a settle of a hold this process froze needs nothing read (`known`).

mod batch;
mod credits;
mod deadline;
mod entry;
mod error;
mod expiry;
mod gate;
mod hold;
mod known;
mod package;
mod refund;
mod script;
mod statements;
mod txn;
pub mod verify;

pub use credits::{Credits, NegativeCredits};
pub use deadline::OverdueHold;
pub use entry::{Entry, EntryKind};
pub use error::LedgerError;
pub use hold::{Allocation, FreezeRequest, Frozen, Hold, HoldState, Resolution, Resolved};
pub use package::{Balance, Grant, Package, PackageStatus};
pub use refund::{RefundShare, Refunded};
pub use txn::LedgerTx;

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
    gates: std::sync::Arc<gate::Gates>,
    known: std::sync::Arc<known::KnownHolds>,
}

impl Ledger {
    pub fn new(db: Db, clock: SharedClock) -> Self {
        Self::with_faults(db, clock, FaultPoints::default())
    }

    pub fn with_faults(db: Db, clock: SharedClock, faults: FaultPoints) -> Self {
        let gates = std::sync::Arc::new(gate::Gates::for_backend(db.backend()));
        Ledger { db, clock, faults, gates, known: Default::default() }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }
}
