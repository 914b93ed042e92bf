//! Refunds (`charge.refunded`): real signed deliveries take back the unspent part of the package
//! the refunded payment bought, once, and never more than is unspent.

use std::sync::Arc;

use axum::http::StatusCode;
use fitroom_server::clock::Clock;
use fitroom_server::ids::{JobId, UserId};
use fitroom_server::ledger::{Credits, Ledger, Package};
use serde_json::{Value, json};

use crate::billing::{SECRET, deliver, event, signature, user_id};
use crate::common::TestDb;
use crate::http_app::TestApp;
use crate::ledger_holds::freeze;

/// What the starter package costs by default, in cents: the charge's `amount`.
const PRICE: i64 = 500;

/// A shopper who bought `starter` (10 credits) through Checkout Session `cs_bought`.
struct Shopper {
    app: Arc<TestApp>,
    cookie: String,
    user: UserId,
}

impl Shopper {
    async fn buys_starter(t: TestDb) -> Shopper {
        let app = TestApp::with_env(
            t,
            &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")],
        )
        .await;
        let cookie = app.signed_up("ann@example.com").await;
        let user = user_id(&app, &cookie).await;
        let shopper =
            Shopper { app: Arc::new(app), cookie, user: UserId::from_string(user.as_str()) };
        let purchase = event("checkout.session.completed", "cs_bought", &user, "paid");
        assert_eq!(shopper.send(&purchase).await, StatusCode::OK);
        assert_eq!(shopper.credits().await["available"], 10);
        shopper
    }

    fn ledger(&self) -> Ledger {
        self.app.t.ledger()
    }

    async fn send(&self, body: &str) -> StatusCode {
        let now = self.app.t.clock.now().millis() / 1000;
        deliver(&self.app, body, &signature(body, SECRET, now)).await
    }

    async fn credits(&self) -> Value {
        self.app.get("/api/credits", Some(&self.cookie)).await.body
    }

    async fn entries(&self) -> Vec<(String, i64)> {
        let body = self.app.get("/api/credits/ledger", Some(&self.cookie)).await.body;
        body["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().expect("kind").to_owned(),
                    e["amount"].as_i64().expect("amount"),
                )
            })
            .collect()
    }

    async fn refunded_total(&self) -> i64 {
        self.entries().await.iter().filter(|(kind, _)| kind == "refund").map(|(_, n)| n).sum()
    }

    async fn package(&self) -> Package {
        let packages = self.ledger().packages(&self.user).await.expect("packages");
        packages.into_iter().next().expect("the bought package")
    }

    /// A running job holding `n` credits.
    async fn running_job(&self, n: i64, key: &str) -> (JobId, fitroom_server::ids::HoldId) {
        let job = self.app.t.job(&self.user).await;
        let hold = freeze(&self.ledger(), &self.user, &job, n, key).await.expect("freeze").hold.id;
        (job, hold)
    }

    /// A job that used `n` credits.
    async fn spends(&self, n: i64, key: &str) {
        let (job, hold) = self.running_job(n, key).await;
        self.ledger().settle(&hold).await.expect("settle");
        self.app.t.set_job_status(&job, "succeeded").await;
    }
}

/// Stripe's `charge.refunded` for the purchase's payment, `refunded` cents of `PRICE` so far.
fn charge_refunded(payment_intent: &str, refunded: i64) -> String {
    json!({
        "id": format!("evt_refund_{refunded}"),
        "type": "charge.refunded",
        "data": { "object": {
            "id": "ch_bought", "object": "charge", "payment_intent": payment_intent,
            "amount": PRICE, "amount_refunded": refunded, "refunded": refunded >= PRICE
        } }
    })
    .to_string()
}

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

async fn a_refund_after_partial_spending_takes_back_only_the_rest(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    shopper.spends(3, "spend").await;

    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE)).await, StatusCode::OK);

    let balance = shopper.credits().await;
    assert_eq!(balance["available"], 0);
    assert_eq!(balance["packages"][0]["status"], "depleted", "{balance}");
    assert_eq!(balance["packages"][0]["remaining"], 0);
    assert_eq!(shopper.entries().await[0], ("refund".to_owned(), 7), "newest first: the refund");
    let package = shopper.package().await;
    assert_eq!((package.consumed, package.refunded), (credits(3), credits(7)));
    let job = shopper.app.t.job(&shopper.user).await;
    assert!(
        freeze(&shopper.ledger(), &shopper.user, &job, 1, "after").await.is_err(),
        "nothing left to spend"
    );
    shopper.app.t.assert_verified().await;
}

