//! The generation lifecycle as one state machine: whatever order reports, polls, cancels,
//! timeouts and deletes arrive in, a job ends exactly once, its hold follows its status, nothing
//! it stored outlives it, and the ledger verifies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::http::HeaderMap;
use base64::Engine;
use fitroom_server::Config;
use fitroom_server::clock::Timestamp;
use fitroom_server::ids::{JobId, UserId};
use fitroom_server::jobs::{
    Created, Job, JobError, JobStatus, Jobs, NewGeneration, Reported, Source, TaskReport,
};
use fitroom_server::ledger::{Credits, Grant, HoldState};
use fitroom_server::providers::{
    FetchError, Provider, Registry, SubmitError, TaskInput, TaskState, WebhookError, WebhookEvent,
};
use fitroom_server::signing::Signer;
use fitroom_server::storage::{ByteRange, ByteStream, Listed, Read, Storage, StorageError};
use fitroom_types::upload::Prompt;

use crate::common::TestDb;
use crate::http_server::png;

/// A provider whose answers the test sets: submissions succeed (or fail, when told to) and
/// status queries answer what the test last set for the task.
struct Scripted {
    name: &'static str,
    next: AtomicU64,
    unavailable: std::sync::atomic::AtomicBool,
    states: Mutex<HashMap<String, TaskState>>,
}

impl Scripted {
    fn new(name: &'static str) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            next: AtomicU64::new(1),
            unavailable: Default::default(),
            states: Mutex::default(),
        })
    }

    fn answer(&self, task: &str, state: TaskState) {
        self.states.lock().expect("states").insert(task.to_owned(), state);
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &'static str {
        self.name
    }

    async fn submit(&self, _task: &TaskInput) -> Result<String, SubmitError> {
        // Like a provider that timed out on us after creating the task: the id is used up.
        let id = format!("{}-{}", self.name, self.next.fetch_add(1, Ordering::SeqCst));
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(SubmitError::Unavailable(format!("503 while creating {id}")));
        }
        Ok(id)
    }

    async fn parse_webhook(
        &self,
        _headers: &HeaderMap,
        _query: Option<&str>,
        _body: &[u8],
        _now: Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        Err(WebhookError::Malformed("the scripted provider is driven through reports".into()))
    }

    async fn fetch(&self, task_id: &str) -> Result<TaskState, FetchError> {
        Ok(self.states.lock().expect("states").get(task_id).cloned().unwrap_or(TaskState::Pending))
    }
}

/// A small PNG as a `data:` URI: a provider output the mirror can copy without a network.
fn output() -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png(8, 8, [10, 200, 30]))
    )
}

struct World {
    t: TestDb,
    jobs: Jobs,
    storage: Arc<dyn Storage>,
    providers: Vec<Arc<Scripted>>,
    config: Config,
    _data: tempfile::TempDir,
}

