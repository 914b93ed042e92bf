//! Who may use the operator console: users made admins from the command line (`fitroom admin
//! add|remove --email`). Nobody becomes an admin through the web.

use crate::audit::{self, AdminWrite};
use crate::clock::Timestamp;
use crate::db::{Db, with_retry};
use crate::ids::UserId;

/// Makes the account with `email` an admin (`true`) or takes it back (`false`), and records it in
/// the audit log in the same transaction, as done from the command line (whoever runs it has the
/// server's shell, not an account). `Ok(None)` when no account has that address (compared
/// lower-cased, like every lookup).
pub async fn set_admin(
    db: &Db,
    email: &str,
    admin: bool,
    now: Timestamp,
) -> Result<Option<UserId>, sqlx::Error> {
    with_retry(|| async {
        let mut tx = db.pool().begin().await?;
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL",
        )
        .bind(email.trim())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((id,)) = row else { return Ok(None) };
        sqlx::query("UPDATE users SET admin_since = $1 WHERE id = $2")
            .bind(admin.then_some(now.millis()))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        let write = AdminWrite {
            actor: &UserId::from_string(COMMAND_LINE.to_owned()),
            actor_email: COMMAND_LINE,
            action: if admin { "admin_add" } else { "admin_remove" },
            target: &id,
            reason: if admin { "fitroom admin add" } else { "fitroom admin remove" },
        };
        audit::record_in(&mut tx, &write, now).await?;
        tx.commit().await?;
        Ok(Some(UserId::from_string(id)))
    })
    .await
}

/// The actor the audit log names for writes made from the command line.
pub const COMMAND_LINE: &str = "command line";

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
