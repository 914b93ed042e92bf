//! Refunds: taking back the unspent part of a package whose payment was refunded.
//!
//! A refund names a share of the payment that bought a package. Stripe reports a charge's
//! refunds cumulatively (`amount_refunded` of `amount`), so the share is a level, not a delta:
//! the package's `refund_target` becomes that share of its credits (rounded down: the shopper
//! never loses more than the refunded share) and only ever grows. Duplicate, concurrent and
//! out-of-order deliveries of the same refund therefore take back once, and a second partial
//! refund takes back only its difference.
//!
//! What the target asks for is taken back as far as it is free (neither consumed, held nor
//! expired), one `refund` entry each time. Credits held by a running job stay reserved, as they
//! do at expiry: settled, they are consumed as the job was promised; released, they are taken back
//! by `take_back_in` in the same transaction. So a refund never takes more than is unspent,
//! never makes a balance negative, and a package whose refund is still owed has nothing
//! spendable (a fully refunded package is `depleted`).
//!
//! Invariants kept here: per package 0 ≤ consumed + held ≤ granted, counting what is taken back
//! against granted too (`TAKE_BACK` is guarded to take only free credits); held credits are never
//! taken, so a package's held stays the sum of its open holds' allocations and those credits still
//! settle, also in a package that has expired; every take-back appends a `refund` entry, which
//! replay adds up to the package's `refunded`.

use crate::db::with_retry;
use crate::ids::{PackageId, UserId};
use sqlx::Row;

use crate::ledger::engine::script::Script;
use crate::ledger::engine::statements::{
    PACKAGE_FOR_REFUND, RAISE_REFUND_TARGET, RECORD_PAYMENT, TAKE_BACK,
};
use crate::ledger::{Credits, EntryKind, Ledger, LedgerError, LedgerTx};

/// The refunded part of a payment, in the payment's own units (cents for Stripe).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefundShare {
    refunded: i64,
    paid: i64,
}

impl RefundShare {
    pub const FULL: RefundShare = RefundShare { refunded: 1, paid: 1 };

    /// `refunded` of `paid`; more than was paid counts as all of it.
    pub fn new(refunded: i64, paid: i64) -> Result<Self, LedgerError> {
        if refunded < 0 || paid <= 0 {
            return Err(LedgerError::InvalidRefundShare);
        }
        Ok(RefundShare { refunded: refunded.min(paid), paid })
    }

    pub fn refunded(self) -> i64 {
        self.refunded
    }

    pub fn paid(self) -> i64 {
        self.paid
    }

    /// This share of `granted` credits, rounded down.
    pub fn of(self, granted: Credits) -> Credits {
        // i128: credits × cents can exceed i64; the quotient is at most `granted` again.
        let share = i128::from(granted.get()) * i128::from(self.refunded) / i128::from(self.paid);
        i64::try_from(share).ok().and_then(|n| Credits::new(n).ok()).unwrap_or(granted)
    }
}

/// What a refund did to its package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refunded {
    pub package: PackageId,
    /// Taken back by this call.
    pub taken_back: Credits,
    /// Still asked back but held by running jobs: taken back if those holds are released.
    pub owed: Credits,
    /// The same (or a larger) refund was applied before: nothing was written.
    pub replayed: bool,
}

/// What became of a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefundOutcome {
    Applied(Refunded),
    /// No package names the payment yet (the refund outran the purchase's grant): kept, and
    /// applied by the grant when it comes.
    Kept,
}

