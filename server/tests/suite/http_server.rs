//! A real Fitroom on a loopback port: the `local` provider calls back over real HTTP.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::Arc;

use fitroom_server::clock::Clock;
use fitroom_server::{AppState, Config};
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::TestDb;

pub struct Server {
    pub t: TestDb,
    pub state: AppState,
    pub base: String,
    pub http: reqwest::Client,
    env: HashMap<String, String>,
    addr: std::net::SocketAddr,
    serving: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

fn serve(listener: tokio::net::TcpListener, state: &AppState) -> tokio::task::JoinHandle<()> {
    let router = fitroom_server::http::router(state.clone());
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .expect("serve");
    })
}

pub fn png(w: u32, h: u32, rgb: [u8; 3]) -> Vec<u8> {
    let img = RgbaImage::from_pixel(w, h, Rgba([rgb[0], rgb[1], rgb[2], 255]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgba8(img).write_to(&mut out, ImageFormat::Png).expect("encode");
    out.into_inner()
}

impl Server {
    /// Starts Fitroom with a real clock (webhook timestamps are checked) and the given settings.
    pub async fn start(t: TestDb, extra: &[(&str, &str)]) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let data = tempfile::tempdir().expect("data dir");
        let mut env: HashMap<String, String> = HashMap::new();
        env.extend(t.database_env());
        env.insert("FITROOM_DATA_DIR".into(), data.path().display().to_string());
        env.insert("FITROOM_ADDR".into(), addr.to_string());
        env.insert("FITROOM_LOCAL_DELAY_MS".into(), "50".into());
        for (k, v) in extra {
            env.insert((*k).into(), (*v).into());
        }
        let config = Config::from_source(&env).expect("config");
        // The manual clock of the test; the local provider signs with it too, so webhook
        // timestamps agree, while real time still passes for the provider's delay.
        let state = AppState::build_with(config, Arc::new(t.clock.clone()), t.faults.clone())
            .await
            .expect("state");
        let serving = serve(listener, &state);
        let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
        Server { t, state, base: format!("http://{addr}"), http, env, addr, serving, _data: data }
    }

    /// Kills the process (its in-memory state, the local provider's tasks included, is lost)
    /// and starts a new one on the same address, database and data directory.
    pub async fn restart(&mut self) {
        self.serving.abort();
        let _ = (&mut self.serving).await;
        let config = Config::from_source(&self.env).expect("config");
        self.state = AppState::build_with(
            config,
            Arc::new(self.t.clock.clone()),
            fitroom_server::fault::FaultPoints::default(),
        )
        .await
        .expect("restarted state");
        let mut listener = None;
        for _ in 0..50 {
            match tokio::net::TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        }
        self.serving = serve(listener.expect("the address is free again"), &self.state);
    }

    /// The server's data directory (objects, the outbox).
    pub fn data_dir(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(&self.env["FITROOM_DATA_DIR"])
    }

    pub async fn sign_up_as(&self, client: &reqwest::Client, email: &str) {
        let r = client
            .post(format!("{}/api/auth/register", self.base))
            .json(&json!({ "email": email, "password": "correct horse battery" }))
            .send()
            .await
            .expect("register");
        assert_eq!(r.status(), 201);
    }

    pub async fn sign_up(&self, email: &str) {
        self.sign_up_as(&self.http, email).await;
    }

    pub async fn generate(&self, key: Option<&str>) -> (u16, Value) {
        let form = Form::new()
            .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
            .part("garment_image", Part::bytes(png(40, 40, [20, 40, 200])).file_name("shirt.png"))
            .text("aspect_ratio", "3:4");
        let mut request = self.http.post(format!("{}/api/generations", self.base)).multipart(form);
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let r = request.send().await.expect("generate");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    /// Polls the status endpoint until the job is finished.
    pub async fn wait_finished(&self, id: &str) -> Value {
        for _ in 0..200 {
            let g = self.get_json(&format!("/api/generations/{id}")).await;
            if matches!(g["status"].as_str(), Some("succeeded" | "failed" | "canceled")) {
                return g;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("generation {id} did not finish");
    }

    pub async fn credits(&self) -> (i64, i64) {
        let me = self.get_json("/api/me").await;
        (
            me["credits"]["available"].as_i64().expect("available"),
            me["credits"]["held"].as_i64().expect("held"),
        )
    }
}

async fn a_generation_goes_from_upload_to_a_stored_result_and_is_charged_once(t: TestDb) {
    let settings = [
        ("FITROOM_LOCAL_WEBHOOK_COPIES", "3"),
        ("FITROOM_PROVIDER_PRICES", "local=0.1"),
        ("FITROOM_PROVIDER_BUDGETS", "local=0.3/day"),
    ];
    let server = Server::start(t, &settings).await;
    server.sign_up("ann@example.com").await;
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["cost"], 1);
    assert_eq!(created["provider"], "local");
    assert!(matches!(created["status"].as_str(), Some("queued" | "processing")), "{created}");

    let done = server.wait_finished(created["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let result_url = done["result_url"].as_str().expect("result_url");
    assert!(result_url.starts_with(&server.base), "a Fitroom URL: {result_url}");

    let image = server.http.get(result_url).send().await.expect("result");
    assert_eq!(image.status(), 200);
    assert_eq!(image.headers()["content-type"], "image/png");
    assert!(image.headers()["cache-control"].to_str().expect("ascii").contains("private"));
    let bytes = image.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&bytes).expect("the result decodes");
    assert_eq!((decoded.width(), decoded.height()), (120, 160));

    // Three copies of the webhook, one charge.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(server.credits().await, (2, 0));
    let ledger = server.get_json("/api/credits/ledger").await;
    let settles = ledger["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "settle")
        .count();
    assert_eq!(settles, 1);
    server.t.assert_verified().await;

    let stranger = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let r = stranger.get(result_url).send().await.expect("anonymous");
    assert_eq!(r.status(), 401);

    let metrics = server
        .http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("fitroom_jobs_finished_total{status=\"succeeded\",provider=\"local\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fitroom_webhooks_total{provider=\"local\",outcome=\"applied\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("fitroom_submissions_total{provider=\"local\",outcome=\"accepted\"} 1"),
        "{metrics}"
    );
    // The provider's economics, from the database: one task settled at its price.
    for line in [
        "fitroom_provider_spend_usd{provider=\"local\"} 0.1",
        // Exactly: 0.3 - 0.1 in floating point is 0.19999999999999998.
        "fitroom_provider_budget_remaining_usd{provider=\"local\"} 0.2\n",
        "fitroom_provider_success_rate{provider=\"local\"} 1",
        "fitroom_provider_cooling_down{provider=\"local\"} 0",
        "fitroom_provider_latency_seconds{provider=\"local\",quantile=\"0.5\"}",
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    let ready: Value = server
        .http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .expect("readyz")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["providers"]["local"]["status"], "ok");
}

async fn a_provider_failure_releases_the_credits(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_FAILURE_RATE", "1")]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let done = server.wait_finished(created["id"].as_str().expect("id")).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().expect("error").contains("not charged"), "{done}");
    assert_eq!(done["result_url"], Value::Null);
    assert_eq!(server.credits().await, (3, 0));
    server.t.assert_verified().await;
}

async fn lost_webhooks_are_finished_by_the_reconciler(t: TestDb) {
    let server =
        Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1"), ("FITROOM_POLL_AFTER_SECS", "0")])
            .await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id").to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        server.get_json(&format!("/api/generations/{id}")).await["status"],
        "processing",
        "no webhook came"
    );

    server.state.jobs.reconcile_once().await.expect("reconcile");
    let done = server.wait_finished(&id).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(server.credits().await, (2, 0));
    server.t.assert_verified().await;
}

async fn a_forged_webhook_is_refused_and_changes_nothing(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id");
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("time").as_secs();
    let body = json!({ "task_id": "local_x", "status": "failed", "error": "forged" }).to_string();
    let forged = server
        .http
        .post(format!("{}/webhooks/local?job={id}", server.base))
        .header("x-local-timestamp", now.to_string())
        .header("x-local-signature", "v1=00ff")
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(forged.status(), 401);
    let unknown = server
        .http
        .post(format!("{}/webhooks/nobody", server.base))
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(unknown.status(), 404);
    assert_eq!(server.get_json(&format!("/api/generations/{id}")).await["status"], "processing");
    assert_eq!(server.credits().await, (2, 1));
}

/// A webhook signed with the provider's real key, for a task of the attacker's choosing, posted
/// to a callback URL naming someone else's job: the URL's `job` parameter decides nothing.
async fn a_signed_webhook_cannot_be_pointed_at_another_job_by_its_url(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOCAL_DROP_RATE", "1")]).await;
    server.sign_up("ann@example.com").await;
    // The victim's task is not recorded yet (the submission stopped right after the provider
    // accepted it): the moment a URL-named job used to be believed.
    server.t.faults.arm("submit:after_accepted");
    let _ = server.generate(None).await;
    server.t.faults.disarm_all();
    let (victim,): (String,) =
        sqlx::query_as("SELECT id FROM jobs").fetch_one(server.t.db.pool()).await.expect("job");
    let victim = victim.as_str();
    assert_eq!(server.get_json(&format!("/api/generations/{victim}")).await["status"], "queued");
    // Webhook timestamps are checked against the test's clock, which the local provider signs with.
    let now = fitroom_server::clock::Clock::now(&server.t.clock).millis() / 1000;
    let body =
        json!({ "task_id": "local_not_this_jobs_task", "status": "failed", "error": "redirected" })
            .to_string();
    let message = format!("{now}.{body}");
    let signature = format!("v1={}", hex::encode(server.state.signer.mac(message.as_bytes())));
    let posted = server
        .http
        .post(format!("{}/webhooks/local?job={victim}", server.base))
        .header("x-local-timestamp", now.to_string())
        .header("x-local-signature", signature)
        .body(body)
        .send()
        .await
        .expect("post");
    assert_eq!(posted.status(), 200, "a verified delivery is acknowledged");
    assert_eq!(server.get_json(&format!("/api/generations/{victim}")).await["status"], "queued");
    assert_eq!(server.credits().await, (2, 1), "the victim's hold is untouched");
}

async fn the_same_idempotency_key_makes_one_generation(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (first_status, first) = server.generate(Some("try-1")).await;
    let (second_status, second) = server.generate(Some("try-1")).await;
    assert_eq!((first_status, second_status), (202, 200));
    assert_eq!(first["id"], second["id"]);
    assert_eq!(server.t.count("jobs").await, 1);
}

async fn without_credits_nothing_is_created(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_SIGNUP_CREDITS", "0")]).await;
    server.sign_up("ann@example.com").await;
    let (status, body) = server.generate(None).await;
    assert_eq!(status, 402);
    assert_eq!(body["error"]["code"], "insufficient_credits");
    assert_eq!(server.t.count("jobs").await, 0);
    assert_eq!(server.t.count("holds").await, 0);
}

async fn readiness_and_generations_answer_503_while_no_provider_is_usable(t: TestDb) {
    let budget =
        [("FITROOM_PROVIDER_PRICES", "local=1"), ("FITROOM_PROVIDER_BUDGETS", "local=1/day")];
    let server = Server::start(t, &budget).await;
    server.sign_up("ann@example.com").await;
    let ready = || async {
        let r = server.http.get(format!("{}/readyz", server.base)).send().await.expect("readyz");
        let status = r.status().as_u16();
        let body: Value = r.json().await.expect("json");
        (
            status,
            body["checks"]["providers"]["status"].clone(),
            body["providers"]["local"]["status"].clone(),
        )
    };
    let refused_writing_nothing = || async {
        let before = (server.t.snapshot().await, server.t.count("provider_tasks").await);
        let (status, body) = server.generate(None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (503, Some("no_provider_available")));
        assert_eq!((server.t.snapshot().await, server.t.count("provider_tasks").await), before);
    };
    assert_eq!(ready().await, (200, json!("ok"), json!("ok")));

    // Cooling down, as the database says for every process.
    let now = server.t.clock.now();
    for _ in 0..fitroom_server::spend::health::FAILURES_BEFORE_COOL_DOWN {
        fitroom_server::spend::health::record_failure(&server.state.db, "local", now)
            .await
            .expect("failure");
    }
    assert_eq!(ready().await, (503, json!("unavailable"), json!("cooling_down")));
    refused_writing_nothing().await;

    // Over budget once the cool-down is over: the day's one task is spent.
    server.t.clock.advance_millis(fitroom_server::spend::health::COOL_DOWN_MS + 1);
    assert_eq!(ready().await.0, 200);
    let (status, created) = server.generate(None).await;
    assert_eq!(status, 202, "{created}");
    server.wait_finished(created["id"].as_str().expect("id")).await;
    assert_eq!(ready().await, (503, json!("unavailable"), json!("over_budget")));
    refused_writing_nothing().await;
    server.t.assert_verified().await;
}

/// Every step of the flow where a crash can happen: after it, a restarted process's reconciler
/// finishes every job (either way), no hold stays open, and the ledger verifies.
const CRASH_POINTS: &[&str] = fitroom_server::jobs::FAULT_POINTS;

async fn a_crash_after_any_step_is_finished_by_the_reconciler_after_restart(t: TestDb) {
    let mut server = Server::start(t, &[("FITROOM_POLL_AFTER_SECS", "60")]).await;
    for (i, &point) in CRASH_POINTS.iter().enumerate() {
        let client = reqwest::Client::builder().cookie_store(true).build().expect("client");
        server.sign_up_as(&client, &format!("crash{i}@example.com")).await;
        server.t.faults.arm(point);
        let form = Form::new()
            .part("person_image", Part::bytes(png(60, 80, [200, 170, 150])).file_name("me.png"))
            .text("prompt", "a red raincoat");
        let _ = client
            .post(format!("{}/api/generations", server.base))
            .multipart(form)
            .send()
            .await
            .expect("post");
        // Let the provider's webhook and the mirror run into the armed fault.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        server.t.faults.disarm_all();
    }

    // Restart: leases and poll deadlines pass, and the new process reconciles.
    server.t.clock.advance_millis(200_000);
    server.restart().await;
    for _ in 0..40 {
        server.state.jobs.reconcile_once().await.expect("reconcile");
        let (unfinished,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status IN ('queued', 'processing')")
                .fetch_one(server.t.db.pool())
                .await
                .expect("count");
        if unfinished == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        server.t.clock.advance_millis(61_000);
    }
    let statuses: Vec<(String, String)> = sqlx::query_as(
        "SELECT u.email, j.status FROM jobs j JOIN users u ON u.id = j.user_id ORDER BY u.email",
    )
    .fetch_all(server.t.db.pool())
    .await
    .expect("jobs");
    let status_of = |point: &str| {
        let i = CRASH_POINTS.iter().position(|p| *p == point).expect("known point");
        statuses
            .iter()
            .find(|(email, _)| email == &format!("crash{i}@example.com"))
            .map(|(_, s)| s.as_str())
    };
    // A crash inside the creating transaction leaves nothing at all.
    assert_eq!(status_of("create:after_job"), None);
    assert_eq!(status_of("create:after_freeze"), None);
    // Inputs never stored, or not all of them: the job cannot run, and the shopper is not charged.
    assert_eq!(status_of("create:after_commit"), Some("failed"));
    assert_eq!(status_of("create:after_person_input"), Some("failed"));
    // Everything else had what it needed: the new process submits a job left queued (after a
    // crash between "the provider accepted" and "the task was recorded", again: only the recorded
    // task is charged), and copies and charges a result whose output was recorded.
    let before_inputs = [
        "create:after_job",
        "create:after_freeze",
        "create:after_commit",
        "create:after_person_input",
    ];
    for &point in CRASH_POINTS.iter().filter(|p| !before_inputs.contains(p)) {
        assert_eq!(status_of(point), Some("succeeded"), "{point}: {statuses:?}");
    }
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM holds WHERE state = 'open'")
        .fetch_one(server.t.db.pool())
        .await
        .expect("holds");
    assert_eq!(open, 0);
    server.t.assert_verified().await;
}

/// Found by the chaos soak (scripts/chaos.sh 60 1 and 600 7): a crash between storing the person
/// photo and the garment left a job naming a garment that was never stored, and a cancel could
/// make such a job final before anything noticed. A job names its inputs only once all are
/// stored: after the crash it names none, the reconciler fails it, uncharged, and the storage
/// sweep removes the stored half, which nothing names.
async fn a_crash_between_the_two_uploads_fails_the_job_and_leaves_no_input_behind(t: TestDb) {
    let mut server = Server::start(t, &[("FITROOM_POLL_AFTER_SECS", "60")]).await;
    server.sign_up("ann@example.com").await;
    server.t.faults.arm("create:after_person_input");
    let _ = server.generate(Some("half-stored")).await;
    server.t.faults.disarm_all();
    let (id, person, garment): (String, Option<String>, Option<String>) =
        sqlx::query_as("SELECT id, person_key, garment_key FROM jobs")
            .fetch_one(server.t.db.pool())
            .await
            .expect("the job");
    assert_eq!((person, garment), (None, None), "no input named before all are stored");
    let stored = server.state.storage.list(&format!("inputs/{id}/")).await.expect("list");
    assert_eq!(stored.len(), 1, "the person photo was stored: {stored:?}");

    server.t.clock.advance_millis(200_000);
    server.restart().await;
    server.state.jobs.reconcile_once().await.expect("reconcile");
    let job = server.get_json(&format!("/api/generations/{id}")).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["error"].as_str().is_some_and(|e| e.contains("could not be stored")), "{job}");
    let me = server.get_json("/api/me").await;
    assert_eq!(me["credits"]["held"], 0);
    server.t.assert_verified().await;

    let swept = fitroom_server::storage::sweep::sweep_older_than(
        &server.t.db,
        server.state.storage.as_ref(),
        // Object times are the files' real ones.
        fitroom_server::clock::Clock::now(&fitroom_server::clock::SystemClock),
        0,
        false,
    )
    .await
    .expect("sweep");
    assert_eq!(swept.unreferenced, vec![stored[0].key.clone()]);
    assert!(server.state.storage.list(&format!("inputs/{id}/")).await.expect("list").is_empty());
}

crate::on_both_databases!(
    a_crash_between_the_two_uploads_fails_the_job_and_leaves_no_input_behind,
    a_crash_after_any_step_is_finished_by_the_reconciler_after_restart,
    a_generation_goes_from_upload_to_a_stored_result_and_is_charged_once,
    a_provider_failure_releases_the_credits,
    lost_webhooks_are_finished_by_the_reconciler,
    a_forged_webhook_is_refused_and_changes_nothing,
    a_signed_webhook_cannot_be_pointed_at_another_job_by_its_url,
    the_same_idempotency_key_makes_one_generation,
    without_credits_nothing_is_created,
    readiness_and_generations_answer_503_while_no_provider_is_usable,
);
