//! Single-use links mailed to an account's address (email verification, password reset): 32
//! random bytes, of which only the SHA-256 is stored; each expires and works once. Redeeming is
//! one conditional update, so two clicks racing on one link cannot both succeed.

use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::clock::Timestamp;
use crate::ids::UserId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::VerifyEmail => "verify_email",
            Purpose::PasswordReset => "password_reset",
        }
    }

    /// How long a link of this kind works.
    pub fn lifetime_secs(self) -> i64 {
        match self {
            Purpose::VerifyEmail => 48 * 3600,
            Purpose::PasswordReset => 3600,
        }
    }
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new link token for `user`; only its digest is written.
pub async fn issue<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    user: &UserId,
    purpose: Purpose,
    now: Timestamp,
) -> Result<String, sqlx::Error> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(digest(&token))
    .bind(user.as_str())
    .bind(purpose.as_str())
    .bind(now.millis())
    .bind(now.plus_secs(purpose.lifetime_secs()).millis())
    .execute(conn)
    .await?;
    Ok(token)
}

/// Uses `token` up: its user when it is known, of this purpose, unused and unexpired.
pub async fn redeem(
    conn: &mut AnyConnection,
    purpose: Purpose,
    token: &str,
    now: Timestamp,
) -> Result<Option<UserId>, sqlx::Error> {
    // Anything that is not 64 hex digits was never issued; no need to ask.
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let row: Option<(String,)> = sqlx::query_as(
        "UPDATE account_tokens SET used_at = $1 \
         WHERE token_hash = $2 AND purpose = $3 AND used_at IS NULL AND expires_at > $1 \
         RETURNING user_id",
    )
    .bind(now.millis())
    .bind(digest(&token.to_ascii_lowercase()))
    .bind(purpose.as_str())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(user,)| UserId::from_string(user)))
}

/// Every unused link of `purpose` for `user` stops working (a new password makes old reset
/// links worthless).
pub async fn revoke_all(
    conn: &mut AnyConnection,
    user: &UserId,
    purpose: Purpose,
    now: Timestamp,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE account_tokens SET used_at = $1 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(now.millis())
    .bind(user.as_str())
    .bind(purpose.as_str())
    .execute(conn)
    .await?;
    Ok(())
}