impl Ledger {
    /// Refunds `share` of the package bought by `payment`. A refund of a payment no package
    /// names yet is kept by its payment reference and applied when the grant arrives.
    ///
    /// The refund and the grant may run at the same time, each unable to see the other's
    /// uncommitted row. Each therefore looks for the other after its own commit: whichever
    /// commits second finds the first, so one of them always applies the refund (and applying
    /// twice is harmless: a refund is a level).
    pub async fn refund_payment(
        &self,
        payment: &str,
        share: RefundShare,
    ) -> Result<RefundOutcome, LedgerError> {
        if let Some((user, package)) = self.package_of_payment(payment).await? {
            return Ok(RefundOutcome::Applied(self.refund_owned(&user, &package, share).await?));
        }
        with_retry(|| async {
            sqlx::query(
                "INSERT INTO pending_refunds (payment, refunded, paid, received_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (payment) DO UPDATE SET \
                 refunded = CASE WHEN excluded.refunded * pending_refunds.paid > pending_refunds.refunded * excluded.paid \
                   THEN excluded.refunded ELSE pending_refunds.refunded END, \
                 paid = CASE WHEN excluded.refunded * pending_refunds.paid > pending_refunds.refunded * excluded.paid \
                   THEN excluded.paid ELSE pending_refunds.paid END",
            )
            .bind(payment)
            .bind(share.refunded)
            .bind(share.paid)
            .bind(self.clock().now().millis())
            .execute(self.db.pool())
            .await
        })
        .await?;
        self.faults.check("refund:after_kept")?;
        match self.package_of_payment(payment).await? {
            Some((user, package)) => {
                Ok(RefundOutcome::Applied(self.refund_owned(&user, &package, share).await?))
            }
            None => Ok(RefundOutcome::Kept),
        }
    }

    pub(crate) async fn package_of_payment(
        &self,
        payment: &str,
    ) -> Result<Option<(UserId, PackageId)>, LedgerError> {
        let owner: Option<(String, String)> =
            sqlx::query_as("SELECT user_id, id FROM credit_packages WHERE payment = $1")
                .bind(payment)
                .fetch_optional(self.db.pool())
                .await?;
        Ok(owner.map(|(user, id)| (UserId::from_string(user), PackageId::from_string(id))))
    }

