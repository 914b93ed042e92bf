//! Holds this process froze, remembered from the commit that created them.
//!
//! What a hold reserved never changes after its freeze: its owner and its allocations. So an
//! operation on a hold this process froze need not read them back. Settling such a hold sends its
//! lock, its writes and its commit in one round trip (`Ledger::resolve_in`); the writes are
//! guarded (a hold no longer open, a package holding less than the allocation: the database
//! refuses the statement and nothing is committed), and the journal entry's foreign key refuses
//! a hold that does not exist. A hold is remembered only once its freeze has committed, and is
//! forgotten at the first attempt to resolve it: a retry, a replay or any later resolution reads
//! the database as before. Entries go after an hour, or when the cache is full.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::TtlCache;
use crate::ids::{HoldId, JobId, UserId};
use crate::ledger::{Allocation, Hold};

#[derive(Debug)]
pub struct KnownHold {
    pub user: UserId,
    pub job: JobId,
    pub allocations: Vec<Allocation>,
}

pub struct KnownHolds(TtlCache<HoldId, Arc<KnownHold>>);

impl Default for KnownHolds {
    fn default() -> Self {
        KnownHolds(TtlCache::new(Duration::from_secs(3600), 100_000))
    }
}

impl KnownHolds {
    /// Call only after the transaction that created the hold has committed.
    pub fn remember(&self, hold: &Hold) {
        let known = KnownHold {
            user: hold.user.clone(),
            job: hold.job.clone(),
            allocations: hold.allocations.clone(),
        };
        self.0.put(self.0.epoch(), hold.id.clone(), Arc::new(known));
    }

    /// Whose gate an operation that knows only the hold queues on (a hold never changes owner).
    pub fn owner_of(&self, hold: &HoldId) -> Option<UserId> {
        self.0.get(hold).map(|known| known.user.clone())
    }

    /// The hold's facts, forgotten as they are handed out: they serve one resolution attempt.
    pub fn take(&self, hold: &HoldId) -> Option<Arc<KnownHold>> {
        let known = self.0.get(hold)?;
        self.0.forget(hold);
        Some(known)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Timestamp;
    use crate::ids::PackageId;
    use crate::ledger::{Credits, HoldState};

    fn hold() -> Hold {
        Hold {
            id: HoldId::generate(),
            user: UserId::generate(),
            job: JobId::generate(),
            amount: Credits::new(2).unwrap_or_default(),
            state: HoldState::Open,
            allocations: vec![Allocation {
                package: PackageId::generate(),
                amount: Credits::new(2).unwrap_or_default(),
            }],
            created_at: Timestamp::from_millis(0),
            deadline_at: Timestamp::from_millis(1),
        }
    }

    #[test]
    fn a_remembered_hold_serves_one_resolution_and_its_owner_until_then() {
        let known = KnownHolds::default();
        let h = hold();
        known.remember(&h);
        assert_eq!(known.owner_of(&h.id), Some(h.user.clone()));
        let taken = known.take(&h.id).expect("remembered");
        assert_eq!(taken.allocations, h.allocations);
        assert!(known.take(&h.id).is_none(), "a second attempt reads the database");
        assert!(known.owner_of(&h.id).is_none());
    }
}
