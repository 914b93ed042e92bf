//! Deleting an account (issue 19) is a claimed job: the mark (address freed, sessions ended)
//! is one transaction, and the erasure of every stored object, started by the request, is
//! finished by the housekeeping's pass whenever it was cut off. Retention deletes the same way
//! on either store. Every spec runs on local disk and on S3 (a private s3s-fs, so that the whole
//! bucket can be listed), on SQLite and PostgreSQL.

use std::collections::BTreeSet;
use std::time::Duration;

use fitroom_server::ids::{JobId, UserId};
use fitroom_server::jobs::{JobError, JobStatus, NewGeneration, Source, TaskReport};
use fitroom_server::ledger::HoldState;
use fitroom_server::privacy::erasure::{self, AFTER_MARK, SETTLE_SECS};
use fitroom_server::providers::TaskState;
use reqwest::multipart::{Form, Part};
use serde_json::json;

use crate::common::TestDb;
use crate::http_server::{Server, png};
use crate::s3s::S3sFs;

const PASSWORD: &str = "correct horse battery";

/// Where the server keeps its objects.
#[derive(Clone, Copy, Debug)]
enum Store {
    Local,
    S3,
}

/// A server on `store` whose provider's webhooks are all lost: a job stays `processing` until
/// the test polls it (`succeed`), so a running job is certainly unfinished.
async fn server_on(t: TestDb, store: Store, extra: &[(&str, &str)]) -> (Server, Option<S3sFs>) {
    let s3 = match store {
        Store::Local => None,
        Store::S3 => Some(S3sFs::start().await),
    };
    let mut settings: Vec<(&str, String)> = s3.as_ref().map(S3sFs::settings).unwrap_or_default();
    settings.extend([
        ("FITROOM_LOCAL_DROP_RATE", "1".to_owned()),
        ("FITROOM_POLL_AFTER_SECS", "0".to_owned()),
        ("FITROOM_FETCH_ALLOW_PRIVATE", "true".to_owned()),
    ]);
    settings.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    (Server::start(t, &settings).await, s3)
}

/// Every key in the bucket, whatever its prefix.
async fn bucket(server: &Server) -> BTreeSet<String> {
    server.state.storage.list("").await.expect("list").into_iter().map(|o| o.key).collect()
}

