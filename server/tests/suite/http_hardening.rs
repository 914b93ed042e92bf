//! Attacks on the HTTP surface, one test each, named for what it stops (issue 17): limits that
//! every way in counts, addresses a client cannot choose, one account per mailbox, metrics that
//! only their reader sees, Idempotency-Keys that name one request, uploads refused before they
//! cost anything.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use fitroom_server::accounts::AccountsError;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::common::TestDb;
use crate::http_app::{Reply, TestApp};
use crate::http_server::{Server, png};
use crate::http_uploads::{png_claiming, post};

const PASSWORD: &str = "correct horse battery";

/// A JSON POST as if it came over a socket from `peer`.
async fn post_from(
    app: &TestApp,
    peer: &str,
    path: &str,
    body: Value,
    forwarded: Option<&str>,
) -> Reply {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(chain) = forwarded {
        request = request.header("x-forwarded-for", chain);
    }
    let mut request = request.body(Body::from(body.to_string())).expect("request");
    let peer: SocketAddr = format!("{peer}:40000").parse().expect("address");
    request.extensions_mut().insert(ConnectInfo(peer));
    app.send(request).await
}

async fn get_from(app: &TestApp, peer: &str, path: &str, bearer: Option<&str>) -> Reply {
    let mut request = Request::get(path);
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let mut request = request.body(Body::empty()).expect("request");
    let peer: SocketAddr = format!("{peer}:40000").parse().expect("address");
    request.extensions_mut().insert(ConnectInfo(peer));
    app.send(request).await
}

fn register(email: &str) -> Value {
    json!({ "email": email, "password": PASSWORD })
}

