//! The status endpoint every open page polls, and whole jobs through the `local` provider.
//!
//! 1. `GET /api/generations/{id}` (session lookup + one indexed read) under wrk at 64
//!    connections, against the ceiling in the same process and run: a bare axum handler that
//!    answers a Generation-shaped JSON body with no middleware, no session and no database.
//! 2. End-to-end jobs per second through the `local` provider with no delay (upload, job + hold,
//!    submit, real compositing, signed webhook over HTTP, copy into storage, settle), and the
//!    process CPU time per job.
//!
//! 3. Failed sign-ins: an unknown email against a wrong password, median time of each, to show
//!    that the answer does not reveal which accounts exist; and password-reset requests for an
//!    unknown and a known address, for the same reason.
//!
//! Run through scripts/bench-status.sh (needs `wrk`). `FITROOM_BENCH_POSTGRES_URL` adds a
//! PostgreSQL run beside the SQLite one.

use std::time::{Duration, Instant};

use axum::Json;
use axum::routing::get;
use fitroom_server::{AppState, Config};
use serde_json::json;

mod support;

use support::{
    bench_env, cpu_seconds, generate, png, postgres_database, register, run_jobs, wait_finished,
};

const CONNECTIONS: usize = 64;
const SECONDS: u64 = 10;
const JOBS: usize = 200;
const JOB_CONCURRENCY: usize = 8;

struct Wrk {
    requests_per_sec: f64,
    p99_ms: f64,
}

/// Runs wrk against `url` and reads its summary.
async fn wrk(url: String, cookie: Option<String>) -> Wrk {
    let out = tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new("wrk");
        cmd.args(["-t2", &format!("-c{CONNECTIONS}"), &format!("-d{SECONDS}s"), "--latency"]);
        if let Some(cookie) = cookie {
            cmd.args(["-H", &format!("Cookie: {cookie}")]);
        }
        cmd.arg(&url).output().expect("wrk runs (apt-get install wrk)")
    })
    .await
    .expect("wrk thread");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("Non-2xx"), "wrk saw errors:\n{text}");
    let requests_per_sec = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no 99% latency in wrk's output:\n{text}"));
    Wrk { requests_per_sec, p99_ms: millis(p99) }
}

/// wrk prints latencies as `812.00us`, `1.23ms` or `1.05s`.
fn millis(text: &str) -> f64 {
    let (number, unit) =
        text.split_at(text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len()));
    let n: f64 = number.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => f64::NAN,
    }
}

