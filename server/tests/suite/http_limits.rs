//! Abuse limits answer their documented errors and write nothing beyond them.

use crate::common::TestDb;
use crate::http_server::Server;

async fn unfinished_jobs_beyond_the_limit_are_refused(t: TestDb) {
    let server = Server::start(
        t,
        &[
            ("FITROOM_MAX_ACTIVE_JOBS", "2"),
            ("FITROOM_LOCAL_DROP_RATE", "1"),
            ("FITROOM_SIGNUP_CREDITS", "5"),
        ],
    )
    .await;
    server.sign_up("ann@example.com").await;
    for _ in 0..2 {
        assert_eq!(server.generate(None).await.0, 202);
    }
    let (status, body) = server.generate(None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_jobs")));
    assert_eq!(server.t.count("jobs").await, 2);
    assert_eq!(server.credits().await, (3, 2), "the refused request held nothing");
}

async fn submissions_beyond_the_rate_are_refused(t: TestDb) {
    let server =
        Server::start(t, &[("FITROOM_SUBMITS_PER_MINUTE", "2"), ("FITROOM_SIGNUP_CREDITS", "5")])
            .await;
    server.sign_up("ann@example.com").await;
    for _ in 0..2 {
        assert_eq!(server.generate(None).await.0, 202);
    }
    let (status, body) = server.generate(None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(server.t.count("jobs").await, 2);
    server.t.clock.advance_millis(60_000);
    assert_eq!(server.generate(None).await.0, 202, "a new minute, a new budget");
}

async fn oversized_json_and_webhook_bodies_are_refused(t: TestDb) {
    let server = Server::start(t, &[]).await;
    let big_json =
        format!("{{\"email\":\"{}@example.com\",\"password\":\"x\"}}", "a".repeat(70 * 1024));
    let r = server
        .http
        .post(format!("{}/api/auth/register", server.base))
        .header("content-type", "application/json")
        .body(big_json)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 413);
    let body: serde_json::Value = r.json().await.expect("json");
    assert_eq!(body["error"]["code"], "payload_too_large");
    assert_eq!(server.t.count("users").await, 0);
    let r = server
        .http
        .post(format!("{}/webhooks/local", server.base))
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 413);
}

crate::on_both_databases!(
    unfinished_jobs_beyond_the_limit_are_refused,
    submissions_beyond_the_rate_are_refused,
    oversized_json_and_webhook_bodies_are_refused,
);
