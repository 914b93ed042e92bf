use std::net::IpAddr;
use std::sync::Arc;

use crate::accounts::session::{self, SessionCache, SessionPolicy, SessionToken};
use crate::accounts::{Email, InvalidEmail, Password, PasswordHasher, WeakPassword};
use crate::audit::{self, AdminWrite};
use crate::clock::SharedClock;
use crate::db::{Backend, Db, with_retry};
use crate::ids::UserId;
use crate::ledger::{Credits, Grant, Ledger, LedgerError, LedgerTx};
use crate::limits::Limits;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    InvalidEmail(#[from] InvalidEmail),
    #[error(transparent)]
    WeakPassword(#[from] WeakPassword),
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("wrong email or password")]
    InvalidCredentials,
    #[error("too many sign-in attempts")]
    TooManySignIns,
    #[error("this account is suspended")]
    Suspended,
    #[error("too many sign-ups from this address")]
    TooManySignUps,
    #[error("password hashing failed: {0}")]
    Hashing(String),
    #[error("the link is unknown, used or expired")]
    InvalidToken,
    #[error("no such account")]
    NotFound,
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// The sign-up gift: `credits` that expire after `days` (0 credits: no gift).
#[derive(Clone, Copy, Debug)]
pub struct SignupGift {
    pub credits: Credits,
    pub days: i64,
}

/// Who is asking, as far as an account cares: the client's address (for the limits) and its
/// user agent (for the sessions page).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Client {
    pub addr: Option<IpAddr>,
    pub user_agent: Option<String>,
}

/// How accounts reach their owners: the mailer, the base of links, and whether addresses must
/// be verified.
#[derive(Clone)]
pub struct MailSettings {
    pub mailer: crate::mail::Mailer,
    pub public_url: String,
    pub verify: crate::accounts::VerifyEmail,
}

#[derive(Clone)]
pub struct Accounts {
    pub(crate) db: Db,
    pub(crate) ledger: Ledger,
    pub(crate) clock: SharedClock,
    pub(crate) hasher: PasswordHasher,
    pub(crate) gift: SignupGift,
    pub(crate) sessions: Arc<SessionCache>,
    pub(crate) limits: Limits,
    pub(crate) mail: Option<Arc<MailSettings>>,
    pub policy: SessionPolicy,
}

impl Accounts {
    /// Every way in (the REST API, the pages' forms, server functions) goes through `login` and
    /// `register`, so the limits in `limits` count them all.
    pub fn new(
        db: Db,
        ledger: Ledger,
        clock: SharedClock,
        gift: SignupGift,
        limits: Limits,
    ) -> Self {
        Accounts {
            db,
            ledger,
            clock,
            hasher: PasswordHasher::new(),
            gift,
            sessions: Default::default(),
            limits,
            mail: None,
            policy: SessionPolicy::default(),
        }
    }

    /// Mail for verification and password resets; without it no mail is sent.
    pub fn with_mail(mut self, settings: MailSettings) -> Self {
        self.mail = Some(Arc::new(settings));
        self
    }

    /// The sign-up package of `user`, its source unique so that it is granted once.
    pub(crate) fn signup_grant(&self, user: &UserId, now: crate::clock::Timestamp) -> Grant {
        Grant {
            user: user.clone(),
            credits: self.gift.credits,
            name: "Welcome credits".into(),
            expires_at: (self.gift.days > 0).then(|| now.plus_days(self.gift.days)),
            source: Some(format!("signup:{user}")),
        }
    }

