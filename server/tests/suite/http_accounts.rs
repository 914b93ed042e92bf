//! Accounts over HTTP: register, sign in, sessions, sign out (docs/api.md, Accounts).

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

use crate::common::TestDb;
use crate::http_app::TestApp;

async fn registering_creates_the_account_signs_in_and_gives_the_signup_package(t: TestDb) {
    let app = TestApp::new(t).await;
    let reply = app
        .post_json(
            "/api/auth/register",
            json!({ "email": " Ann@Example.COM ", "password": "long enough" }),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert_eq!(reply.body["user"]["email"], "Ann@example.com");
    let set_cookie =
        reply.headers.get(header::SET_COOKIE).expect("cookie").to_str().expect("ascii");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "plain http keeps the cookie usable");

    let me = app.get("/api/me", Some(&reply.cookie())).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "Ann@example.com");
    assert_eq!(me.body["credits"], json!({ "available": 3, "held": 0 }));

    let credits = app.get("/api/credits", Some(&reply.cookie())).await;
    let package = &credits.body["packages"][0];
    assert_eq!(package["name"], "Welcome credits");
    assert_eq!(package["status"], "active");
    assert_eq!(package["expires_at"], "2026-01-08T00:00:00Z", "7 days after sign-up");
    app.t.assert_verified().await;
}

async fn bad_registrations_get_their_error_code_and_create_nothing(t: TestDb) {
    let app = TestApp::new(t).await;
    let cases = [
        (
            json!({ "email": "not-an-email", "password": "long enough" }),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({ "email": "ann@example.com", "password": "short" }),
            StatusCode::BAD_REQUEST,
            "weak_password",
        ),
        (json!({ "email": "ann@example.com" }), StatusCode::BAD_REQUEST, "invalid_request"),
    ];
    for (body, status, code) in cases {
        let reply = app.post_json("/api/auth/register", body.clone(), None).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{body}");
    }
    let malformed = app
        .send(
            Request::post("/api/auth/register")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{nope"))
                .expect("req"),
        )
        .await;
    assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(app.t.count("users").await, 0);
}

async fn an_email_can_register_once(t: TestDb) {
    let app = TestApp::new(t).await;
    app.signed_up("ann@example.com").await;
    let again = app
        .post_json(
            "/api/auth/register",
            json!({ "email": "ann@EXAMPLE.com", "password": "another one" }),
            None,
        )
        .await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "email_taken"));
    assert_eq!(app.t.count("users").await, 1);
    assert_eq!(app.t.count("credit_packages").await, 1);
}

async fn login_accepts_the_right_password_and_refuses_anything_else_alike(t: TestDb) {
    let app = TestApp::new(t).await;
    let first = app.signed_up("ann@example.com").await;
    let ok = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "ann@example.com", "password": "correct horse battery" }),
            None,
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["user"]["email"], "ann@example.com");
    assert_ne!(ok.cookie(), first, "a new session id on every sign-in");

    let wrong = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "ann@example.com", "password": "wrong horse" }),
            None,
        )
        .await;
    let unknown = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "bob@example.com", "password": "correct horse battery" }),
            None,
        )
        .await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    assert_eq!((unknown.status, unknown.code()), (StatusCode::UNAUTHORIZED, "invalid_credentials"));
    assert_eq!(wrong.body, unknown.body, "no hint which part was wrong");
}

async fn logout_ends_the_session_on_the_server(t: TestDb) {
    let app = TestApp::new(t).await;
    let cookie = app.signed_up("ann@example.com").await;
    let out = app.post_json("/api/auth/logout", json!({}), Some(&cookie)).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let me = app.get("/api/me", Some(&cookie)).await;
    assert_eq!((me.status, me.code()), (StatusCode::UNAUTHORIZED, "unauthenticated"));
}

async fn forged_and_expired_sessions_are_refused(t: TestDb) {
    let app = TestApp::new(t).await;
    let cookie = app.signed_up("ann@example.com").await;
    for forged in [
        "fitroom_session=forged",
        "fitroom_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "other=1",
    ] {
        let me = app.get("/api/me", Some(forged)).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{forged}");
    }
    app.t.clock.advance_days(8);
    let idle = app.get("/api/me", Some(&cookie)).await;
    assert_eq!(idle.status, StatusCode::UNAUTHORIZED, "a week idle ends the session");
}

async fn sessions_in_use_still_end_at_their_absolute_expiry(t: TestDb) {
    let app = TestApp::new(t).await;
    let cookie = app.signed_up("ann@example.com").await;
    for _ in 0..5 {
        app.t.clock.advance_days(5);
        assert_eq!(app.get("/api/me", Some(&cookie)).await.status, StatusCode::OK);
    }
    app.t.clock.advance_days(5);
    assert_eq!(
        app.get("/api/me", Some(&cookie)).await.status,
        StatusCode::UNAUTHORIZED,
        "30 days after sign-in"
    );
}

async fn too_many_login_attempts_are_rate_limited(t: TestDb) {
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
    let limited = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "ann@example.com", "password": "correct horse battery" }),
            None,
        )
        .await;
    assert_eq!((limited.status, limited.code()), (StatusCode::TOO_MANY_REQUESTS, "rate_limited"));
    app.t.clock.advance_millis(60_000);
    let later = app
        .post_json(
            "/api/auth/login",
            json!({ "email": "ann@example.com", "password": "correct horse battery" }),
            None,
        )
        .await;
    assert_eq!(later.status, StatusCode::OK);
}

async fn a_cross_origin_post_with_a_valid_cookie_is_refused(t: TestDb) {
    let app = TestApp::new(t).await;
    let cookie = app.signed_up("ann@example.com").await;
    let request = Request::post("/api/auth/logout")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .body(Body::empty())
        .expect("request");
    let reply = app.send(request).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::FORBIDDEN, "cross_origin_request"));
    assert_eq!(
        app.get("/api/me", Some(&cookie)).await.status,
        StatusCode::OK,
        "the session survived"
    );

    let same = Request::post("/api/auth/logout")
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, "http://127.0.0.1:3000")
        .header("sec-fetch-site", "same-origin")
        .body(Body::empty())
        .expect("request");
    assert_eq!(app.send(same).await.status, StatusCode::NO_CONTENT);
}

crate::on_both_databases!(
    registering_creates_the_account_signs_in_and_gives_the_signup_package,
    bad_registrations_get_their_error_code_and_create_nothing,
    an_email_can_register_once,
    login_accepts_the_right_password_and_refuses_anything_else_alike,
    logout_ends_the_session_on_the_server,
    forged_and_expired_sessions_are_refused,
    sessions_in_use_still_end_at_their_absolute_expiry,
    too_many_login_attempts_are_rate_limited,
    a_cross_origin_post_with_a_valid_cookie_is_refused,
);
