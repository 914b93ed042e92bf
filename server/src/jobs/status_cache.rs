//! Recently read jobs, for the status endpoint that every open page polls.
//!
//! Every change this process makes to a job forgets its entry once written, so a page polling
//! this process sees its job move on at once. A change made by another process sharing the
//! database (a webhook that reached another instance) shows within `TTL`, which is shorter than
//! the page's own polling interval.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::{Epoch, TtlCache};
use crate::ids::JobId;
use crate::jobs::Job;

const TTL: Duration = Duration::from_secs(1);
const CAPACITY: usize = 100_000;

pub struct StatusCache(TtlCache<JobId, Arc<Job>>);

impl Default for StatusCache {
    fn default() -> Self {
        StatusCache(TtlCache::new(TTL, CAPACITY))
    }
}

impl StatusCache {
    pub fn get(&self, id: &JobId) -> Option<Arc<Job>> {
        self.0.get(id)
    }

    pub fn epoch(&self) -> Epoch {
        self.0.epoch()
    }

    pub fn put(&self, epoch: Epoch, job: Arc<Job>) {
        self.0.put(epoch, job.id.clone(), job);
    }

    pub fn forget(&self, id: &JobId) {
        self.0.forget(id);
    }

    pub fn forget_all(&self) {
        self.0.forget_all();
    }
}
