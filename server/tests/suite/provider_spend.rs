//! Provider spend as a second ledger, shared by every process on the database: a budget holds
//! exactly under concurrent submissions from two processes, its period rolls over at the UTC
//! boundary, success settles and failure releases, a cool-down one process saw is honoured by
//! all, and with no provider usable a request writes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_trait::async_trait;
use axum::http::HeaderMap;
use base64::Engine;
use fitroom_server::Config;
use fitroom_server::clock::{Clock, Timestamp};
use fitroom_server::db::Db;
use fitroom_server::ids::UserId;
use fitroom_server::jobs::{
    Created, JobError, JobStatus, Jobs, NewGeneration, Reported, Source, TaskReport,
};
use fitroom_server::ledger::{Credits, Grant, Ledger};
use fitroom_server::providers::{
    FetchError, Provider, Registry, SubmitError, TaskInput, TaskState, WebhookError, WebhookEvent,
};
use fitroom_server::signing::Signer;
use fitroom_server::spend::{Usd, figures, health};
use fitroom_types::upload::Prompt;

use crate::common::TestDb;
use crate::http_server::png;

/// A provider that counts the tasks it was sent, and can be told to be down, or to hold each
/// call open (`gated`): it says when it was called, waits to be let go, then answers that it is
/// unavailable (or, with `accept_when_let_go`, accepts the task). What happens meanwhile is what
/// the test does.
struct Counting {
    name: &'static str,
    sent: AtomicU64,
    down: AtomicBool,
    gated: AtomicBool,
    accept_when_let_go: AtomicBool,
    called: tokio::sync::Notify,
    go: tokio::sync::Notify,
}

impl Counting {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Counting {
            name,
            sent: AtomicU64::new(0),
            down: AtomicBool::new(false),
            gated: AtomicBool::new(false),
            accept_when_let_go: AtomicBool::new(false),
            called: tokio::sync::Notify::new(),
            go: tokio::sync::Notify::new(),
        })
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Provider for Counting {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn submit(&self, _task: &TaskInput) -> Result<String, SubmitError> {
        if self.gated.load(Ordering::SeqCst) {
            self.called.notify_one();
            self.go.notified().await;
            if !self.accept_when_let_go.load(Ordering::SeqCst) {
                return Err(SubmitError::Unavailable("HTTP 503: down".into()));
            }
        }
        if self.down.load(Ordering::SeqCst) {
            return Err(SubmitError::Unavailable("503".into()));
        }
        let n = self.sent.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(format!("{}-{}-{}", self.name, n, uuid::Uuid::new_v4().simple()))
    }

    async fn parse_webhook(
        &self,
        _headers: &HeaderMap,
        _query: Option<&str>,
        _body: &[u8],
        _now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::Malformed("driven through reports".into()))
    }

    async fn fetch(&self, _task_id: &str) -> Result<TaskState, FetchError> {
        Ok(TaskState::Pending)
    }
}

/// One Fitroom process: its own registry and provider clients (and, on PostgreSQL, its own
/// connection pool), the test's database and clock.
struct Process {
    jobs: Jobs,
    providers: Vec<Arc<Counting>>,
    config: Config,
    db: Db,
    _data: tempfile::TempDir,
}

