//! An account's life after sign-up: its address verified, a forgotten password reset by mail,
//! the password changed, its sessions seen and ended. Links are single-use tokens
//! (`accounts/token.rs`); mail is sent after the transaction that issued the link commits, on a
//! task of its own, so that no answer waits on an SMTP server.

use std::net::IpAddr;

use sqlx::{AnyConnection, Row};

use crate::accounts::session::{self, SessionToken};
use crate::accounts::token::{self, Purpose};
use crate::accounts::{Accounts, AccountsError, Client, Password};
use crate::clock::Timestamp;
use crate::ids::UserId;
use crate::ledger::LedgerTx;
use crate::mail::{Mail, templates};

/// `FITROOM_VERIFY_EMAIL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifyEmail {
    /// Addresses are not checked.
    #[default]
    Off,
    /// The sign-up package is granted when the address is verified, not before.
    Credits,
    /// No generation before the address is verified.
    Required,
}

impl VerifyEmail {
    pub fn parse(text: &str) -> Option<VerifyEmail> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" => Some(VerifyEmail::Off),
            "credits" => Some(VerifyEmail::Credits),
            "required" => Some(VerifyEmail::Required),
            _ => None,
        }
    }
}

/// One of a user's sessions, as the sessions page lists it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SessionInfo {
    /// Enough of the token's digest to name the session; never the token.
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub user_agent: Option<String>,
    pub current: bool,
}

/// The length of a session's public id: a prefix of the SHA-256 of its token.
const SESSION_ID_LEN: usize = 24;

impl Accounts {
    /// Sends `mail` on a task of its own; a failure is logged (the shopper can ask again).
    pub(crate) fn send_later(&self, mail: Mail) {
        let Some(mailer) = self.mail.as_ref().map(|m| m.mailer.clone()) else {
            tracing::warn!(to = %mail.to, "no mailer: a mail was not sent");
            return;
        };
        tokio::spawn(async move {
            if let Err(e) = mailer.send(&mail).await {
                tracing::error!(error = %e, to = %mail.to, subject = %mail.subject, "sending a mail failed");
            }
        });
    }

    fn public_url(&self) -> &str {
        self.mail.as_ref().map_or("", |m| m.public_url.as_str())
    }

    pub fn verify_mode(&self) -> VerifyEmail {
        self.mail.as_ref().map_or(VerifyEmail::Off, |m| m.verify)
    }

    /// Whether the user's address was confirmed through a mailed link, whatever
    /// `FITROOM_VERIFY_EMAIL` says: with verification off it stays false until a requested link
    /// is used (the pages then do not ask for it).
    pub async fn email_verified(&self, user: &UserId) -> Result<bool, AccountsError> {
        let row: Option<(Option<i64>,)> =
            sqlx::query_as("SELECT email_verified_at FROM users WHERE id = $1")
                .bind(user.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row.is_some_and(|(at,)| at.is_some()))
    }

    /// A new verification link to the user's address, a few an hour at most
    /// (`limits::VERIFICATION_MAILS_PER_HOUR`); past that, nothing is sent and the answer is the
    /// same (202, as the contract has it, like a password reset's). Earlier links keep working
    /// until used or expired.
    pub async fn send_verification(&self, user: &UserId) -> Result<(), AccountsError> {
        let Some(account) = self.user(user).await? else { return Err(AccountsError::NotFound) };
        if self.email_verified(user).await? {
            return Ok(());
        }
        if !self.limits.verification_by_user.allow(user.as_str()).await? {
            tracing::info!(user = %user, "verification mail not sent: over the hourly limit");
            return Ok(());
        }
        let token =
            token::issue(self.db.pool(), user, Purpose::VerifyEmail, self.clock.now()).await?;
        self.send_later(templates::verify_email(self.public_url(), &account.email, &token));
        Ok(())
    }

