//! An account's life (issue 19): mail over real SMTP, verification with the sign-up credits
//! granted once, password reset by a single-use link, sessions seen and ended, export (deletion:
//! `account_deletion`), retention of results and the sweep of orphans.

use std::collections::BTreeMap;
use std::io::Read;

use fitroom_server::clock::Clock;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::fakes::smtp::{SmtpSink, token_in};
use crate::http_server::{Server, png};

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

/// How many mails are in `<data>/outbox/` once the server has stopped writing them.
async fn outbox_count(server: &Server) -> usize {
    let count = || {
        std::fs::read_dir(server.data_dir().join("outbox"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    };
    let mut seen = count();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let now = count();
        if now == seen {
            return now;
        }
        seen = now;
    }
}

async fn asking_for_reset_links_never_locks_the_shopper_out_of_signing_in(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let stranger = cookie_client();
    for _ in 0..12 {
        let body = json!({"email": "ann@example.com"});
        assert_eq!(post(&stranger, &server, "/api/auth/password-reset", body).await.0, 202);
    }
    outbox_mail(&server, 1).await;
    assert_eq!(outbox_count(&server).await, 5, "FITROOM_RESETS_PER_HOUR mails, no more");
    assert_eq!(sign_in(&cookie_client(), &server, PASSWORD).await, 200, "not locked out");
}

async fn guessing_the_password_does_not_stop_a_real_reset_mail(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let guesser = cookie_client();
    for n in 0..10 {
        assert_eq!(sign_in(&guesser, &server, &format!("guess number {n}")).await, 401);
    }
    assert_eq!(sign_in(&guesser, &server, PASSWORD).await, 429, "the sign-in budget is spent");
    let body = json!({"email": "ann@example.com"});
    assert_eq!(post(&cookie_client(), &server, "/api/auth/password-reset", body).await.0, 202);
    let mail = outbox_mail(&server, 1).await;
    assert!(mail.contains("To: ann@example.com"), "{mail}");
}

async fn reset_requests_from_one_client_are_limited_whatever_the_address(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_RESETS_PER_HOUR", "2")]).await;
    for email in ["ann@example.com", "bob@example.com", "cat@example.com"] {
        server.sign_up_as(&cookie_client(), email).await;
        let body = json!({ "email": email });
        assert_eq!(post(&server.http, &server, "/api/auth/password-reset", body).await.0, 202);
    }
    outbox_mail(&server, 1).await;
    assert_eq!(outbox_count(&server).await, 2, "two per client address");
    server.t.clock.advance_millis(3_600_000);
    let body = json!({"email": "cat@example.com"});
    assert_eq!(post(&server.http, &server, "/api/auth/password-reset", body).await.0, 202);
    assert!(outbox_mail(&server, 3).await.contains("To: cat@example.com"), "the budget refills");
}

async fn delete_me(server: &Server, password: &str) -> (u16, Value) {
    let r = server
        .http
        .delete(format!("{}/api/me", server.base))
        .json(&json!({ "password": password }))
        .send()
        .await
        .expect("delete");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn a_stolen_session_cannot_guess_the_password_beyond_the_sign_in_limit(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_LOGINS_PER_MINUTE", "3")]).await;
    server.sign_up("ann@example.com").await;
    let change =
        |current: &str| json!({"current_password": current, "new_password": "a brand new secret"});
    for n in 0..3 {
        let body = change(&format!("guess number {n}"));
        assert_eq!(post(&server.http, &server, "/api/auth/change-password", body).await.0, 401);
    }
    let (status, body) =
        post(&server.http, &server, "/api/auth/change-password", change(PASSWORD)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(sign_in(&cookie_client(), &server, PASSWORD).await, 429, "one budget");

    server.t.clock.advance_millis(60_000);
    for n in 0..3 {
        assert_eq!(delete_me(&server, &format!("guess number {n}")).await.0, 401);
    }
    let (status, body) = delete_me(&server, PASSWORD).await;
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("rate_limited")));
    assert_eq!(me_status(&server.http, &server).await, 200, "the account is still there");

    server.t.clock.advance_millis(60_000);
    assert_eq!(delete_me(&server, PASSWORD).await.0, 204, "the budget refills");
}

async fn confirmation_mails_are_limited_per_account(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_VERIFY_EMAIL", "credits")]).await;
    server.sign_up("someone-else@example.com").await;
    outbox_mail(&server, 1).await;
    let resend = || async {
        let url = format!("{}/api/auth/resend-verification", server.base);
        let r = server.http.post(url).send().await.expect("resend");
        (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
    };
    for _ in 0..fitroom_server::limits::VERIFICATION_MAILS_PER_HOUR {
        assert_eq!(resend().await.0, 202);
    }
    // Past the limit the answer is the same, and nothing is sent.
    assert_eq!(resend().await.0, 202);
    assert_eq!(outbox_count(&server).await, 4, "the sign-up mail and three more");
    server.t.clock.advance_millis(3_600_000);
    assert_eq!(resend().await.0, 202, "the budget refills");
    assert_eq!(outbox_count(&server).await, 5);
}

async fn sessions_unused_past_the_idle_limit_are_not_listed(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let phone = cookie_client();
    assert_eq!(sign_in(&phone, &server, PASSWORD).await, 200);
    assert_eq!(
        server.get_json("/api/auth/sessions").await["sessions"].as_array().map(Vec::len),
        Some(2)
    );
    // The idle limit is 7 days: this browser comes back after 6, the phone never does.
    server.t.clock.advance_days(6);
    assert_eq!(me_status(&server.http, &server).await, 200);
    server.t.clock.advance_days(2);
    let list = server.get_json("/api/auth/sessions").await;
    let sessions = list["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 1, "{list}");
    assert_eq!(sessions[0]["current"], true);
    assert_eq!(me_status(&phone, &server).await, 401, "the phone's session is over indeed");
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

/// A picture of noise: nothing compresses it, so it crosses the export in many chunks.
fn noise_png(w: u32, h: u32) -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let [r, g, b, _] = seed.to_le_bytes();
        image::Rgb([r, g, b])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).expect("encode");
    out.into_inner()
}

async fn submit(server: &Server, form: Form) -> String {
    let r = server
        .http
        .post(format!("{}/api/generations", server.base))
        .multipart(form)
        .send()
        .await
        .expect("generate");
    let created: Value = r.json().await.expect("json");
    let id = created["id"].as_str().unwrap_or_else(|| panic!("{created}")).to_owned();
    assert_eq!(server.wait_finished(&id).await["status"], "succeeded");
    id
}

/// A job's id and the keys of its person photo, garment photo and result.
type JobImages = (String, Option<String>, Option<String>, Option<String>);

/// Every image stored for the account, by the name the export gives it, read from storage.
async fn stored_images(server: &Server) -> BTreeMap<String, Vec<u8>> {
    let pool = server.t.db.pool();
    let jobs: Vec<JobImages> =
        sqlx::query_as("SELECT id, person_key, garment_key, result_key FROM jobs")
            .fetch_all(pool)
            .await
            .expect("jobs");
    let saved: Vec<(String, String)> = sqlx::query_as("SELECT id, storage_key FROM saved_photos")
        .fetch_all(pool)
        .await
        .expect("photos");
    let garments: Vec<(String, String)> = sqlx::query_as("SELECT id, storage_key FROM garments")
        .fetch_all(pool)
        .await
        .expect("garments");
    let ext = |key: &str| key.rsplit_once('.').expect("an extension").1.to_owned();
    let mut named = Vec::new();
    for (id, person, garment, result) in jobs {
        for (what, key) in [("person", person), ("garment", garment), ("result", result)] {
            let key = key.expect("every image of the job is still stored");
            named.push((format!("images/{id}/{what}.{}", ext(&key)), key));
        }
    }
    named.extend(saved.into_iter().map(|(id, k)| (format!("images/saved/{id}.{}", ext(&k)), k)));
    named.extend(
        garments.into_iter().map(|(id, k)| (format!("images/garments/{id}.{}", ext(&k)), k)),
    );
    let mut images = BTreeMap::new();
    for (name, key) in named {
        let object = server.state.storage.get(&key).await.expect("get").expect("stored");
        images.insert(name, object.bytes.to_vec());
    }
    images
}

async fn an_export_holds_every_stored_image_byte_for_byte(t: TestDb) {
    let shop = crate::garments::shop().await;
    let server = Server::start(t, &[("FITROOM_FETCH_ALLOW_PRIVATE", "true")]).await;
    server.sign_up("ann@example.com").await;
    let saved_photo = Form::new()
        .part("person_image", Part::bytes(noise_png(300, 400)).file_name("me.png"))
        .part("garment_image", Part::bytes(png(40, 40, [20, 40, 200])).file_name("shirt.png"))
        .text("save_photo", "true");
    submit(&server, saved_photo).await;
    let url = format!("{shop}/products/linen-shirt");
    let (_, garment) = crate::garments::fetch(&server.http, &server, &url).await;
    let garment = garment["garment_id"].as_str().unwrap_or_else(|| panic!("{garment}"));
    let with_garment = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("garment_id", garment.to_owned());
    submit(&server, with_garment).await;

    let expected = stored_images(&server).await;
    assert_eq!(expected.len(), 2 * 3 + 2, "two try-ons, a saved photo, a garment from a link");
    assert!(expected.values().any(|bytes| bytes.len() > 256 * 1024), "one image spans chunks");
    let r = server.http.get(format!("{}/api/me/export", server.base)).send().await.expect("export");
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.expect("bytes");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a zip");
    let mut exported = BTreeMap::new();
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).expect("entry");
        if file.name().starts_with("images/") {
            let mut content = Vec::new();
            file.read_to_end(&mut content).expect("read");
            exported.insert(file.name().to_owned(), content);
        }
    }
    assert_eq!(exported.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    for (name, content) in &expected {
        assert!(exported[name] == *content, "{name} differs from the stored image");
    }
    assert!(!server.data_dir().join("tmp").exists(), "nothing written to disk");
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

/// Each export being written holds a blocking thread until its client has read it: a process
/// writes a few at once, refuses more with 429, and a client that goes away frees its place.
async fn exports_written_at_once_are_capped_and_a_client_that_leaves_frees_its_place(t: TestDb) {
    use fitroom_server::privacy::export::{MAX_EXPORTS_AT_ONCE, stream};
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    // An image far larger than what the writer may buffer: an unread export stays unwritten.
    let big = Form::new()
        .part("person_image", Part::bytes(noise_png(1000, 1000)).file_name("me.png"))
        .part("garment_image", Part::bytes(png(40, 40, [20, 40, 200])).file_name("shirt.png"))
        .text("save_photo", "true");
    submit(&server, big).await;
    let me = server.get_json("/api/me").await;
    let user = fitroom_server::ids::UserId::from_string(me["id"].as_str().expect("id").to_owned());
    let mut unread = Vec::new();
    for _ in 0..MAX_EXPORTS_AT_ONCE {
        unread.push(stream(&server.state, &user).await.expect("a place"));
    }
    let export = || server.http.get(format!("{}/api/me/export", server.base)).send();
    let refused = export().await.expect("export");
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(body["error"]["code"], "rate_limited");

    drop(unread.pop());
    let mut status = 429;
    for _ in 0..100 {
        status = export().await.expect("export").status().as_u16();
        if status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 200, "the place of the client that left is free again");
}

crate::on_both_databases!(
    exports_written_at_once_are_capped_and_a_client_that_leaves_frees_its_place,
    a_reset_link_arrives_over_smtp_works_once_and_ends_every_session,
    a_reset_link_expires_after_an_hour,
    asking_for_reset_links_never_locks_the_shopper_out_of_signing_in,
    guessing_the_password_does_not_stop_a_real_reset_mail,
    reset_requests_from_one_client_are_limited_whatever_the_address,
    a_stolen_session_cannot_guess_the_password_beyond_the_sign_in_limit,
    confirmation_mails_are_limited_per_account,
    sessions_unused_past_the_idle_limit_are_not_listed,
    with_credits_the_sign_up_package_waits_for_the_verified_address_and_comes_once,
    with_verification_required_no_generation_starts_before_it,
    sessions_are_listed_and_ended_one_at_a_time_or_all_at_once,
    an_export_holds_the_account_its_generations_ledger_and_every_image,
    an_export_holds_every_stored_image_byte_for_byte,
    results_go_after_the_retention_and_orphans_after_an_hour,
);
