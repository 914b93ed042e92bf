//! The operator console's JSON (issue 20): for admins only, 404 for everyone else, and a job's
//! whole life as its timeline.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use fitroom_server::accounts::admin::set_admin;
use fitroom_server::clock::Clock;
use serde_json::Value;

use crate::common::TestDb;
use crate::http_app::TestApp;
use crate::http_server::Server;

/// Every admin route there is, with a path that would exist.
const ADMIN_ROUTES: &[&str] = &[
    "/api/admin/jobs",
    "/api/admin/jobs?status=failed",
    "/api/admin/jobs/job_0",
    "/api/admin/jobs/job_0/images/result",
    "/api/admin/users",
    "/api/admin/users?email=a",
    "/api/admin/users/user_0",
    "/api/admin/audit",
    "/api/admin/providers",
];

/// Every admin write there is.
const ADMIN_WRITES: &[&str] = &[
    "/api/admin/jobs/job_0/cancel",
    "/api/admin/users/user_0/grants",
    "/api/admin/users/user_0/suspend",
    "/api/admin/users/user_0/unsuspend",
    "/api/admin/providers/local/reset",
];

async fn every_admin_route_is_404_for_visitors_and_shoppers(t: TestDb) {
    let app = TestApp::new(t).await;
    let shopper = app.signed_up("ann@example.com").await;
    for route in ADMIN_ROUTES {
        for (who, cookie) in [("a visitor", None), ("a shopper", Some(shopper.as_str()))] {
            let r = app.get(route, cookie).await;
            assert_eq!(
                (r.status, r.code()),
                (StatusCode::NOT_FOUND, "not_found"),
                "{route} as {who}"
            );
        }
    }
    assert_eq!(app.get("/api/me", Some(&shopper)).await.body["admin"], false);

    let admin = app.signed_up("ops@example.com").await;
    set_admin(&app.state.db, "OPS@example.com", true, app.t.clock.now()).await.expect("admin");
    assert_eq!(app.get("/api/me", Some(&admin)).await.body["admin"], true);
    assert_eq!(app.get("/api/admin/jobs", Some(&admin)).await.status, StatusCode::OK);
    assert_eq!(app.get("/api/admin/jobs/job_0", Some(&admin)).await.status, StatusCode::NOT_FOUND);
    let bad = app.get("/api/admin/jobs?status=lost", Some(&admin)).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_request"));

    // Writes too: a shopper's write through an admin route is a 404, and changes nothing.
    let before = app.t.snapshot().await;
    for route in ADMIN_WRITES {
        for (who, cookie) in [("a visitor", None), ("a shopper", Some(shopper.as_str()))] {
            let body = serde_json::json!({ "reason": "x", "amount": 5 });
            let r = app.post_json(route, body, cookie).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{route} as {who}");
        }
    }
    // Nor does another method give the route away (a 405 and its `Allow` header would).
    for route in ADMIN_ROUTES.iter().chain(ADMIN_WRITES) {
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            for (who, cookie) in [("a visitor", None), ("a shopper", Some(shopper.as_str()))] {
                let mut request = Request::builder().method(method.clone()).uri(*route);
                if let Some(cookie) = cookie {
                    request = request.header(header::COOKIE, cookie);
                }
                let r = app.send(request.body(Body::empty()).expect("request")).await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{method} {route} as {who}: {:?}",
                    r.body
                );
                assert!(
                    r.headers.get(header::ALLOW).is_none(),
                    "{method} {route} as {who}: {:?}",
                    r.headers
                );
            }
        }
    }
    assert_eq!(app.t.snapshot().await, before);
    assert_eq!(app.t.count("admin_audit").await, 1, "only the admin made from the command line");

    set_admin(&app.state.db, "ops@example.com", false, app.t.clock.now()).await.expect("unmade");
    assert_eq!(app.get("/api/admin/jobs", Some(&admin)).await.status, StatusCode::NOT_FOUND);
    assert!(
        set_admin(&app.state.db, "nobody@example.com", true, app.t.clock.now())
            .await
            .expect("runs")
            .is_none()
    );
}

