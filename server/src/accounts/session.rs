//! Server-side sessions: the cookie carries a random token, the database keeps its SHA-256, so
//! logout and expiry really end a session and several processes share them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};

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
        (value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            .then(|| SessionToken(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
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

pub async fn create(
    conn: &mut sqlx::AnyConnection,
    user: &UserId,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<SessionToken, sqlx::Error> {
    let token = SessionToken::generate();
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)",
    )
    .bind(token.hash())
    .bind(user.as_str())
    .bind(now.millis())
    .bind(now.plus_secs(policy.absolute_secs).millis())
    .execute(conn)
    .await?;
    Ok(token)
}

/// The session's user, if the session exists and has not expired (idle or absolute).
pub async fn user_of(
    db: &Db,
    token: &SessionToken,
    now: Timestamp,
    policy: SessionPolicy,
) -> Result<Option<UserId>, sqlx::Error> {
    let hash = token.hash();
    let row: Option<(String, i64, i64)> =
        sqlx::query_as("SELECT user_id, last_seen_at, expires_at FROM sessions WHERE token_hash = $1")
            .bind(&hash)
            .fetch_optional(db.pool())
            .await?;
    let Some((user, last_seen, expires_at)) = row else { return Ok(None) };
    if now.millis() >= expires_at || now.millis() >= last_seen + policy.idle_secs * 1000 {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&hash).execute(db.pool()).await?;
        return Ok(None);
    }
    if now.millis() - last_seen >= TOUCH_EVERY_MS {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now.millis())
            .bind(&hash)
            .execute(db.pool())
            .await?;
    }
    Ok(Some(UserId::from_string(user)))
}

pub async fn end(db: &Db, token: &SessionToken) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token.hash()).execute(db.pool()).await?;
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