impl World {
    async fn new(t: TestDb, names: &[&'static str]) -> World {
        Self::with_store(t, names, |storage| storage).await
    }

    /// With the configured store seen through `wrap`.
    async fn with_store(
        t: TestDb,
        names: &[&'static str],
        wrap: impl FnOnce(Arc<dyn Storage>) -> Arc<dyn Storage>,
    ) -> World {
        let data = tempfile::tempdir().expect("data dir");
        let mut env: HashMap<String, String> = [
            ("FITROOM_DATA_DIR", data.path().display().to_string()),
            ("FITROOM_SIGNUP_CREDITS", "0".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        env.extend(t.database_env());
        let config = Config::from_source(&env).expect("config");
        let storage = wrap(fitroom_server::storage::from_config(&config).await.expect("storage"));
        let providers: Vec<Arc<Scripted>> = names.iter().map(|n| Scripted::new(n)).collect();
        let registry = Registry::new(
            providers.iter().map(|p| p.clone() as Arc<dyn Provider>).collect(),
            names[0],
        );
        let jobs = Jobs::new(
            t.ledger(),
            storage.clone(),
            registry,
            Signer::from_key([7; 32]),
            Arc::new(config.clone()),
            t.faults.clone(),
        );
        World { t, jobs, storage, providers, config, _data: data }
    }

    /// The same Fitroom in another process: a pool of its own (PostgreSQL), the same providers
    /// and settings, and `storage`.
    async fn another_process(&self, storage: Arc<dyn Storage>) -> Jobs {
        let ledger = fitroom_server::ledger::Ledger::with_faults(
            self.t.another_process().await,
            Arc::new(self.t.clock.clone()),
            self.t.faults.clone(),
        );
        Jobs::new(
            ledger,
            storage,
            self.jobs.registry().clone(),
            Signer::from_key([7; 32]),
            Arc::new(self.config.clone()),
            self.t.faults.clone(),
        )
    }

    /// A shopper with `credits` and no generation yet.
    async fn shopper(&self, credits: i64) -> UserId {
        let user = self.t.user().await;
        let grant = Grant {
            user: user.clone(),
            credits: Credits::new(credits).expect("credits"),
            name: "Test".into(),
            expires_at: None,
            source: None,
        };
        self.t.ledger().grant(&grant).await.expect("grant");
        user
    }

    /// A generation request for the first provider.
    fn request(&self, user: &UserId) -> NewGeneration {
        NewGeneration {
            user: user.clone(),
            person: fitroom_server::media::normalize(&png(40, 60, [200, 170, 150])).expect("photo"),
            garment: None,
            prompt: Prompt::parse("a red raincoat").expect("a prompt"),
            aspect_ratio: None,
            provider: self.jobs.registry().name(self.providers[0].name),
            idempotency_key: None,
            digest: "one request".into(),
        }
    }

    /// A shopper with `credits` and one generation, submitted to the first provider.
    async fn shopper_with_a_job(&self, credits: i64) -> (UserId, Job) {
        let user = self.shopper(credits).await;
        let job = match self.jobs.create(self.request(&user)).await.expect("create") {
            Created::New(job) => job,
            Created::Existing(_) => panic!("a new request"),
        };
        (user, job)
    }

    async fn job(&self, id: &JobId) -> Job {
        self.jobs.load_job(id).await.expect("load").expect("job")
    }

    async fn hold_state(&self, job: &Job) -> HoldState {
        let hold = job.hold.as_ref().expect("the job keeps its hold");
        self.t.ledger().hold(hold).await.expect("hold").expect("exists").state
    }

    async fn stored(&self, key: &str) -> bool {
        self.storage.get(key).await.expect("storage").is_some()
    }
}

/// Everything that can happen to a running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Webhook,
    DuplicateWebhook,
    LateFailure,
    Poll,
    Cancel,
    Timeout,
    Delete,
}

const EVENTS: [Event; 7] = [
    Event::Webhook,
    Event::DuplicateWebhook,
    Event::LateFailure,
    Event::Poll,
    Event::Cancel,
    Event::Timeout,
    Event::Delete,
];

async fn happen(w: &World, user: &UserId, job: &Job, event: Event) {
    let task = job.task_key.clone().expect("submitted");
    let report = |state| TaskReport {
        provider: w.providers[0].name,
        task_key: task.clone(),
        state,
        source: Source::Webhook,
    };
    match event {
        Event::Webhook | Event::DuplicateWebhook => {
            let reported = w
                .jobs
                .report(&report(TaskState::Succeeded { outputs: vec![output()], cost: None }))
                .await
                .expect("report");
            if let Reported::OutputRecorded(id) = reported {
                w.jobs.mirror(&id).await.expect("mirror");
            }
        }
        Event::LateFailure => {
            w.jobs
                .report(&report(TaskState::Failed { reason: "late".into() }))
                .await
                .expect("report");
        }
        Event::Poll => {
            w.providers[0]
                .answer(&task, TaskState::Succeeded { outputs: vec![output()], cost: None });
            w.t.clock.advance_millis(w.config.poll_after_secs as i64 * 1000 + 1000);
            w.jobs.sweep_jobs().await;
        }
        Event::Cancel => {
            // Refused once finished: that is the point.
            let _ = w.jobs.cancel(user, &job.id).await;
        }
        Event::Timeout => {
            w.t.clock.advance_millis(w.config.job_timeout_secs as i64 * 1000 + 1000);
            w.jobs.sweep_jobs().await;
        }
        Event::Delete => {
            // Refused while running.
            let _ = w.jobs.delete(user, &job.id).await;
        }
    }
}

/// What must hold of a job once it has finished.
async fn assert_one_consistent_end(
    w: &World,
    user: &UserId,
    job: &JobId,
    first_end: JobStatus,
    what: &str,
) {
    let now = w.job(job).await;
    assert_eq!(now.status, first_end, "{what}: a finished job moved again");
    let hold = w.hold_state(&now).await;
    let charged = w.t.ledger().balance(user).await.expect("balance").available.get() == 1;
    match now.status {
        JobStatus::Succeeded => {
            assert_eq!(hold, HoldState::Settled, "{what}");
            assert!(charged, "{what}: a success costs its credit");
        }
        _ => {
            assert_eq!(hold, HoldState::Released, "{what}");
            assert!(!charged, "{what}: an unsuccessful job costs nothing");
            for key in [format!("results/{job}.png"), format!("results/{job}.jpg")] {
                assert!(!w.stored(&key).await, "{what}: a result of an unsuccessful job was kept");
            }
        }
    }
}

async fn every_pair_of_events_in_every_order_ends_a_job_exactly_once(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    for first in EVENTS {
        for second in EVENTS {
            let what = format!("{first:?} then {second:?}");
            let (user, job) = w.shopper_with_a_job(2).await;
            assert_eq!(job.status, JobStatus::Processing, "{what}");
            let mut first_end = None;
            for event in [first, second] {
                happen(&w, &user, &job, event).await;
                let status = w.job(&job.id).await.status;
                if let Some(end) = first_end {
                    assert_eq!(status, end, "{what}: after {event:?}");
                } else if status.is_finished() {
                    first_end = Some(status);
                }
            }
            // Whatever is still running is timed out, as the reconciler would.
            happen(&w, &user, &job, Event::Timeout).await;
            let end = first_end.unwrap_or(w.job(&job.id).await.status);
            assert!(end.is_finished(), "{what}");
            assert_one_consistent_end(&w, &user, &job.id, end, &what).await;
            if [first, second].contains(&Event::Delete) && w.jobs.get(&user, &job.id).await.is_err()
            {
                let person = job.person_key.clone().expect("inputs");
                assert!(!w.stored(&person).await, "{what}: a deleted job's photo was kept");
            }
        }
    }
    w.t.assert_verified().await;
}

async fn events_racing_each_other_still_end_a_job_exactly_once(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    for (i, first) in EVENTS.iter().enumerate() {
        for second in &EVENTS[i..] {
            let what = format!("{first:?} racing {second:?}");
            let (user, job) = w.shopper_with_a_job(2).await;
            tokio::join!(happen(&w, &user, &job, *first), happen(&w, &user, &job, *second));
            happen(&w, &user, &job, Event::Timeout).await;
            let end = w.job(&job.id).await.status;
            assert!(end.is_finished(), "{what}");
            assert_one_consistent_end(&w, &user, &job.id, end, &what).await;
        }
    }
    w.t.assert_verified().await;
}

async fn a_report_is_bound_only_to_the_task_its_job_recorded(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    let (_, job) = w.shopper_with_a_job(2).await;
    let stranger = TaskReport {
        provider: "scripted",
        task_key: "scripted-999".into(),
        state: TaskState::Failed { reason: "someone else's task".into() },
        source: Source::Poll,
    };
    assert_eq!(w.jobs.report(&stranger).await.expect("report"), Reported::Unbound);
    let other_provider =
        TaskReport { provider: "other", task_key: job.task_key.clone().expect("task"), ..stranger };
    assert_eq!(w.jobs.report(&other_provider).await.expect("report"), Reported::Unbound);
    assert_eq!(w.job(&job.id).await.status, JobStatus::Processing);
}

async fn a_late_failure_from_a_provider_failed_over_from_changes_nothing(t: TestDb) {
    let w = World::new(t, &["first", "second"]).await;
    w.providers[0].unavailable.store(true, Ordering::SeqCst);
    let (user, job) = w.shopper_with_a_job(2).await;
    assert_eq!(job.provider, "second", "failed over");
    // The first provider created its task before timing out on us, and now reports it failed.
    let late = TaskReport {
        provider: "first",
        task_key: "first-1".into(),
        state: TaskState::Failed { reason: "it never mattered".into() },
        source: Source::Webhook,
    };
    assert_eq!(w.jobs.report(&late).await.expect("report"), Reported::Unbound);
    assert_eq!(w.job(&job.id).await.status, JobStatus::Processing);

    let done = TaskReport {
        provider: "second",
        task_key: job.task_key.clone().expect("task"),
        state: TaskState::Succeeded { outputs: vec![output()], cost: None },
        source: Source::Webhook,
    };
    w.jobs.report(&done).await.expect("report");
    w.jobs.mirror(&job.id).await.expect("mirror");
    assert_one_consistent_end(&w, &user, &job.id, JobStatus::Succeeded, "failover").await;
    let kinds: Vec<String> =
        w.jobs.timeline(&job.id).await.expect("timeline").into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        ["created", "held", "routed", "submit_failed", "submitted", "webhook", "stored", "settled"],
        "the timeline tells the whole story in order"
    );
    w.t.assert_verified().await;
}

async fn a_signed_report_that_outruns_the_submission_is_applied_once_the_task_is_recorded(
    t: TestDb,
) {
    let w = World::new(t, &["scripted"]).await;
    // The provider's webhook for the task it is about to hand back arrives first.
    let early = TaskReport {
        provider: "scripted",
        task_key: "scripted-1".into(),
        state: TaskState::Failed { reason: "out of capacity".into() },
        source: Source::Webhook,
    };
    assert_eq!(w.jobs.report(&early).await.expect("report"), Reported::Unbound);
    let (user, job) = w.shopper_with_a_job(2).await;
    assert_eq!(job.task_key.as_deref(), Some("scripted-1"));
    let now = w.job(&job.id).await;
    assert_eq!(now.status, JobStatus::Failed, "the kept report was applied");
    assert_one_consistent_end(&w, &user, &job.id, JobStatus::Failed, "early report").await;
}

async fn the_reconciler_never_submits_a_job_twice_while_it_is_being_submitted(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    w.t.faults.arm("submit:after_accepted");
    let user = w.shopper(2).await;
    // The crash window: the provider accepted task 1, the process died before recording it.
    assert!(w.jobs.create(w.request(&user)).await.is_err());
    w.t.faults.disarm_all();
    let (id,): (String,) =
        sqlx::query_as("SELECT id FROM jobs").fetch_one(w.t.db.pool()).await.expect("job");
    let id = JobId::from_string(id);
    assert_eq!(w.job(&id).await.status, JobStatus::Queued);

    // While the dead submission's lease lasts, the reconciler keeps its hands off.
    w.t.clock.advance_millis(31_000);
    w.jobs.sweep_jobs().await;
    assert_eq!(w.job(&id).await.status, JobStatus::Queued);
    assert_eq!(w.providers[0].next.load(Ordering::SeqCst), 2, "no second submission yet");

    // Once it has run out, the job is submitted again and the new task is the one recorded.
    w.t.clock.advance_millis(120_000);
    w.jobs.sweep_jobs().await;
    let job = w.job(&id).await;
    assert_eq!((job.status, job.task_key.as_deref()), (JobStatus::Processing, Some("scripted-2")));
    // The orphaned first task's report changes nothing.
    let orphan = TaskReport {
        provider: "scripted",
        task_key: "scripted-1".into(),
        state: TaskState::Succeeded { outputs: vec![output()], cost: None },
        source: Source::Poll,
    };
    assert_eq!(w.jobs.report(&orphan).await.expect("report"), Reported::Unbound);
    // A finished job is never submitted again either.
    w.jobs.cancel(&user, &id).await.expect("cancel");
    w.t.clock.advance_millis(600_000);
    w.jobs.sweep_jobs().await;
    assert_eq!(w.providers[0].next.load(Ordering::SeqCst), 3);
    assert_one_consistent_end(&w, &user, &id, JobStatus::Canceled, "canceled").await;
    w.t.assert_verified().await;
}

async fn a_result_copied_around_a_cancel_is_deleted_with_its_job(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    let (user, job) = w.shopper_with_a_job(2).await;
    let task = job.task_key.clone().expect("task");
    let report = TaskReport {
        provider: "scripted",
        task_key: task,
        state: TaskState::Succeeded { outputs: vec![output()], cost: None },
        source: Source::Webhook,
    };
    // The output is recorded, then the shopper cancels while the copy is on its way.
    assert!(matches!(w.jobs.report(&report).await.expect("report"), Reported::OutputRecorded(_)));
    w.t.faults.arm("mirror:after_store");
    assert!(w.jobs.mirror(&job.id).await.is_err());
    w.t.faults.disarm_all();
    assert!(w.stored(&format!("results/{}.png", job.id)).await, "the copy landed before the crash");
    w.jobs.cancel(&user, &job.id).await.expect("cancel");
    w.jobs.delete(&user, &job.id).await.expect("delete");
    assert!(
        !w.stored(&format!("results/{}.png", job.id)).await,
        "deleting a job deletes every object it had"
    );
    assert_one_consistent_end(&w, &user, &job.id, JobStatus::Canceled, "canceled").await;
}

async fn overdue_holds_end_their_jobs_even_when_the_job_loop_has_not_run(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    let (user, job) = w.shopper_with_a_job(2).await;
    w.t.clock.advance_days(1);
    let pass = w.jobs.sweep_ledger().await;
    assert_eq!((pass.released_holds, pass.failures), (1, 0));
    let ended = w.job(&job.id).await;
    assert_eq!(ended.status, JobStatus::Failed);
    assert_eq!(ended.error_code.map(|c| c.as_str()), Some("hold_overdue"));
    assert!(ended.finished_at.is_some(), "every ending records when");
    assert_one_consistent_end(&w, &user, &job.id, JobStatus::Failed, "overdue").await;
    w.t.assert_verified().await;
}

async fn input_photos_are_deleted_once_their_retention_has_passed(t: TestDb) {
    let w = World::new(t, &["scripted"]).await;
    let (user, ended) = w.shopper_with_a_job(3).await;
    let running = match w.jobs.create(w.request(&user)).await.expect("create") {
        Created::New(job) => job,
        Created::Existing(_) => panic!("a new request"),
    };
    w.jobs.cancel(&user, &ended.id).await.expect("cancel");
    let photo = |job: &Job| job.person_key.clone().expect("an input photo");
    let (ended_photo, running_photo) = (photo(&ended), photo(&running));

    w.t.clock.advance_millis(23 * 3_600_000);
    let pass = w.jobs.sweep_jobs().await;
    assert_eq!(pass.deleted_inputs, 0, "23 hours after the end: kept");
    assert!(w.stored(&ended_photo).await);

    w.t.clock.advance_millis(2 * 3_600_000);
    let pass = w.jobs.sweep_jobs().await;
    assert_eq!((pass.deleted_inputs, pass.failures), (1, 0));
    assert!(!w.stored(&ended_photo).await, "25 hours after the end: deleted");
    assert_eq!(w.job(&ended.id).await.person_key, None, "and forgotten");
    // The second job was still running at the first sweep (it timed out there): its own
    // retention counts from its own end.
    assert!(w.stored(&running_photo).await, "a job that ended later keeps its photos");
    assert_eq!(w.jobs.sweep_jobs().await.deleted_inputs, 0, "nothing twice");
}

/// The configured store, watched: it notes every key it was asked to delete, taking a moment
/// for each (so that two sweeps overlap); it refuses to delete keys containing "unlucky" while
/// told to; and once given a shopper, it erases their generations before storing any input (an
/// upload still on its way when the account was deleted).
struct Watched {
    inner: Arc<dyn Storage>,
    deleted: Mutex<Vec<String>>,
    refuse: std::sync::atomic::AtomicBool,
    erase_before_inputs: std::sync::OnceLock<(Jobs, UserId)>,
}

impl Watched {
    fn new(inner: Arc<dyn Storage>) -> Arc<Watched> {
        Arc::new(Watched {
            inner,
            deleted: Mutex::default(),
            refuse: true.into(),
            erase_before_inputs: Default::default(),
        })
    }

    fn deleted(&self) -> Vec<String> {
        self.deleted.lock().expect("deleted").clone()
    }
}

#[async_trait]
impl Storage for Watched {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }

    async fn put_stream(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<u64, StorageError> {
        if let Some((jobs, user)) =
            self.erase_before_inputs.get().filter(|_| key.starts_with("inputs/"))
        {
            jobs.erase_all(user).await.expect("erase");
        }
        self.inner.put_stream(key, body, content_type).await
    }

    async fn read(&self, key: &str, range: Option<ByteRange>) -> Result<Read, StorageError> {
        self.inner.read(key, range).await
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        if key.contains("unlucky") && self.refuse.load(Ordering::SeqCst) {
            return Err(StorageError::Remote(format!("refusing to delete {key}")));
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        self.deleted.lock().expect("deleted").push(key.to_owned());
        self.inner.delete(key).await
    }

    async fn health(&self) -> Result<(), StorageError> {
        self.inner.health().await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        self.inner.list(prefix).await
    }
}

/// A world whose store is `Watched`.
async fn watched_world(t: TestDb) -> (World, Arc<Watched>) {
    let watched = std::sync::OnceLock::new();
    let w = World::with_store(t, &["scripted"], |inner| {
        let store = Watched::new(inner);
        watched.set(store.clone()).ok();
        store
    })
    .await;
    let watched = watched.get().expect("the store").clone();
    (w, watched)
}

/// A generation of `user` that ended at `finished_at` and keeps a stored input photo named
/// `name`; answers the photo's key.
async fn ended_keeping_a_photo(
    w: &World,
    user: &UserId,
    finished_at: Timestamp,
    name: &str,
) -> String {
    let id = JobId::generate();
    let key = format!("inputs/{id}/{name}.png");
    w.storage.put(&key, png(4, 4, [9, 9, 9]).into(), "image/png").await.expect("put");
    sqlx::query(
        "INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at, finished_at, person_key) \
         VALUES ($1, $2, 'canceled', 1, 'scripted', $3, $3, $3, $4)",
    )
    .bind(id.as_str())
    .bind(user.as_str())
    .bind(finished_at.millis())
    .bind(&key)
    .execute(w.t.db.pool())
    .await
    .expect("insert job");
    key
}

async fn two_processes_sweeping_at_once_split_the_due_photos_and_delete_each_once(t: TestDb) {
    let (w, first) = watched_world(t).await;
    let second = Watched::new(first.inner.clone());
    let other = w.another_process(second.clone()).await;
    let user = w.t.user().await;
    let mut keys = Vec::new();
    for n in 0..30 {
        let ended = fitroom_server::clock::Clock::now(&w.t.clock).plus_millis(n);
        keys.push(ended_keeping_a_photo(&w, &user, ended, "person").await);
    }
    w.t.clock.advance_days(2);

    let (a, b) = tokio::join!(w.jobs.sweep_jobs(), other.sweep_jobs());
    let (by_first, by_second) = (first.deleted(), second.deleted());
    assert_eq!((a.failures, b.failures), (0, 0));
    assert_eq!(a.deleted_inputs + b.deleted_inputs, 30, "{a:?} {b:?}");
    assert_eq!((a.deleted_inputs, b.deleted_inputs), (by_first.len(), by_second.len()));
    assert!(!by_first.is_empty() && !by_second.is_empty(), "both took a share: {a:?} {b:?}");
    let mut together: Vec<String> = by_first.iter().chain(&by_second).cloned().collect();
    together.sort();
    keys.sort();
    assert_eq!(together, keys, "every photo deleted, none twice");
    for key in &keys {
        assert!(!w.stored(key).await);
    }
}

async fn a_photo_that_cannot_be_deleted_does_not_hold_up_the_rest(t: TestDb) {
    let (w, noting) = watched_world(t).await;
    let user = w.t.user().await;
    let start = fitroom_server::clock::Clock::now(&w.t.clock);
    // A whole batch of rows whose photos the store refuses, ended before three it accepts.
    let mut unlucky = Vec::new();
    for n in 0..100 {
        unlucky.push(ended_keeping_a_photo(&w, &user, start.plus_millis(n), "unlucky").await);
    }
    let mut lucky = Vec::new();
    for n in 0..3 {
        lucky.push(ended_keeping_a_photo(&w, &user, start.plus_millis(1000 + n), "person").await);
    }
    w.t.clock.advance_days(2);

    let pass = w.jobs.sweep_jobs().await;
    assert_eq!((pass.deleted_inputs, pass.failures), (0, 100), "the first batch all failed");
    let pass = w.jobs.sweep_jobs().await;
    assert_eq!((pass.deleted_inputs, pass.failures), (3, 0), "the failing rows wait their turn");
    for key in &lucky {
        assert!(!w.stored(key).await, "{key} deleted despite the failures before it");
    }
    assert!(w.stored(&unlucky[0]).await);

    // The store recovers: after their back-off the failed rows are swept too.
    noting.refuse.store(false, Ordering::SeqCst);
    assert_eq!(w.jobs.sweep_jobs().await.deleted_inputs, 0, "still backing off");
    w.t.clock.advance_millis(61_000);
    let pass = w.jobs.sweep_jobs().await;
    assert_eq!((pass.deleted_inputs, pass.failures), (100, 0));
    for key in &unlucky {
        assert!(!w.stored(key).await);
    }
}

/// Each sweep claims and backs off a row on its own: a result the store refuses to delete does
/// not keep that job's input photos past their retention.
async fn a_result_that_cannot_be_deleted_does_not_hold_up_its_jobs_photos(t: TestDb) {
    let (w, _refusing) = watched_world(t).await;
    let mut config = w.config.clone();
    config.input_retention_hours = 48;
    config.result_retention_days = 1;
    let jobs = Jobs::new(
        w.t.ledger(),
        w.storage.clone(),
        w.jobs.registry().clone(),
        Signer::from_key([7; 32]),
        Arc::new(config),
        w.t.faults.clone(),
    );
    let user = w.t.user().await;
    let ended = fitroom_server::clock::Clock::now(&w.t.clock);
    let photo = ended_keeping_a_photo(&w, &user, ended, "person").await;
    let result = "results/unlucky.png";
    w.storage.put(result, png(4, 4, [1, 2, 3]).into(), "image/png").await.expect("put");
    sqlx::query("UPDATE jobs SET result_key = $1 WHERE person_key = $2")
        .bind(result)
        .bind(&photo)
        .execute(w.t.db.pool())
        .await
        .expect("a result");

    w.t.clock.advance_millis(48 * 3_600_000 - 10_000);
    let pass = jobs.sweep_jobs().await;
    assert_eq!((pass.deleted_inputs, pass.deleted_results, pass.failures), (0, 0, 1));
    w.t.clock.advance_millis(20_000);
    let pass = jobs.sweep_jobs().await;
    assert_eq!(pass.deleted_inputs, 1, "the photos go on time, the result backing off: {pass:?}");
    assert!(!w.stored(&photo).await);
    assert!(w.stored(result).await);
}

async fn inputs_that_arrive_after_their_account_was_erased_are_not_kept(t: TestDb) {
    let (w, store) = watched_world(t).await;
    let user = w.shopper(2).await;
    store.erase_before_inputs.set((w.jobs.clone(), user.clone())).ok();
    let created = w.jobs.create(w.request(&user)).await;
    assert!(
        matches!(created, Err(JobError::NotFound)),
        "the generation is gone: {:?}",
        created.err()
    );

    let (id,): (String,) = sqlx::query_as("SELECT id FROM jobs WHERE user_id = $1")
        .bind(user.as_str())
        .fetch_one(w.t.db.pool())
        .await
        .expect("the job");
    let job = w.job(&JobId::from_string(id.clone())).await;
    assert_eq!((job.status, job.person_key.as_deref()), (JobStatus::Canceled, None));
    assert_eq!(w.hold_state(&job).await, HoldState::Released);
    let left = store.inner.list(&format!("inputs/{id}/")).await.expect("list");
    assert!(left.is_empty(), "nothing of the erased generation is stored: {left:?}");
    w.t.assert_verified().await;
}

/// The kinds of a job's timeline, once it shows `last` (a copy into storage may still be on its
/// way when the step that started it returns).
async fn timeline_through(w: &World, job: &JobId, last: &str) -> Vec<String> {
    for _ in 0..100 {
        let kinds: Vec<String> =
            w.jobs.timeline(job).await.expect("timeline").into_iter().map(|e| e.kind).collect();
        if kinds.iter().any(|k| k == last) {
            return kinds;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{last} never reached the timeline of {job}");
}

/// `steps` appear in `kinds` in this order (other steps may come between).
fn in_order(kinds: &[String], steps: &[&str]) -> bool {
    let mut rest = kinds.iter();
    steps.iter().all(|step| rest.any(|k| k == step))
}

/// What the operator's timeline shows for each way a job can go (issue 20's paths).
async fn every_path_leaves_its_steps_in_the_timeline(t: TestDb) {
    let w = World::new(t, &["scripted", "backup"]).await;
    let paths: [(&str, &[Event], &[&str]); 5] = [
        ("success", &[Event::Webhook], &["webhook", "stored", "settled"]),
        (
            "duplicate webhook",
            &[Event::Webhook, Event::DuplicateWebhook],
            &["webhook", "stored", "settled", "webhook"],
        ),
        ("lost webhook, polled", &[Event::Poll], &["polled", "stored", "settled"]),
        ("cancel", &[Event::Cancel], &["canceled", "released"]),
        ("timeout", &[Event::Timeout], &["failed", "released"]),
    ];
    for (path, events, steps) in paths {
        let (user, job) = w.shopper_with_a_job(2).await;
        for event in events {
            happen(&w, &user, &job, *event).await;
        }
        let last = steps.last().expect("a step");
        let mut kinds = timeline_through(&w, &job.id, last).await;
        if path == "duplicate webhook" {
            // The second delivery is recorded after the end, and changes nothing.
            kinds = timeline_through(&w, &job.id, "settled").await;
            assert_eq!(kinds.iter().filter(|k| *k == "webhook").count(), 2, "{path}: {kinds:?}");
        }
        let all: Vec<&str> =
            ["created", "held", "submitted"].into_iter().chain(steps.iter().copied()).collect();
        assert!(in_order(&kinds, &all), "{path}: {kinds:?}");
        // Each step says what the operator needs: how a delivery was verified and whether it
        // was a duplicate, what was stored, what the hold did, who canceled, why it failed.
        let events = w.jobs.timeline(&job.id).await.expect("timeline");
        let details = |kind: &str| -> Vec<String> {
            events.iter().filter(|e| e.kind == kind).filter_map(|e| e.detail.clone()).collect()
        };
        let expected: &[(&str, &str)] = match path {
            "success" => &[
                ("webhook", "signature verified: succeeded with 1 output(s)"),
                ("settled", "1 credits"),
            ],
            "duplicate webhook" => {
                &[("webhook", "signature verified, duplicate: the job had ended")]
            }
            "lost webhook, polled" => &[("polled", "asked the provider: succeeded")],
            "cancel" => &[("canceled", "by the shopper"), ("released", "1 credits")],
            _ => &[("failed", "timed_out: "), ("released", "1 credits")],
        };
        for (kind, start) in expected {
            assert!(
                details(kind).iter().any(|d| d.starts_with(start)),
                "{path}: no {kind} starting {start:?} in {:?}",
                details(kind)
            );
        }
        if let Some(stored) = details("stored").first() {
            let key = format!("results/{}.", job.id);
            let key_stored = &stored[..stored.find(',').expect("key, size")];
            let object = w.storage.get(key_stored).await.expect("read").expect("the stored result");
            let size = object.bytes.len();
            assert!(stored.starts_with(&key), "{stored}");
            assert!(stored.contains(&format!(", {size} bytes (image/")), "{path}: {stored}");
        }
    }

    // Failover: the first provider refuses, the second takes the task.
    w.providers[0].unavailable.store(true, Ordering::SeqCst);
    let (_, job) = w.shopper_with_a_job(2).await;
    let events = w.jobs.timeline(&job.id).await.expect("timeline");
    let kinds: Vec<String> = events.iter().map(|e| e.kind.clone()).collect();
    assert!(in_order(&kinds, &["created", "held", "submit_failed", "submitted"]), "{kinds:?}");
    let submitted = events.iter().find(|e| e.kind == "submitted").expect("submitted");
    assert!(submitted.detail.as_deref().is_some_and(|d| d.starts_with("backup")), "{submitted:?}");
}

crate::on_both_databases!(
    every_path_leaves_its_steps_in_the_timeline,
    input_photos_are_deleted_once_their_retention_has_passed,
    two_processes_sweeping_at_once_split_the_due_photos_and_delete_each_once,
    a_photo_that_cannot_be_deleted_does_not_hold_up_the_rest,
    a_result_that_cannot_be_deleted_does_not_hold_up_its_jobs_photos,
    inputs_that_arrive_after_their_account_was_erased_are_not_kept,
    every_pair_of_events_in_every_order_ends_a_job_exactly_once,
    events_racing_each_other_still_end_a_job_exactly_once,
    a_report_is_bound_only_to_the_task_its_job_recorded,
    a_late_failure_from_a_provider_failed_over_from_changes_nothing,
    a_signed_report_that_outruns_the_submission_is_applied_once_the_task_is_recorded,
    the_reconciler_never_submits_a_job_twice_while_it_is_being_submitted,
    a_result_copied_around_a_cancel_is_deleted_with_its_job,
    overdue_holds_end_their_jobs_even_when_the_job_loop_has_not_run,
);
