//! In-process queues in front of each user's ledger lock.
//!
//! The database lock (`LedgerTx`) is what makes the ledger correct, across processes too. But
//! when many requests of one shopper arrive at once, each would take a pool connection and wait
//! on that lock inside the database; PostgreSQL then wakes every waiter at each commit to
//! re-check the row. Here a request first waits its turn in memory, holding nothing, so the
//! database sees at most one ledger transaction per user from this process at a time.
//!
//! SQLite takes one writer at a time for the whole database, and a writer that finds it taken
//! sleeps in SQLite's busy handler in millisecond steps (1, 2, 5, 10 ms…) whatever the
//! transaction it waits for takes. So on SQLite every user shares one gate: the next ledger
//! transaction of this process starts the moment the previous one ends, instead of when its
//! sleep ends. (Other processes and other writers still meet the busy handler.) That gate also
//! keeps the writer's connection between transactions: it skips the pool's checkout and return,
//! and keeps its page cache, which SQLite empties whenever another connection has written.
//!
//! SQLite's group commit (`batch`) is built on this gate: operations that need nothing read wait
//! for it together and commit together.
//!
//! On PostgreSQL users share a gate by the hash of their id (a fixed number of gates, nothing to
//! clean up), so two shoppers can occasionally queue behind each other here; that costs a little
//! concurrency, never correctness. A task holds at most one gate: it is taken before the transaction's
//! connection and given back when the transaction ends, and no ledger transaction opens another.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::sync::Arc;

use sqlx::AnyConnection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::db::Backend;
use crate::ids::UserId;

const GATES: usize = 1024;

pub struct Gates {
    gates: Vec<Arc<Mutex<Option<AnyConnection>>>>,
    /// SQLite's one writer: its connection stays with the gate between transactions.
    keeps_connections: bool,
}

/// A user's turn: held for the whole ledger transaction.
pub struct Turn(OwnedMutexGuard<Option<AnyConnection>>);

impl Turn {
    /// The connection the gate kept from its previous transaction, if any.
    pub fn take_kept(&mut self) -> Option<AnyConnection> {
        self.0.take()
    }

    /// Leaves a connection with no transaction open for the gate's next turn.
    pub fn keep(&mut self, conn: AnyConnection) {
        *self.0 = Some(conn);
    }
}

impl Default for Gates {
    fn default() -> Self {
        Gates::new(GATES, false)
    }
}

impl Gates {
    fn new(count: usize, keeps_connections: bool) -> Self {
        Gates {
            gates: (0..count.max(1)).map(|_| Arc::new(Mutex::new(None))).collect(),
            keeps_connections,
        }
    }

    /// The gates for a database: one for all of SQLite, keeping the writer's connection, and one
    /// per user (by hash) on PostgreSQL.
    pub fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Gates::new(1, true),
            Backend::Postgres => Gates::default(),
        }
    }

    /// Whether a gate keeps the connection of its last transaction (SQLite's single writer).
    pub fn keeps_connections(&self) -> bool {
        self.keeps_connections
    }

    pub async fn enter(&self, user: &UserId) -> Turn {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(user.as_str());
        let gate = &self.gates[(hash % self.gates.len() as u64) as usize];
        Turn(gate.clone().lock_owned().await)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_users_second_transaction_waits_for_the_first_to_end() {
        let gates = Gates::default();
        let ann = UserId::generate();
        let first = gates.enter(&ann).await;
        let second = tokio::time::timeout(Duration::from_millis(50), gates.enter(&ann)).await;
        assert!(second.is_err(), "the second turn waits while the first is held");
        drop(first);
        let second = tokio::time::timeout(Duration::from_secs(5), gates.enter(&ann)).await;
        assert!(second.is_ok(), "and goes once it ends");
    }

    #[tokio::test]
    async fn on_sqlite_every_user_queues_on_the_one_writer() {
        let gates = Gates::for_backend(Backend::Sqlite);
        let _held = gates.enter(&UserId::generate()).await;
        for _ in 0..4 {
            let other =
                tokio::time::timeout(Duration::from_millis(20), gates.enter(&UserId::generate()))
                    .await;
            assert!(other.is_err(), "another user waits for the one writer");
        }
    }

    #[tokio::test]
    async fn other_users_are_not_held_up() {
        let gates = Gates::default();
        let ann = UserId::generate();
        let _held = gates.enter(&ann).await;
        // Among a few users at least one lands on another gate; none may wait on Ann's.
        let mut passed = 0;
        for _ in 0..8 {
            let bob = UserId::generate();
            if tokio::time::timeout(Duration::from_millis(50), gates.enter(&bob)).await.is_ok() {
                passed += 1;
            }
        }
        assert!(passed >= 7, "only a user sharing Ann's gate may wait ({passed} of 8 passed)");
    }
}
