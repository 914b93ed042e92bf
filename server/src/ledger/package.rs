//! Packages: grants, balances, and the order in which a user's credits are spent.
//!
//! Invariants kept here:
//! - Per package 0 ≤ consumed + held ≤ granted: a grant creates a package of a positive number of
//!   credits with nothing consumed or held; from then on only holds, expiry and refunds change it,
//!   under the table's CHECK (consumed + held + expired + refunded ≤ granted). `remaining` and the
//!   balance count what is left of that.
//! - The consumption order: active packages by `expires_at` ascending, never-expiring last, ties
//!   by grant time (`consumption_key`; `FREEZE_ALLOCATE` states the same order in SQL, and
//!   `verify` holds every freeze to it).
//! - A grant appends its `grant` entry in the same transaction; a source already granted is
//!   answered with its package and writes nothing.
//! - Credits held in a package that has since expired still count as held: they still settle.

use serde::Serialize;
use sqlx::Row;

use crate::clock::Timestamp;
use crate::db::with_retry;
use crate::ids::{PackageId, UserId};
use crate::ledger::engine::script::Script;
use crate::ledger::engine::statements::{INSERT_PACKAGE, PACKAGE_BY_SOURCE};
use crate::ledger::{Credits, EntryKind, Ledger, LedgerError, LedgerTx};

/// A request to give a user credits.
#[derive(Clone, Debug)]
pub struct Grant {
    pub user: UserId,
    pub credits: Credits,
    pub name: String,
    /// `None`: never expires.
    pub expires_at: Option<Timestamp>,
    /// What the grant fulfils (`signup`, `stripe:cs_…`): the same source is granted only once.
    pub source: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageStatus {
    Active,
    Depleted,
    Expired,
}

impl PackageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PackageStatus::Active => "active",
            PackageStatus::Depleted => "depleted",
            PackageStatus::Expired => "expired",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub id: PackageId,
    pub user: UserId,
    pub name: String,
    pub granted: Credits,
    pub consumed: Credits,
    pub held: Credits,
    pub expired: Credits,
    pub granted_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub source: Option<String>,
    /// The payment that bought it (`stripe:pi_…`): what a refund names.
    pub payment: Option<String>,
    /// Credits the package's refunds ask back; `refunded` of them are taken back so far.
    pub refund_target: Credits,
    pub refunded: Credits,
}

impl Package {
    /// granted − consumed − held, as docs/api.md (Credits) defines it, less what refunds took back: those credits
    /// are gone, so a fully refunded package reads `remaining` 0 and `depleted`.
    pub fn remaining(&self) -> Credits {
        Credits::new(
            self.granted.get() - self.consumed.get() - self.held.get() - self.refunded.get(),
        )
        .unwrap_or_default()
    }

    pub fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    pub fn status_at(&self, now: Timestamp) -> PackageStatus {
        if self.is_expired_at(now) {
            PackageStatus::Expired
        } else if self.remaining().is_zero() {
            PackageStatus::Depleted
        } else {
            PackageStatus::Active
        }
    }
}

/// What the account page and `GET /api/credits` show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Balance {
    pub available: Credits,
    pub held: Credits,
    /// Active ones in consumption order, then depleted and expired ones, newest first.
    pub packages: Vec<Package>,
    pub now: Timestamp,
}