async fn an_admin_reads_a_successful_jobs_timeline_oldest_first(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(server.wait_finished(&id).await["status"], "succeeded");

    let ops = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&ops, "ops@example.com").await;
    set_admin(&server.state.db, "ops@example.com", true, server.t.clock.now())
        .await
        .expect("admin");
    let get = |path: String| {
        let ops = ops.clone();
        async move { ops.get(path).send().await.expect("get").json::<Value>().await.expect("json") }
    };
    let body = get(format!("{}/api/admin/jobs/{id}", server.base)).await;
    assert_eq!(body["job"]["id"], id.as_str());
    assert_eq!(body["job"]["email"], "ann@example.com");
    assert_eq!(body["job"]["status"], "succeeded");
    assert_eq!(body["job"]["attempts"], 1);
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or(""))
        .collect();
    let position = |kind: &str| kinds.iter().position(|k| *k == kind);
    for (earlier, later) in [
        ("created", "held"),
        ("held", "submitted"),
        ("submitted", "webhook"),
        ("webhook", "stored"),
        ("stored", "settled"),
    ] {
        assert!(
            position(earlier).is_some() && position(earlier) < position(later),
            "{earlier} before {later}: {kinds:?}"
        );
    }

    // The stored images: the inputs (kept for the retention period) and the result, for admins
    // only, never cached.
    let names: Vec<&str> = body["images"]
        .as_array()
        .expect("images")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["person", "garment", "result"]);
    let result = ops
        .get(format!("{}/api/admin/jobs/{id}/images/result", server.base))
        .send()
        .await
        .expect("image");
    assert_eq!(result.status(), 200);
    assert_eq!(result.headers()["cache-control"], "private, no-store");
    assert!(result.bytes().await.expect("bytes").len() > 100);
    let unknown = ops
        .get(format!("{}/api/admin/jobs/{id}/images/secrets", server.base))
        .send()
        .await
        .expect("image");
    assert_eq!(unknown.status(), 404);
    let shopper = server.http.get(format!("{}/api/admin/jobs/{id}/images/result", server.base));
    assert_eq!(shopper.send().await.expect("image").status(), 404, "the owner is no admin");

    let listed =
        get(format!("{}/api/admin/jobs?status=succeeded&email=ANN@&provider=local", server.base))
            .await;
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], id.as_str());
    let none = get(format!("{}/api/admin/jobs?email=bob", server.base)).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
}

