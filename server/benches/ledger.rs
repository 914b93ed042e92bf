//! Ledger throughput: freeze+settle pairs per second at 1, 8 and 64 concurrent clients, on
//! SQLite and PostgreSQL, beside the ceiling measured in the same run on the same machine:
//! a raw one-row-update transaction loop for SQLite, pgbench's built-in tpcb-like script for
//! PostgreSQL. Each row is the median of a few rounds (`FITROOM_BENCH_ROUNDS`, default 5), each
//! compared with the ceiling measured just before and just after it (see `Rounds`). PostgreSQL is
//! measured twice: directly, and through PgBouncer in transaction mode (Fitroom with
//! `FITROOM_DATABASE_POOLER=transaction`, pgbench through the same PgBouncer). Run through
//! scripts/bench-ledger.sh, which starts the PostgreSQL cluster and PgBouncer.

use std::sync::Arc;
use std::time::Instant;

use fitroom_server::clock::SystemClock;
use fitroom_server::db::{Backend, Db, DbSettings, Pooler};
use fitroom_server::ids::{HoldId, JobId, UserId};
use fitroom_server::ledger::{Credits, FreezeRequest, Grant, Ledger};

const CLIENTS: [usize; 3] = [1, 8, 64];

/// Where PostgreSQL is reached: directly, or through PgBouncer in transaction mode.
#[derive(Clone, Copy, PartialEq)]
enum Route {
    Direct,
    Bouncer,
}

/// The pgbench database (`postgres`) by `route`.
fn postgres_url(route: Route) -> String {
    let admin = std::env::var("FITROOM_BENCH_POSTGRES_URL").expect("FITROOM_BENCH_POSTGRES_URL");
    match route {
        Route::Direct => admin,
        Route::Bouncer => format!("{}/postgres", var_bouncer()),
    }
}

fn var_bouncer() -> String {
    std::env::var("FITROOM_BENCH_PGBOUNCER_URL").expect("FITROOM_BENCH_PGBOUNCER_URL")
}

async fn fresh_db(backend: Backend, pool: u32) -> (Db, Option<tempfile::TempDir>) {
    fresh_db_by(backend, Route::Direct, pool).await
}

async fn fresh_db_by(backend: Backend, route: Route, pool: u32) -> (Db, Option<tempfile::TempDir>) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("dir");
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let db = Db::connect_sized(&url, Some(pool)).await.expect("sqlite");
            db.migrate().await.expect("migrate");
            (db, Some(dir))
        }
        Backend::Postgres => {
            let admin =
                std::env::var("FITROOM_BENCH_POSTGRES_URL").expect("FITROOM_BENCH_POSTGRES_URL");
            let name = format!("fitroom_bench_{}", uuid::Uuid::new_v4().simple());
            let a = Db::connect(&admin).await.expect("admin");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(a.pool())
                .await
                .expect("create");
            a.close().await;
            let (base, _) = admin.rsplit_once('/').expect("url");
            let direct = format!("{base}/{name}");
            let settings = match route {
                Route::Direct => {
                    DbSettings { max_connections: Some(pool), ..DbSettings::url(&direct) }
                }
                Route::Bouncer => DbSettings {
                    url: format!("{}/{name}", var_bouncer()),
                    direct_url: Some(direct),
                    pooler: Pooler::Transaction,
                    max_connections: Some(pool),
                },
            };
            let db = Db::connect_with(settings).await.expect("pg");
            db.migrate().await.expect("migrate");
            (db, None)
        }
    }
}

async fn user(db: &Db, ledger: &Ledger) -> UserId {
    let id = UserId::generate();
    sqlx::query("INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, 'x', 0)")
        .bind(id.as_str())
        .bind(format!("{id}@bench"))
        .execute(db.pool())
        .await
        .expect("user");
    for expiry in [None, Some(30), Some(7)] {
        ledger
            .grant(&Grant {
                user: id.clone(),
                credits: Credits::new(1_000_000_000).expect("credits"),
                name: "bench".into(),
                expires_at: expiry
                    .map(|d| fitroom_server::clock::Clock::now(&SystemClock).plus_days(d)),
                source: None,
            })
            .await
            .expect("grant");
    }
    id
}

