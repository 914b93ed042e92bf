//! The operator console's JSON (issue 20): for admins only, 404 for everyone else, and a job's
//! whole life as its timeline.

use axum::http::StatusCode;
use fitroom_server::accounts::admin::set_admin;
use fitroom_server::clock::Clock;
use serde_json::Value;

use crate::common::TestDb;
use crate::http_app::TestApp;
use crate::http_server::Server;

/// Every admin route there is, with a path that would exist.
const ADMIN_ROUTES: &[&str] =
    &["/api/admin/jobs", "/api/admin/jobs?status=failed", "/api/admin/jobs/job_0"];

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

    let listed =
        get(format!("{}/api/admin/jobs?status=succeeded&email=ANN@&provider=local", server.base))
            .await;
    let items = listed["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{listed}");
    assert_eq!(items[0]["id"], id.as_str());
    let none = get(format!("{}/api/admin/jobs?email=bob", server.base)).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));
}

crate::on_both_databases!(
    every_admin_route_is_404_for_visitors_and_shoppers,
    an_admin_reads_a_successful_jobs_timeline_oldest_first,
);
