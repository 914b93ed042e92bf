//! Recently read jobs, for the status endpoint that every open page polls.
//!
//! Every change this process makes to a job forgets its entry once written, so a page polling
//! this process sees its job move on at once. A change made by another process sharing the
//! database (a webhook that reached another instance) shows within `TTL`, which is shorter than
//! the page's own polling interval.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::TtlCache;
use crate::ids::JobId;
use crate::jobs::Job;

const TTL: Duration = Duration::from_secs(1);
const CAPACITY: usize = 100_000;

pub type StatusCache = TtlCache<JobId, Arc<Job>>;

pub fn new() -> StatusCache {
    TtlCache::new(TTL, CAPACITY)
}