async fn a_partial_refund_takes_its_share_and_a_later_full_refund_the_rest(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    shopper.spends(2, "spend").await;

    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE / 2)).await, StatusCode::OK);
    assert_eq!(shopper.refunded_total().await, 5, "half of 10 credits");
    let balance = shopper.credits().await;
    assert_eq!(
        (balance["available"].as_i64(), balance["packages"][0]["status"].as_str()),
        (Some(3), Some("active"))
    );

    // Stripe reports refunds cumulatively: a repeat, or the older event arriving late, changes nothing.
    let before = shopper.app.t.snapshot().await;
    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE / 2)).await, StatusCode::OK);
    assert_eq!(shopper.app.t.snapshot().await, before);

    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE)).await, StatusCode::OK);
    assert_eq!(shopper.refunded_total().await, 8, "everything unspent, never the 2 spent credits");
    assert_eq!(shopper.credits().await["available"], 0);
    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE / 2)).await, StatusCode::OK);
    assert_eq!(
        shopper.refunded_total().await,
        8,
        "a late partial refund does not undo the full one"
    );
    shopper.app.t.assert_verified().await;
}

async fn credits_held_by_a_running_job_are_consumed_on_settle_and_taken_back_on_release(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    let (succeeds, succeeds_hold) = shopper.running_job(2, "a").await;
    let (fails, fails_hold) = shopper.running_job(3, "b").await;

    assert_eq!(shopper.send(&charge_refunded("pi_cs_bought", PRICE)).await, StatusCode::OK);
    let balance = shopper.credits().await;
    assert_eq!((balance["available"].as_i64(), balance["held"].as_i64()), (Some(0), Some(5)));
    assert_eq!(shopper.refunded_total().await, 5, "only what no job holds");
    shopper.app.t.assert_verified().await;

    shopper.ledger().settle(&succeeds_hold).await.expect("settle");
    shopper.app.t.set_job_status(&succeeds, "succeeded").await;
    shopper.app.t.assert_verified().await;

    shopper.ledger().release(&fails_hold).await.expect("release");
    shopper.app.t.set_job_status(&fails, "failed").await;
    assert_eq!(
        shopper.entries().await[0],
        ("refund".to_owned(), 3),
        "released credits are taken back at once"
    );
    let package = shopper.package().await;
    assert_eq!(
        (package.consumed, package.held, package.refunded),
        (credits(2), Credits::ZERO, credits(8))
    );
    let balance = shopper.credits().await;
    assert_eq!(
        (balance["available"].as_i64(), balance["packages"][0]["status"].as_str()),
        (Some(0), Some("depleted"))
    );
    shopper.app.t.assert_verified().await;
}

async fn ten_concurrent_duplicate_refunds_take_back_once(t: TestDb) {
    let shopper = Arc::new(Shopper::buys_starter(t).await);
    let body = charge_refunded("pi_cs_bought", PRICE);
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (shopper, body) = (shopper.clone(), body.clone());
        tasks.push(tokio::spawn(async move { shopper.send(&body).await }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::OK);
    }
    let refunds: Vec<_> =
        shopper.entries().await.into_iter().filter(|(kind, _)| kind == "refund").collect();
    assert_eq!(refunds, vec![("refund".to_owned(), 10)]);
    shopper.app.t.assert_verified().await;
}

async fn forged_and_stale_refunds_are_refused_and_change_nothing(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    let body = charge_refunded("pi_cs_bought", PRICE);
    let now = shopper.app.t.clock.now().millis() / 1000;
    let before = shopper.app.t.snapshot().await;
    let tampered = body.replace("pi_cs_bought", "pi_cs_other");
    let app = &shopper.app;
    assert_eq!(
        deliver(app, &tampered, &signature(&body, SECRET, now)).await,
        StatusCode::UNAUTHORIZED,
        "tampered body"
    );
    assert_eq!(
        deliver(app, &body, &signature(&body, "whsec_wrong", now)).await,
        StatusCode::UNAUTHORIZED,
        "wrong secret"
    );
    assert_eq!(
        deliver(app, &body, &signature(&body, SECRET, now - 600)).await,
        StatusCode::UNAUTHORIZED,
        "ten minutes old"
    );
    assert_eq!(shopper.app.t.snapshot().await, before);
    assert_eq!(shopper.credits().await["available"], 10);
}