/// Jobs are created beforehand (untimed): the benchmark measures the ledger's two transactions.
async fn jobs(db: &Db, user: &UserId, n: usize) -> Vec<JobId> {
    let mut tx = db.pool().begin().await.expect("tx");
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let id = JobId::generate();
        sqlx::query("INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at) VALUES ($1, $2, 'queued', 1, 'bench', 0, 0)")
            .bind(id.as_str())
            .bind(user.as_str())
            .execute(&mut *tx)
            .await
            .expect("job");
        ids.push(id);
    }
    tx.commit().await.expect("commit");
    ids
}

/// Freeze+settle pairs per second with `clients` concurrent clients, each on its own account or
/// all on one.
async fn pairs_per_second(
    backend: Backend,
    route: Route,
    clients: usize,
    one_account: bool,
    per_client: usize,
) -> f64 {
    let (db, _dir) = fresh_db_by(backend, route, clients.max(1) as u32 + 2).await;
    let ledger = Ledger::new(db.clone(), Arc::new(SystemClock));
    let shared = user(&db, &ledger).await;
    let mut work = Vec::new();
    for _ in 0..clients {
        let u = if one_account { shared.clone() } else { user(&db, &ledger).await };
        let j = jobs(&db, &u, per_client).await;
        work.push((u, j));
    }
    let deadline = fitroom_server::clock::Timestamp::from_millis(i64::MAX / 2);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (u, js) in work {
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            for job in js {
                let frozen = ledger
                    .freeze(&FreezeRequest {
                        id: HoldId::generate(),
                        user: u.clone(),
                        amount: Credits::new(1).expect("1"),
                        job: job.clone(),
                        idempotency_key: job.to_string(),
                        deadline,
                    })
                    .await
                    .expect("freeze");
                ledger.settle(&frozen.hold.id).await.expect("settle");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    let rate = (clients * per_client) as f64 / started.elapsed().as_secs_f64();
    db.close().await;
    rate
}

/// The SQLite ceiling: one-row-update transactions through the same driver and pool.
async fn sqlite_ceiling(clients: usize, per_client: usize) -> f64 {
    let (db, _dir) = fresh_db(Backend::Sqlite, clients as u32 + 2).await;
    sqlx::query("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)")
        .execute(db.pool())
        .await
        .expect("table");
    sqlx::query("INSERT INTO counter VALUES (1, 0)").execute(db.pool()).await.expect("row");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per_client {
                fitroom_server::db::with_retry(|| async {
                    let mut tx = db.pool().begin().await?;
                    sqlx::query("UPDATE counter SET n = n + 1 WHERE id = 1")
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await
                })
                .await
                .expect("update");
            }
        }));
    }
    for t in tasks {
        t.await.expect("client");
    }
    (clients * per_client) as f64 / started.elapsed().as_secs_f64()
}

