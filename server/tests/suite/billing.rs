//! Buying credits: a local fake of Stripe's API, and real signed webhook deliveries.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fitroom_server::clock::Clock;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::common::TestDb;
use crate::http_app::TestApp;

pub const SECRET: &str = "whsec_fitroom_test";

/// Stripe's Checkout Sessions endpoint, recording what it was sent.
async fn fake_stripe() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/v1/checkout/sessions",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                record.lock().expect("lock").push(format!("{auth}\n{body}"));
                axum::Json(json!({ "id": "cs_test_123", "object": "checkout.session", "url": "https://checkout.stripe.test/c/pay/cs_test_123" }))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
    (format!("http://{addr}"), seen)
}

pub fn signature(body: &str, secret: &str, t: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

pub fn event(kind: &str, session: &str, user: &str, payment_status: &str) -> String {
    json!({
        "id": format!("evt_{kind}_{session}"),
        "type": kind,
        "data": { "object": {
            "id": session, "object": "checkout.session", "payment_status": payment_status,
            "payment_intent": format!("pi_{session}"), "amount_total": 500, "currency": "usd",
            "client_reference_id": user, "metadata": { "package_id": "starter" }
        } }
    })
    .to_string()
}

pub async fn deliver(app: &TestApp, body: &str, signature: &str) -> StatusCode {
    let request = Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", signature)
        .body(Body::from(body.to_owned()))
        .expect("request");
    app.send(request).await.status
}

pub async fn user_id(app: &TestApp, cookie: &str) -> String {
    app.get("/api/me", Some(cookie)).await.body["id"].as_str().expect("id").to_owned()
}

async fn the_catalog_lists_the_default_packages_and_checkout_needs_stripe(t: TestDb) {
    let app = TestApp::new(t).await;
    let catalog = app.get("/api/billing/packages", None).await;
    let ids: Vec<&str> = catalog.body["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, vec!["starter", "plus", "pro"]);
    assert_eq!(catalog.body["packages"][0]["credits"], 10);
    let cookie = app.signed_up("ann@example.com").await;
    let r = app
        .post_json("/api/billing/checkout", json!({ "package_id": "starter" }), Some(&cookie))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "payments_disabled"));
}

async fn checkout_creates_a_stripe_session_for_the_user_and_package(t: TestDb) {
    let (base, seen) = fake_stripe().await;
    let app = TestApp::with_env(
        t,
        &[
            ("STRIPE_SECRET_KEY", "sk_test_abc"),
            ("STRIPE_WEBHOOK_SECRET", SECRET),
            ("STRIPE_API_BASE", &base),
        ],
    )
    .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let r = app
        .post_json("/api/billing/checkout", json!({ "package_id": "plus" }), Some(&cookie))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["url"], "https://checkout.stripe.test/c/pay/cs_test_123");
    let sent = seen.lock().expect("lock").join("\n");
    assert!(sent.starts_with("Bearer sk_test_abc"), "{sent}");
    assert!(sent.contains(&format!("client_reference_id={user}")), "{sent}");
    assert!(sent.contains("metadata%5Bpackage_id%5D=plus"), "{sent}");
    assert!(sent.contains("mode=payment"), "{sent}");
    let unknown = app
        .post_json("/api/billing/checkout", json!({ "package_id": "gold" }), Some(&cookie))
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let anonymous =
        app.post_json("/api/billing/checkout", json!({ "package_id": "plus" }), None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn a_paid_session_is_granted_once_under_ten_concurrent_deliveries(t: TestDb) {
    let app = Arc::new(
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await,
    );
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let body = event("checkout.session.completed", "cs_paid_1", &user, "paid");
    let now = app.t.clock.now().millis() / 1000;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (app, body) = (app.clone(), body.clone());
        let sig = signature(&body, SECRET, now);
        tasks.push(tokio::spawn(async move { deliver(&app, &body, &sig).await }));
    }
    for task in tasks {
        assert_eq!(task.await.expect("task"), StatusCode::OK);
    }
    let credits = app.get("/api/credits", Some(&cookie)).await;
    assert_eq!(credits.body["available"], 10);
    assert_eq!(credits.body["packages"].as_array().map(Vec::len), Some(1));
    let ledger = app.get("/api/credits/ledger", Some(&cookie)).await;
    assert_eq!(ledger.body["entries"].as_array().map(Vec::len), Some(1), "one grant entry");
    app.t.assert_verified().await;
}

async fn forged_stale_and_misdirected_events_are_refused_and_change_nothing(t: TestDb) {
    let app =
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let body = event("checkout.session.completed", "cs_forged", &user, "paid");
    let now = app.t.clock.now().millis() / 1000;
    let tampered = body.replace("starter", "pro");
    assert_eq!(
        deliver(&app, &tampered, &signature(&body, SECRET, now)).await,
        StatusCode::UNAUTHORIZED,
        "tampered body"
    );
    assert_eq!(
        deliver(&app, &body, &signature(&body, "whsec_wrong", now)).await,
        StatusCode::UNAUTHORIZED,
        "wrong secret"
    );
    assert_eq!(
        deliver(&app, &body, &signature(&body, SECRET, now - 600)).await,
        StatusCode::UNAUTHORIZED,
        "ten minutes old"
    );
    assert_eq!(deliver(&app, &body, "garbage").await, StatusCode::UNAUTHORIZED, "no signature");
    assert_eq!(app.get("/api/credits", Some(&cookie)).await.body["available"], 0);
    assert_eq!(app.t.count("credit_packages").await, 0);
}

