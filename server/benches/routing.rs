//! What routing costs (issue 18), against the same work without it, in one run:
//!
//! 1. Deciding a route, per submission, in µs: `ordered` (availability only) against `balanced`
//!    over a window of 3,000 ended jobs at three providers, with its figures cached as the server
//!    keeps them (2 s), and the uncached refresh that the cache saves.
//! 2. Whole jobs per second through the `local` provider with no delay: routing off (`ordered`,
//!    no prices, no budget) against on (`balanced`, prices, a budget, every task held and settled
//!    in the spend ledger), in alternating rounds so that load elsewhere hits both alike.
//!
//! Run through scripts/bench-routing.sh. `FITROOM_BENCH_POSTGRES_URL` adds a PostgreSQL run.

mod support;

use std::time::Instant;

use fitroom_server::spend::figures;
use fitroom_server::{AppState, Config};
use support::{bench_env, png, postgres_database, register, run_jobs};

const DECISIONS: usize = 2_000;
const HISTORY: usize = 3_000;
const JOBS_PER_ROUND: usize = 100;
const ROUNDS: usize = 3;
const JOB_CONCURRENCY: usize = 8;

/// Three providers (two never called: their credentials only have to parse).
const THREE: &[(&str, &str)] = &[
    ("FITROOM_PROVIDERS", "local,replicate,fashn"),
    ("REPLICATE_API_TOKEN", "r8_bench"),
    ("REPLICATE_WEBHOOK_SECRET", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    ("REPLICATE_MODEL", "cuuupid/idm-vton"),
    ("FASHN_API_KEY", "fa-bench"),
    ("FITROOM_PROVIDER_PRICES", "local=0.001,replicate=0.012,fashn=0.075"),
    ("FITROOM_PROVIDER_BUDGETS", "replicate=100/day,fashn=100/day"),
];

/// Ended jobs in the window, spread over the three providers, each with the task its provider
/// was sent (what measured strategies read).
async fn history(state: &AppState) {
    let now = state.clock.now().millis();
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ('usr_hist', 'hist@example.com', 'x', 0)")
        .execute(state.db.pool())
        .await
        .expect("user");
    for i in 0..HISTORY {
        let provider = ["local", "replicate", "fashn"][i % 3];
        let status = if i % 7 == 0 { "failed" } else { "succeeded" };
        let started = now - 3_000_000 + i as i64 * 500;
        sqlx::query(
            "INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at, submitted_at, finished_at) \
             VALUES ($1, 'usr_hist', $2, 1, $3, $4, $4, $4, $5)",
        )
        .bind(format!("job_hist_{i}"))
        .bind(status)
        .bind(provider)
        .bind(started)
        .bind(started + 800 + (i as i64 % 11) * 300)
        .execute(state.db.pool())
        .await
        .expect("job");
        let state_of_task = if status == "failed" { "released" } else { "settled" };
        sqlx::query(
            "INSERT INTO provider_tasks (id, job_id, provider, task_key, estimate_micros, cost_micros, state, created_at, resolved_at) \
             VALUES ($1, $2, $3, $1, 0, $4, $5, $6, $7)",
        )
        .bind(format!("task_hist_{i}"))
        .bind(format!("job_hist_{i}"))
        .bind(provider)
        .bind((status == "succeeded").then_some(0_i64))
        .bind(state_of_task)
        .bind(started)
        .bind(started + 800 + (i as i64 % 11) * 300)
        .execute(state.db.pool())
        .await
        .expect("task");
    }
}

/// Mean µs per `plan_route` over `DECISIONS` calls.
async fn decision_us(state: &AppState) -> f64 {
    let started = Instant::now();
    for _ in 0..DECISIONS {
        let plan = state.jobs.plan_route(None).await.expect("route");
        assert!(!plan.order.is_empty());
    }
    started.elapsed().as_secs_f64() * 1e6 / DECISIONS as f64
}

/// Mean µs to measure the three providers over the window from the database: what a cache miss
/// costs, once per 2 s per process.
async fn refresh_us(state: &AppState) -> f64 {
    let since =
        fitroom_server::clock::Timestamp::from_millis(state.clock.now().millis() - 3_600_000);
    let rounds = 50;
    let started = Instant::now();
    for _ in 0..rounds {
        for name in ["local", "replicate", "fashn"] {
            figures::measure(&state.db, name, since).await.expect("measure");
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / rounds as f64
}

async fn decisions(url: &str) -> (f64, f64, f64) {
    let data = tempfile::tempdir().expect("data");
    let ordered =
        AppState::build(Config::from_source(&bench_env(url, data.path(), THREE)).expect("config"))
            .await
            .expect("state");
    history(&ordered).await;
    let mut balanced_env = bench_env(url, data.path(), THREE);
    balanced_env.insert("FITROOM_ROUTING".into(), "balanced".into());
    let balanced =
        AppState::build(Config::from_source(&balanced_env).expect("config")).await.expect("state");
    // Warm both, then alternate.
    decision_us(&ordered).await;
    decision_us(&balanced).await;
    let (mut o, mut b) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        o.push(decision_us(&ordered).await);
        b.push(decision_us(&balanced).await);
    }
    o.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let refresh = refresh_us(&balanced).await;
    (o[1], b[1], refresh)
}

/// Jobs per second through one server, `JOBS_PER_ROUND` jobs at `JOB_CONCURRENCY` at a time.
async fn jobs_round(base: &str, http: &reqwest::Client, person: &[u8], garment: &[u8]) -> f64 {
    let started = Instant::now();
    let jobs = run_jobs(base, http, person, garment, JOBS_PER_ROUND, JOB_CONCURRENCY).await;
    jobs as f64 / started.elapsed().as_secs_f64()
}

struct Served {
    base: String,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    _data: tempfile::TempDir,
}

async fn serve(url: &str, extra: &[(&str, &str)]) -> Served {
    let data = tempfile::tempdir().expect("data");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let mut env = bench_env(url, data.path(), extra);
    env.insert("FITROOM_ADDR".into(), addr.to_string());
    let state = AppState::build(Config::from_source(&env).expect("config")).await.expect("state");
    let router = fitroom_server::http::router(state);
    let task = tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>())
            .await
            .expect("serve");
    });
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
    register(&http, &base).await;
    Served { base, http, task, _data: data }
}

