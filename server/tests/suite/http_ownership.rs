//! Ownership: another shopper's generation answers 404 on every route (no existence leak), and
//! an anonymous client gets 401 everywhere a session is needed.

use reqwest::Method;

use crate::common::TestDb;
use crate::http_server::Server;

async fn every_authenticated_route_is_scoped_to_the_sessions_user(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id").to_owned();
    server.wait_finished(&id).await;

    let bob = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&bob, "bob@example.com").await;
    let anonymous = reqwest::Client::new();

    let scoped = [
        (Method::GET, format!("/api/generations/{id}")),
        (Method::GET, format!("/api/generations/{id}/result")),
        (Method::POST, format!("/api/generations/{id}/cancel")),
        (Method::DELETE, format!("/api/generations/{id}")),
    ];
    for (method, path) in &scoped {
        let r = bob
            .request(method.clone(), format!("{}{path}", server.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 404, "Bob on {method} {path}");
        let r = anonymous
            .request(method.clone(), format!("{}{path}", server.base))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 401, "anonymous on {method} {path}");
    }
    for path in ["/api/me", "/api/credits", "/api/credits/ledger", "/api/generations"] {
        let r = anonymous.get(format!("{}{path}", server.base)).send().await.expect("send");
        assert_eq!(r.status(), 401, "anonymous on {path}");
    }
    let r = anonymous.post(format!("{}/api/generations", server.base)).send().await.expect("send");
    assert_eq!(r.status(), 401, "anonymous generation");

    let bobs: serde_json::Value = bob
        .get(format!("{}/api/generations", server.base))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(
        bobs["items"].as_array().map(Vec::len),
        Some(0),
        "Bob sees none of Ann's generations"
    );
    let bobs_ledger: serde_json::Value = bob
        .get(format!("{}/api/credits/ledger", server.base))
        .send()
        .await
        .expect("ledger")
        .json()
        .await
        .expect("json");
    assert!(
        bobs_ledger["entries"].as_array().expect("entries").iter().all(|e| e["job_id"].is_null()),
        "no entry of Ann's job"
    );

    // Ann still has it all, and can delete it now that it is finished.
    assert_eq!(server.get_json(&format!("/api/generations/{id}")).await["status"], "succeeded");
    let deleted = server
        .http
        .delete(format!("{}/api/generations/{id}", server.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    let gone =
        server.http.get(format!("{}/api/generations/{id}", server.base)).send().await.expect("get");
    assert_eq!(gone.status(), 404);
    assert!(
        server.state.storage.get(&format!("results/{id}.png")).await.expect("get").is_none(),
        "the result is deleted"
    );
}

async fn a_running_generation_can_be_canceled_but_not_deleted(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id");
    let still_running = server
        .http
        .delete(format!("{}/api/generations/{id}", server.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(still_running.status(), 409);
    let canceled: serde_json::Value = server
        .http
        .post(format!("{}/api/generations/{id}/cancel", server.base))
        .send()
        .await
        .expect("cancel")
        .json()
        .await
        .expect("json");
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(server.credits().await, (3, 0), "the hold was released");
    let again = server
        .http
        .post(format!("{}/api/generations/{id}/cancel", server.base))
        .send()
        .await
        .expect("cancel");
    assert_eq!(again.status(), 409);
    server.t.assert_verified().await;
}

crate::on_both_databases!(
    every_authenticated_route_is_scoped_to_the_sessions_user,
    a_running_generation_can_be_canceled_but_not_deleted
);