async fn a_refund_of_an_unknown_payment_is_acknowledged_and_changes_nothing(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    let before = shopper.app.t.snapshot().await;
    assert_eq!(shopper.send(&charge_refunded("pi_never_seen", PRICE)).await, StatusCode::OK);
    let no_intent = json!({ "id": "evt_legacy", "type": "charge.refunded", "data": { "object": {
        "id": "ch_legacy", "payment_intent": null, "amount": PRICE, "amount_refunded": PRICE, "refunded": true } } })
    .to_string();
    assert_eq!(shopper.send(&no_intent).await, StatusCode::OK);
    assert_eq!(shopper.app.t.snapshot().await, before);
    let malformed = json!({ "id": "evt_bad", "type": "charge.refunded", "data": { "object": { "id": "ch_bad" } } }).to_string();
    assert_eq!(shopper.send(&malformed).await, StatusCode::BAD_REQUEST);
    assert_eq!(shopper.app.t.snapshot().await, before);
    shopper.app.t.assert_verified().await;
}

/// A shopper with no package yet, and the signed purchase that will grant `starter`.
async fn before_the_purchase(t: TestDb) -> (Shopper, String) {
    let app =
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let purchase = event("checkout.session.completed", "cs_late", &user, "paid");
    (Shopper { app: Arc::new(app), cookie, user: UserId::from_string(user.as_str()) }, purchase)
}

async fn a_refund_that_outruns_its_purchase_is_taken_back_when_the_purchase_is_granted(t: TestDb) {
    let (shopper, purchase) = before_the_purchase(t).await;
    // Stripe does not order events: the refund of `pi_cs_late` comes first.
    assert_eq!(shopper.send(&charge_refunded("pi_cs_late", PRICE)).await, StatusCode::OK);
    assert_eq!(shopper.app.t.count("credit_packages").await, 0);
    assert_eq!(shopper.send(&purchase).await, StatusCode::OK);
    let credits = shopper.credits().await;
    assert_eq!(credits["available"], 0, "granted and taken back together: {credits}");
    // Stripe retries the checkout event: it must not grant the package a second time.
    assert_eq!(shopper.send(&purchase).await, StatusCode::OK);
    assert_eq!(shopper.credits().await["available"], 0);
    assert_eq!(shopper.refunded_total().await, 10);
    assert_eq!(shopper.app.t.count("credit_packages").await, 1);
    shopper.app.t.assert_verified().await;
}

async fn a_partial_refund_that_outruns_its_purchase_takes_back_its_share(t: TestDb) {
    let (shopper, purchase) = before_the_purchase(t).await;
    assert_eq!(shopper.send(&charge_refunded("pi_cs_late", PRICE / 5)).await, StatusCode::OK);
    assert_eq!(shopper.send(&charge_refunded("pi_cs_late", PRICE / 10)).await, StatusCode::OK);
    assert_eq!(shopper.send(&purchase).await, StatusCode::OK);
    assert_eq!(shopper.credits().await["available"], 8, "the larger of the two levels: 20 %");
    shopper.app.t.assert_verified().await;
}

/// The refund and the grant run at the same moment, again and again: however they interleave,
/// the refund is applied once.
async fn a_refund_racing_its_purchase_is_applied_exactly_once(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    for round in 0..12 {
        let payment = format!("stripe:pi_race_{round}");
        let grant = fitroom_server::ledger::Grant {
            user: user.clone(),
            credits: credits(10),
            name: "Starter".into(),
            expires_at: None,
            source: Some(format!("stripe:cs_race_{round}")),
        };
        let share = fitroom_server::ledger::RefundShare::FULL;
        let (granted, refunded) = tokio::join!(
            ledger.grant_paid(&grant, Some(&payment)),
            ledger.refund_payment(&payment, share)
        );
        granted.expect("grant");
        refunded.expect("refund");
    }
    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!(balance.available, Credits::ZERO, "{balance:?}");
    assert!(balance.packages.iter().all(|p| p.refunded == credits(10)), "{:?}", balance.packages);
    t.assert_verified().await;
}