async fn throughput(off_url: &str, on_url: &str) -> (f64, f64) {
    let off = serve(off_url, &[]).await;
    let on = serve(
        on_url,
        &[
            ("FITROOM_ROUTING", "balanced"),
            ("FITROOM_PROVIDER_PRICES", "local=0.001"),
            ("FITROOM_PROVIDER_BUDGETS", "local=1000/day"),
        ],
    )
    .await;
    let (person, garment) = (png(480, 640, [200, 170, 150]), png(160, 160, [20, 40, 200]));
    // One warm-up job each.
    jobs_round(&off.base, &off.http, &person, &garment).await;
    jobs_round(&on.base, &on.http, &person, &garment).await;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(jobs_round(&off.base, &off.http, &person, &garment).await);
        b.push(jobs_round(&on.base, &on.http, &person, &garment).await);
    }
    off.task.abort();
    on.task.abort();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (median(a), median(b))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().expect("dir");
    let sqlite = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let mut runs = vec![("SQLite", sqlite("decisions.db"), sqlite("off.db"), sqlite("on.db"))];
    if let Ok(admin) = std::env::var("FITROOM_BENCH_POSTGRES_URL") {
        runs.push((
            "PostgreSQL",
            postgres_database(&admin).await,
            postgres_database(&admin).await,
            postgres_database(&admin).await,
        ));
    }
    println!(
        "| database | route decision, ordered (µs) | balanced, cached (µs) | window refresh, 3 providers (µs, once per 2 s) | jobs/s routing off | jobs/s routing on | on / off |"
    );
    println!("|---|---|---|---|---|---|---|");
    for (name, decisions_url, off_url, on_url) in runs {
        let (ordered, balanced, refresh) = decisions(&decisions_url).await;
        let (off, on) = throughput(&off_url, &on_url).await;
        println!(
            "| {name} | {ordered:.0} | {balanced:.0} | {refresh:.0} | {off:.1} | {on:.1} | {:.0} % |",
            100.0 * on / off
        );
    }
}
