//! Server-side sessions: the cookie carries a random token, the database keeps its SHA-256, so
//! logout and expiry really end a session and several processes share them.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::cache::TtlCache;
use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::UserId;

pub const COOKIE_NAME: &str = "fitroom_session";

/// The secret in a shopper's cookie. Never stored: only its hash is.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(…)")
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        SessionToken(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A cookie value; anything that is not one of our tokens simply matches no session.
    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == 43
            && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| SessionToken(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.0.as_bytes()).into()
    }

    pub(crate) fn hash(&self) -> String {
        hex::encode(self.digest())
    }
}

/// How long sessions live: ended after `idle` without use, and after `absolute` in any case.
#[derive(Clone, Copy, Debug)]
pub struct SessionPolicy {
    pub idle_secs: i64,
    pub absolute_secs: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy { idle_secs: 7 * 86_400, absolute_secs: 30 * 86_400 }
    }
}

/// `last_seen_at` is written at most this often, so that polling stays a read.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

pub async fn create<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    user: &UserId,
    now: Timestamp,
    policy: SessionPolicy,
    client: &crate::accounts::Client,
) -> Result<SessionToken, sqlx::Error> {
    let token = SessionToken::generate();
    // What the sessions page shows: enough to recognise a browser, no more.
    let agent: Option<String> = client
        .user_agent
        .as_deref()
        .map(|a| a.chars().filter(|c| !c.is_control()).take(200).collect());
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, user_agent) \
         VALUES ($1, $2, $3, $3, $4, $5)",
    )
    .bind(token.hash())
    .bind(user.as_str())
    .bind(now.millis())
    .bind(now.plus_secs(policy.absolute_secs).millis())
    .bind(agent)
    .execute(conn)
    .await?;
    Ok(token)
}

/// How long this process trusts a session it read without reading it again. A sign-out handled
/// by this process ends the session here at once; one handled by another process sharing the
/// database, within this time. Expiry is always checked against the clock, cached or not.
const CACHE_TTL: Duration = Duration::from_secs(1);
const CACHE_CAPACITY: usize = 100_000;

/// A session as last read, enough to check its expiry again without the database.
#[derive(Clone)]
struct Seen {
    user: UserId,
    last_seen: i64,
    expires_at: i64,
}

impl Seen {
    /// Whether `now` is still inside the session's lifetime and needs no touch.
    fn still_valid_without_touch(&self, now: Timestamp, policy: SessionPolicy) -> bool {
        now.millis() < self.expires_at
            && now.millis() < self.last_seen + policy.idle_secs * 1000
            && now.millis() - self.last_seen < TOUCH_EVERY_MS
    }
}

/// Sessions recently read by this process, keyed by the token's digest (never the token).
pub struct SessionCache(TtlCache<[u8; 32], Seen>);

impl SessionCache {
    /// Forgets every session this process remembers (after sessions were ended in bulk).
    pub fn forget_all(&self) {
        self.0.forget_all();
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache(TtlCache::new(CACHE_TTL, CACHE_CAPACITY))
    }
}

/// The session's user, if the session exists and has not expired (idle or absolute).
pub async fn user_of(
    db: &Db,
    cache: &SessionCache,
    token: &SessionToken,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<Option<UserId>, sqlx::Error> {
    let key = token.digest();
    // Only a session that is valid without a write is answered from memory; anything that
    // would expire or touch it goes to the database.
    if let Some(seen) = cache.0.get(&key).filter(|s| s.still_valid_without_touch(now, policy)) {
        return Ok(Some(seen.user));
    }
    let epoch = cache.0.epoch();
    let hash = token.hash();
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT user_id, last_seen_at, expires_at FROM sessions WHERE token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(db.pool())
    .await?;
    let Some((user, mut last_seen, expires_at)) = row else { return Ok(None) };
    if now.millis() >= expires_at || now.millis() >= last_seen + policy.idle_secs * 1000 {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .execute(db.pool())
            .await?;
        cache.0.forget(&key);
        return Ok(None);
    }
    if now.millis() - last_seen >= TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now.millis())
            .bind(&hash)
            .execute(db.pool())
            .await?;
        last_seen = now.millis();
    }
    let user = UserId::from_string(user);
    cache.0.put(epoch, key, Seen { user: user.clone(), last_seen, expires_at });
    Ok(Some(user))
}

/// Ends every session of `user` (a suspension). Other processes' caches keep a session for at
/// most their one-second lifetime.
/// Ends every session of `user`, on the caller's transaction when given one; the caller forgets
/// the cache (`SessionCache::forget_all`) once it has committed.
pub async fn end_all_in<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    user: &UserId,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn end_all(db: &Db, cache: &SessionCache, user: &UserId) -> Result<(), sqlx::Error> {
    end_all_in(db.pool(), user).await?;
    cache.0.forget_all();
    Ok(())
}

pub async fn end(db: &Db, cache: &SessionCache, token: &SessionToken) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token.hash())
        .execute(db.pool())
        .await?;
    cache.0.forget(&token.digest());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_only_well_formed_cookies_are_considered() {
        let a = SessionToken::generate();
        assert_ne!(a, SessionToken::generate());
        assert_eq!(SessionToken::from_cookie(a.as_str()), Some(a.clone()));
        assert_eq!(SessionToken::from_cookie("forged"), None);
        assert_eq!(SessionToken::from_cookie(&format!("{}'", &a.as_str()[..42])), None);
        assert_eq!(a.hash().len(), 64);
    }
}
