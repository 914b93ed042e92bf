//! What a polling page sees: the status endpoint answers repeated polls from memory, yet never
//! shows a state older than the last change this process made, never shows one shopper's job to
//! another, and shows a change made by another process sharing the database within a second.

use std::time::{Duration, Instant};

use crate::common::TestDb;
use crate::http_server::Server;

/// A job that stays `processing`: its webhook is never delivered.
async fn running_job(server: &Server) -> String {
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202);
    let id = created["id"].as_str().expect("id").to_owned();
    for _ in 0..100 {
        if server.get_json(&format!("/api/generations/{id}")).await["status"] == "processing" {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the job never reached processing");
}

async fn a_poll_right_after_a_cancel_sees_it_canceled(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    let id = running_job(&server).await;
    // Polled again and again while running, as the page does.
    for _ in 0..5 {
        assert_eq!(
            server.get_json(&format!("/api/generations/{id}")).await["status"],
            "processing"
        );
    }
    let r = server
        .http
        .post(format!("{}/api/generations/{id}/cancel", server.base))
        .send()
        .await
        .expect("cancel");
    assert_eq!(r.status(), 200);
    assert_eq!(server.get_json(&format!("/api/generations/{id}")).await["status"], "canceled");
    server.t.assert_verified().await;
}

async fn a_poll_right_after_sign_out_is_refused(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    let id = running_job(&server).await;
    let poll = format!("{}/api/generations/{id}", server.base);
    assert_eq!(server.http.get(&poll).send().await.expect("poll").status(), 200);
    let r =
        server.http.post(format!("{}/api/auth/logout", server.base)).send().await.expect("logout");
    assert_eq!(r.status(), 204);
    assert_eq!(server.http.get(&poll).send().await.expect("poll").status(), 401);
}

async fn a_stolen_job_id_stays_hidden_even_while_its_owner_polls(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    let id = running_job(&server).await;
    let bob = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&bob, "bob@example.com").await;
    for _ in 0..3 {
        assert_eq!(
            server.get_json(&format!("/api/generations/{id}")).await["status"],
            "processing"
        );
        let r =
            bob.get(format!("{}/api/generations/{id}", server.base)).send().await.expect("poll");
        assert_eq!(r.status(), 404, "the same answer as for an id that does not exist");
    }
}

async fn a_change_made_by_another_process_shows_within_a_second(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    let id = running_job(&server).await;
    assert_eq!(server.get_json(&format!("/api/generations/{id}")).await["status"], "processing");
    // Another instance sharing the database finishes the job: this process is not told.
    sqlx::query("UPDATE jobs SET status = 'failed', error = 'elsewhere' WHERE id = $1")
        .bind(&id)
        .execute(server.t.db.pool())
        .await
        .expect("update");
    let changed = Instant::now();
    loop {
        let g = server.get_json(&format!("/api/generations/{id}")).await;
        if g["status"] == "failed" {
            break;
        }
        // Generous: the bound is a correctness property (the cache entry lives one second),
        // not a latency figure, and this machine may be busy.
        assert!(changed.elapsed() < Duration::from_secs(10), "the change never showed: {g}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

crate::on_both_databases!(
    a_poll_right_after_a_cancel_sees_it_canceled,
    a_poll_right_after_sign_out_is_refused,
    a_stolen_job_id_stays_hidden_even_while_its_owner_polls,
    a_change_made_by_another_process_shows_within_a_second,
);
