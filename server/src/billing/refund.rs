//! Reading Stripe's `charge.refunded` event, and the payment reference that links a purchase to
//! its refunds.
//!
//! A Stripe charge does not carry the Checkout Session that created it, only its
//! `payment_intent`. The grant therefore records the session's `payment_intent` on the package
//! (`payment_ref`), and a refund finds the package through the charge's.

use serde_json::Value;

use crate::billing::StripeError;
use crate::ledger::{LedgerError, RefundShare};

/// How a package records the Stripe payment that bought it.
pub fn payment_ref(payment_intent: &str) -> String {
    format!("stripe:{payment_intent}")
}

/// What a `charge.refunded` event says. Stripe sends one per refund of a charge, each with the
/// cumulative `amount_refunded`, so the latest one describes every refund so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChargeRefund {
    pub charge: String,
    /// `None` for charges made without a PaymentIntent: no Checkout purchase, nothing to find.
    pub payment_intent: Option<String>,
    /// In the currency's smallest unit.
    pub amount: i64,
    pub amount_refunded: i64,
    /// Stripe's own flag: the charge is refunded in full.
    pub refunded: bool,
}

impl ChargeRefund {
    pub fn parse(charge: &Value) -> Result<Self, StripeError> {
        let field = |name: &'static str| charge[name].as_i64().ok_or(StripeError::Malformed(name));
        Ok(ChargeRefund {
            charge: charge["id"].as_str().ok_or(StripeError::Malformed("id"))?.to_owned(),
            payment_intent: charge["payment_intent"].as_str().map(str::to_owned),
            amount: field("amount")?,
            amount_refunded: field("amount_refunded")?,
            refunded: charge["refunded"].as_bool().unwrap_or(false),
        })
    }

    /// The refunded share of the payment: all of it when Stripe says so, else proportional.
    pub fn share(&self) -> Result<RefundShare, LedgerError> {
        if self.refunded {
            Ok(RefundShare::FULL)
        } else {
            RefundShare::new(self.amount_refunded, self.amount)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ledger::Credits;

    fn credits(n: i64) -> Credits {
        Credits::new(n).unwrap_or_default()
    }

    #[test]
    fn a_partial_refund_is_its_proportion_and_a_full_one_everything() {
        let partial = json!({ "id": "ch_1", "payment_intent": "pi_1", "amount": 500, "amount_refunded": 250, "refunded": false });
        let refund = ChargeRefund::parse(&partial).expect("parses");
        assert_eq!(refund.payment_intent.as_deref(), Some("pi_1"));
        assert_eq!(refund.share().expect("share").of(credits(10)), credits(5));
        let full = json!({ "id": "ch_1", "payment_intent": "pi_1", "amount": 500, "amount_refunded": 500, "refunded": true });
        assert_eq!(
            ChargeRefund::parse(&full).expect("parses").share().expect("share"),
            RefundShare::FULL
        );
    }

    #[test]
    fn a_charge_without_amounts_is_malformed() {
        let charge = json!({ "id": "ch_1", "payment_intent": "pi_1", "amount": "lots" });
        assert!(matches!(ChargeRefund::parse(&charge), Err(StripeError::Malformed("amount"))));
        let zero = json!({ "id": "ch_1", "amount": 0, "amount_refunded": 0, "refunded": false });
        assert!(ChargeRefund::parse(&zero).expect("parses").share().is_err());
    }
}