    /// The refund kept for `payment`, if one came before its package.
    pub(crate) async fn kept_refund<'c>(
        conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
        payment: &str,
    ) -> Result<Option<RefundShare>, LedgerError> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT refunded, paid FROM pending_refunds WHERE payment = $1")
                .bind(payment)
                .fetch_optional(conn)
                .await?;
        row.map(|(refunded, paid)| RefundShare::new(refunded, paid)).transpose()
    }

    /// Refunds `share` of one package, whatever bought it.
    pub async fn refund_package(
        &self,
        package: &PackageId,
        share: RefundShare,
    ) -> Result<Refunded, LedgerError> {
        let owner: Option<(String,)> =
            sqlx::query_as("SELECT user_id FROM credit_packages WHERE id = $1")
                .bind(package.as_str())
                .fetch_optional(self.db.pool())
                .await?;
        let (user,) = owner.ok_or(LedgerError::UnknownPackage)?;
        self.refund_owned(&UserId::from_string(user), package, share).await
    }

    /// A package never changes owner, so its owner read before the lock is still its owner.
    async fn refund_owned(
        &self,
        user: &UserId,
        package: &PackageId,
        share: RefundShare,
    ) -> Result<Refunded, LedgerError> {
        with_retry(|| async {
            let mut tx = LedgerTx::begin(self, user).await?;
            match self.refund_in(&mut tx, user, package, share).await {
                // Nothing was written but the lock bump: leave no trace.
                Ok(refunded) if refunded.replayed => {
                    tx.rollback().await?;
                    Ok(refunded)
                }
                result => tx.end(result).await,
            }
        })
        .await
    }

    pub(crate) async fn refund_in(
        &self,
        tx: &mut LedgerTx,
        user: &UserId,
        package: &PackageId,
        share: RefundShare,
    ) -> Result<Refunded, LedgerError> {
        let mut reads = Script::new();
        let index =
            reads.push(&PACKAGE_FOR_REFUND, [package.as_str().into(), user.as_str().into()]);
        let results = tx.read(reads).await?;
        let row = results.rows(index).first().ok_or(LedgerError::UnknownPackage)?;
        let (granted, target, refunded, mut free): (i64, i64, i64, i64) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let expires_at: Option<i64> = row.try_get(4)?;
        let payment: Option<String> = row.try_get(5)?;
        let now = tx.now()?;

        let wanted = share.of(Credits::new(granted)?).get();
        let raised = wanted > target;
        if raised {
            let writes = tx.writes();
            writes.push_guarded(
                &RAISE_REFUND_TARGET,
                [package.as_str().into(), wanted.into(), target.into()],
                1,
            );
            writes.fault_point(&self.faults, "refund:after_target");
        }
        // Credits of a package past its expiry were worthless before the refund came: they are
        // written off as expired, not counted as taken back.
        let mut expired = Credits::ZERO;
        if expires_at.is_some_and(|at| at <= now.millis()) {
            expired = self.write_off_in(tx, package, free)?;
            free -= expired.get();
        }
        let owed = wanted.max(target) - refunded;
        let (taken_back, owed) = self.take_back_in(tx, package, free, owed, payment.as_deref())?;
        Ok(Refunded {
            package: package.clone(),
            taken_back,
            owed,
            replayed: !raised && taken_back.is_zero() && expired.is_zero(),
        })
    }

    /// Queues taking back as much of what the package's refunds still ask for (`owed`) as is free
    /// (`free`, at this point of the transaction). Runs after a refund and after every release
    /// into the package (the only way credits become free again), so a package with a refund
    /// owed never has spendable credits. Answers (taken back now, still owed).
    pub(crate) fn take_back_in(
        &self,
        tx: &mut LedgerTx,
        package: &PackageId,
        free: i64,
        owed: i64,
        payment: Option<&str>,
    ) -> Result<(Credits, Credits), LedgerError> {
        let take = free.min(owed);
        if take <= 0 {
            return Ok((Credits::ZERO, Credits::new(owed.max(0))?));
        }
        let writes = tx.writes();
        writes.push_guarded(
            &TAKE_BACK,
            [package.as_str().into(), take.into(), free.into(), owed.into()],
            1,
        );
        writes.fault_point(&self.faults, "refund:after_package_update");
        let taken = Credits::new(take)?;
        tx.entry(EntryKind::Refund, taken, Some(package), None, None, payment)?;
        Ok((taken, Credits::new(owed - take)?))
    }

    /// Links a package to the payment that bought it. A repeated delivery finds it linked already;
    /// an earlier delivery that lacked the payment is completed by a later one.
    pub(crate) fn record_payment_in(
        &self,
        tx: &mut LedgerTx,
        package: &PackageId,
        payment: &str,
    ) -> Result<(), LedgerError> {
        tx.writes().push(&RECORD_PAYMENT, [package.as_str().into(), payment.into()]);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credits(n: i64) -> Credits {
        Credits::new(n).unwrap_or_default()
    }

    #[test]
    fn a_share_takes_its_proportion_of_the_credits_rounded_down() {
        let half = RefundShare::new(250, 500).expect("valid");
        assert_eq!(half.of(credits(10)), credits(5));
        let third = RefundShare::new(1, 3).expect("valid");
        assert_eq!(third.of(credits(10)), credits(3), "rounded in the shopper's favour");
        assert_eq!(RefundShare::FULL.of(credits(7)), credits(7));
        assert_eq!(RefundShare::new(0, 500).expect("valid").of(credits(10)), Credits::ZERO);
    }

    #[test]
    fn a_share_never_exceeds_the_whole_and_large_amounts_do_not_overflow() {
        assert_eq!(RefundShare::new(900, 500).expect("capped").of(credits(10)), credits(10));
        let big = RefundShare::new(i64::MAX - 1, i64::MAX).expect("valid");
        assert_eq!(big.of(credits(i64::MAX)), credits(i64::MAX - 1));
    }

    #[test]
    fn a_share_of_nothing_or_a_negative_refund_is_refused() {
        assert!(matches!(RefundShare::new(1, 0), Err(LedgerError::InvalidRefundShare)));
        assert!(matches!(RefundShare::new(-1, 10), Err(LedgerError::InvalidRefundShare)));
    }
}