async fn an_admin_cancels_a_job_with_a_reason_and_the_audit_log_keeps_it(t: TestDb) {
    // The provider never answers: the job stays in flight until the admin ends it.
    let server =
        Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1"), ("FITROOM_LOCAL_DELAY_MS", "0")])
            .await;
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();

    let ops = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&ops, "ops@example.com").await;
    set_admin(&server.state.db, "ops@example.com", true, server.t.clock.now())
        .await
        .expect("admin");
    let cancel = |body: Value| {
        let (ops, url) = (ops.clone(), format!("{}/api/admin/jobs/{id}/cancel", server.base));
        async move {
            let r = ops.post(url).json(&body).send().await.expect("post");
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (status, body) = cancel(serde_json::json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request")),
        "no reason"
    );
    let (status, body) = cancel(serde_json::json!({ "reason": "  " })).await;
    assert_eq!(status, 400, "a blank reason: {body}");
    // The Operations overview sees the job running and its credit held...
    let overview = |server: &Server| {
        let state = server.state.clone();
        async move { fitroom_server::console::operations::overview(&state).await.expect("overview") }
    };
    let before = overview(&server).await;
    let local = before.last_hour.iter().find(|p| p.provider == "local").expect("local's hour");
    assert_eq!((local.jobs, local.unfinished, local.success_rate), (1, 1, None));
    assert_eq!((before.open_holds, before.held_credits), (1, 1));
    let (status, body) =
        cancel(serde_json::json!({ "reason": "stuck at the provider, ticket 42" })).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("canceled")), "{body}");
    assert_eq!(server.credits().await, (3, 0), "the hold was released");
    // ...and then nothing held; a cancel counts neither for nor against the provider.
    let after = overview(&server).await;
    let local = after.last_hour.iter().find(|p| p.provider == "local").expect("local's hour");
    assert_eq!((local.jobs, local.unfinished, local.failed, local.success_rate), (1, 0, 0, None));
    assert_eq!((after.open_holds, after.held_credits), (0, 0));
    let (status, _) = cancel(serde_json::json!({ "reason": "again" })).await;
    assert_eq!(status, 409, "already finished");
    let read = |path: String| {
        let request = ops.get(format!("{}{path}", server.base));
        async move { request.send().await.expect("get").json::<Value>().await.expect("json") }
    };
    let timeline = read(format!("/api/admin/jobs/{id}")).await;
    let canceled: Vec<&Value> = timeline["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "canceled")
        .collect();
    assert_eq!(canceled.len(), 1, "{timeline}");
    assert_eq!(canceled[0]["detail"], "by ops@example.com: stuck at the provider, ticket 42");

    let log = read("/api/admin/audit?limit=10".to_owned()).await;
    let entries = log["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(
        (entries[1]["action"].as_str(), entries[1]["actor"].as_str()),
        (Some("admin_add"), Some("command line")),
        "making the admin is in the log too: {log}"
    );
    assert_eq!(entries[0]["actor"], "ops@example.com");
    assert_eq!(entries[0]["action"], "cancel_job");
    assert_eq!(entries[0]["target"], id.as_str());
    assert_eq!(entries[0]["reason"], "stuck at the provider, ticket 42");
    assert!(fitroom_server::audit::verify(&server.state.db).await.expect("verify").is_empty());
    server.t.assert_verified().await;
}

/// The log is append-only: an edited or deleted row breaks the chain, and verify says where.
async fn an_edited_or_deleted_audit_row_is_seen(t: TestDb) {
    let db = t.db.clone();
    let actor = t.user().await;
    for (n, reason) in ["first", "second", "third"].iter().enumerate() {
        let write = fitroom_server::audit::AdminWrite {
            actor: &actor,
            actor_email: "ops@example.com",
            action: "grant",
            target: &format!("usr_{n}"),
            reason,
        };
        fitroom_server::audit::record(&db, &write, t.clock.now()).await.expect("record");
    }
    assert!(fitroom_server::audit::verify(&db).await.expect("verify").is_empty());
    sqlx::query("UPDATE admin_audit SET reason = 'nothing to see' WHERE seq = 2")
        .execute(db.pool())
        .await
        .expect("tamper");
    let broken = fitroom_server::audit::verify(&db).await.expect("verify");
    assert!(broken.iter().any(|b| b.contains("does not match its hash")), "{broken:?}");
    sqlx::query("UPDATE admin_audit SET reason = 'second' WHERE seq = 2")
        .execute(db.pool())
        .await
        .expect("undo");
    sqlx::query("DELETE FROM admin_audit WHERE seq = 2").execute(db.pool()).await.expect("delete");
    let broken = fitroom_server::audit::verify(&db).await.expect("verify");
    assert!(broken.iter().any(|b| b.contains("expected 2")), "{broken:?}");
}