/// The PostgreSQL ceiling: pgbench's built-in tpcb-like script with the same client count.
fn pgbench(route: Route, clients: usize, seconds: u64) -> f64 {
    let url = postgres_url(route);
    let out =
        std::process::Command::new(std::env::var("PGBENCH").unwrap_or_else(|_| "pgbench".into()))
            .args([
                "-n",
                "-c",
                &clients.to_string(),
                "-j",
                &clients.min(2).to_string(),
                "-T",
                &seconds.to_string(),
                &url,
            ])
            .output()
            .expect("pgbench runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.starts_with("tps = "))
        .and_then(|l| l.trim_start_matches("tps = ").split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| {
            panic!("pgbench printed no tps: {text}{}", String::from_utf8_lossy(&out.stderr))
        })
}

/// `FITROOM_BENCH_ONLY` narrows a run while investigating: `sqlite`, `postgres`, `pgbouncer`, or
/// a client count (`sqlite:8`). Unset, everything runs.
fn selected(backend: &str, clients: usize) -> bool {
    match std::env::var("FITROOM_BENCH_ONLY") {
        Err(_) => true,
        Ok(only) => {
            let (b, c) = only.split_once(':').map_or((only.as_str(), None), |(b, c)| (b, Some(c)));
            b.eq_ignore_ascii_case(backend) && c.is_none_or(|c| c == clients.to_string())
        }
    }
}

/// The median of a few measurements.
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// This shared machine's speed drifts by a factor of two within minutes, so a ledger figure is
/// only compared with a ceiling measured right beside it: a row is measured in rounds, the
/// ceiling before the first round and after each (C M O C M O C …), and each round's ledger
/// figures are divided by the mean of the ceilings just before and just after them. The table
/// gives the medians of the figures and of these ratios; the spread of the ratios is printed
/// below it.
struct Rounds {
    /// One more than the rounds: the ceilings around them.
    ceilings: Vec<f64>,
    many: Vec<f64>,
    one: Vec<f64>,
}

struct Row {
    backend: &'static str,
    clients: usize,
    ceiling: f64,
    many: f64,
    one: f64,
    many_ratio: f64,
    one_ratio: f64,
    spread: String,
}

impl Rounds {
    /// Each round's figure over the ceiling around it, in percent.
    fn ratios(&self, ours: &[f64]) -> Vec<f64> {
        ours.iter()
            .zip(self.ceilings.windows(2))
            .map(|(o, around)| 100.0 * o / ((around[0] + around[1]) / 2.0))
            .collect()
    }

    fn row(self, backend: &'static str, clients: usize) -> Row {
        let range = |r: &[f64]| {
            let (lo, hi) =
                r.iter().fold((f64::MAX, 0.0_f64), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
            format!("{lo:.0}–{hi:.0} %")
        };
        let (many_ratios, one_ratios) = (self.ratios(&self.many), self.ratios(&self.one));
        let spread = format!(
            "{backend} {clients} clients, {} rounds: own accounts {}, one account {}",
            self.many.len(),
            range(&many_ratios),
            range(&one_ratios)
        );
        Row {
            backend,
            clients,
            ceiling: median(self.ceilings),
            many: median(self.many),
            one: median(self.one),
            many_ratio: median(many_ratios),
            one_ratio: median(one_ratios),
            spread,
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let rounds: usize =
        std::env::var("FITROOM_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    let per_client_total = |clients: usize, total: usize| (total / clients).max(20);
    let mut rows = Vec::new();
    for &c in CLIENTS.iter().filter(|&&c| selected("sqlite", c)) {
        let n = per_client_total(c, 3000);
        let mut r = Rounds {
            ceilings: vec![sqlite_ceiling(c, n * 2).await],
            many: Vec::new(),
            one: Vec::new(),
        };
        for _ in 0..rounds {
            r.many.push(pairs_per_second(Backend::Sqlite, Route::Direct, c, false, n).await);
            r.one.push(pairs_per_second(Backend::Sqlite, Route::Direct, c, true, n).await);
            r.ceilings.push(sqlite_ceiling(c, n * 2).await);
        }
        rows.push(r.row("SQLite", c));
    }
    let mut routes = vec![(Route::Direct, "PostgreSQL", "postgres")];
    if std::env::var("FITROOM_BENCH_PGBOUNCER_URL").is_ok() {
        routes.push((Route::Bouncer, "PostgreSQL via PgBouncer", "pgbouncer"));
    }
    for (route, label, name) in routes {
        if std::env::var("FITROOM_BENCH_POSTGRES_URL").is_err() {
            break;
        }
        for &c in CLIENTS.iter().filter(|&&c| selected(name, c)) {
            let n = per_client_total(c, 3000);
            let mut r =
                Rounds { ceilings: vec![pgbench(route, c, 5)], many: Vec::new(), one: Vec::new() };
            for _ in 0..rounds {
                r.many.push(pairs_per_second(Backend::Postgres, route, c, false, n).await);
                r.one.push(pairs_per_second(Backend::Postgres, route, c, true, n).await);
                r.ceilings.push(pgbench(route, c, 5));
            }
            rows.push(r.row(label, c));
        }
    }
    println!(
        "| database | clients | ceiling tx/s | freeze+settle pairs/s (one account per client) | % of ceiling | pairs/s (all clients on one account) | % of ceiling |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &rows {
        println!(
            "| {} | {} | {:.0} | {:.0} | {:.0} % | {:.0} | {:.0} % |",
            r.backend, r.clients, r.ceiling, r.many, r.many_ratio, r.one, r.one_ratio
        );
    }
    println!();
    println!(
        "Medians over the rounds; a % is the median of each round's ratio to the ceilings measured just before and after it:"
    );
    for r in &rows {
        println!("- {}", r.spread);
    }
}
