//! Real adapters through the whole app over real HTTP: Fitroom submits to a fake provider, the
//! fake calls back (signed, or with the URL's token), and the result is served from Fitroom's
//! own storage and charged once. Failover moves past a provider that is down.

use std::sync::Arc;

use fitroom_server::clock::SharedClock;
use fitroom_server::ids::JobId;

use crate::common::TestDb;
use crate::fakes::Core;
use crate::fakes::evolink::FakeEvolink;
use crate::fakes::fal::FakeFal;
use crate::fakes::fashn::FakeFashn;
use crate::fakes::replicate::FakeReplicate;
use crate::http_server::Server;

async fn start(t: TestDb, providers: &str, fakes_env: Vec<(String, String)>) -> Server {
    let mut env = fakes_env;
    env.push(("FITROOM_PROVIDERS".into(), providers.into()));
    // The fakes serve their outputs on 127.0.0.1.
    env.push(("FITROOM_FETCH_ALLOW_PRIVATE".into(), "true".into()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    Server::start(t, &pairs).await
}

/// Submit → the fake completes and delivers its webhook three times → succeeded, the picture
/// served from our storage, one settle; and it was a webhook that did it, never a poll.
async fn generation_succeeds_and_is_charged_once(server: &Server, provider: &str, core: &Core) {
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");

    let id = created["id"].as_str().expect("id");
    let done = server.wait_finished(id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["provider"], provider);
    let result_url = done["result_url"].as_str().expect("result_url");
    assert!(result_url.starts_with(&server.base), "a Fitroom URL: {result_url}");
    let bytes =
        server.http.get(result_url).send().await.expect("result").bytes().await.expect("bytes");
    let picture = image::load_from_memory(&bytes).expect("the result decodes");
    assert_eq!((picture.width(), picture.height()), (64, 80), "the fake's picture");

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.credits().await, (2, 0));
    let ledger = server.get_json("/api/credits/ledger").await;
    let settles = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "settle")
        .count();
    assert_eq!(settles, 1, "three webhooks, one charge");
    let creates = core.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(creates, 1);
    assert_finished_by_a_webhook(server, id).await;
    server.t.assert_verified().await;
}

/// The job's timeline shows a verified webhook before the result was stored, and no poll: the
/// app's clock stands still, so the reconciler never came due to ask the provider.
async fn assert_finished_by_a_webhook(server: &Server, id: &str) {
    let events =
        server.state.jobs.timeline(&JobId::from_string(id.to_owned())).await.expect("timeline");
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    let webhook = kinds.iter().position(|k| *k == "webhook");
    let stored = kinds.iter().position(|k| *k == "stored");
    assert!(
        webhook.is_some() && stored.is_some() && webhook < stored,
        "a webhook came before the result was stored: {kinds:?}"
    );
    assert!(!kinds.contains(&"polled"), "no poll finished it: {kinds:?}");
}

fn clock_of(t: &TestDb) -> SharedClock {
    Arc::new(t.clock.clone())
}

async fn a_replicate_generation_is_finished_by_its_signed_webhook(t: TestDb) {
    let fake = FakeReplicate::start(clock_of(&t)).await;
    fake.core.complete_tasks_automatically(3);
    let server = start(t, "replicate", fake.env()).await;
    generation_succeeds_and_is_charged_once(&server, "replicate", &fake.core).await;
}

async fn replicates_reported_compute_time_is_what_the_spend_ledger_settles(t: TestDb) {
    let fake = FakeReplicate::start(clock_of(&t)).await;
    fake.core.complete_tasks_automatically(3);
    let mut env = fake.env();
    env.push(("REPLICATE_PRICE_PER_SECOND".into(), "0.0014".into()));
    env.push(("FITROOM_PROVIDER_PRICES".into(), "replicate=0.012".into()));
    let server = start(t, "replicate", env).await;
    generation_succeeds_and_is_charged_once(&server, "replicate", &fake.core).await;
    let tasks: Vec<(String, i64, Option<i64>)> =
        sqlx::query_as("SELECT state, estimate_micros, cost_micros FROM provider_tasks")
            .fetch_all(server.state.db.pool())
            .await
            .expect("tasks");
    // 4.2 s at $0.0014 a second, not the $0.012 estimate.
    assert_eq!(tasks, [("settled".to_owned(), 12_000, Some(5_880))]);
    server.t.assert_verified().await;
}

async fn a_fal_generation_is_finished_by_its_ed25519_webhook(t: TestDb) {
    let fake = FakeFal::start(clock_of(&t)).await;
    fake.core.complete_tasks_automatically(3);
    let server = start(t, "fal", fake.env()).await;
    generation_succeeds_and_is_charged_once(&server, "fal", &fake.core).await;
}

