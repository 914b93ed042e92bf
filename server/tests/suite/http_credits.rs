//! Credits over HTTP: balances, packages in consumption order, the journal (docs/api.md, Credits).

use axum::http::StatusCode;
use fitroom_server::ids::UserId;
use fitroom_server::ledger::{Credits, Grant};
use serde_json::json;

use crate::common::{START, TestDb};
use crate::http_app::TestApp;
use crate::ledger_holds::freeze;

async fn user_id(app: &TestApp, cookie: &str) -> UserId {
    let me = app.get("/api/me", Some(cookie)).await;
    UserId::from_string(me.body["id"].as_str().expect("id"))
}

async fn credits_list_packages_in_consumption_order_with_their_remaining_credits(t: TestDb) {
    let app = TestApp::with_env(t, &[("FITROOM_SIGNUP_CREDITS", "0")]).await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let ledger = app.state.ledger.clone();
    for (n, days) in [(5, None), (2, Some(30)), (1, Some(3))] {
        ledger
            .grant(&Grant {
                user: user.clone(),
                credits: Credits::new(n).expect("n"),
                name: format!("{n} credits"),
                expires_at: days.map(|d| START.plus_days(d)),
                source: None,
            })
            .await
            .expect("grant");
    }
    let job = app.t.job(&user).await;
    freeze(&ledger, &user, &job, 2, "k").await.expect("freeze");

    let reply = app.get("/api/credits", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!((reply.body["available"].as_i64(), reply.body["held"].as_i64()), (Some(6), Some(2)));
    let names: Vec<&str> = reply.body["packages"]
        .as_array()
        .expect("array")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        vec!["2 credits", "5 credits", "1 credits"],
        "active first-expiring-first, then the depleted one"
    );
    let depleted = &reply.body["packages"][2];
    assert_eq!(
        (depleted["remaining"].as_i64(), depleted["held"].as_i64(), depleted["status"].as_str()),
        (Some(0), Some(1), Some("depleted"))
    );
    assert_eq!(reply.body["packages"][1]["expires_at"], json!(null));
}

async fn the_ledger_lists_entries_newest_first_with_a_limit(t: TestDb) {
    let app = TestApp::new(t).await;
    let cookie = app.signed_up("ann@example.com").await;
    let user = user_id(&app, &cookie).await;
    let job = app.t.job(&user).await;
    let hold = freeze(&app.state.ledger, &user, &job, 1, "k").await.expect("freeze").hold;
    app.state.ledger.release(&hold.id).await.expect("release");

    let all = app.get("/api/credits/ledger", Some(&cookie)).await;
    let kinds: Vec<&str> = all.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, vec!["release", "freeze", "grant"]);
    let newest = &all.body["entries"][0];
    assert_eq!(newest["job_id"], json!(job.as_str()));
    assert_eq!(newest["hold_id"], json!(hold.id.as_str()));
    assert_eq!(newest["amount"], json!(1));

    let one = app.get("/api/credits/ledger?limit=1", Some(&cookie)).await;
    assert_eq!(one.body["entries"].as_array().map(Vec::len), Some(1));
    for bad in ["0", "-1", "lots"] {
        let r = app.get(&format!("/api/credits/ledger?limit={bad}"), Some(&cookie)).await;
        assert_eq!(
            (r.status, r.code()),
            (StatusCode::BAD_REQUEST, "invalid_request"),
            "limit={bad}"
        );
    }
}

async fn credits_and_ledger_need_a_session_and_show_only_ones_own(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.signed_up("ann@example.com").await;
    let bob = app.signed_up("bob@example.com").await;
    for path in ["/api/me", "/api/credits", "/api/credits/ledger"] {
        let anonymous = app.get(path, None).await;
        assert_eq!(
            (anonymous.status, anonymous.code()),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{path}"
        );
    }
    let ann_id = user_id(&app, &ann).await;
    let bobs = app.get("/api/credits/ledger", Some(&bob)).await;
    assert!(bobs.body["entries"].as_array().expect("entries").iter().all(|e| {
        let package = e["package_id"].as_str().unwrap_or_default();
        !package.is_empty() && !package.contains(ann_id.as_str())
    }));
    assert_eq!(bobs.body["entries"].as_array().map(Vec::len), Some(1), "only Bob's own grant");
}

crate::on_both_databases!(
    credits_list_packages_in_consumption_order_with_their_remaining_credits,
    the_ledger_lists_entries_newest_first_with_a_limit,
    credits_and_ledger_need_a_session_and_show_only_ones_own,
);