async fn user_id(server: &Server, email: &str) -> UserId {
    let (id,): (String,) = sqlx::query_as("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(server.t.db.pool())
        .await
        .expect("user");
    UserId::from_string(id)
}

async fn job(server: &Server, id: &str) -> fitroom_server::jobs::Job {
    let id = JobId::from_string(id.to_owned());
    server.state.jobs.load_job(&id).await.expect("load").expect("job")
}

/// Starts a generation as `client`; answers its id once its task is with the provider.
async fn start_generation(client: &reqwest::Client, server: &Server, form: Form) -> String {
    let (status, created) = crate::saved_photos::generate(client, server, form).await;
    assert_eq!(status, 202, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    let task = job(server, &id).await.provider_task_id.expect("submitted");
    let provider = server.state.jobs.registry().get("local").expect("local provider").clone();
    for _ in 0..400 {
        if matches!(provider.fetch(&task).await, Ok(TaskState::Succeeded { .. })) {
            return id;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the local provider did not finish {task}");
}

fn upload() -> Form {
    Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .part("garment_image", Part::bytes(png(40, 40, [20, 40, 200])).file_name("shirt.png"))
}

/// The reconciler asks the provider about the job (its webhook was lost) until it succeeds.
async fn succeed(server: &Server, id: &str) {
    for _ in 0..20 {
        server.state.jobs.reconcile_once().await.expect("reconcile");
        if job(server, id).await.status == JobStatus::Succeeded {
            return;
        }
        server.t.clock.advance_millis(10_000);
    }
    panic!("job {id} did not succeed");
}

/// The provider's late webhook: the task succeeded, here is its output.
async fn late_webhook(server: &Server, id: &str) {
    let job = job(server, id).await;
    let task_key = job.task_key.expect("a task");
    let provider = server.state.jobs.registry().get("local").expect("local provider").clone();
    let state = provider.fetch(&task_key).await.expect("the provider knows the task");
    let report = TaskReport { provider: "local", task_key, state, source: Source::Webhook };
    server.state.jobs.hand_over(report).await.expect("a late report is no error");
}

/// Ann, with everything an account can keep: a finished generation (inputs and result), a
/// saved photo, a garment from a product link, and a generation still running. Bob, beside
/// her, keeps a running generation of his own.
struct Scene {
    server: Server,
    _s3: Option<S3sFs>,
    ann: UserId,
    /// Ann's generations: the finished one, the running one.
    jobs: [String; 2],
    /// Bob's objects: everything in the bucket that is not Ann's.
    bobs: BTreeSet<String>,
}

impl Scene {
    fn jobs(&self) -> [&str; 2] {
        [self.jobs[0].as_str(), self.jobs[1].as_str()]
    }
}

async fn ann_beside_bob(t: TestDb, store: Store) -> Scene {
    let (server, s3) = server_on(t, store, &[]).await;
    let (done, running) = ann_and_bob(&server).await;
    let ann = user_id(&server, "ann@example.com").await;
    let jobs = [done, running];
    let before = bucket(&server).await;
    let hers = |k: &String| k.contains(ann.as_str()) || jobs.iter().any(|j| k.contains(j.as_str()));
    let bobs: BTreeSet<String> = before.iter().filter(|k| !hers(k)).cloned().collect();
    for prefix in ["inputs/", "results/", "photos/", "garments/"] {
        assert!(
            before.iter().any(|k| k.starts_with(prefix) && hers(k)),
            "{store:?}: Ann has something under {prefix}: {before:?}"
        );
    }
    assert!(!bobs.is_empty(), "Bob has his inputs");
    assert_eq!(job(&server, &jobs[1]).await.status, JobStatus::Processing, "still running");
    Scene { server, _s3: s3, ann, jobs, bobs }
}

async fn ann_and_bob(server: &Server) -> (String, String) {
    let shop = crate::garments::shop().await;
    server.sign_up("ann@example.com").await;
    let (status, garment) =
        crate::garments::fetch(&server.http, server, &format!("{shop}/products/linen-shirt")).await;
    assert_eq!(status, 200, "{garment}");
    let garment = garment["garment_id"].as_str().expect("garment_id").to_owned();
    let first = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("save_photo", "true")
        .text("garment_id", garment);
    let done = start_generation(&server.http, server, first).await;
    succeed(server, &done).await;
    let running = start_generation(&server.http, server, upload()).await;

    let bob = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&bob, "bob@example.com").await;
    start_generation(&bob, server, upload()).await;
    (done, running)
}

async fn delete_me(server: &Server) -> u16 {
    server
        .http
        .delete(format!("{}/api/me", server.base))
        .json(&json!({ "password": PASSWORD }))
        .send()
        .await
        .expect("delete")
        .status()
        .as_u16()
}

/// What must hold once Ann's account is erased: none of her objects in the bucket (Bob's all
/// there), her running generation canceled with its hold released, no provider link kept, the
/// ledger verified and the address free.
async fn assert_erased(server: &Server, ann: &UserId, jobs: &[&str], bobs: &BTreeSet<String>) {
    assert_eq!(&bucket(server).await, bobs, "only Bob's objects are left in the bucket");
    let running = job(server, jobs[1]).await;
    assert_eq!(running.status, JobStatus::Canceled);
    let hold = running.hold.as_ref().expect("the job keeps its hold");
    let hold = server.state.ledger.hold(hold).await.expect("hold").expect("exists");
    assert_eq!(hold.state, HoldState::Released);
    let balance = server.state.ledger.balance(ann).await.expect("balance");
    assert_eq!(
        (balance.available.get(), balance.held.get()),
        (2, 0),
        "the canceled generation's credit came back, under the anonymous id"
    );
    for id in jobs {
        let job = job(server, id).await;
        assert_eq!(
            (job.output_url, job.person_key, job.result_key),
            (None, None, None),
            "generation {id} keeps no link to an image"
        );
    }
    let (open,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM holds WHERE state = 'open' AND user_id = $1")
            .bind(ann.as_str())
            .fetch_one(server.t.db.pool())
            .await
            .expect("holds");
    assert_eq!(open, 0);
    server.t.assert_verified().await;
    let again = reqwest::Client::builder().cookie_store(true).build().expect("client");
    server.sign_up_as(&again, "ann@example.com").await;
}

async fn deleting_an_account_cancels_what_runs_and_leaves_none_of_its_objects(
    t: TestDb,
    store: Store,
) {
    let scene = ann_beside_bob(t, store).await;
    let server = &scene.server;

    assert_eq!(delete_me(server).await, 204);
    // The provider still delivers the canceled job's result: it is not kept.
    late_webhook(server, &scene.jobs[1]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let me = server.http.get(format!("{}/api/me", server.base)).send().await.expect("me");
    assert_eq!(me.status(), 401, "every session ended");
    assert_erased(server, &scene.ann, &scene.jobs(), &scene.bobs).await;
}

async fn a_deletion_cut_off_after_its_mark_is_finished_by_the_housekeeping_pass(
    t: TestDb,
    store: Store,
) {
    let scene = ann_beside_bob(t, store).await;
    let (server, ann, bobs) = (&scene.server, &scene.ann, &scene.bobs);

    // The process dies between the mark and the erasure.
    server.t.faults.arm(AFTER_MARK);
    assert_eq!(delete_me(server).await, 500);
    server.t.faults.disarm_all();
    let me = server.http.get(format!("{}/api/me", server.base)).send().await.expect("me");
    assert_eq!(me.status(), 401, "the mark ended every session");
    assert_ne!(bucket(server).await, *bobs, "nothing was erased yet");
    // Another process that still trusted Ann's session for a moment cannot start a generation.
    let request = NewGeneration {
        user: ann.clone(),
        person: fitroom_server::media::normalize(&png(40, 60, [200, 170, 150])).expect("photo"),
        garment: None,
        prompt: None,
        aspect_ratio: None,
        provider: None,
        idempotency_key: None,
        digest: "after the mark".into(),
    };
    assert!(matches!(server.state.jobs.create(request).await, Err(JobError::AccountClosed)));

    let pass = erasure::finish_pending(&server.state).await;
    assert_eq!(pass.failures, 0);
    assert_erased(server, ann, &scene.jobs(), bobs).await;
    assert_eq!(pass.completed, 0, "not done before the settling time");
    // Something a request let in before the mark stores late is found by the next run.
    let late = format!("photos/{ann}/late.png");
    server.state.storage.put(&late, png(4, 4, [1, 2, 3]).into(), "image/png").await.expect("put");
    server.t.clock.advance_millis(SETTLE_SECS * 1000);
    let pass = erasure::finish_pending(&server.state).await;
    assert_eq!((pass.completed, pass.failures), (0, 0), "it found something: once more");
    assert!(server.state.storage.get(&late).await.expect("get").is_none());
    let pass = erasure::finish_pending(&server.state).await;
    assert_eq!((pass.completed, pass.failures), (1, 0), "nothing left: done");
    assert_eq!(erasure::finish_pending(&server.state).await, Default::default(), "and only once");
    assert_eq!(bucket(server).await, *bobs);
}

/// Input photos go after `FITROOM_INPUT_RETENTION_HOURS` and results after
/// `FITROOM_RESULT_RETENTION_DAYS`, with the provider's link to the result, on either store.
async fn retention_deletes_inputs_then_results_from_the_bucket(t: TestDb, store: Store) {
    let retention =
        [("FITROOM_INPUT_RETENTION_HOURS", "24"), ("FITROOM_RESULT_RETENTION_DAYS", "2")];
    let (server, _s3) = server_on(t, store, &retention).await;
    server.sign_up("ann@example.com").await;
    let id = start_generation(&server.http, &server, upload()).await;
    succeed(&server, &id).await;
    assert!(job(&server, &id).await.output_url.is_some(), "the provider's link, until retention");
    let inputs =
        BTreeSet::from([format!("inputs/{id}/garment.png"), format!("inputs/{id}/person.png")]);
    let result = format!("results/{id}.png");
    let mut all = inputs.clone();
    all.insert(result.clone());
    assert_eq!(bucket(&server).await, all);

    server.t.clock.advance_millis(25 * 3_600_000);
    let pass = server.state.jobs.reconcile_once().await.expect("pass");
    assert_eq!((pass.deleted_inputs, pass.deleted_results, pass.failures), (1, 0, 0));
    assert_eq!(bucket(&server).await, BTreeSet::from([result]), "{store:?}: the result stays");
    let kept = job(&server, &id).await;
    assert_eq!((kept.person_key, kept.garment_key, kept.output_url), (None, None, None));

    server.t.clock.advance_millis(2 * 86_400_000);
    let pass = server.state.jobs.reconcile_once().await.expect("pass");
    assert_eq!((pass.deleted_inputs, pass.deleted_results, pass.failures), (0, 1, 0));
    assert_eq!(bucket(&server).await, BTreeSet::new(), "{store:?}: nothing left");
    let after = server.get_json(&format!("/api/generations/{id}")).await;
    assert_eq!(
        (after["status"].as_str(), after["result_url"].is_null()),
        (Some("succeeded"), true)
    );
}

/// Each spec once per store: `$local` on local disk, `$s3` on S3.
macro_rules! on_both_stores {
    ($($spec:ident => $local:ident, $s3:ident;)*) => {
        $(
            async fn $local(t: TestDb) {
                $spec(t, Store::Local).await
            }

            async fn $s3(t: TestDb) {
                $spec(t, Store::S3).await
            }
        )*
    };
}

on_both_stores! {
    deleting_an_account_cancels_what_runs_and_leaves_none_of_its_objects =>
        deleting_an_account_on_local_disk, deleting_an_account_on_s3;
    a_deletion_cut_off_after_its_mark_is_finished_by_the_housekeeping_pass =>
        a_cut_off_deletion_is_finished_on_local_disk, a_cut_off_deletion_is_finished_on_s3;
    retention_deletes_inputs_then_results_from_the_bucket =>
        retention_on_local_disk, retention_on_s3;
}

/// A photo saved by a request that signed in before its account's deletion, landing after the
/// erasure: no row is written for the deleted account and the object goes with it.
async fn a_photo_saved_after_its_accounts_deletion_is_not_kept(t: TestDb) {
    let (server, _s3) = server_on(t, Store::Local, &[]).await;
    server.sign_up("ann@example.com").await;
    let ann = user_id(&server, "ann@example.com").await;
    assert_eq!(delete_me(&server).await, 204);
    let image = fitroom_server::media::normalize(&png(30, 40, [200, 170, 150])).expect("an image");
    let storage = server.state.storage.as_ref();
    let now = fitroom_server::clock::Clock::now(&server.t.clock);
    let saved = fitroom_server::photos::save(&server.t.db, storage, &ann, &image, now).await;
    assert_eq!(saved.expect("saves nothing"), None);
    assert_eq!(server.t.count("saved_photos").await, 0);
    let left: Vec<String> =
        bucket(&server).await.into_iter().filter(|k| k.starts_with("photos/")).collect();
    assert!(left.is_empty(), "{left:?}");
}

crate::on_both_databases!(
    a_photo_saved_after_its_accounts_deletion_is_not_kept,
    deleting_an_account_on_local_disk,
    deleting_an_account_on_s3,
    a_cut_off_deletion_is_finished_on_local_disk,
    a_cut_off_deletion_is_finished_on_s3,
    retention_on_local_disk,
    retention_on_s3,
);