    /// Verifies the address a link was sent to. With `FITROOM_VERIFY_EMAIL=credits` the sign-up
    /// package is granted here, in the same transaction, once (its source is unique).
    pub async fn verify_email(&self, link: &str) -> Result<UserId, AccountsError> {
        let mut tx = self.db.pool().begin().await?;
        let now = self.clock.now();
        let Some(user) = token::redeem(&mut tx, Purpose::VerifyEmail, link, now).await? else {
            return Err(AccountsError::InvalidToken);
        };
        sqlx::query(
            "UPDATE users SET email_verified_at = $1 WHERE id = $2 AND email_verified_at IS NULL",
        )
        .bind(now.millis())
        .bind(user.as_str())
        .execute(&mut *tx)
        .await?;
        if self.verify_mode() == VerifyEmail::Credits && !self.gift.credits.is_zero() {
            let mut tx = LedgerTx::begin_in(&self.ledger, tx, &user).await?;
            let now = tx.now()?;
            let grant = self.signup_grant(&user, now);
            // A second link of the same account finds the package by its source: granted once.
            self.ledger.grant_in(&mut tx, &grant).await?;
            tx.commit().await?;
        } else {
            tx.commit().await?;
        }
        tracing::info!(user = %user, "address verified");
        Ok(user)
    }

