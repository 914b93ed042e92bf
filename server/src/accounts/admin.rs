//! Who may use the operator console: users made admins from the command line (`fitroom admin
//! add|remove --email`). Nobody becomes an admin through the web.

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::UserId;

/// Makes the account with `email` an admin (`true`) or takes it back (`false`). `Ok(None)` when
/// no account has that address (compared lower-cased, like every lookup).
pub async fn set_admin(
    db: &Db,
    email: &str,
    admin: bool,
    now: Timestamp,
) -> Result<Option<UserId>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM users WHERE lower(email) = lower($1)")
            .bind(email.trim())
            .fetch_optional(db.pool())
            .await?;
    let Some((id,)) = row else { return Ok(None) };
    sqlx::query("UPDATE users SET admin_since = $1 WHERE id = $2")
        .bind(admin.then_some(now.millis()))
        .bind(&id)
        .execute(db.pool())
        .await?;
    Ok(Some(UserId::from_string(id)))
}

pub async fn is_admin(db: &Db, user: &UserId) -> Result<bool, sqlx::Error> {
    Ok(admin_email(db, user).await?.is_some())
}

/// The admin's address, in the one read the console's guard needs; `None` for anyone who is not
/// an admin.
pub async fn admin_email(db: &Db, user: &UserId) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String, Option<i64>)> =
        sqlx::query_as("SELECT email, admin_since FROM users WHERE id = $1")
            .bind(user.as_str())
            .fetch_optional(db.pool())
            .await?;
    Ok(row.and_then(|(email, since)| since.map(|_| email)))
}