async fn an_unpaid_session_waits_for_the_async_payment_and_is_granted_once(t: TestDb) {
    let app =
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let now = app.t.clock.now().millis() / 1000;
    let unpaid = event("checkout.session.completed", "cs_async", &user, "unpaid");
    assert_eq!(deliver(&app, &unpaid, &signature(&unpaid, SECRET, now)).await, StatusCode::OK);
    assert_eq!(app.get("/api/credits", Some(&cookie)).await.body["available"], 0, "unpaid waits");
    let succeeded = event("checkout.session.async_payment_succeeded", "cs_async", &user, "paid");
    for _ in 0..2 {
        assert_eq!(
            deliver(&app, &succeeded, &signature(&succeeded, SECRET, now)).await,
            StatusCode::OK
        );
    }
    assert_eq!(app.get("/api/credits", Some(&cookie)).await.body["available"], 10);
    let other =
        json!({ "id": "evt_x", "type": "customer.created", "data": { "object": {} } }).to_string();
    assert_eq!(
        deliver(&app, &other, &signature(&other, SECRET, now)).await,
        StatusCode::OK,
        "unknown events are acknowledged"
    );
    assert_eq!(app.t.count("credit_packages").await, 1);
    app.t.assert_verified().await;
}

/// Without the webhook secret no payment could ever be believed: a shopper would pay and get
/// nothing. So there is no checkout, and `/readyz` says why.
async fn checkout_is_refused_while_payments_could_not_be_granted(t: TestDb) {
    let (base, seen) = fake_stripe().await;
    let app =
        TestApp::with_env(t, &[("STRIPE_SECRET_KEY", "sk_test_abc"), ("STRIPE_API_BASE", &base)])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let r = app
        .post_json("/api/billing/checkout", json!({ "package_id": "plus" }), Some(&cookie))
        .await;
    assert_eq!((r.status, r.code()), (StatusCode::SERVICE_UNAVAILABLE, "payments_disabled"));
    assert!(seen.lock().expect("lock").is_empty(), "Stripe was never asked");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK, "payments are not needed to serve");
    assert_eq!(ready.body["payments"]["status"], "disabled", "{}", ready.body);
    assert_eq!(ready.body["payments"]["reason"], "STRIPE_WEBHOOK_SECRET is not set");
}

/// A paid session Fitroom can never fulfil is acknowledged (a 4xx would have Stripe resend it
/// for days and disable the endpoint), counted, and grants nothing.
async fn a_paid_session_without_a_user_or_package_is_acknowledged_and_counted(t: TestDb) {
    let app =
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let now = app.t.clock.now().millis() / 1000;
    let mut no_user: serde_json::Value =
        serde_json::from_str(&event("checkout.session.completed", "cs_nouser", &user, "paid"))
            .expect("json");
    no_user["data"]["object"]["client_reference_id"] = serde_json::Value::Null;
    let mut no_package = no_user.clone();
    no_package["data"]["object"]["client_reference_id"] = json!(user);
    no_package["data"]["object"]["metadata"] = json!({});
    for body in [no_user.to_string(), no_package.to_string()] {
        assert_eq!(deliver(&app, &body, &signature(&body, SECRET, now)).await, StatusCode::OK);
    }
    assert_eq!(app.t.count("credit_packages").await, 0);
    let metrics = app.state.jobs.metrics.render();
    assert!(
        metrics.contains(
            r#"fitroom_stripe_sessions_unfulfilled_total{reason="no_user_or_package"} 2"#
        ),
        "{metrics}"
    );
}

/// The amount paid and its currency must be the catalog's: a session made for another price
/// (a stale or tampered checkout) grants nothing.
async fn a_paid_session_for_another_price_grants_nothing(t: TestDb) {
    let app =
        TestApp::with_env(t, &[("STRIPE_WEBHOOK_SECRET", SECRET), ("FITROOM_SIGNUP_CREDITS", "0")])
            .await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let now = app.t.clock.now().millis() / 1000;
    let base: serde_json::Value =
        serde_json::from_str(&event("checkout.session.completed", "cs_cheap", &user, "paid"))
            .expect("json");
    for (field, value) in [("amount_total", json!(1)), ("currency", json!("eur"))] {
        let mut tampered = base.clone();
        tampered["data"]["object"][field] = value;
        let body = tampered.to_string();
        assert_eq!(deliver(&app, &body, &signature(&body, SECRET, now)).await, StatusCode::OK);
    }
    assert_eq!(app.t.count("credit_packages").await, 0);
    let right = base.to_string();
    assert_eq!(deliver(&app, &right, &signature(&right, SECRET, now)).await, StatusCode::OK);
    assert_eq!(app.get("/api/credits", Some(&cookie)).await.body["available"], 10);
}

crate::on_both_databases!(
    checkout_is_refused_while_payments_could_not_be_granted,
    a_paid_session_without_a_user_or_package_is_acknowledged_and_counted,
    a_paid_session_for_another_price_grants_nothing,
    the_catalog_lists_the_default_packages_and_checkout_needs_stripe,
    checkout_creates_a_stripe_session_for_the_user_and_package,
    a_paid_session_is_granted_once_under_ten_concurrent_deliveries,
    forged_stale_and_misdirected_events_are_refused_and_change_nothing,
    an_unpaid_session_waits_for_the_async_payment_and_is_granted_once,
);
