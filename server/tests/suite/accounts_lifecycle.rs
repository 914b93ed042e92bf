//! An account's life (issue 19): mail over real SMTP, verification with the sign-up credits
//! granted once, password reset by a single-use link, sessions seen and ended, export, deletion
//! that leaves nothing in storage, retention of results and the sweep of orphans.

use std::io::Read;

use fitroom_server::clock::Clock;
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::fakes::smtp::{SmtpSink, token_in};
use crate::http_server::Server;

const PASSWORD: &str = "correct horse battery";

async fn post(client: &reqwest::Client, server: &Server, path: &str, body: Value) -> (u16, Value) {
    let r = client.post(format!("{}{path}", server.base)).json(&body).send().await.expect("post");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn me_status(client: &reqwest::Client, server: &Server) -> u16 {
    client.get(format!("{}/api/me", server.base)).send().await.expect("me").status().as_u16()
}

async fn sign_in(client: &reqwest::Client, server: &Server, password: &str) -> u16 {
    let body = json!({"email": "ann@example.com", "password": password});
    post(client, server, "/api/auth/login", body).await.0
}

fn cookie_client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

async fn a_reset_link_arrives_over_smtp_works_once_and_ends_every_session(t: TestDb) {
    let smtp = SmtpSink::start().await;
    let server = Server::start(t, &[("FITROOM_SMTP_URL", &smtp.url())]).await;
    server.sign_up("ann@example.com").await;
    let phone = cookie_client();
    let (status, _) = post(
        &phone,
        &server,
        "/api/auth/login",
        json!({"email": "ann@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);

    for email in ["ANN@example.com", "nobody@example.com", "not an address"] {
        let (status, _) =
            post(&server.http, &server, "/api/auth/password-reset", json!({ "email": email }))
                .await;
        assert_eq!(status, 202, "{email}: the same answer for every address");
    }
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(smtp.mails().len(), 1, "one mail, to the account that exists");
    let mail = &mails[0];
    assert!(mail.contains("To: ann@example.com"), "{mail}");
    assert!(
        mail.contains("multipart/alternative")
            && mail.contains("text/html")
            && mail.contains("text/plain")
    );
    let token = token_in(mail, &format!("{}/reset-password", server.base));
    assert_eq!(token.len(), 64);

    let weak = post(
        &server.http,
        &server,
        "/api/auth/password-reset/confirm",
        json!({"token": token, "password": "short"}),
    )
    .await;
    assert_eq!((weak.0, weak.1["error"]["code"].as_str()), (400, Some("weak_password")));
    let reset = post(
        &server.http,
        &server,
        "/api/auth/password-reset/confirm",
        json!({"token": token, "password": "a brand new secret"}),
    )
    .await;
    assert_eq!(reset.0, 200, "{}", reset.1);
    assert_eq!(me_status(&phone, &server).await, 401, "every session ended");
    assert_eq!(me_status(&server.http, &server).await, 401);
    let again = post(
        &server.http,
        &server,
        "/api/auth/password-reset/confirm",
        json!({"token": token, "password": "another new secret"}),
    )
    .await;
    assert_eq!((again.0, again.1["error"]["code"].as_str()), (400, Some("invalid_token")), "once");
    let old = post(
        &phone,
        &server,
        "/api/auth/login",
        json!({"email": "ann@example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(old.0, 401);
    let new = post(
        &phone,
        &server,
        "/api/auth/login",
        json!({"email": "ann@example.com", "password": "a brand new secret"}),
    )
    .await;
    assert_eq!(new.0, 200);
}

async fn a_reset_link_expires_after_an_hour(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    post(&server.http, &server, "/api/auth/password-reset", json!({"email": "ann@example.com"}))
        .await;
    let mail = outbox_mail(&server, 1).await;
    let token = token_in(&mail, &format!("{}/reset-password", server.base));
    server.t.clock.advance_millis(3_600_001);
    let late = post(
        &server.http,
        &server,
        "/api/auth/password-reset/confirm",
        json!({"token": token, "password": "a brand new secret"}),
    )
    .await;
    assert_eq!((late.0, late.1["error"]["code"].as_str()), (400, Some("invalid_token")));
}

/// Without SMTP, mails land in `<data>/outbox/` as .eml files.
async fn outbox_mail(server: &Server, n: usize) -> String {
    let dir = server.data_dir().join("outbox");
    for _ in 0..200 {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        files.sort();
        if files.len() >= n {
            return std::fs::read_to_string(&files[n - 1]).expect("eml");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no mail number {n} in {}", dir.display());
}

async fn with_credits_the_sign_up_package_waits_for_the_verified_address_and_comes_once(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_VERIFY_EMAIL", "credits")]).await;
    server.sign_up("ann@example.com").await;
    let me = server.get_json("/api/me").await;
    assert_eq!(
        (me["email_verified"].as_bool(), me["credits"]["available"].as_i64()),
        (Some(false), Some(0))
    );
    let first = token_in(&outbox_mail(&server, 1).await, &format!("{}/verify-email", server.base));
    let r = server
        .http
        .post(format!("{}/api/auth/resend-verification", server.base))
        .send()
        .await
        .expect("resend");
    assert_eq!(r.status(), 202);
    let second = token_in(&outbox_mail(&server, 2).await, &format!("{}/verify-email", server.base));
    assert_ne!(first, second);

    let bad =
        post(&server.http, &server, "/api/auth/verify-email", json!({"token": "0".repeat(64)}))
            .await;
    assert_eq!((bad.0, bad.1["error"]["code"].as_str()), (400, Some("invalid_token")));
    assert_eq!(
        post(&server.http, &server, "/api/auth/verify-email", json!({"token": first})).await.0,
        200
    );
    assert_eq!(
        post(&server.http, &server, "/api/auth/verify-email", json!({"token": second})).await.0,
        200
    );
    assert_eq!(
        post(&server.http, &server, "/api/auth/verify-email", json!({"token": second})).await.0,
        400,
        "once"
    );
    let me = server.get_json("/api/me").await;
    assert_eq!(
        (me["email_verified"].as_bool(), me["credits"]["available"].as_i64()),
        (Some(true), Some(3)),
        "granted once"
    );
    server.t.assert_verified().await;
}

async fn with_verification_required_no_generation_starts_before_it(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_VERIFY_EMAIL", "required")]).await;
    server.sign_up("ann@example.com").await;
    let (status, body) = server.generate(None).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("email_unverified")));
    assert_eq!(server.t.count("jobs").await, 0);
    let token = token_in(&outbox_mail(&server, 1).await, &format!("{}/verify-email", server.base));
    assert_eq!(
        post(&server.http, &server, "/api/auth/verify-email", json!({"token": token})).await.0,
        200
    );
    assert_eq!(server.generate(None).await.0, 202);
}

async fn sessions_are_listed_and_ended_one_at_a_time_or_all_at_once(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let phone = reqwest::Client::builder()
        .cookie_store(true)
        .user_agent("Phone/1.0")
        .build()
        .expect("client");
    assert_eq!(sign_in(&phone, &server, PASSWORD).await, 200);
    let list = server.get_json("/api/auth/sessions").await;
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2);
    let other = sessions.iter().find(|s| s["current"] == false).expect("the phone's");
    assert_eq!(other["user_agent"], "Phone/1.0");
    let id = other["id"].as_str().expect("id");

    let stranger = cookie_client();
    server.sign_up_as(&stranger, "bob@example.com").await;
    let r = stranger
        .delete(format!("{}/api/auth/sessions/{id}", server.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 404, "not his session");
    assert_eq!(me_status(&phone, &server).await, 200);
    let r = server
        .http
        .delete(format!("{}/api/auth/sessions/{id}", server.base))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(me_status(&phone, &server).await, 401);
    assert_eq!(me_status(&server.http, &server).await, 200);

    // Changing the password ends the other sessions and keeps this one.
    assert_eq!(sign_in(&phone, &server, PASSWORD).await, 200);
    let wrong = post(
        &server.http,
        &server,
        "/api/auth/change-password",
        json!({"current_password": "nope", "new_password": "a brand new secret"}),
    )
    .await;
    assert_eq!(wrong.0, 401);
    let changed = post(
        &server.http,
        &server,
        "/api/auth/change-password",
        json!({"current_password": PASSWORD, "new_password": "a brand new secret"}),
    )
    .await;
    assert_eq!(changed.0, 200);
    assert_eq!(
        (me_status(&phone, &server).await, me_status(&server.http, &server).await),
        (401, 200)
    );

    let r = server
        .http
        .post(format!("{}/api/auth/logout-everywhere", server.base))
        .send()
        .await
        .expect("all");
    assert_eq!(r.status(), 204);
    assert_eq!(me_status(&server.http, &server).await, 401);
}

async fn an_export_holds_the_account_its_generations_ledger_and_every_image(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert_eq!(server.wait_finished(&id).await["status"], "succeeded");
    let r = server.http.get(format!("{}/api/me/export", server.base)).send().await.expect("export");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    let bytes = r.bytes().await.expect("bytes");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "account.json".to_owned(),
            "generations.json".into(),
            format!("images/{id}/garment.png"),
            format!("images/{id}/person.png"),
            format!("images/{id}/result.png"),
            "ledger.csv".into(),
        ]
    );
    let mut account = String::new();
    zip.by_name("account.json").expect("account").read_to_string(&mut account).expect("read");
    let account: Value = serde_json::from_str(&account).expect("json");
    assert_eq!(
        (account["email"].as_str(), account["available"].as_i64()),
        (Some("ann@example.com"), Some(2))
    );
    let mut ledger = String::new();
    zip.by_name("ledger.csv").expect("ledger").read_to_string(&mut ledger).expect("read");
    assert!(ledger.starts_with("at,kind,amount,package_id,hold_id,job_id\n"), "{ledger}");
    assert_eq!(ledger.lines().filter(|l| l.contains(",settle,")).count(), 1, "{ledger}");
    let mut result = Vec::new();
    zip.by_name(&format!("images/{id}/result.png"))
        .expect("result")
        .read_to_end(&mut result)
        .expect("read");
    assert!(image::load_from_memory(&result).is_ok());
    assert!(
        !server.data_dir().join("tmp").read_dir().is_ok_and(|mut d| d.next().is_some()),
        "no file left behind"
    );
}

/// Every object in storage whose key names one of `jobs`.
async fn objects_of(server: &Server, jobs: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for prefix in ["inputs/", "results/"] {
        for object in server.state.storage.list(prefix).await.expect("list") {
            if jobs.iter().any(|j| object.key.contains(j.as_str())) {
                found.push(object.key);
            }
        }
    }
    found
}

async fn deleting_an_account_leaves_none_of_its_objects_and_frees_the_address(server: Server) {
    server.sign_up("ann@example.com").await;
    let mut jobs = Vec::new();
    let (_, done) = server.generate(None).await;
    jobs.push(done["id"].as_str().expect("id").to_owned());
    assert_eq!(server.wait_finished(&jobs[0]).await["status"], "succeeded");
    let (_, running) = server.generate(None).await;
    jobs.push(running["id"].as_str().expect("id").to_owned());
    assert!(!objects_of(&server, &jobs).await.is_empty());

    let wrong = server
        .http
        .delete(format!("{}/api/me", server.base))
        .json(&json!({"password": "nope"}))
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong.status(), 401);
    let r = server
        .http
        .delete(format!("{}/api/me", server.base))
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    // A result the provider still sends for the canceled job is not kept.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(
        objects_of(&server, &jobs).await,
        Vec::<String>::new(),
        "nothing of the account in storage"
    );
    assert_eq!(me_status(&server.http, &server).await, 401);
    let (open,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM holds WHERE state = 'open'")
        .fetch_one(server.t.db.pool())
        .await
        .expect("holds");
    assert_eq!(open, 0, "the running generation's hold was released");
    let emails: Vec<(String,)> = sqlx::query_as("SELECT email FROM users")
        .fetch_all(server.t.db.pool())
        .await
        .expect("users");
    assert!(emails.iter().all(|(e,)| !e.contains("ann")), "{emails:?}");
    server.t.assert_verified().await;
    let again = cookie_client();
    server.sign_up_as(&again, "ann@example.com").await;
}

async fn deleting_an_account_on_local_storage(t: TestDb) {
    deleting_an_account_leaves_none_of_its_objects_and_frees_the_address(
        Server::start(t, &[]).await,
    )
    .await;
}

async fn deleting_an_account_on_s3(t: TestDb) {
    let var =
        |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set by scripts/test.sh"));
    let (endpoint, bucket, key, secret) = (
        var("FITROOM_TEST_S3_ENDPOINT"),
        var("FITROOM_TEST_S3_BUCKET"),
        var("FITROOM_TEST_S3_ACCESS_KEY"),
        var("FITROOM_TEST_S3_SECRET_KEY"),
    );
    let server = Server::start(
        t,
        &[
            ("FITROOM_STORAGE", "s3"),
            ("S3_ENDPOINT", &endpoint),
            ("S3_BUCKET", &bucket),
            ("S3_REGION", "us-east-1"),
            ("S3_ACCESS_KEY_ID", &key),
            ("S3_SECRET_ACCESS_KEY", &secret),
        ],
    )
    .await;
    deleting_an_account_leaves_none_of_its_objects_and_frees_the_address(server).await;
}

async fn results_go_after_the_retention_and_orphans_after_an_hour(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_RESULT_RETENTION_DAYS", "2")]).await;
    server.sign_up("ann@example.com").await;
    let (_, created) = server.generate(None).await;
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(server.wait_finished(&id).await["result_url"].is_string());
    let result = format!("results/{id}.png");
    server
        .state
        .storage
        .put("results/orphan.png", bytes::Bytes::from_static(b"x"), "image/png")
        .await
        .expect("orphan");

    server.t.clock.advance_millis(2 * 86_400_000 - 60_000);
    server.state.jobs.reconcile_once().await.expect("pass");
    assert!(
        server.state.storage.get(&result).await.expect("get").is_some(),
        "kept a minute before"
    );
    server.t.clock.advance_millis(120_000);
    let pass = server.state.jobs.reconcile_once().await.expect("pass");
    assert_eq!(pass.deleted_results, 1);
    assert!(server.state.storage.get(&result).await.expect("get").is_none());
    let after = server.get_json(&format!("/api/generations/{id}")).await;
    assert_eq!(
        (after["status"].as_str(), after["result_url"].is_null()),
        (Some("succeeded"), true)
    );

    // The orphan is young by the file's own clock: only a sweep an hour later takes it.
    let db = &server.state.db;
    let young = fitroom_server::storage::sweep::sweep(
        db,
        server.state.storage.as_ref(),
        fitroom_server::clock::SystemClock.now(),
        true,
    )
    .await
    .expect("sweep");
    assert!(!young.unreferenced.contains(&"results/orphan.png".to_owned()), "{young:?}");
    let later = fitroom_server::clock::SystemClock
        .now()
        .plus_millis(fitroom_server::storage::sweep::GRACE_MS + 1000);
    let dry = fitroom_server::storage::sweep::sweep(db, server.state.storage.as_ref(), later, true)
        .await
        .expect("sweep");
    assert!(dry.unreferenced.contains(&"results/orphan.png".to_owned()), "{dry:?}");
    assert!(
        server.state.storage.get("results/orphan.png").await.expect("get").is_some(),
        "a dry run deletes nothing"
    );
    let swept =
        fitroom_server::storage::sweep::sweep(db, server.state.storage.as_ref(), later, false)
            .await
            .expect("sweep");
    assert!(swept.unreferenced.contains(&"results/orphan.png".to_owned()));
    assert!(server.state.storage.get("results/orphan.png").await.expect("get").is_none());
}

crate::on_both_databases!(
    a_reset_link_arrives_over_smtp_works_once_and_ends_every_session,
    a_reset_link_expires_after_an_hour,
    with_credits_the_sign_up_package_waits_for_the_verified_address_and_comes_once,
    with_verification_required_no_generation_starts_before_it,
    sessions_are_listed_and_ended_one_at_a_time_or_all_at_once,
    an_export_holds_the_account_its_generations_ledger_and_every_image,
    deleting_an_account_on_local_storage,
    deleting_an_account_on_s3,
    results_go_after_the_retention_and_orphans_after_an_hour,
);
