//! Abuse limits per key: sign-in attempts, sign-ups, password-reset requests, verification
//! mails, generation submissions. Each limit is a GCRA bucket per key (a burst of the whole
//! budget, refilled evenly over the period), kept in the database so that every process sharing
//! it counts against one budget: N processes allow the limit, not N times it. One attempt is one
//! upsert that decides and records in the same statement, so two processes counting at once
//! cannot both take the last unit. Timed by Fitroom's clock, so tests move time instead of
//! sleeping.
//!
//! GCRA keeps one number per key, the theoretical arrival time `tat`: each allowed attempt pushes
//! it `period / budget` later, and an attempt is refused when that would put it more than a
//! period ahead of now. A key whose `tat` has passed has its whole budget back, like a key never
//! seen: `prune` (run by `AppState::spawn_housekeeping`) deletes those rows.

use std::time::Duration;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;

/// One budget per key; a budget of 0 means no limit.
#[derive(Clone)]
pub struct Limit {
    /// The limit's name in `rate_limits`, so that limits sharing a key stay apart.
    scope: &'static str,
    budget: u32,
    period: Duration,
    db: Db,
    clock: SharedClock,
}

impl Limit {
    /// `budget` attempts per `period` for each key; 0 means no limit.
    pub fn new(
        scope: &'static str,
        budget: u32,
        period: Duration,
        db: Db,
        clock: SharedClock,
    ) -> Self {
        Limit { scope, budget, period, db, clock }
    }

    pub fn per_minute(scope: &'static str, budget: u32, db: Db, clock: SharedClock) -> Self {
        Self::new(scope, budget, Duration::from_secs(60), db, clock)
    }

    /// Counts one attempt for `key`; false when the key's budget is spent (the refused attempt
    /// costs nothing).
    pub async fn allow(&self, key: &str) -> Result<bool, sqlx::Error> {
        if self.budget == 0 {
            return Ok(true);
        }
        let period = i64::try_from(self.period.as_millis()).unwrap_or(i64::MAX / 4);
        let interval = (period / i64::from(self.budget)).max(1);
        let now = self.clock.now().millis();
        // `start` is when this attempt's unit would be taken: now, or later when earlier attempts
        // already took the units up to `tat`. Every SET reads the row as it was.
        let refused: i64 = crate::db::with_retry(|| {
            sqlx::query_scalar(
            "INSERT INTO rate_limits (scope, key, tat, refused) VALUES ($1, $2, $3 + $4, 0) \
             ON CONFLICT (scope, key) DO UPDATE SET \
               refused = CASE WHEN (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) \
                 + $4 - $3 > $5 THEN 1 ELSE 0 END, \
               tat = CASE WHEN (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) \
                 + $4 - $3 > $5 THEN rate_limits.tat \
                 ELSE (CASE WHEN rate_limits.tat > $3 THEN rate_limits.tat ELSE $3 END) + $4 END \
             RETURNING refused",
        )
            .bind(self.scope)
            .bind(key)
            .bind(now)
            .bind(interval)
            .bind(period)
            .fetch_one(self.db.pool())
        })
        .await?;
        Ok(refused == 0)
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
    /// Password-reset requests per address (lower-cased): a budget apart from sign-ins, so that
    /// asking for reset links never locks anyone out, and guessing passwords never stops a reset.
    pub reset_by_email: Limit,
    /// Password-reset requests per client address.
    pub reset_by_client: Limit,
    /// Verification mails a signed-in user may ask for, per hour: an account registered with
    /// someone else's address must not flood that mailbox.
    pub verification_by_user: Limit,
    /// Generation submissions per user.
    pub submit_by_user: Limit,
    db: Db,
    clock: SharedClock,
}

/// Verification mails per user per hour (`Limits::verification_by_user`).
pub const VERIFICATION_MAILS_PER_HOUR: u32 = 3;

impl Limits {
    pub fn new(config: &Config, db: &Db, clock: SharedClock) -> Self {
        let per_minute =
            |scope, budget| Limit::per_minute(scope, budget, db.clone(), clock.clone());
        let per_hour = |scope, budget| {
            Limit::new(scope, budget, Duration::from_secs(3600), db.clone(), clock.clone())
        };
        Limits {
            login_by_email: per_minute("login_by_email", config.logins_per_minute),
            login_by_client: per_minute("login_by_client", config.logins_per_minute),
            signup_by_client: per_hour("signup_by_client", config.signups_per_hour),
            reset_by_email: per_hour("reset_by_email", config.resets_per_hour),
            reset_by_client: per_hour("reset_by_client", config.resets_per_hour),
            verification_by_user: per_hour("verification_by_user", VERIFICATION_MAILS_PER_HOUR),
            submit_by_user: per_minute("submit_by_user", config.submits_per_minute),
            db: db.clone(),
            clock,
        }
    }

    /// Forgets every key whose budget is whole again; they behave exactly like unseen keys.
    pub async fn prune(&self) -> Result<u64, sqlx::Error> {
        let gone = sqlx::query("DELETE FROM rate_limits WHERE tat <= $1")
            .bind(self.clock.now().millis())
            .execute(self.db.pool())
            .await?;
        Ok(gone.rows_affected())
    }
}