async fn sign_in_attempts_count_on_every_path_against_one_limit(t: TestDb) {
    let app = TestApp::with_env(t, &[("FITROOM_LOGINS_PER_MINUTE", "3")]).await;
    app.signed_up("ann@example.com").await;
    for _ in 0..3 {
        let r = app
            .post_json(
                "/api/auth/login",
                json!({ "email": "ann@example.com", "password": "nope nope" }),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // The page's form and its server function call the accounts service, as REST does: the
    // budget the REST attempts spent is spent for them too.
    let by_form = app.state.accounts.login("ann@example.com", PASSWORD, &Default::default()).await;
    assert!(matches!(by_form, Err(AccountsError::TooManySignIns)), "{by_form:?}");
    app.t.clock.advance_millis(60_000);
    assert!(
        app.state.accounts.login("ANN@example.com", PASSWORD, &Default::default()).await.is_ok()
    );
}

async fn an_address_refused_by_the_client_limit_keeps_its_own_budget(t: TestDb) {
    let app = TestApp::with_env(t, &[("FITROOM_LOGINS_PER_MINUTE", "2")]).await;
    app.signed_up("ann@example.com").await;
    // The attacker spends its own address's budget on someone else first...
    let at_bob = json!({ "email": "bob@example.com", "password": "nope nope" });
    for _ in 0..2 {
        let r = post_from(&app, "203.0.113.66", "/api/auth/login", at_bob.clone(), None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    // ...so its attempts at Ann are refused by its address's limit, and must not count
    // against Ann's.
    let at_ann = json!({ "email": "ann@example.com", "password": "nope nope" });
    for _ in 0..5 {
        let r = post_from(&app, "203.0.113.66", "/api/auth/login", at_ann.clone(), None).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    }
    let right = json!({ "email": "ann@example.com", "password": PASSWORD });
    let r = post_from(&app, "198.51.100.20", "/api/auth/login", right, None).await;
    assert_eq!(r.status, StatusCode::OK, "Ann still signs in from her own network");
}

async fn sign_ups_from_one_address_are_limited_per_hour(t: TestDb) {
    let app = TestApp::with_env(t, &[("FITROOM_SIGNUPS_PER_HOUR", "2")]).await;
    for n in 0..2 {
        let r = post_from(
            &app,
            "203.0.113.7",
            "/api/auth/register",
            register(&format!("farm{n}@example.com")),
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let third =
        post_from(&app, "203.0.113.7", "/api/auth/register", register("farm2@example.com"), None)
            .await;
    assert_eq!((third.status, third.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    let elsewhere =
        post_from(&app, "198.51.100.1", "/api/auth/register", register("farm2@example.com"), None)
            .await;
    assert_eq!(elsewhere.status, StatusCode::CREATED, "another address has its own budget");
    assert_eq!(app.t.count("users").await, 3);
}

async fn x_forwarded_for_is_believed_only_from_a_trusted_proxy(t: TestDb) {
    let app = TestApp::with_env(
        t,
        &[("FITROOM_SIGNUPS_PER_HOUR", "1"), ("FITROOM_TRUSTED_PROXIES", "10.0.0.0/8")],
    )
    .await;
    // A client that is not our proxy cannot dodge its limit by naming other addresses.
    let first = post_from(
        &app,
        "203.0.113.7",
        "/api/auth/register",
        register("a@example.com"),
        Some("1.1.1.1"),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let dodge = post_from(
        &app,
        "203.0.113.7",
        "/api/auth/register",
        register("b@example.com"),
        Some("2.2.2.2"),
    )
    .await;
    assert_eq!(dodge.status, StatusCode::TOO_MANY_REQUESTS);
    // Behind our proxy, each client is the address the proxy saw.
    for (n, client) in ["198.51.100.1", "198.51.100.2"].iter().enumerate() {
        let r = post_from(
            &app,
            "10.0.0.5",
            "/api/auth/register",
            register(&format!("c{n}@example.com")),
            Some(client),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{client}");
    }
    let same = post_from(
        &app,
        "10.0.0.5",
        "/api/auth/register",
        register("d@example.com"),
        Some("6.6.6.6, 198.51.100.1"),
    )
    .await;
    assert_eq!(
        same.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the nearest untrusted hop is the client"
    );
}

async fn one_mailbox_is_one_account_whatever_the_case(t: TestDb) {
    let app = TestApp::new(t).await;
    app.signed_up("Ann.Lee@Example.com").await;
    let again = app.post_json("/api/auth/register", register("ann.lee@example.COM"), None).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "email_taken"));
    let login = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "ANN.LEE@EXAMPLE.COM", "password": PASSWORD }),
            None,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.body["user"]["email"], "Ann.Lee@example.com", "stored as given");
    assert_eq!(app.t.count("users").await, 1);
}

async fn metrics_are_shown_only_to_loopback_or_the_token(t: TestDb) {
    let open = TestApp::new(t).await;
    assert_eq!(
        get_from(&open, "203.0.113.9", "/metrics", None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get_from(&open, "127.0.0.1", "/metrics", None).await.status, StatusCode::OK);
    let anonymous = open.get("/metrics", None).await;
    assert_eq!(anonymous.status, StatusCode::NOT_FOUND, "no known address, no metrics");
}

async fn metrics_behind_a_token_need_it_even_from_loopback(t: TestDb) {
    let app = TestApp::with_env(t, &[("FITROOM_METRICS_TOKEN", "s3cret-scraper")]).await;
    assert_eq!(get_from(&app, "127.0.0.1", "/metrics", None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        get_from(&app, "127.0.0.1", "/metrics", Some("wrong")).await.status,
        StatusCode::NOT_FOUND
    );
    let ok = get_from(&app, "203.0.113.9", "/metrics", Some("s3cret-scraper")).await;
    assert_eq!(ok.status, StatusCode::OK);
}

async fn generate_with(server: &Server, key: &str, prompt: &str) -> (u16, Value) {
    let form = Form::new()
        .part("person_image", Part::bytes(png(120, 160, [200, 170, 150])).file_name("me.png"))
        .text("prompt", prompt.to_owned());
    let r = server
        .http
        .post(format!("{}/api/generations", server.base))
        .header("Idempotency-Key", key)
        .multipart(form)
        .send()
        .await
        .expect("post");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn an_idempotency_key_reused_for_another_request_is_refused(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    let (status, first) = generate_with(&server, "k-1", "a green coat").await;
    assert_eq!(status, 202, "{first}");
    let (status, same) = generate_with(&server, "k-1", "a green coat").await;
    assert_eq!((status, &same["id"]), (200, &first["id"]), "the same request again");
    let (status, other) = generate_with(&server, "k-1", "a red coat").await;
    assert_eq!((status, other["error"]["code"].as_str()), (422, Some("idempotency_key_reused")));
    assert_eq!(server.t.count("jobs").await, 1);
    assert_eq!(server.t.count("holds").await, 1);
}

async fn an_upload_without_the_credits_is_refused_before_it_is_decoded(t: TestDb) {
    let server = Server::start(t, &[("FITROOM_SIGNUP_CREDITS", "0")]).await;
    server.sign_up("ann@example.com").await;
    // A header claiming 20 000 × 20 000 pixels: were it decoded first, it would be refused as
    // too large; it is refused for the credits, without being looked at.
    let bomb = png_claiming(20_000, 20_000, 8, 2);
    let form = Form::new()
        .part("person_image", Part::bytes(bomb).file_name("me.png"))
        .text("prompt", "a coat");
    let (status, body) = post(&server, form).await;
    assert_eq!((status, body["error"]["code"].as_str()), (402, Some("insufficient_credits")));
    assert_eq!(server.t.count("jobs").await, 0);
}

async fn a_deep_image_that_would_not_fit_in_memory_is_refused_unopened(t: TestDb) {
    let server = Server::start(t, &[]).await;
    server.sign_up("ann@example.com").await;
    // 36 MP passes the pixel limit; at 16 bits per channel with alpha it would take 288 MB.
    let deep = png_claiming(6_000, 6_000, 16, 6);
    let form = Form::new()
        .part("person_image", Part::bytes(deep).file_name("me.png"))
        .text("prompt", "a coat");
    let (status, body) = post(&server, form).await;
    assert_eq!((status, body["error"]["code"].as_str()), (413, Some("payload_too_large")));
    assert_eq!(server.t.count("holds").await, 0);
    assert_eq!(server.credits().await, (3, 0));
}

crate::on_both_databases!(
    sign_in_attempts_count_on_every_path_against_one_limit,
    an_address_refused_by_the_client_limit_keeps_its_own_budget,
    sign_ups_from_one_address_are_limited_per_hour,
    x_forwarded_for_is_believed_only_from_a_trusted_proxy,
    one_mailbox_is_one_account_whatever_the_case,
    metrics_are_shown_only_to_loopback_or_the_token,
    metrics_behind_a_token_need_it_even_from_loopback,
    an_idempotency_key_reused_for_another_request_is_refused,
    an_upload_without_the_credits_is_refused_before_it_is_decoded,
    a_deep_image_that_would_not_fit_in_memory_is_refused_unopened,
);
