//! Abuse limits per key: sign-in attempts, sign-ups, generation submissions. Each limit is a GCRA bucket
//! per key from `governor` (a burst of the whole budget, refilled evenly over the period), timed
//! by Fitroom's clock so tests move time instead of sleeping.
//!
//! Kept in the process: with several processes each enforces its own budget, which bounds the
//! total at N × the limit. Memory stays bounded without scanning on the request path: `prune`
//! (run by `AppState::spawn_housekeeping`) drops keys whose bucket is full again, shard by shard.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::Clock as GovernorClock;
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::clock::SharedClock;
use crate::config::Config;

/// Fitroom's clock as `governor` reads time: the offset since the epoch.
#[derive(Clone)]
struct LimitClock(SharedClock);

impl GovernorClock for LimitClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now().millis()).unwrap_or(0))
    }
}

type Buckets = RateLimiter<String, DashMapStateStore<String>, LimitClock, NoOpMiddleware<Duration>>;

/// One budget per key; `None` inside means no limit (a configured 0).
#[derive(Clone)]
pub struct Limit(Option<Arc<Buckets>>);

impl Limit {
    /// `budget` attempts per `period` for each key; 0 means no limit.
    pub fn new(budget: u32, period: Duration, clock: SharedClock) -> Self {
        let quota = NonZeroU32::new(budget)
            .and_then(|n| Quota::with_period(period / n.get()).map(|q| q.allow_burst(n)));
        Limit(quota.map(|q| {
            Arc::new(RateLimiter::new(q, DashMapStateStore::default(), LimitClock(clock)))
        }))
    }

    pub fn per_minute(budget: u32, clock: SharedClock) -> Self {
        Self::new(budget, Duration::from_secs(60), clock)
    }

    /// Counts one attempt for `key`; false when the key's budget is spent.
    pub fn allow(&self, key: &str) -> bool {
        self.0.as_ref().is_none_or(|b| b.check_key(&key.to_owned()).is_ok())
    }

    /// Forgets keys whose budget is whole again: they behave exactly like unseen keys.
    pub fn prune(&self) {
        if let Some(b) = &self.0 {
            b.retain_recent();
            b.shrink_to_fit();
        }
    }

    /// Keys currently remembered.
    pub fn keys(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.len())
    }
}

/// Every limit of the process, built from the configuration.
#[derive(Clone)]
pub struct Limits {
    /// Sign-in attempts per address (lower-cased).
    pub login_by_email: Limit,
    /// Sign-in attempts per client address.
    pub login_by_client: Limit,
    /// Sign-ups per client address, per hour: the sign-up gift must not be farmed.
    pub signup_by_client: Limit,
    /// Generation submissions per user.
    pub submit_by_user: Limit,
}

impl Limits {
    pub fn new(config: &Config, clock: SharedClock) -> Self {
        Limits {
            login_by_email: Limit::per_minute(config.logins_per_minute, clock.clone()),
            login_by_client: Limit::per_minute(config.logins_per_minute, clock.clone()),
            signup_by_client: Limit::new(
                config.signups_per_hour,
                Duration::from_secs(3600),
                clock.clone(),
            ),
            submit_by_user: Limit::per_minute(config.submits_per_minute, clock),
        }
    }

    pub fn prune(&self) {
        for limit in [
            &self.login_by_email,
            &self.login_by_client,
            &self.signup_by_client,
            &self.submit_by_user,
        ] {
            limit.prune();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{ManualClock, Timestamp};

    fn clock() -> (Arc<ManualClock>, SharedClock) {
        let manual = Arc::new(ManualClock::at(Timestamp::from_millis(1_700_000_000_000)));
        (manual.clone(), manual)
    }

    #[test]
    fn a_key_gets_its_budget_and_it_refills_over_the_period() {
        let (manual, clock) = clock();
        let limit = Limit::per_minute(3, clock);
        assert!((0..3).all(|_| limit.allow("k")));
        assert!(!limit.allow("k"));
        assert!(limit.allow("other"), "keys are independent");
        manual.advance_millis(20_000);
        assert!(limit.allow("k"), "a third of a minute gives one attempt back");
        assert!(!limit.allow("k"));
        manual.advance_millis(60_000);
        assert!((0..3).all(|_| limit.allow("k")), "a minute later the whole budget is back");
    }

    #[test]
    fn zero_means_no_limit() {
        let (_, clock) = clock();
        let limit = Limit::per_minute(0, clock);
        assert!((0..1000).all(|_| limit.allow("free")));
        assert_eq!(limit.keys(), 0);
    }

    #[test]
    fn pruning_forgets_only_keys_whose_budget_is_whole_again() {
        let (manual, clock) = clock();
        let limit = Limit::per_minute(2, clock);
        for i in 0..1000 {
            limit.allow(&format!("client-{i}"));
        }
        manual.advance_millis(90_000);
        assert!(limit.allow("busy") && limit.allow("busy"));
        assert!(!limit.allow("busy"));
        limit.prune();
        assert!(limit.keys() < 1000, "{} keys kept", limit.keys());
        assert!(!limit.allow("busy"), "a key still over its budget is remembered");
    }
}
