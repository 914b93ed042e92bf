//! The ledger's SQL engine: how an operation reaches the database, whatever it writes.
//!
//! An operation runs in one `LedgerTx`, bound to its user's lock: its first statement bumps the
//! user's `ledger_seq`, which serialises that user's ledger operations on both databases and
//! numbers the journal entries for replay (`txn`). It sends its statements as scripts, several
//! in one round trip: the lock with the reads, then the writes with the commit (`script`). Every
//! statement is written once in a catalogue and compiled once per connection (`statements`). In
//! front of the database lock, gates queue a user's operations in this process, so waiters hold
//! no connection (`gate`); on SQLite, operations that need nothing read share one commit (`batch`,
//! group commit). A hold this process froze is remembered, so settling it needs nothing read and
//! costs one round trip (`known`).

mod batch;
mod gate;
mod known;
pub(super) mod script;
pub(super) mod statements;
mod txn;

pub(super) use batch::Batches;
pub(super) use gate::Gates;
pub(super) use known::KnownHolds;
pub use txn::LedgerTx;