/// A crash right after an early refund is kept (before Stripe hears 200, so Stripe will resend
/// it) loses nothing: the purchase's grant still takes it back.
async fn a_crash_after_an_early_refund_is_kept_still_takes_it_back_at_the_grant(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    t.faults.arm("refund:after_kept");
    let crashed =
        ledger.refund_payment("stripe:pi_crash", fitroom_server::ledger::RefundShare::FULL).await;
    assert!(matches!(crashed, Err(fitroom_server::ledger::LedgerError::Fault(_))), "{crashed:?}");
    t.faults.disarm_all();
    let grant = fitroom_server::ledger::Grant {
        user: user.clone(),
        credits: credits(10),
        name: "Starter".into(),
        expires_at: None,
        source: Some("stripe:cs_crash".into()),
    };
    ledger.grant_paid(&grant, Some("stripe:pi_crash")).await.expect("grant");
    assert_eq!(ledger.balance(&user).await.expect("balance").available, Credits::ZERO);
    t.assert_verified().await;
}

/// Stripe's `charge.dispute.<kind>` for the purchase's payment.
fn dispute(kind: &str, status: &str) -> String {
    json!({
        "id": format!("evt_dispute_{kind}_{status}"),
        "type": format!("charge.dispute.{kind}"),
        "data": { "object": {
            "id": "dp_bought", "object": "dispute", "charge": "ch_bought",
            "payment_intent": "pi_cs_bought", "amount": PRICE, "status": status
        } }
    })
    .to_string()
}

async fn a_chargeback_takes_back_what_is_unspent_and_a_won_dispute_gives_it_back(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    shopper.spends(3, "spent").await;
    let (_, running) = shopper.running_job(2, "running").await;
    for _ in 0..2 {
        assert_eq!(shopper.send(&dispute("created", "needs_response")).await, StatusCode::OK);
    }
    let credits = shopper.credits().await;
    assert_eq!((credits["available"].as_i64(), credits["held"].as_i64()), (Some(0), Some(2)));
    assert_eq!(shopper.refunded_total().await, 5, "the unspent 5; the 2 held stay reserved");
    // The running job fails: its 2 credits go back to the package and the dispute takes them.
    shopper.ledger().release(&running).await.expect("release");
    assert_eq!(shopper.refunded_total().await, 7);

    for _ in 0..2 {
        assert_eq!(shopper.send(&dispute("closed", "won")).await, StatusCode::OK);
    }
    let credits = shopper.credits().await;
    assert_eq!(credits["available"], 7, "everything the dispute took, once: {credits}");
    let names: Vec<String> = shopper
        .ledger()
        .packages(&shopper.user)
        .await
        .expect("packages")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(names.contains(&"Returned after a dispute".to_owned()), "{names:?}");
    shopper.app.t.assert_verified().await;
}

async fn a_lost_dispute_keeps_what_it_took(t: TestDb) {
    let shopper = Shopper::buys_starter(t).await;
    shopper.spends(4, "spent").await;
    assert_eq!(shopper.send(&dispute("created", "needs_response")).await, StatusCode::OK);
    assert_eq!(shopper.send(&dispute("closed", "lost")).await, StatusCode::OK);
    assert_eq!(shopper.credits().await["available"], 0);
    assert_eq!(shopper.refunded_total().await, 6);
    assert_eq!(shopper.app.t.count("credit_packages").await, 1);
    shopper.app.t.assert_verified().await;
}

crate::on_both_databases!(
    a_chargeback_takes_back_what_is_unspent_and_a_won_dispute_gives_it_back,
    a_lost_dispute_keeps_what_it_took,
    a_crash_after_an_early_refund_is_kept_still_takes_it_back_at_the_grant,
    a_refund_that_outruns_its_purchase_is_taken_back_when_the_purchase_is_granted,
    a_partial_refund_that_outruns_its_purchase_takes_back_its_share,
    a_refund_racing_its_purchase_is_applied_exactly_once,
    a_refund_after_partial_spending_takes_back_only_the_rest,
    a_partial_refund_takes_its_share_and_a_later_full_refund_the_rest,
    credits_held_by_a_running_job_are_consumed_on_settle_and_taken_back_on_release,
    ten_concurrent_duplicate_refunds_take_back_once,
    forged_and_stale_refunds_are_refused_and_change_nothing,
    a_refund_of_an_unknown_payment_is_acknowledged_and_changes_nothing,
);