async fn an_admin_grants_credits_with_a_reason_and_suspends_a_shopper(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.signed_up("ann@example.com").await;
    let ann_id = app.get("/api/me", Some(&ann)).await.body["id"].as_str().expect("id").to_owned();
    let ops = app.signed_up("ops@example.com").await;
    set_admin(&app.state.db, "ops@example.com", true, app.t.clock.now()).await.expect("admin");

    let found = app.get("/api/admin/users?email=ANN", Some(&ops)).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    let users = found.body["users"].as_array().expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!(
        (users[0]["email"].as_str(), users[0]["available"].as_i64()),
        (Some("ann@example.com"), Some(3))
    );

    let grants = format!("/api/admin/users/{ann_id}/grants");
    let no_reason = app.post_json(&grants, serde_json::json!({ "amount": 5 }), Some(&ops)).await;
    assert_eq!((no_reason.status, no_reason.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    let zero =
        app.post_json(&grants, serde_json::json!({ "amount": 0, "reason": "x" }), Some(&ops)).await;
    assert_eq!(zero.status, StatusCode::BAD_REQUEST);
    let granted = app
        .post_json(&grants, serde_json::json!({ "amount": 5, "expires_in_days": 30, "reason": "refund for ticket 7" }), Some(&ops))
        .await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    assert_eq!(granted.body["package"]["name"], "Granted by ops@example.com");
    assert_eq!(granted.body["package"]["granted"], 5);
    assert_eq!(app.get("/api/credits", Some(&ann)).await.body["available"], 8);

    let detail = app.get(&format!("/api/admin/users/{ann_id}"), Some(&ops)).await;
    assert_eq!(detail.body["user"]["available"], 8);
    assert_eq!(detail.body["packages"].as_array().map(Vec::len), Some(2));
    assert!(detail.body["entries"].as_array().is_some_and(|e| e.len() >= 2));
    assert_eq!(detail.body["generations"].as_array().map(Vec::len), Some(0));

    let suspend = format!("/api/admin/users/{ann_id}/suspend");
    let r = app
        .post_json(&suspend, serde_json::json!({ "reason": "chargeback fraud" }), Some(&ops))
        .await;
    assert_eq!((r.status, r.body["user"]["suspended"].as_bool()), (StatusCode::OK, Some(true)));
    assert_eq!(
        app.get("/api/me", Some(&ann)).await.status,
        StatusCode::UNAUTHORIZED,
        "her session ended"
    );
    let login =
        serde_json::json!({ "email": "ann@example.com", "password": "correct horse battery" });
    let refused = app.post_json("/api/auth/login", login.clone(), None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "account_suspended"));
    let wrong = serde_json::json!({ "email": "ann@example.com", "password": "not her password" });
    assert_eq!(
        app.post_json("/api/auth/login", wrong, None).await.code(),
        "invalid_credentials",
        "no oracle"
    );

    let unsuspend = format!("/api/admin/users/{ann_id}/unsuspend");
    let r = app.post_json(&unsuspend, serde_json::json!({ "reason": "cleared" }), Some(&ops)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.post_json("/api/auth/login", login, None).await.status, StatusCode::OK);

    let log = app.get("/api/admin/audit", Some(&ops)).await;
    let actions: Vec<&str> = log.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(actions, vec!["unsuspend", "suspend", "grant_credits", "admin_add"], "newest first");
    assert!(fitroom_server::audit::verify(&app.state.db).await.expect("verify").is_empty());
    app.t.assert_verified().await;
}

async fn an_admin_sees_each_providers_figures_and_resets_a_cool_down(t: TestDb) {
    let app = TestApp::new(t).await;
    let ops = app.signed_up("ops@example.com").await;
    set_admin(&app.state.db, "ops@example.com", true, app.t.clock.now()).await.expect("admin");
    let now = app.t.clock.now();
    for _ in 0..fitroom_server::spend::health::FAILURES_BEFORE_COOL_DOWN {
        fitroom_server::spend::health::record_failure(&app.state.db, "local", now)
            .await
            .expect("failure");
    }
    let r = app.get("/api/admin/providers", Some(&ops)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let row = &r.body["providers"][0];
    assert_eq!((row["name"].as_str(), row["state"].as_str()), (Some("local"), Some("cooling")));
    for field in ["price", "spend", "jobs"] {
        assert!(row[field].is_number(), "{field}: {row}");
    }
    for field in ["budget", "period", "success_rate", "p50_ms", "p95_ms"] {
        assert!(row[field].is_null(), "{field}: {row}");
    }

    let reset = "/api/admin/providers/local/reset";
    let no_reason = app.post_json(reset, serde_json::json!({}), Some(&ops)).await;
    assert_eq!(no_reason.code(), "invalid_request");
    let unknown = app
        .post_json(
            "/api/admin/providers/nope/reset",
            serde_json::json!({ "reason": "x" }),
            Some(&ops),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let r = app.post_json(reset, serde_json::json!({ "reason": "it is back" }), Some(&ops)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["providers"][0]["state"], "ok");
    let log = app.get("/api/admin/audit", Some(&ops)).await;
    assert_eq!(log.body["entries"][0]["action"], "reset_cooldown");
    assert_eq!(log.body["entries"][0]["target"], "local");
    assert_eq!(log.body["entries"][0]["reason"], "it is back");
}

/// The chain cannot see its newest entries removed; the head each verification keeps can.
async fn audit_entries_removed_from_the_end_since_a_verification_are_seen(t: TestDb) {
    use fitroom_server::console::verification;
    let db = t.db.clone();
    let actor = t.user().await;
    let record = |n: usize| {
        let (db, actor, now) = (db.clone(), actor.clone(), t.clock.now());
        async move {
            let target = format!("usr_{n}");
            let write = fitroom_server::audit::AdminWrite {
                actor: &actor,
                actor_email: "ops@example.com",
                action: "grant",
                target: &target,
                reason: "why",
            };
            fitroom_server::audit::record(&db, &write, now).await.expect("record");
        }
    };
    for n in 0..3 {
        record(n).await;
    }
    let check = verification::run(&db, "cli", t.clock.now()).await.expect("runs");
    assert!(check.is_clean(), "{check:?}");

    sqlx::query("DELETE FROM admin_audit WHERE seq = 3").execute(db.pool()).await.expect("delete");
    assert!(
        fitroom_server::audit::verify(&db).await.expect("verify").is_empty(),
        "the chain alone"
    );
    t.clock.advance_millis(1000);
    let check = verification::run(&db, "cli", t.clock.now()).await.expect("runs");
    assert!(check.violations.iter().any(|v| v.contains("from place 3 on are gone")), "{check:?}");
    // Still reported by the next run, even after new entries: it keeps the head it checked.
    record(9).await;
    t.clock.advance_millis(1000);
    let check = verification::run(&db, "cli", t.clock.now()).await.expect("runs");
    assert!(check.violations.iter().any(|v| v.contains("changed since the last")), "{check:?}");

    sqlx::query("DELETE FROM admin_audit").execute(db.pool()).await.expect("empty it");
    t.clock.advance_millis(1000);
    let check = verification::run(&db, "cli", t.clock.now()).await.expect("runs");
    assert!(check.violations.iter().any(|v| v.contains("are gone")), "{check:?}");
}

/// Grants racing each other: each lands once, with its own place in the audit log.
async fn concurrent_grants_each_land_once_with_their_audit_entry(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.signed_up("ann@example.com").await;
    let ann_id = app.get("/api/me", Some(&ann)).await.body["id"].as_str().expect("id").to_owned();
    let ops = app.signed_up("ops@example.com").await;
    let eve = app.signed_up("eve@example.com").await;
    for admin in ["ops@example.com", "eve@example.com"] {
        set_admin(&app.state.db, admin, true, app.t.clock.now()).await.expect("admin");
    }
    let grants = format!("/api/admin/users/{ann_id}/grants");
    let replies = futures_util::future::join_all((0..16).map(|n| {
        let cookie = if n % 2 == 0 { &ops } else { &eve };
        let body = serde_json::json!({ "amount": 1, "reason": format!("ticket {n}") });
        app.post_json(&grants, body, Some(cookie.as_str()))
    }))
    .await;
    for r in &replies {
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    assert_eq!(app.get("/api/credits", Some(&ann)).await.body["available"], 3 + 16);
    let log = app.get("/api/admin/audit?limit=100", Some(&ops)).await;
    let reasons: std::collections::BTreeSet<String> = log.body["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["action"] == "grant_credits")
        .map(|e| e["reason"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(reasons.len(), 16, "one entry per grant: {reasons:?}");
    assert!(fitroom_server::audit::verify(&app.state.db).await.expect("verify").is_empty());
    app.t.assert_verified().await;
}

/// A sign-in whose password check overlaps a suspension never leaves a live session behind.
async fn a_sign_in_racing_a_suspension_never_outlives_it(t: TestDb) {
    let app = TestApp::new(t).await;
    let ann = app.signed_up("ann@example.com").await;
    let ann_id = app.get("/api/me", Some(&ann)).await.body["id"].as_str().expect("id").to_owned();
    let ops = app.signed_up("ops@example.com").await;
    set_admin(&app.state.db, "ops@example.com", true, app.t.clock.now()).await.expect("admin");
    let login =
        serde_json::json!({ "email": "ann@example.com", "password": "correct horse battery" });
    for delay_ms in [0, 2, 5, 10, 20, 40, 80] {
        let sign_in = app.post_json("/api/auth/login", login.clone(), None);
        let suspend = async {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let body = serde_json::json!({ "reason": "fraud" });
            app.post_json(&format!("/api/admin/users/{ann_id}/suspend"), body, Some(&ops)).await
        };
        let (signed_in, suspended) = tokio::join!(sign_in, suspend);
        assert_eq!(suspended.status, StatusCode::OK);
        let live: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(&ann_id)
            .fetch_one(app.state.db.pool())
            .await
            .expect("count");
        assert_eq!(live.0, 0, "after {delay_ms} ms: the sign-in answered {}", signed_in.status);
        if signed_in.status == StatusCode::OK {
            assert_eq!(app.get("/api/me", Some(&signed_in.cookie())).await.status, 401);
        }
        let body = serde_json::json!({ "reason": "next round" });
        let lifted =
            app.post_json(&format!("/api/admin/users/{ann_id}/unsuspend"), body, Some(&ops)).await;
        assert_eq!(lifted.status, StatusCode::OK);
    }
}

/// The same for a sign-in whose password check overlaps the account's deletion.
async fn a_sign_in_racing_the_accounts_deletion_never_outlives_it(t: TestDb) {
    let app = TestApp::new(t).await;
    for delay_ms in [0, 5, 20, 60] {
        let email = format!("ann{delay_ms}@example.com");
        let ann = app.signed_up(&email).await;
        let id = app.get("/api/me", Some(&ann)).await.body["id"].as_str().expect("id").to_owned();
        let login = serde_json::json!({ "email": email, "password": "correct horse battery" });
        let sign_in = app.post_json("/api/auth/login", login, None);
        let delete = async {
            tokio::time::sleep(std::time::Duration::from_millis(delay_ms)).await;
            let request = Request::delete("/api/me")
                .header(header::COOKIE, &ann)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"password":"correct horse battery"}"#))
                .expect("request");
            app.send(request).await
        };
        let (signed_in, deleted) = tokio::join!(sign_in, delete);
        assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{:?}", deleted.body);
        let live: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sessions WHERE user_id = $1")
            .bind(&id)
            .fetch_one(app.state.db.pool())
            .await
            .expect("count");
        assert_eq!(live.0, 0, "after {delay_ms} ms: the sign-in answered {}", signed_in.status);
    }
}

crate::on_both_databases!(
    audit_entries_removed_from_the_end_since_a_verification_are_seen,
    a_sign_in_racing_the_accounts_deletion_never_outlives_it,
    concurrent_grants_each_land_once_with_their_audit_entry,
    a_sign_in_racing_a_suspension_never_outlives_it,
    an_admin_sees_each_providers_figures_and_resets_a_cool_down,
    an_admin_grants_credits_with_a_reason_and_suspends_a_shopper,
    an_admin_cancels_a_job_with_a_reason_and_the_audit_log_keeps_it,
    an_edited_or_deleted_audit_row_is_seen,
    every_admin_route_is_404_for_visitors_and_shoppers,
    an_admin_reads_a_successful_jobs_timeline_oldest_first,
);