    /// Mails a reset link if an account has this address; says nothing either way, and returns
    /// before any of it happens, so the answer takes the same time for every address, mailed or
    /// not. Requests have budgets of their own, per client address and then per address
    /// (`FITROOM_RESETS_PER_HOUR`): they never spend the sign-in budget, so asking for links
    /// cannot lock a shopper out, and someone guessing the password cannot stop a reset.
    pub fn request_password_reset(&self, email: &str, client: &Client) {
        let accounts = self.clone();
        let email = email.trim().to_owned();
        let client = client.addr;
        tokio::spawn(async move {
            match accounts.reset_allowed(&email, client).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!("password reset requests came too fast: no mail");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a password reset request failed");
                    return;
                }
            }
            let result = async {
                let Some(user) = accounts.user_by_email(&email).await? else {
                    return Ok::<_, AccountsError>(());
                };
                let now = accounts.clock.now();
                let token =
                    token::issue(accounts.db.pool(), &user.id, Purpose::PasswordReset, now).await?;
                accounts.send_later(templates::password_reset(
                    accounts.public_url(),
                    &user.email,
                    &token,
                ));
                Ok(())
            }
            .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "a password reset request failed");
            }
        });
    }

    /// Whether a reset request fits its budgets. A request the client's budget refuses does not
    /// spend the address's, as with sign-ins.
    async fn reset_allowed(
        &self,
        email: &str,
        client: Option<IpAddr>,
    ) -> Result<bool, sqlx::Error> {
        if let Some(ip) = client
            && !self.limits.reset_by_client.allow(&ip.to_string()).await?
        {
            return Ok(false);
        }
        self.limits.reset_by_email.allow(&email.to_lowercase()).await
    }

    /// Sets a new password through a reset link: the link is used up, every other reset link of
    /// the account stops working, and every session ends.
    pub async fn reset_password(
        &self,
        link: &str,
        password: String,
    ) -> Result<UserId, AccountsError> {
        let password = Password::parse(password)?;
        let hash = self.hasher.hash_off_thread(password).await.map_err(AccountsError::Hashing)?;
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        let Some(user) = token::redeem(&mut tx, Purpose::PasswordReset, link, now).await? else {
            return Err(AccountsError::InvalidToken);
        };
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        token::revoke_all(&mut tx, &user, Purpose::PasswordReset, now).await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.sessions.forget_all();
        tracing::info!(user = %user, "password reset through a mailed link");
        Ok(user)
    }

    /// Changes the password of a signed-in user who knows the current one; every other session
    /// ends, this one stays.
    pub async fn change_password(
        &self,
        user: &UserId,
        current: &str,
        new: String,
        keep: &SessionToken,
    ) -> Result<(), AccountsError> {
        let new = Password::parse(new)?;
        self.confirm_password(user, current).await?;
        let hash = self.hasher.hash_off_thread(new).await.map_err(AccountsError::Hashing)?;
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(&hash)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user.as_str())
            .bind(keep.hash())
            .execute(&mut *tx)
            .await?;
        token::revoke_all(&mut tx, user, Purpose::PasswordReset, self.clock.now()).await?;
        tx.commit().await?;
        self.sessions.forget_all();
        Ok(())
    }

    /// The user's live sessions, newest first; `current` marks the one asking. A session past
    /// its absolute or its idle limit is not listed: `session::user_of` would refuse it.
    pub async fn list_sessions(
        &self,
        user: &UserId,
        current: &SessionToken,
    ) -> Result<Vec<SessionInfo>, AccountsError> {
        let now = self.clock.now();
        let rows = sqlx::query(
            "SELECT token_hash, created_at, last_seen_at, user_agent FROM sessions \
             WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3 \
             ORDER BY created_at DESC",
        )
        .bind(user.as_str())
        .bind(now.millis())
        .bind(now.plus_secs(-self.policy.idle_secs).millis())
        .fetch_all(self.db.pool())
        .await?;
        let mine = current.hash();
        rows.iter()
            .map(|row| {
                let hash: String = row.try_get("token_hash")?;
                let at = |column: &str| {
                    row.try_get::<i64, _>(column)
                        .map(|ms| crate::clock::Timestamp::from_millis(ms).to_rfc3339())
                };
                Ok(SessionInfo {
                    id: hash.get(..SESSION_ID_LEN).unwrap_or(&hash).to_owned(),
                    created_at: at("created_at")?,
                    last_seen_at: at("last_seen_at")?,
                    user_agent: row.try_get("user_agent")?,
                    current: hash == mine,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }

    /// Ends one of the user's sessions by its public id; `Ok(false)` when there is none.
    pub async fn end_session(&self, user: &UserId, id: &str) -> Result<bool, AccountsError> {
        if id.len() != SESSION_ID_LEN || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(false);
        }
        let ended = sqlx::query(
            "DELETE FROM sessions WHERE user_id = $1 AND substr(token_hash, 1, 24) = $2",
        )
        .bind(user.as_str())
        .bind(id.to_ascii_lowercase())
        .execute(self.db.pool())
        .await?
        .rows_affected();
        self.sessions.forget_all();
        Ok(ended > 0)
    }

    /// Every session of the user ends, the asking one too.
    pub async fn end_every_session(&self, user: &UserId) -> Result<(), AccountsError> {
        session::end_all(&self.db, &self.sessions, user).await?;
        Ok(())
    }

    /// The password check of a signed-in user (changing the password, deleting the account).
    /// Each check spends the sign-in budget of the account's address, like a sign-in: a stolen
    /// session cookie is no way around the limit on guessing the password.
    pub async fn confirm_password(
        &self,
        user: &UserId,
        password: &str,
    ) -> Result<(), AccountsError> {
        let stored: Option<(String, String)> = sqlx::query_as(
            "SELECT email, password_hash FROM users WHERE id = $1 AND deleted_at IS NULL",
        )
        .bind(user.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        if let Some((email, _)) = &stored
            && !self.limits.login_by_email.allow(&email.to_lowercase()).await?
        {
            return Err(AccountsError::TooManySignIns);
        }
        if self.hasher.verify_off_thread(password.to_owned(), stored.map(|(_, h)| h)).await {
            Ok(())
        } else {
            Err(AccountsError::InvalidCredentials)
        }
    }
}

/// What is left of a deleted account, on the caller's transaction: its id (ledger rows name it)
/// and nothing that says whose it was. The address is free to register again; every session and
/// link ends (the caller forgets cached sessions once it has committed). `NotFound` for an
/// account that is unknown or already deleted.
pub async fn anonymize_in(
    conn: &mut AnyConnection,
    user: &UserId,
    now: Timestamp,
) -> Result<(), AccountsError> {
    let changed = sqlx::query(
        "UPDATE users SET email = $1, password_hash = '!', deleted_at = $2, email_verified_at = NULL, \
         admin_since = NULL, suspended_at = NULL, suspended_reason = NULL \
         WHERE id = $3 AND deleted_at IS NULL",
    )
    .bind(format!("deleted-{user}@deleted.invalid"))
    .bind(now.millis())
    .bind(user.as_str())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(AccountsError::NotFound);
    }
    for table in ["sessions", "account_tokens"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
            .bind(user.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
