//! What a verified Stripe event does to the ledger: a paid Checkout Session grants its package
//! exactly once, a refund takes back the unspent share of what it paid for. Events that need
//! nothing (unpaid, unknown kinds, for someone we do not know) are logged and acknowledged, so
//! Stripe stops resending them.

use crate::billing::{Catalog, ChargeRefund, StripeError, StripeEvent, payment_ref};
use crate::clock::Clock;
use crate::ids::UserId;
use crate::ledger::{Credits, Grant, Ledger, LedgerError, RefundOutcome};
use crate::metrics::Metrics;

pub struct Fulfilment<'a> {
    pub ledger: &'a Ledger,
    pub catalog: &'a Catalog,
    pub clock: &'a dyn Clock,
    pub metrics: &'a Metrics,
}

#[derive(Debug, thiserror::Error)]
pub enum FulfilmentError {
    /// The event is malformed: Stripe will resend it, and it will be refused again.
    #[error(transparent)]
    Malformed(#[from] StripeError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl Fulfilment<'_> {
    pub async fn handle(&self, event: &StripeEvent) -> Result<(), FulfilmentError> {
        match event.kind.as_str() {
            "checkout.session.completed" => {
                let paid = event.data.object["payment_status"] == "paid";
                self.fulfil(event, paid).await
            }
            "checkout.session.async_payment_succeeded" => self.fulfil(event, true).await,
            "charge.refunded" => self.refund(event).await,
            "charge.dispute.created" => self.dispute_opened(event).await,
            "charge.dispute.closed" => self.dispute_closed(event).await,
            other => {
                tracing::info!(event = %event.id, kind = other, "Stripe event ignored");
                Ok(())
            }
        }
    }

    /// Grants the package of a paid session exactly once: the session id is the grant's source,
    /// which the ledger grants only once however often (and concurrently) it is delivered. The
    /// session's `payment_intent` is recorded with it: a refund names only that.
    async fn fulfil(&self, event: &StripeEvent, paid: bool) -> Result<(), FulfilmentError> {
        let session = &event.data.object;
        let session_id = session["id"].as_str().unwrap_or_default();
        if !paid {
            tracing::info!(event = %event.id, session = session_id, "checkout not paid yet; waiting for the async payment");
            return Ok(());
        }
        // A session Fitroom cannot fulfil stays that way however often Stripe resends it:
        // acknowledge it, and leave it to the operator (the log and the metric say which).
        let (Some(user), Some(package_id)) =
            (session["client_reference_id"].as_str(), session["metadata"]["package_id"].as_str())
        else {
            tracing::error!(event = %event.id, session = session_id, "paid session names no user or package; nothing granted");
            self.unfulfilled("no_user_or_package");
            return Ok(());
        };
        let Some(item) = self.catalog.get(package_id) else {
            tracing::error!(
                session = session_id,
                package_id,
                "paid session for a package not in the catalog; nothing granted"
            );
            self.unfulfilled("unknown_package");
            return Ok(());
        };
        let amount = session["amount_total"].as_i64();
        let currency = session["currency"].as_str().map(str::to_ascii_lowercase);
        if amount != Some(item.price)
            || currency.as_deref() != Some(item.currency.to_ascii_lowercase().as_str())
        {
            tracing::error!(
                session = session_id, package_id, ?amount, ?currency, price = item.price, catalog_currency = %item.currency,
                "paid session's amount or currency differs from the catalog; nothing granted"
            );
            self.unfulfilled("amount_mismatch");
            return Ok(());
        }
        let grant = Grant {
            user: UserId::from_string(user),
            credits: Credits::new(item.credits).map_err(|_| LedgerError::NonPositiveGrant)?,
            name: item.name.clone(),
            expires_at: Some(self.clock.now().plus_days(item.valid_days)),
            source: Some(format!("stripe:{session_id}")),
        };
        let payment = session["payment_intent"].as_str().map(payment_ref);
        if payment.is_none() {
            tracing::warn!(
                session = session_id,
                "paid session without a payment_intent: its refund will not be found"
            );
        }
        match self.ledger.grant_paid(&grant, payment.as_deref()).await {
            Ok(package) => {
                tracing::info!(session = session_id, %package, "purchase granted");
                Ok(())
            }
            Err(LedgerError::UnknownUser) => {
                tracing::error!(
                    session = session_id,
                    user,
                    "paid session for an unknown user; nothing granted"
                );
                self.unfulfilled("unknown_user");
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// A chargeback: what is unspent of the package the payment bought is taken back at once,
    /// as a full refund would (the money is already gone from the merchant's balance).
    async fn dispute_opened(&self, event: &StripeEvent) -> Result<(), FulfilmentError> {
        let dispute = &event.data.object;
        let id = dispute["id"].as_str().ok_or(StripeError::Malformed("dispute id"))?;
        let Some(payment_intent) = dispute["payment_intent"].as_str() else {
            tracing::warn!(event = %event.id, dispute = id, "dispute without a payment_intent; nothing to take back");
            return Ok(());
        };
        match self.ledger.open_dispute(id, &payment_ref(payment_intent)).await? {
            RefundOutcome::Applied(done) => tracing::warn!(
                event = %event.id, dispute = id, payment_intent, package = %done.package,
                taken_back = %done.taken_back, owed = %done.owed, "dispute opened: unspent credits taken back"
            ),
            RefundOutcome::Kept => tracing::warn!(
                event = %event.id, dispute = id, payment_intent, "dispute of a payment that has granted no package yet; kept for its grant"
            ),
        }
        Ok(())
    }

    /// A dispute closed: won, what it took is given back; lost, it stays taken.
    async fn dispute_closed(&self, event: &StripeEvent) -> Result<(), FulfilmentError> {
        let dispute = &event.data.object;
        let id = dispute["id"].as_str().ok_or(StripeError::Malformed("dispute id"))?;
        let won = dispute["status"] == "won";
        let closed = self.ledger.close_dispute(id, won).await?;
        tracing::info!(event = %event.id, dispute = id, won, ?closed, "dispute closed");
        Ok(())
    }

    fn unfulfilled(&self, reason: &'static str) {
        self.metrics.count("fitroom_stripe_sessions_unfulfilled", &[("reason", reason)]);
    }

    /// Takes back the refunded share of the package the charge paid for (see `ledger::refund`):
    /// at most its unspent credits, once however often the event is delivered.
    async fn refund(&self, event: &StripeEvent) -> Result<(), FulfilmentError> {
        let charge = ChargeRefund::parse(&event.data.object)?;
        let share = charge.share()?;
        let Some(payment_intent) = charge.payment_intent.as_deref() else {
            tracing::warn!(event = %event.id, charge = %charge.charge, "refunded charge without a payment_intent; nothing to take back");
            return Ok(());
        };
        match self.ledger.refund_payment(&payment_ref(payment_intent), share).await? {
            RefundOutcome::Applied(done) => {
                tracing::info!(
                    event = %event.id, charge = %charge.charge, payment_intent, package = %done.package,
                    taken_back = %done.taken_back, owed = %done.owed, replayed = done.replayed, "refund applied"
                );
            }
            RefundOutcome::Kept => {
                tracing::warn!(event = %event.id, charge = %charge.charge, payment_intent, "refund of a payment that has granted no package yet; kept for its grant");
            }
        }
        Ok(())
    }
}