pub(crate) type PackageRow = (
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

pub(crate) const PACKAGE_COLUMNS: &str = "id, user_id, name, granted, consumed, held, expired, granted_at, \
     expires_at, source, payment, refund_target, refunded";

fn credits(value: i64) -> Result<Credits, LedgerError> {
    Credits::new(value).map_err(|e| LedgerError::Database(sqlx::Error::Decode(Box::new(e))))
}

impl Package {
    pub(crate) fn from_row(row: PackageRow) -> Result<Self, LedgerError> {
        let (
            id,
            user,
            name,
            granted,
            consumed,
            held,
            expired,
            granted_at,
            expires_at,
            source,
            payment,
            refund_target,
            refunded,
        ) = row;
        Ok(Package {
            id: PackageId::from_string(id),
            user: UserId::from_string(user),
            name,
            granted: credits(granted)?,
            consumed: credits(consumed)?,
            held: credits(held)?,
            expired: credits(expired)?,
            granted_at: Timestamp::from_millis(granted_at),
            expires_at: expires_at.map(Timestamp::from_millis),
            source,
            payment,
            refund_target: credits(refund_target)?,
            refunded: credits(refunded)?,
        })
    }
}

/// Sorts packages for display: the consumption order first, then the finished ones newest first.
pub fn display_order(packages: &mut [Package], now: Timestamp) {
    packages.sort_by(|a, b| {
        let a_active = a.status_at(now) == PackageStatus::Active;
        let b_active = b.status_at(now) == PackageStatus::Active;
        match (a_active, b_active) {
            (true, true) => consumption_key(a).cmp(&consumption_key(b)),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => (b.granted_at, &b.id).cmp(&(a.granted_at, &a.id)),
        }
    });
}

/// First-expiring-first, never-expiring last, ties by grant time (then id, to be total).
pub fn consumption_key(p: &Package) -> (bool, i64, Timestamp, &PackageId) {
    (p.expires_at.is_none(), p.expires_at.map_or(0, Timestamp::millis), p.granted_at, &p.id)
}

impl Ledger {
    /// Creates a package and its `grant` entry. A grant with a `source` already granted returns
    /// the existing package and writes nothing.
    pub async fn grant(&self, grant: &Grant) -> Result<PackageId, LedgerError> {
        self.grant_paid(grant, None).await
    }

    /// `grant`, also recording the payment that bought the package (`stripe:pi_…`) so that a
    /// refund of that payment finds it. A refund of that payment that arrived first is applied
    /// in the same transaction as the grant: the credits it takes back are never spendable.
    pub async fn grant_paid(
        &self,
        grant: &Grant,
        payment: Option<&str>,
    ) -> Result<PackageId, LedgerError> {
        if grant.credits.is_zero() {
            return Err(LedgerError::NonPositiveGrant);
        }
        let (id, clawed_back) = with_retry(|| async {
            let mut tx = LedgerTx::begin(self, &grant.user).await?;
            let result = async {
                let id = self.grant_in(&mut tx, grant).await?;
                let mut clawed_back = false;
                if let Some(payment) = payment {
                    self.record_payment_in(&mut tx, &id, payment)?;
                    // `conn` writes the package first, so the refund below reads it.
                    if let Some(share) = Ledger::kept_refund(tx.conn().await?, payment).await? {
                        self.refund_in(&mut tx, &grant.user, &id, share).await?;
                        clawed_back = true;
                    }
                }
                Ok::<_, LedgerError>((id, clawed_back))
            }
            .await;
            tx.end(result).await
        })
        .await?;
        // A refund kept while this grant ran could not be seen inside it (see
        // `refund_payment`): look again now that the package is committed.
        if let Some(payment) = payment.filter(|_| !clawed_back)
            && let Some(share) = Ledger::kept_refund(self.db.pool(), payment).await?
        {
            self.refund_payment(payment, share).await?;
        }
        Ok(id)
    }

    pub async fn grant_in(
        &self,
        tx: &mut LedgerTx,
        grant: &Grant,
    ) -> Result<PackageId, LedgerError> {
        let mut reads = Script::new();
        let by_source =
            grant.source.as_deref().map(|source| reads.push(&PACKAGE_BY_SOURCE, [source.into()]));
        let results = tx.read(reads).await?;
        if let Some(row) = by_source.and_then(|i| results.rows(i).first()) {
            return Ok(PackageId::from_string(row.try_get::<String, _>(0)?));
        }
        let now = tx.now()?;
        if grant.expires_at.is_some_and(|at| at <= now) {
            return Err(LedgerError::ExpiresInThePast);
        }
        let id = PackageId::generate();
        let writes = tx.writes();
        writes.push(
            &INSERT_PACKAGE,
            [
                id.as_str().into(),
                grant.user.as_str().into(),
                grant.name.as_str().into(),
                grant.credits.get().into(),
                now.millis().into(),
                grant.expires_at.map(Timestamp::millis).into(),
                grant.source.as_deref().into(),
            ],
        );
        writes.fault_point(&self.faults, "grant:after_package");
        tx.entry(EntryKind::Grant, grant.credits, Some(&id), None, None, grant.source.as_deref())?;
        Ok(id)
    }

    /// Every package of the user, in display order.
    pub async fn packages(&self, user: &UserId) -> Result<Vec<Package>, LedgerError> {
        Ok(self.balance(user).await?.packages)
    }

    pub async fn balance(&self, user: &UserId) -> Result<Balance, LedgerError> {
        let rows: Vec<PackageRow> = sqlx::query_as(&format!(
            "SELECT {PACKAGE_COLUMNS} FROM credit_packages WHERE user_id = $1"
        ))
        .bind(user.as_str())
        .fetch_all(self.db.pool())
        .await?;
        let now = self.clock.now();
        let mut packages =
            rows.into_iter().map(Package::from_row).collect::<Result<Vec<_>, _>>()?;
        display_order(&mut packages, now);
        let available = packages
            .iter()
            .filter(|p| p.status_at(now) == PackageStatus::Active)
            .map(|p| p.remaining().get())
            .sum();
        // Credits held in a package that has since expired are still held: they settle normally.
        let held = packages.iter().map(|p| p.held.get()).sum();
        Ok(Balance {
            available: Credits::new(available)?,
            held: Credits::new(held)?,
            packages,
            now,
        })
    }
}

impl From<crate::ledger::NegativeCredits> for LedgerError {
    fn from(e: crate::ledger::NegativeCredits) -> Self {
        LedgerError::Database(sqlx::Error::Decode(Box::new(e)))
    }
}