impl Process {
    async fn start(t: &TestDb, names: &[&'static str], settings: &[(&str, &str)]) -> Process {
        let data = tempfile::tempdir().expect("data dir");
        let mut env: HashMap<String, String> = [
            ("FITROOM_DATA_DIR", data.path().display().to_string()),
            ("FITROOM_SIGNUP_CREDITS", "0".to_owned()),
            ("FITROOM_MAX_ACTIVE_JOBS", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(t.database_env());
        env.insert("FITROOM_PROVIDERS".into(), names.join(","));
        for (k, v) in settings {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let config = Config::from_source(&env).expect("config");
        let db = t.another_process().await;
        let ledger = Ledger::with_faults(db.clone(), Arc::new(t.clock.clone()), t.faults.clone());
        let storage = fitroom_server::storage::from_config(&config).await.expect("storage");
        let providers: Vec<Arc<Counting>> = names.iter().map(|n| Counting::new(n)).collect();
        let registry = Registry::new(
            providers.iter().map(|p| p.clone() as Arc<dyn Provider>).collect(),
            names[0],
        );
        let jobs = Jobs::new(
            ledger,
            storage,
            registry,
            Signer::from_key([7; 32]),
            Arc::new(config.clone()),
            t.faults.clone(),
        );
        Process { jobs, providers, config, db, _data: data }
    }

    fn request(&self, user: &UserId) -> NewGeneration {
        NewGeneration {
            user: user.clone(),
            person: fitroom_server::media::normalize(&png(40, 60, [200, 170, 150])).expect("photo"),
            garment: None,
            prompt: Prompt::parse("a red raincoat").expect("a prompt"),
            aspect_ratio: None,
            provider: None,
            idempotency_key: None,
            digest: "one request".into(),
        }
    }

    async fn submit(&self, user: &UserId) -> Result<fitroom_server::jobs::Job, JobError> {
        match self.jobs.create(self.request(user)).await? {
            Created::New(job) | Created::Existing(job) => Ok(job),
        }
    }

    async fn rows(&self, t: &TestDb) -> Vec<fitroom_types::admin::ProviderRow> {
        let names: Vec<&str> = self.providers.iter().map(|p| p.name).collect();
        figures::rows(&self.db, &self.config.spend, &names, 3_600_000, t.clock.now())
            .await
            .expect("rows")
    }
}

async fn shopper(t: &TestDb, credits: i64) -> UserId {
    let user = t.user().await;
    let grant = Grant {
        user: user.clone(),
        credits: Credits::new(credits).expect("credits"),
        name: "Test".into(),
        expires_at: None,
        source: None,
    };
    t.ledger().grant(&grant).await.expect("grant");
    user
}

fn output() -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(8, 8, [10, 200, 30]))
    )
}

async fn a_budget_holds_exactly_when_two_processes_submit_at_once(t: TestDb) {
    // A budget of five tasks: $1 a task, $5 a day.
    let settings =
        [("FITROOM_PROVIDER_PRICES", "paid=1"), ("FITROOM_PROVIDER_BUDGETS", "paid=5/day")];
    let a = Arc::new(Process::start(&t, &["paid"], &settings).await);
    let b = Arc::new(Process::start(&t, &["paid"], &settings).await);
    let mut shoppers = Vec::new();
    for _ in 0..64 {
        shoppers.push(shopper(&t, 1).await);
    }
    let mut handles = Vec::new();
    for (i, user) in shoppers.iter().cloned().enumerate() {
        let process = if i % 2 == 0 { a.clone() } else { b.clone() };
        handles.push(tokio::spawn(async move { process.submit(&user).await }));
    }
    let mut refused = 0;
    for handle in handles {
        match handle.await.expect("task") {
            Ok(_) => {}
            Err(JobError::NoProviderAvailable) => refused += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let sent = a.providers[0].sent() + b.providers[0].sent();
    assert_eq!(sent, 5, "exactly the budget's five tasks were sent, by both processes together");
    let (processing,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'processing'")
            .fetch_one(t.db.pool())
            .await
            .expect("count");
    assert_eq!(processing, 5);
    let (failed,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE status = 'failed'")
        .fetch_one(t.db.pool())
        .await
        .expect("count");
    assert_eq!(failed + refused + 5, 64, "every other request was refused or failed, uncharged");
    let row = &a.rows(&t).await[0];
    assert_eq!((row.state.as_str(), row.spend, row.budget), ("over_budget", 5.0, Some(5.0)));
    t.assert_verified().await;
}

async fn the_budget_period_rolls_over_at_the_utc_boundary(t: TestDb) {
    let settings =
        [("FITROOM_PROVIDER_PRICES", "paid=0.5"), ("FITROOM_PROVIDER_BUDGETS", "paid=1/hour")];
    let p = Process::start(&t, &["paid"], &settings).await;
    // 00:59:59.000 UTC: the hour's last second.
    t.clock.set(Timestamp::from_millis(crate::common::START.millis() + 3_599_000));
    let user = shopper(&t, 5).await;
    p.submit(&user).await.expect("first");
    p.submit(&user).await.expect("second");
    let before = t.snapshot().await;
    assert!(matches!(p.submit(&user).await, Err(JobError::NoProviderAvailable)));
    assert_eq!(t.snapshot().await, before, "a refused request writes nothing");
    t.clock.advance_millis(999);
    assert!(
        matches!(p.submit(&user).await, Err(JobError::NoProviderAvailable)),
        "still 00:59:59.999"
    );
    t.clock.advance_millis(1);
    p.submit(&user).await.expect("a new hour, a new budget");
    assert_eq!(p.providers[0].sent(), 3);
    let row = &p.rows(&t).await[0];
    assert_eq!((row.spend, row.period.as_deref()), (0.5, Some("hour")));
    t.assert_verified().await;
}

async fn day_and_month_budgets_roll_over_at_midnight_utc(t: TestDb) {
    let settings = [
        ("FITROOM_PROVIDER_PRICES", "daily=1,monthly=1"),
        ("FITROOM_PROVIDER_BUDGETS", "daily=1/day,monthly=1/month"),
    ];
    let p = Process::start(&t, &["daily", "monthly"], &settings).await;
    let user = shopper(&t, 10).await;
    let at = |text| Timestamp::parse_rfc3339(text).expect("an instant");
    let refused = |result| matches!(result, Err(JobError::NoProviderAvailable));
    t.clock.set(at("2026-01-30T23:59:59.999Z"));
    assert_eq!(p.submit(&user).await.expect("daily").provider, "daily");
    assert_eq!(p.submit(&user).await.expect("monthly").provider, "monthly");
    assert!(refused(p.submit(&user).await), "both spent");
    // A new UTC day in the same month: daily has its budget again, monthly has not.
    t.clock.advance_millis(1);
    assert_eq!(p.submit(&user).await.expect("a new day").provider, "daily");
    assert!(refused(p.submit(&user).await), "monthly is spent for January");
    let rows = p.rows(&t).await;
    assert_eq!((rows[0].state.as_str(), rows[1].state.as_str()), ("over_budget", "over_budget"));
    t.clock.set(at("2026-01-31T23:59:59.999Z"));
    assert!(refused(p.submit(&user).await), "still January");
    // A new month: both.
    t.clock.advance_millis(1);
    assert_eq!(p.submit(&user).await.expect("a new month").provider, "daily");
    assert_eq!(p.submit(&user).await.expect("a new month").provider, "monthly");
    let rows = p.rows(&t).await;
    let spend = |i: usize| (rows[i].spend, rows[i].period.as_deref());
    assert_eq!((spend(0), spend(1)), ((1.0, Some("day")), (1.0, Some("month"))));
    t.assert_verified().await;
}

async fn success_settles_the_task_and_failure_releases_it(t: TestDb) {
    let settings =
        [("FITROOM_PROVIDER_PRICES", "paid=0.012"), ("FITROOM_PROVIDER_BUDGETS", "paid=1/day")];
    let p = Process::start(&t, &["paid"], &settings).await;
    let user = shopper(&t, 5).await;
    let good = p.submit(&user).await.expect("submit");
    let bad = p.submit(&user).await.expect("submit");
    let row = &p.rows(&t).await[0];
    assert_eq!(row.spend, 0.024, "two tasks in flight, held at their price");

    let report = |job: &fitroom_server::jobs::Job, state| TaskReport {
        provider: "paid",
        task_key: job.task_key.clone().expect("task"),
        state,
        source: Source::Webhook,
    };
    let reported = p
        .jobs
        .report(&report(&good, TaskState::Succeeded { outputs: vec![output()], cost: None }))
        .await
        .expect("report");
    if let Reported::OutputRecorded(id) = reported {
        p.jobs.mirror(&id).await.expect("mirror");
    }
    p.jobs.report(&report(&bad, TaskState::Failed { reason: "no".into() })).await.expect("report");

    let states: Vec<(String, String, Option<i64>)> = sqlx::query_as(
        "SELECT job_id, state, cost_micros FROM provider_tasks ORDER BY created_at, id",
    )
    .fetch_all(t.db.pool())
    .await
    .expect("tasks");
    assert_eq!(
        states,
        [
            (good.id.to_string(), "settled".to_owned(), Some(12_000)),
            (bad.id.to_string(), "released".to_owned(), None),
        ]
    );
    let row = &p.rows(&t).await[0];
    assert_eq!((row.spend, row.jobs, row.success_rate), (0.012, 2, Some(0.5)));
    assert_eq!(Usd::from_micros(12_000).to_string(), "$0.012");
    t.assert_verified().await;
}

async fn a_cool_down_one_process_saw_is_honoured_by_every_process(t: TestDb) {
    let a = Process::start(&t, &["flaky", "steady"], &[]).await;
    let b = Process::start(&t, &["flaky", "steady"], &[]).await;
    a.providers[0].down.store(true, Ordering::SeqCst);
    let user = shopper(&t, 10).await;
    for _ in 0..3 {
        let job = a.submit(&user).await.expect("fails over");
        assert_eq!(job.provider, "steady");
    }
    // Process b's own client for flaky would work; the database says flaky is cooling down.
    let job = b.submit(&user).await.expect("submit");
    assert_eq!(job.provider, "steady");
    assert_eq!(b.providers[0].sent(), 0, "b never called the provider a saw fail three times");
    let timeline = b.jobs.timeline(&job.id).await.expect("timeline");
    let routed = timeline.iter().find(|e| e.kind == "routed").expect("the route is kept");
    assert_eq!(routed.detail.as_deref(), Some("ordered: steady; flaky cooling down"));
    assert_eq!(b.rows(&t).await[0].state, "cooling");

    t.clock.advance_millis(health::COOL_DOWN_MS + 1);
    let job = b.submit(&user).await.expect("submit");
    assert_eq!(job.provider, "flaky", "tried again once the cool-down is over");
    assert_eq!(b.providers[0].sent(), 1);
    t.assert_verified().await;
}

async fn with_every_provider_cooling_down_a_request_writes_nothing(t: TestDb) {
    let p = Process::start(&t, &["only"], &[]).await;
    p.providers[0].down.store(true, Ordering::SeqCst);
    let user = shopper(&t, 10).await;
    for _ in 0..3 {
        let job = p.submit(&user).await.expect("created, then failed uncharged");
        assert_eq!(job.status, JobStatus::Failed);
    }
    let before = t.snapshot().await;
    assert!(matches!(p.submit(&user).await, Err(JobError::NoProviderAvailable)));
    assert_eq!(t.snapshot().await, before);
    // What an operator's reset writes.
    health::record_success(&p.db, "only", t.clock.now()).await.expect("reset");
    p.providers[0].down.store(false, Ordering::SeqCst);
    assert_eq!(p.submit(&user).await.expect("usable again").status, JobStatus::Processing);
    t.assert_verified().await;
}

/// The one queued job, as the database has it.
async fn the_queued_job(t: &TestDb) -> fitroom_server::ids::JobId {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM jobs WHERE status = 'queued'")
        .fetch_one(t.db.pool())
        .await
        .expect("a queued job");
    fitroom_server::ids::JobId::from_string(id)
}

async fn held_tasks(t: &TestDb) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM provider_tasks WHERE state = 'held'")
        .fetch_one(t.db.pool())
        .await
        .expect("count");
    n
}

/// Starts a submission of a `user`'s job whose first provider holds its call open, once that call
/// has begun; the provider answers 503 when let go (`go`). What the test does in between
/// happens during the call.
async fn a_submission_held_open(
    p: &Arc<Process>,
    user: &UserId,
) -> tokio::task::JoinHandle<Result<fitroom_server::jobs::Job, JobError>> {
    p.providers[0].gated.store(true, Ordering::SeqCst);
    let submitting = tokio::spawn({
        let (p, user) = (p.clone(), user.clone());
        async move { p.submit(&user).await }
    });
    p.providers[0].called.notified().await;
    submitting
}

async fn a_job_canceled_before_its_failover_reserves_holds_nothing_and_sends_nothing(t: TestDb) {
    let settings =
        [("FITROOM_PROVIDER_PRICES", "backup=1"), ("FITROOM_PROVIDER_BUDGETS", "backup=10/day")];
    let p = Arc::new(Process::start(&t, &["gated", "backup"], &settings).await);
    let user = shopper(&t, 1).await;
    // The shopper cancels while the first provider is being asked; it then answers 503, and the
    // failover to backup comes after the cancel.
    let submitting = a_submission_held_open(&p, &user).await;
    let id = the_queued_job(&t).await;
    p.jobs.cancel(&user, &id).await.expect("cancel");
    p.providers[0].go.notify_one();
    let job = submitting.await.expect("task").expect("submit");
    assert_eq!(job.status, JobStatus::Canceled);
    assert_eq!(p.providers[1].sent(), 0, "a canceled job's task is never sent");
    assert_eq!(held_tasks(&t).await, 0, "and nothing is held for it");
    assert_eq!(p.rows(&t).await[1].spend, 0.0);
    t.assert_verified().await;
}

async fn a_resubmission_after_a_crash_replaces_the_jobs_stale_hold(t: TestDb) {
    // Room for one task: the stale hold of the crashed submission must not take it.
    let settings =
        [("FITROOM_PROVIDER_PRICES", "paid=1"), ("FITROOM_PROVIDER_BUDGETS", "paid=1/day")];
    let p = Process::start(&t, &["paid"], &settings).await;
    let user = shopper(&t, 1).await;
    // The provider accepted, and the process died before recording it.
    t.faults.arm("submit:after_accepted");
    assert!(p.submit(&user).await.is_err());
    t.faults.disarm_all();
    assert_eq!(held_tasks(&t).await, 1);

    // The lease runs out and the reconciler submits the job again.
    t.clock.advance_millis(p.jobs.registry().names().len() as i64 * 30_000 + 31_000);
    let id = the_queued_job(&t).await;
    p.jobs.reconcile_once().await.expect("reconcile");
    let job = p.jobs.load_job(&id).await.expect("load").expect("the job");
    assert_eq!(job.status, JobStatus::Processing, "resubmitted within the budget");
    assert_eq!(p.providers[0].sent(), 2, "the provider was sent the task twice");
    assert_eq!(held_tasks(&t).await, 1, "a job holds one task's cost at a time");
    assert_eq!(p.rows(&t).await[0].spend, 1.0);
    t.assert_verified().await;
}

/// A provider that answers only after the submission's lease ran out: the reconciler has
/// submitted again meanwhile (releasing the first hold as a crashed one's), and the first
/// answer wins the job. Its task runs, so its cost is held again; the second is released.
async fn a_task_accepted_after_its_lease_ran_out_keeps_its_cost_held(t: TestDb) {
    let settings =
        [("FITROOM_PROVIDER_PRICES", "gated=1"), ("FITROOM_PROVIDER_BUDGETS", "gated=10/day")];
    let p = Arc::new(Process::start(&t, &["gated"], &settings).await);
    p.providers[0].accept_when_let_go.store(true, Ordering::SeqCst);
    let user = shopper(&t, 1).await;
    let first = a_submission_held_open(&p, &user).await;
    let id = the_queued_job(&t).await;
    t.clock.advance_millis(p.jobs.registry().names().len() as i64 * 30_000 + 31_000);
    let second = tokio::spawn({
        let p = p.clone();
        async move { p.jobs.reconcile_once().await }
    });
    p.providers[0].called.notified().await;
    assert_eq!(held_tasks(&t).await, 1, "the resubmission replaced the first hold");

    // The calls are let go in the order they came: the first answer wins the job.
    p.providers[0].go.notify_one();
    assert_eq!(first.await.expect("task").expect("submit").status, JobStatus::Processing);
    p.providers[0].go.notify_one();
    second.await.expect("task").expect("reconcile");

    let job = p.jobs.load_job(&id).await.expect("load").expect("the job");
    assert!(job.task_key.as_deref().is_some_and(|k| k.starts_with("gated-1-")), "{job:?}");
    assert_eq!(p.providers[0].sent(), 2, "both tasks were sent");
    assert_eq!(held_tasks(&t).await, 1, "the task that runs is held, the other released");
    assert_eq!(p.rows(&t).await[0].spend, 1.0);
    t.assert_verified().await;
}

async fn a_cool_down_that_begins_during_a_submission_stops_its_failover(t: TestDb) {
    let p = Arc::new(Process::start(&t, &["gated", "backup"], &[]).await);
    let user = shopper(&t, 1).await;
    // backup was usable when the route was planned; another process then sees it fail three
    // times while the first provider is being asked.
    let submitting = a_submission_held_open(&p, &user).await;
    for _ in 0..health::FAILURES_BEFORE_COOL_DOWN {
        health::record_failure(&p.db, "backup", t.clock.now()).await.expect("failure");
    }
    p.providers[0].go.notify_one();
    let job = submitting.await.expect("task").expect("submit");
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(p.providers[1].sent(), 0, "the reserving transaction saw the cool-down");
    let timeline = p.jobs.timeline(&job.id).await.expect("timeline");
    let failures: Vec<Option<&str>> = timeline
        .iter()
        .filter(|e| e.kind == "submit_failed")
        .map(|e| e.detail.as_deref())
        .collect();
    assert_eq!(failures, [Some("gated unavailable (HTTP 503)"), Some("backup cooling_down")]);
    t.assert_verified().await;
}

async fn a_providers_submission_failures_lower_its_own_success_rate_only(t: TestDb) {
    let p = Process::start(&t, &["flaky", "steady"], &[]).await;
    p.providers[0].down.store(true, Ordering::SeqCst);
    let user = shopper(&t, 10).await;
    for _ in 0..2 {
        let job = p.submit(&user).await.expect("fails over");
        assert_eq!(job.provider, "steady");
        let report = TaskReport {
            provider: "steady",
            task_key: job.task_key.clone().expect("task"),
            state: TaskState::Succeeded { outputs: vec![output()], cost: None },
            source: Source::Webhook,
        };
        if let Reported::OutputRecorded(id) = p.jobs.report(&report).await.expect("report") {
            p.jobs.mirror(&id).await.expect("mirror");
        }
    }
    let rows = p.rows(&t).await;
    let figures = |i: usize| (rows[i].name.as_str(), rows[i].jobs, rows[i].success_rate);
    assert_eq!(figures(0), ("flaky", 2, Some(0.0)), "sent two tasks, took none");
    assert_eq!(figures(1), ("steady", 2, Some(1.0)), "the jobs flaky failed succeeded here");
    t.assert_verified().await;
}

/// A job at `provider` (named in the request) that ends after `latency_ms`, succeeded or failed.
async fn history(
    p: &Process,
    t: &TestDb,
    user: &UserId,
    provider: &str,
    latency_ms: i64,
    ok: bool,
) {
    let mut request = p.request(user);
    request.provider = p.jobs.registry().name(provider);
    let job = match p.jobs.create(request).await.expect("create") {
        Created::New(job) | Created::Existing(job) => job,
    };
    assert_eq!(job.provider, provider);
    t.clock.advance_millis(latency_ms);
    let state = if ok {
        TaskState::Succeeded { outputs: vec![output()], cost: None }
    } else {
        TaskState::Failed { reason: "no".into() }
    };
    let report = TaskReport {
        provider: p.jobs.registry().name(provider).expect("enabled").as_str(),
        task_key: job.task_key.clone().expect("task"),
        state,
        source: Source::Webhook,
    };
    if let Reported::OutputRecorded(id) = p.jobs.report(&report).await.expect("report") {
        p.jobs.mirror(&id).await.expect("mirror");
    }
}

async fn each_strategy_routes_by_what_the_database_measured(t: TestDb) {
    let names = ["steady", "swift", "thrifty"];
    let prices = ("FITROOM_PROVIDER_PRICES", "steady=0.02,swift=0.05,thrifty=0.01");
    let recorder = Process::start(&t, &names, &[prices]).await;
    let user = shopper(&t, 100).await;
    // steady: 3 s, 60 %. swift: 1 s, 80 %. thrifty: cheap, 30 s, 90 %. The first in the
    // configured order is first under no strategy but `ordered`.
    for i in 0..10 {
        history(&recorder, &t, &user, "steady", 3000, i % 5 < 3).await;
        history(&recorder, &t, &user, "swift", 1000, i % 5 != 0).await;
        history(&recorder, &t, &user, "thrifty", 30_000, i != 0).await;
    }
    for (strategy, expected) in [
        ("ordered", "steady"),
        ("cheapest", "thrifty"),
        ("fastest", "swift"),
        ("reliable", "thrifty"),
        // swift 0.32 + 0.3 + 0.06 = 0.68; thrifty 0.36 + 0.01 + 0.3 = 0.67; steady 0.24 + 0.1
        // + 0.15 = 0.49.
        ("balanced", "swift"),
    ] {
        // Another process, which measured nothing itself: the database is what they share.
        let p = Process::start(
            &t,
            &names,
            &[prices, ("FITROOM_ROUTING", strategy), ("FITROOM_ROUTING_EXPLORE", "0")],
        )
        .await;
        let job = p.submit(&user).await.expect("submit");
        assert_eq!(job.provider, expected, "{strategy}");
        let timeline = p.jobs.timeline(&job.id).await.expect("timeline");
        let routed = timeline.iter().find(|e| e.kind == "routed").expect("routed");
        assert!(
            routed
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with(&format!("{strategy}: {expected}"))),
            "{strategy}: {:?}",
            routed.detail
        );
        // A provider the request names still goes first.
        let mut named = p.request(&user);
        named.provider = p.jobs.registry().name("thrifty");
        let job = match p.jobs.create(named).await.expect("create") {
            Created::New(job) | Created::Existing(job) => job,
        };
        assert_eq!(job.provider, "thrifty", "{strategy}, thrifty requested");
    }

    // Exploring every task: the fastest is never first, so the others keep being measured.
    let p = Process::start(
        &t,
        &names,
        &[prices, ("FITROOM_ROUTING", "fastest"), ("FITROOM_ROUTING_EXPLORE", "1")],
    )
    .await;
    for _ in 0..6 {
        assert_ne!(p.submit(&user).await.expect("submit").provider, "swift");
    }
    t.assert_verified().await;
}

crate::on_both_databases!(
    a_providers_submission_failures_lower_its_own_success_rate_only,
    a_job_canceled_before_its_failover_reserves_holds_nothing_and_sends_nothing,
    a_resubmission_after_a_crash_replaces_the_jobs_stale_hold,
    a_task_accepted_after_its_lease_ran_out_keeps_its_cost_held,
    a_cool_down_that_begins_during_a_submission_stops_its_failover,
    each_strategy_routes_by_what_the_database_measured,
    a_budget_holds_exactly_when_two_processes_submit_at_once,
    the_budget_period_rolls_over_at_the_utc_boundary,
    day_and_month_budgets_roll_over_at_midnight_utc,
    success_settles_the_task_and_failure_releases_it,
    a_cool_down_one_process_saw_is_honoured_by_every_process,
    with_every_provider_cooling_down_a_request_writes_nothing,
);
