//! Chargebacks: a dispute takes back what is unspent of the package its payment bought, as a
//! full refund does (`refund`), and a dispute the merchant wins gives it back.
//!
//! Giving back never lowers a package's refund target (targets only grow: that is what makes
//! refunds idempotent). It grants a new package instead, "Returned after a dispute", of exactly
//! what the dispute took: the package's `refunded` now less what it was when the dispute opened
//! (kept in `payment_disputes`), so credits taken later, when holds running at the time were
//! released, come back too. The grant's source names the dispute: a repeated delivery grants
//! nothing more. It expires when the original package does, or 30 days from now if that has
//! passed (a dispute can take months). A lost dispute changes nothing more.
//!
//! Invariants kept: everything goes through `refund_payment` and `grant_paid`, so every rule of
//! theirs holds; a dispute gives back at most what it took.

use crate::clock::Timestamp;
use crate::ids::{PackageId, UserId};
use crate::ledger::package::{PACKAGE_COLUMNS, PackageRow};
use crate::ledger::{Credits, Grant, Ledger, LedgerError, Package, RefundOutcome, RefundShare};

/// How long credits given back after a won dispute last when their package has expired.
const GIVEN_BACK_DAYS: i64 = 30;

/// What closing a dispute did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisputeClosed {
    /// Won: this much was given back in a new package (zero when the dispute took nothing).
    GivenBack { credits: Credits, package: Option<PackageId> },
    /// Lost, or closed in any other way: what was taken stays taken.
    Kept,
    /// No dispute with this id was opened here.
    Unknown,
}

impl Ledger {
    /// Opens a dispute on `payment`: remembers how much its package had had taken back, then
    /// takes back all that is unspent. A repeated delivery changes nothing.
    pub async fn open_dispute(
        &self,
        dispute: &str,
        payment: &str,
    ) -> Result<RefundOutcome, LedgerError> {
        let refunded_before = match self.package_of_payment(payment).await? {
            Some((_, package)) => self.package(&package).await?.map_or(0, |p| p.refunded.get()),
            None => 0,
        };
        sqlx::query(
            "INSERT INTO payment_disputes (id, payment, refunded_before, status, opened_at) \
             VALUES ($1, $2, $3, 'open', $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(dispute)
        .bind(payment)
        .bind(refunded_before)
        .bind(self.clock().now().millis())
        .execute(self.db.pool())
        .await?;
        self.refund_payment(payment, RefundShare::FULL).await
    }

    /// Closes a dispute. Won: gives back what it took, once. Otherwise nothing changes.
    pub async fn close_dispute(
        &self,
        dispute: &str,
        won: bool,
    ) -> Result<DisputeClosed, LedgerError> {
        let now = self.clock().now();
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT payment, refunded_before FROM payment_disputes WHERE id = $1")
                .bind(dispute)
                .fetch_optional(self.db.pool())
                .await?;
        let Some((payment, refunded_before)) = row else { return Ok(DisputeClosed::Unknown) };
        sqlx::query(
            "UPDATE payment_disputes SET status = $1, closed_at = COALESCE(closed_at, $2) WHERE id = $3",
        )
        .bind(if won { "won" } else { "lost" })
        .bind(now.millis())
        .bind(dispute)
        .execute(self.db.pool())
        .await?;
        if !won {
            return Ok(DisputeClosed::Kept);
        }
        let Some((user, package)) = self.package_of_payment(&payment).await? else {
            return Ok(DisputeClosed::GivenBack { credits: Credits::ZERO, package: None });
        };
        let Some(original) = self.package(&package).await? else {
            return Ok(DisputeClosed::GivenBack { credits: Credits::ZERO, package: None });
        };
        let taken =
            Credits::new(original.refunded.get() - refunded_before).unwrap_or(Credits::ZERO);
        if taken.is_zero() {
            return Ok(DisputeClosed::GivenBack { credits: taken, package: None });
        }
        let given = self.grant(&given_back(user, taken, original.expires_at, now, dispute)).await?;
        Ok(DisputeClosed::GivenBack { credits: taken, package: Some(given) })
    }

    async fn package(&self, id: &PackageId) -> Result<Option<Package>, LedgerError> {
        let row: Option<PackageRow> =
            sqlx::query_as(&format!("SELECT {PACKAGE_COLUMNS} FROM credit_packages WHERE id = $1"))
                .bind(id.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        row.map(Package::from_row).transpose()
    }
}

fn given_back(
    user: UserId,
    credits: Credits,
    expires_at: Option<Timestamp>,
    now: Timestamp,
    dispute: &str,
) -> Grant {
    Grant {
        user,
        credits,
        name: "Returned after a dispute".into(),
        expires_at: match expires_at {
            Some(at) if at > now => Some(at),
            Some(_) => Some(now.plus_days(GIVEN_BACK_DAYS)),
            None => None,
        },
        source: Some(format!("stripe-dispute-won:{dispute}")),
    }
}
