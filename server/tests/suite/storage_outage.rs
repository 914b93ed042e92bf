//! docs/design.md, Failure rules: storage down during mirroring keeps the job processing with its
//! hold open and retries with backoff; the shopper is charged once, when the copy exists.
//! A real Fitroom over HTTP, storing in its own s3s-fs process, which the test kills mid-job.

use std::time::Duration;

use fitroom_server::ids::JobId;
use fitroom_server::providers::TaskState;
use serde_json::Value;

use crate::common::TestDb;
use crate::http_server::Server;
use crate::s3s::S3sFs;

/// The job's row as the mirror left it: (status, output recorded, mirror attempts).
async fn job_row(server: &Server, id: &str) -> (String, bool, i64) {
    let (status, output, attempts): (String, Option<String>, i64) =
        sqlx::query_as("SELECT status, output_url, mirror_attempts FROM jobs WHERE id = $1")
            .bind(id)
            .fetch_one(server.t.db.pool())
            .await
            .expect("job row");
    (status, output.is_some(), attempts)
}

/// Waits for the local provider to finish the task (it reads the inputs from S3 first).
async fn wait_for_the_provider(server: &Server, id: &str) {
    let job = server
        .state
        .jobs
        .load_job(&JobId::from_string(id.to_owned()))
        .await
        .expect("load")
        .expect("job");
    let task = job.provider_task_id.expect("submitted");
    let provider = server.state.jobs.registry().get("local").expect("local provider");
    for _ in 0..400 {
        if matches!(provider.fetch(&task).await, Ok(TaskState::Succeeded { .. })) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the local provider did not finish {task}");
}

/// Runs the reconciler, moving the clock past each backoff, until `done` holds.
async fn reconcile_until(
    server: &Server,
    id: &str,
    done: impl Fn(&(String, bool, i64)) -> bool,
) -> (String, bool, i64) {
    for _ in 0..20 {
        server.state.jobs.reconcile_once().await.expect("reconcile");
        let row = job_row(server, id).await;
        if done(&row) {
            return row;
        }
        server.t.clock.advance_millis(10_000);
    }
    panic!("job {id} never reached the expected state: {:?}", job_row(server, id).await);
}

async fn readiness(server: &Server) -> (u16, Value) {
    let r = server.http.get(format!("{}/readyz", server.base)).send().await.expect("readyz");
    (r.status().as_u16(), r.json().await.expect("json"))
}

async fn an_s3_outage_mid_job_delays_the_result_and_charges_once(t: TestDb) {
    let mut s3 = S3sFs::start().await;
    let mut settings = s3.settings();
    // The webhook is lost so that the test, through the reconciler, decides when the mirror runs.
    settings.extend([
        ("FITROOM_LOCAL_DROP_RATE", "1".to_owned()),
        ("FITROOM_POLL_AFTER_SECS", "0".to_owned()),
    ]);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(t, &settings).await;
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    wait_for_the_provider(&server, &id).await;

    s3.stop();
    let (status, outage) = readiness(&server).await;
    assert_eq!(status, 503, "storage is down: {outage}");
    assert_eq!(outage["checks"]["storage"]["status"], "error");
    assert_eq!(
        outage["checks"]["storage"].as_object().map(|o| o.len()),
        Some(1),
        "what failed is named, its error text stays in the log: {outage}"
    );
    // Two attempts fail while the store is down; the job waits, holding the credit.
    let (status, output_recorded, _) =
        reconcile_until(&server, &id, |(_, _, attempts)| *attempts >= 2).await;
    assert_eq!((status.as_str(), output_recorded), ("processing", true));
    assert_eq!(server.credits().await, (2, 1), "one credit held, none spent");
    assert_eq!(server.get_json(&format!("/api/generations/{id}")).await["result_url"], Value::Null);

    s3.resume().await;
    let (status, _, _) =
        reconcile_until(&server, &id, |(status, _, _)| status != "processing").await;
    assert_eq!(status, "succeeded");
    let done = server.get_json(&format!("/api/generations/{id}")).await;
    let image = server
        .http
        .get(done["result_url"].as_str().expect("result_url"))
        .send()
        .await
        .expect("result");
    assert_eq!(image.status(), 200);
    let decoded = image::load_from_memory(&image.bytes().await.expect("bytes"))
        .expect("the stored result decodes");
    assert_eq!((decoded.width(), decoded.height()), (120, 160));

    // More passes change nothing: charged exactly once.
    server.t.clock.advance_millis(10_000);
    server.state.jobs.reconcile_once().await.expect("reconcile");
    assert_eq!(server.credits().await, (2, 0));
    let ledger = server.get_json("/api/credits/ledger").await;
    let kinds: Vec<&str> = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds.iter().filter(|k| **k == "settle").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "release").count(), 0, "{kinds:?}");
    assert_eq!(readiness(&server).await.0, 200);
    server.t.assert_verified().await;
}

crate::on_both_databases!(an_s3_outage_mid_job_delays_the_result_and_charges_once);