async fn a_fashn_generation_is_finished_through_its_token_and_a_status_query(t: TestDb) {
    let fake = FakeFashn::start(clock_of(&t)).await;
    fake.core.complete_tasks_automatically(3);
    let server = start(t, "fashn", fake.env()).await;
    generation_succeeds_and_is_charged_once(&server, "fashn", &fake.core).await;
    assert!(
        fake.core.requests().iter().any(|r| r.path.starts_with("/v1/status/")),
        "the webhook was checked with the API"
    );

    // The timeline says how each delivery proved itself, and which were duplicates.
    let (id, task): (String, String) = sqlx::query_as("SELECT id, provider_task_id FROM jobs")
        .fetch_one(server.t.db.pool())
        .await
        .expect("job");
    let job = JobId::from_string(id);
    let webhooks = |server: &Server| {
        let (jobs, job) = (server.state.jobs.clone(), job.clone());
        async move {
            let events = jobs.timeline(&job).await.expect("timeline");
            events
                .into_iter()
                .filter(|e| e.kind == "webhook")
                .map(|e| e.detail.unwrap_or_default())
                .collect::<Vec<_>>()
        }
    };
    let details = webhooks(&server).await;
    assert!(
        details.iter().all(|d| d.starts_with("callback token verified")),
        "every delivery was checked by its token: {details:?}"
    );
    assert!(
        details.iter().any(|d| d.contains("state read from the API: succeeded")),
        "{details:?}"
    );
    assert!(
        details.iter().skip(1).all(|d| d.contains(", duplicate: ") || d.contains(", ignored: ")),
        "the later deliveries changed nothing, and say so: {details:?}"
    );

    // Wrong tokens are refused, and noted once a minute, however many come.
    let forged = serde_json::json!({ "id": task, "status": "completed", "output": [] }).to_string();
    for _ in 0..5 {
        let posted = server
            .http
            .post(format!("{}/webhooks/fashn?job={job}&token=not-the-token", server.base))
            .body(forged.clone())
            .send()
            .await
            .expect("post");
        assert_eq!(posted.status(), 401);
    }
    let refused: Vec<String> =
        webhooks(&server).await.into_iter().filter(|d| d.starts_with("not verified")).collect();
    assert_eq!(refused.len(), 1, "{refused:?}");
}

async fn an_evolink_generation_is_finished_through_its_token_and_a_task_query(t: TestDb) {
    let fake = FakeEvolink::start(clock_of(&t)).await;
    fake.core.complete_tasks_automatically(3);
    let server = start(t, "evolink", fake.env()).await;
    generation_succeeds_and_is_charged_once(&server, "evolink", &fake.core).await;
    assert!(
        fake.core.requests().iter().any(|r| r.path.starts_with("/v1/tasks/")),
        "the callback was checked with the API"
    );
}

async fn a_provider_answering_503_fails_over_to_the_next(t: TestDb) {
    let fashn = FakeFashn::start(clock_of(&t)).await;
    fashn.core.fail_with(503);
    let replicate = FakeReplicate::start(clock_of(&t)).await;
    replicate.core.complete_tasks_automatically(1);
    let env = [fashn.env(), replicate.env()].concat();
    let server = start(t, "fashn,replicate", env).await;
    server.sign_up("ann@example.com").await;

    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    let done = server.wait_finished(created["id"].as_str().expect("id")).await;

    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["provider"], "replicate");
    assert_eq!(fashn.core.requests().len(), 1, "fashn was tried first");
    assert_eq!(server.credits().await, (2, 0));
    server.t.assert_verified().await;
}

async fn when_every_provider_is_down_the_job_fails_and_the_balance_is_restored(t: TestDb) {
    let fashn = FakeFashn::start(clock_of(&t)).await;
    fashn.core.fail_with(503);
    let replicate = FakeReplicate::start(clock_of(&t)).await;
    replicate.core.fail_with(429);
    let env = [fashn.env(), replicate.env()].concat();
    let server = start(t, "fashn,replicate", env).await;
    server.sign_up("ann@example.com").await;

    let (_, created) = server.generate(None).await;
    let done = server.wait_finished(created["id"].as_str().expect("id")).await;

    assert_eq!(done["status"], "failed", "{done}");
    assert!(done["error"].as_str().expect("error").contains("not charged"), "{done}");
    assert_eq!((fashn.core.requests().len(), replicate.core.requests().len()), (1, 1));
    assert_eq!(server.credits().await, (3, 0));
    server.t.assert_verified().await;
}

crate::on_both_databases!(
    a_replicate_generation_is_finished_by_its_signed_webhook,
    replicates_reported_compute_time_is_what_the_spend_ledger_settles,
    a_fal_generation_is_finished_by_its_ed25519_webhook,
    a_fashn_generation_is_finished_through_its_token_and_a_status_query,
    an_evolink_generation_is_finished_through_its_token_and_a_task_query,
    a_provider_answering_503_fails_over_to_the_next,
    when_every_provider_is_down_the_job_fails_and_the_balance_is_restored,
);