    /// Creates the account, its sign-up package and a session, all in one transaction. Sign-ups
    /// are limited per client address: the sign-up gift must not be farmed.
    pub async fn register(
        &self,
        email: &str,
        password: String,
        client: &Client,
    ) -> Result<(User, SessionToken), AccountsError> {
        let email = Email::parse(email)?;
        let password = Password::parse(password)?;
        if let Some(ip) = client.addr
            && !self.limits.signup_by_client.allow(&ip.to_string()).await?
        {
            return Err(AccountsError::TooManySignUps);
        }
        let hash = self.hasher.hash_off_thread(password).await.map_err(AccountsError::Hashing)?;
        let id = UserId::generate();
        let now = self.clock.now();

        let mut tx = self.db.pool().begin().await?;
        // The unique index is on lower(email): one mailbox, one account, whatever the case.
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id.as_str())
        .bind(email.as_str())
        .bind(&hash)
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(AccountsError::EmailTaken);
        }
        let verify = self.verify_mode();
        let link = match verify {
            crate::accounts::VerifyEmail::Off => None,
            _ => Some(
                crate::accounts::token::issue(
                    &mut *tx,
                    &id,
                    crate::accounts::token::Purpose::VerifyEmail,
                    now,
                )
                .await?,
            ),
        };
        let mut tx = LedgerTx::begin_in(&self.ledger, tx, &id).await?;
        // With `credits`, the package waits for the verified address (`verify_email`).
        if !self.gift.credits.is_zero() && verify != crate::accounts::VerifyEmail::Credits {
            let now = tx.now()?;
            let grant = self.signup_grant(&id, now);
            self.ledger.grant_in(&mut tx, &grant).await?;
        }
        let token = session::create(tx.conn().await?, &id, now, self.policy, client).await?;
        tx.commit().await?;
        tracing::info!(user = %id, "account created");
        if let Some(link) = link {
            self.send_later(crate::mail::templates::verify_email(
                self.mail.as_ref().map_or("", |m| m.public_url.as_str()),
                email.as_str(),
                &link,
            ));
        }
        Ok((User { id, email: email.as_str().to_owned() }, token))
    }

    /// Unknown email and wrong password fail alike, after the same Argon2 work. Attempts are
    /// limited per client address and per email address; an attempt the client's limit refuses
    /// does not spend the address's budget, so one abuser cannot lock a shopper out as easily.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client: &Client,
    ) -> Result<(User, SessionToken), AccountsError> {
        let by_client = match client.addr {
            Some(ip) => self.limits.login_by_client.allow(&ip.to_string()).await?,
            None => true,
        };
        // The address's budget is spent only by attempts its client's budget let through.
        if !(by_client && self.limits.login_by_email.allow(&email.trim().to_lowercase()).await?) {
            return Err(AccountsError::TooManySignIns);
        }
        let row: Option<(String, String, String, Option<i64>)> = match Email::parse(email) {
            Ok(email) => {
                sqlx::query_as(
                    "SELECT id, email, password_hash, suspended_at FROM users \
                     WHERE lower(email) = lower($1) AND deleted_at IS NULL",
                )
                .bind(email.as_str())
                .fetch_optional(self.db.pool())
                .await?
            }
            Err(_) => None,
        };
        let stored = row.as_ref().map(|(_, _, h, _)| h.clone());
        if !self.hasher.verify_off_thread(password.to_owned(), stored).await {
            return Err(AccountsError::InvalidCredentials);
        }
        let Some((id, email, _, suspended_at)) = row else {
            return Err(AccountsError::InvalidCredentials);
        };
        // Said only to whoever knows the password: a suspension is not an account oracle.
        if suspended_at.is_some() {
            return Err(AccountsError::Suspended);
        }
        let id = UserId::from_string(id);
        // A fresh token on every sign-in: a session id planted before login is worthless after.
        let token =
            session::create(self.db.pool(), &id, self.clock.now(), self.policy, client).await?;
        // A suspension that committed while the password was checked ended every session but
        // this one, which did not exist yet. Read again now that it does. A suspension is one
        // transaction (the user row, then its sessions): on PostgreSQL this read waits for one
        // in progress (FOR SHARE against its row lock) and sees it, and one that starts after
        // the read deletes sessions after this one was committed. SQLite's single writer orders
        // the session's insert before or after the whole suspension.
        let lock = match self.db.backend() {
            Backend::Postgres => " FOR SHARE",
            Backend::Sqlite => "",
        };
        // The same goes for a deletion (which also clears `suspended_at`).
        let now: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(&format!(
            "SELECT suspended_at, deleted_at FROM users WHERE id = $1{lock}"
        ))
        .bind(id.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        let refused = match now {
            Some((None, None)) => None,
            Some((Some(_), None)) => Some(AccountsError::Suspended),
            Some((_, Some(_))) | None => Some(AccountsError::InvalidCredentials),
        };
        if let Some(refused) = refused {
            session::end(&self.db, &self.sessions, &token).await?;
            return Err(refused);
        }
        Ok((User { id, email }, token))
    }

    /// Suspends (`Some(reason)`) or unsuspends (`None`) an account for the admin of `by`; a
    /// suspension ends every session. The account, its sessions and the audit entry change in
    /// one transaction: the log never misses a suspension, nor names one that did not happen.
    /// `Ok(false)` for an unknown user.
    pub async fn set_suspended(
        &self,
        user: &UserId,
        reason: Option<&str>,
        by: &AdminWrite<'_>,
    ) -> Result<bool, AccountsError> {
        let now = self.clock.now();
        let changed = with_retry(|| async {
            let mut tx = self.db.pool().begin().await?;
            let changed = sqlx::query(
                "UPDATE users SET suspended_at = $1, suspended_reason = $2 \
                 WHERE id = $3 AND deleted_at IS NULL",
            )
            .bind(reason.map(|_| now.millis()))
            .bind(reason)
            .bind(user.as_str())
            .execute(&mut *tx)
            .await?;
            if changed.rows_affected() == 0 {
                return Ok::<_, sqlx::Error>(false);
            }
            if reason.is_some() {
                session::end_all_in(&mut *tx, user).await?;
            }
            audit::record_in(&mut tx, by, now).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await?;
        if changed && reason.is_some() {
            self.sessions.forget_all();
        }
        Ok(changed)
    }

    pub async fn logout(&self, token: &SessionToken) -> Result<(), AccountsError> {
        session::end(&self.db, &self.sessions, token).await?;
        Ok(())
    }

    pub async fn session_user(
        &self,
        token: &SessionToken,
    ) -> Result<Option<UserId>, AccountsError> {
        Ok(session::user_of(&self.db, &self.sessions, token, self.clock.now(), self.policy).await?)
    }

    pub async fn user(&self, id: &UserId) -> Result<Option<User>, AccountsError> {
        let row: Option<(String, String)> =
            sqlx::query_as("SELECT id, email FROM users WHERE id = $1")
                .bind(id.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        Ok(row.map(|(id, email)| User { id: UserId::from_string(id), email }))
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, AccountsError> {
        let Ok(email) = Email::parse(email) else { return Ok(None) };
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT id, email FROM users WHERE lower(email) = lower($1) AND deleted_at IS NULL",
        )
        .bind(email.as_str())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.map(|(id, email)| User { id: UserId::from_string(id), email }))
    }
}