/// Median milliseconds of `n` password-reset requests for this address (all answered 202).
async fn reset_request_ms(http: &reqwest::Client, base: &str, email: &str, n: usize) -> f64 {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = http
            .post(format!("{base}/api/auth/password-reset"))
            .json(&json!({"email": email}))
            .send()
            .await
            .expect("reset");
        assert_eq!(r.status(), 202, "a reset request");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

/// Median milliseconds of `n` sign-in attempts with this email and password (all must fail).
async fn failed_login_ms(http: &reqwest::Client, base: &str, email: &str, n: usize) -> f64 {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let r = http
            .post(format!("{base}/api/auth/login"))
            .json(&json!({"email": email, "password": "not the password"}))
            .send()
            .await
            .expect("login");
        assert_eq!(r.status(), 401, "a failed sign-in");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

struct Row {
    database: &'static str,
    unknown_email_ms: f64,
    wrong_password_ms: f64,
    reset_unknown_ms: f64,
    reset_known_ms: f64,
    ceiling: Wrk,
    status: Wrk,
    status_beside_sign_ins: Wrk,
    sign_ins_done: usize,
    jobs_per_sec: f64,
    cpu_ms_per_job: f64,
}

async fn run(database: &'static str, url: String) -> Row {
    let data = tempfile::tempdir().expect("data dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let base = format!("http://{addr}");
    let mut env = bench_env(&url, data.path(), &[]);
    env.insert("FITROOM_ADDR".into(), addr.to_string());
    let state = AppState::build(Config::from_source(&env).expect("config")).await.expect("state");
    // The ceiling is mounted beside the real routes, after their middleware: bare axum + serde.
    let router = fitroom_server::http::router(state.clone()).route(
        "/bench/bare",
        get(|| async {
            Json(json!({"id": "0193a1b2c3d4e5f60718293a4b5c6d7e", "status": "succeeded", "cost": 1, "provider": "local",
                "created_at": "2026-11-24T21:00:00Z", "updated_at": "2026-11-24T21:00:02Z",
                "result_url": "/api/generations/0193a1b2c3d4e5f60718293a4b5c6d7e/result", "error": null}))
        }),
    );
    let server = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .expect("serve");
    });

    let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let cookie = register(&http, &base).await;

    let (person, garment) = (png(480, 640, [200, 170, 150]), png(160, 160, [20, 40, 200]));
    let id = generate(&http, &base, &person, &garment).await;
    assert_eq!(wait_finished(&http, &base, &id).await, "succeeded");

    let ceiling = wrk(format!("{base}/bench/bare"), None).await;
    let status = wrk(format!("{base}/api/generations/{id}"), Some(cookie.clone())).await;

    // 16 successful sign-ins per second, each on its own task so that a slow one delays none.
    let signing_in = {
        let (http, base) = (reqwest::Client::new(), base.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_micros(62_500));
            let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let stop_at = Instant::now() + Duration::from_secs(SECONDS + 1);
            while Instant::now() < stop_at {
                every.tick().await;
                let (http, base, done) = (http.clone(), base.clone(), done.clone());
                tokio::spawn(async move {
                    let r = http
                        .post(format!("{base}/api/auth/login"))
                        .json(&json!({"email": "bench@example.com", "password": "correct horse battery"}))
                        .send()
                        .await;
                    if r.is_ok_and(|r| r.status() == 200) {
                        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
            done.load(std::sync::atomic::Ordering::Relaxed)
        })
    };
    let status_beside_sign_ins = wrk(format!("{base}/api/generations/{id}"), Some(cookie)).await;
    let sign_ins_done = signing_in.await.expect("sign-ins");

    // Whole jobs: JOB_CONCURRENCY shoppers' worth of requests in flight at once.
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let jobs = run_jobs(&base, &http, &person, &garment, JOBS, JOB_CONCURRENCY).await;
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;

    let anonymous = reqwest::Client::new();
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    // Interleaved rounds, so that a burst of load elsewhere hits both alike.
    for _ in 0..5 {
        unknown.push(failed_login_ms(&anonymous, &base, "nobody@example.com", 5).await);
        wrong.push(failed_login_ms(&anonymous, &base, "bench@example.com", 5).await);
    }
    unknown.sort_by(f64::total_cmp);
    wrong.sort_by(f64::total_cmp);
    let (mut reset_unknown, mut reset_known) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        reset_unknown.push(reset_request_ms(&anonymous, &base, "nobody@example.com", 5).await);
        reset_known.push(reset_request_ms(&anonymous, &base, "bench@example.com", 5).await);
    }
    reset_unknown.sort_by(f64::total_cmp);
    reset_known.sort_by(f64::total_cmp);
    server.abort();
    state.db.close().await;
    Row {
        database,
        unknown_email_ms: unknown[2],
        wrong_password_ms: wrong[2],
        reset_unknown_ms: reset_unknown[2],
        reset_known_ms: reset_known[2],
        ceiling,
        status,
        status_beside_sign_ins,
        sign_ins_done,
        jobs_per_sec: jobs as f64 / elapsed,
        cpu_ms_per_job: 1000.0 * cpu / jobs as f64,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let mut rows =
        vec![run("SQLite", format!("sqlite://{}", dir.path().join("bench.db").display())).await];
    if let Ok(admin) = std::env::var("FITROOM_BENCH_POSTGRES_URL") {
        rows.push(run("PostgreSQL", postgres_database(&admin).await).await);
    }
    println!(
        "| database | bare handler req/s | p99 | status endpoint req/s | p99 | % of ceiling | jobs/s (local, 0 ms delay) | CPU ms per job |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let failed: Vec<(&str, f64, f64, f64, f64)> = rows
        .iter()
        .map(|r| {
            (
                r.database,
                r.unknown_email_ms,
                r.wrong_password_ms,
                r.reset_unknown_ms,
                r.reset_known_ms,
            )
        })
        .collect();
    let beside: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "| {} | {:.2} ms | {:.2} ms | {:.0} | {:.0} | {} |",
                r.database,
                r.status.p99_ms,
                r.status_beside_sign_ins.p99_ms,
                r.status.requests_per_sec,
                r.status_beside_sign_ins.requests_per_sec,
                r.sign_ins_done
            )
        })
        .collect();
    for r in rows {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.0} | {:.2} ms | {:.0} % | {:.1} | {:.1} |",
            r.database,
            r.ceiling.requests_per_sec,
            r.ceiling.p99_ms,
            r.status.requests_per_sec,
            r.status.p99_ms,
            100.0 * r.status.requests_per_sec / r.ceiling.requests_per_sec,
            r.jobs_per_sec,
            r.cpu_ms_per_job
        );
    }
    println!();
    println!(
        "| database | failed sign-in, unknown email (median ms) | failed sign-in, wrong password (median ms) | reset request, unknown address (median ms) | reset request, known address (median ms) |"
    );
    println!("|---|---|---|---|---|");
    for r in &failed {
        println!("| {} | {:.1} | {:.1} | {:.2} | {:.2} |", r.0, r.1, r.2, r.3, r.4);
    }
    println!();
    println!(
        "| database | status p99 alone | status p99 beside 16 sign-ins/s | req/s alone | req/s beside | sign-ins done |"
    );
    println!("|---|---|---|---|---|---|");
    for line in beside {
        println!("{line}");
    }
}
