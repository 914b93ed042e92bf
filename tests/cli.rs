//! The `fitroom` command line as an operator uses it (docs/api.md, Command line).
#![cfg(feature = "ssr")]

use std::process::{Command, Output};

use fitroom_server::db::Db;

struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new() -> Self {
        Workspace { dir: tempfile::tempdir().expect("temp dir") }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("fitroom.db").display())
    }

    fn fitroom(&self, args: &[&str]) -> Output {
        self.fitroom_with(args, &[])
    }

    fn fitroom_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_fitroom"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.url())
            .env("FITROOM_DATA_DIR", self.dir.path().join("data"))
            .env("RUST_LOG", "error")
            .envs(vars.iter().copied())
            .output()
            .expect("run fitroom")
    }

    async fn db(&self) -> Db {
        let db = Db::connect(&self.url()).await.expect("connect");
        db.migrate().await.expect("migrate");
        db
    }

    async fn user(&self, email: &str) {
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, 'x', 0)",
        )
        .bind(format!("usr_{email}"))
        .bind(email)
        .execute(self.db().await.pool())
        .await
        .expect("insert user");
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn migrate_creates_the_database_and_says_so() {
    let ws = Workspace::new();
    let out = ws.fitroom(&["migrate"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("migrations applied"));
    assert!(ws.dir.path().join("fitroom.db").exists());
}

#[tokio::test]
async fn credits_grant_prints_the_package_id_and_verify_passes() {
    let ws = Workspace::new();
    ws.user("ann@example.com").await;
    let out = ws.fitroom(&[
        "credits",
        "grant",
        "--email",
        "ann@EXAMPLE.com",
        "--amount",
        "10",
        "--expires-in-days",
        "30",
        "--name",
        "Gift",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert!(id.starts_with("pkg_"), "{id}");

    let verify = ws.fitroom(&["ledger", "verify"]);
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
    assert!(text(&verify.stdout).starts_with("ledger ok: 1 packages"), "{}", text(&verify.stdout));
}

#[tokio::test]
async fn credits_grant_refuses_an_unknown_email_or_a_bad_amount() {
    let ws = Workspace::new();
    ws.user("ann@example.com").await;
    for (args, message) in [
        (vec!["--email", "bob@example.com", "--amount", "5"], "no account"),
        (vec!["--email", "ann@example.com", "--amount", "0"], "--amount"),
        (vec!["--email", "ann@example.com", "--amount", "-3"], "--amount"),
        (vec!["--email", "ann@example.com", "--amount", "lots"], "invalid value"),
    ] {
        let mut full = vec!["credits", "grant"];
        full.extend(args.iter());
        let out = ws.fitroom(&full);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(text(&out.stderr).contains(message), "{args:?}: {}", text(&out.stderr));
    }
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM credit_packages")
        .fetch_one(ws.db().await.pool())
        .await
        .expect("count");
    assert_eq!(n, 0, "nothing was granted");
}

#[tokio::test]
async fn ledger_verify_exits_non_zero_and_names_each_violation_on_a_corrupted_database() {
    let ws = Workspace::new();
    ws.user("ann@example.com").await;
    let out = ws.fitroom(&["credits", "grant", "--email", "ann@example.com", "--amount", "5"]);
    assert!(out.status.success());
    sqlx::query("UPDATE credit_packages SET consumed = 3")
        .execute(ws.db().await.pool())
        .await
        .expect("corrupt");

    let verify = ws.fitroom(&["ledger", "verify"]);
    assert!(!verify.status.success());
    let report = text(&verify.stdout);
    assert!(
        report.contains("violation: package")
            && report.contains("consumed 3 but its settled holds allocate 0"),
        "{report}"
    );
    assert!(report.contains("journal rebuilds"), "{report}");
    assert!(report.contains("ledger verify FAILED"), "{report}");
}

#[test]
fn settings_are_read_from_a_dot_env_file_in_the_working_directory() {
    let ws = Workspace::new();
    let custom = ws.dir.path().join("from-dot-env.db");
    std::fs::write(
        ws.dir.path().join(".env"),
        format!("DATABASE_URL=sqlite://{}\n", custom.display()),
    )
    .expect("write .env");
    let out = Command::new(env!("CARGO_BIN_EXE_fitroom"))
        .arg("migrate")
        .current_dir(ws.dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .expect("run fitroom");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(custom.exists(), "the database named in .env was created");
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let ws = Workspace::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fitroom"))
        .arg("serve")
        .current_dir(ws.dir.path())
        .env("DATABASE_URL", ws.url())
        .env("FITROOM_DATA_DIR", ws.dir.path().join("data"))
        .env("FITROOM_ADDR", format!("127.0.0.1:{port}"))
        .env("FITROOM_LOG_FORMAT", "json")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start fitroom");
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(up, "the server listens");
    let kill =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(kill.success());
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().expect("wait") {
            status = Some(s);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = status.expect("the server exits within 10 s of SIGTERM");
    let mut log = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        use std::io::Read;
        let _ = stderr.read_to_string(&mut log);
    }
    assert!(status.success(), "{log}");
    assert!(
        log.contains("shutdown requested") && log.contains("in-flight requests finished"),
        "{log}"
    );
}

async fn admin_since(ws: &Workspace) -> Option<i64> {
    let (since,): (Option<i64>,) =
        sqlx::query_as("SELECT admin_since FROM users WHERE email = 'ops@example.com'")
            .fetch_one(ws.db().await.pool())
            .await
            .expect("row");
    since
}

#[tokio::test]
async fn admins_are_made_and_unmade_by_email_and_an_unknown_email_fails() {
    let ws = Workspace::new();
    ws.user("ops@example.com").await;
    let add = ws.fitroom(&["admin", "add", "--email", "OPS@example.com"]);
    assert!(add.status.success(), "{}", text(&add.stderr));
    assert!(text(&add.stdout).contains("is now an admin"), "{}", text(&add.stdout));
    assert!(admin_since(&ws).await.is_some());
    let remove = ws.fitroom(&["admin", "remove", "--email", "ops@example.com"]);
    assert!(remove.status.success(), "{}", text(&remove.stderr));
    assert!(admin_since(&ws).await.is_none());
    let unknown = ws.fitroom(&["admin", "add", "--email", "nobody@example.com"]);
    assert!(!unknown.status.success());
    assert!(text(&unknown.stderr).contains("no account"), "{}", text(&unknown.stderr));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

#[tokio::test]
async fn providers_prints_each_providers_figures_as_the_contract_names_them() {
    let ws = Workspace::new();
    ws.user("ann@example.com").await;
    let db = ws.db().await;
    let now = now_ms();
    // Three tasks local was sent ended in the window: one succeeded after 1.2 s, one failed,
    // one was canceled (which says nothing about the provider and is not counted).
    for (id, status, took) in
        [("job_a", "succeeded", 1200), ("job_b", "failed", 300), ("job_c", "canceled", 100)]
    {
        sqlx::query(
            "INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at, submitted_at, finished_at) \
             VALUES ($1, 'usr_ann@example.com', $2, 1, 'local', $3, $3, $3, $4)",
        )
        .bind(id)
        .bind(status)
        .bind(now - 5_000)
        .bind(now - 5_000 + took)
        .execute(db.pool())
        .await
        .expect("job");
    }
    for (id, job, state, cost, took) in [
        ("t1", "job_a", "settled", Some(10000), 1200),
        ("t2", "job_b", "released", None, 300),
        ("t3", "job_c", "released", None, 100),
    ] {
        sqlx::query(
            "INSERT INTO provider_tasks (id, job_id, provider, task_key, estimate_micros, cost_micros, state, period, period_start, created_at, resolved_at) \
             VALUES ($1, $2, 'local', $1, 10000, $3, $4, 'day', $5, $6, $7)",
        )
        .bind(id)
        .bind(job)
        .bind(cost)
        .bind(state)
        .bind(now - now.rem_euclid(86_400_000))
        .bind(now - 5_000)
        .bind(now - 5_000 + took)
        .execute(db.pool())
        .await
        .expect("task");
    }
    sqlx::query("INSERT INTO provider_budgets (provider, period, period_start, committed_micros) VALUES ('local', 'day', $1, 10000)")
        .bind(now - now.rem_euclid(86_400_000))
        .execute(db.pool())
        .await
        .expect("budget");

    let vars = [
        ("FITROOM_PROVIDERS", "local"),
        ("FITROOM_PROVIDER_PRICES", "local=0.01"),
        ("FITROOM_PROVIDER_BUDGETS", "local=2/day"),
    ];
    let out = ws.fitroom_with(&["providers", "--json"], &vars);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "{body}");
    let row = &body["providers"][0];
    // The contract's fields, and `cooling_until` (docs/api.md, beyond API.md).
    let mut keys: Vec<&str> = row.as_object().expect("a row").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "budget",
            "cooling_until",
            "jobs",
            "name",
            "p50_ms",
            "p95_ms",
            "period",
            "price",
            "spend",
            "state",
            "success_rate"
        ]
    );
    assert_eq!(row["name"], "local");
    assert_eq!(row["state"], "ok");
    assert_eq!(row["price"], 0.01);
    assert_eq!(row["spend"], 0.01);
    assert_eq!(row["budget"], 2.0);
    assert_eq!(row["period"], "day");
    assert_eq!(row["jobs"], 2);
    assert_eq!(row["success_rate"], 0.5);
    assert_eq!((row["p50_ms"].as_i64(), row["p95_ms"].as_i64()), (Some(1200), Some(1200)));
    assert_eq!(row["cooling_until"], serde_json::Value::Null);

    // Without a budget, `budget` and `period` are null and the spend is the UTC day's.
    let unbudgeted = [("FITROOM_PROVIDERS", "local"), ("FITROOM_PROVIDER_PRICES", "local=0.01")];
    let out = ws.fitroom_with(&["providers", "--json"], &unbudgeted);
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = &body["providers"][0];
    assert_eq!(
        (&row["budget"], &row["period"], &row["spend"]),
        (&serde_json::Value::Null, &serde_json::Value::Null, &serde_json::json!(0.01))
    );
    // A budget the next task would pass, then a cool-down every process sees.
    let tight = [
        ("FITROOM_PROVIDERS", "local"),
        ("FITROOM_PROVIDER_PRICES", "local=0.01"),
        ("FITROOM_PROVIDER_BUDGETS", "local=0.015/day"),
    ];
    let state = |vars: &[(&str, &str)]| {
        let out = ws.fitroom_with(&["providers", "--json"], vars);
        let body: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        body["providers"][0]["state"].as_str().map(str::to_owned)
    };
    assert_eq!(state(&tight).as_deref(), Some("over_budget"));
    sqlx::query("INSERT INTO provider_health (provider, consecutive_failures, cooling_until, updated_at) VALUES ('local', 3, $1, $2)")
        .bind(now + 3_600_000)
        .bind(now)
        .execute(db.pool())
        .await
        .expect("health");
    assert_eq!(state(&vars).as_deref(), Some("cooling"));
    let table = ws.fitroom_with(&["providers"], &vars);
    assert!(text(&table.stdout).lines().any(|l| l.starts_with("local") && l.contains("cooling")));
    sqlx::query("DELETE FROM provider_health").execute(db.pool()).await.expect("healthy");

    let table = ws.fitroom_with(&["providers"], &vars);
    let table = text(&table.stdout);
    assert!(
        table.lines().any(|l| l.starts_with("local") && l.contains("$2/day") && l.contains("50%")),
        "{table}"
    );

    let bad = ws.fitroom_with(&["providers"], &[("FITROOM_PROVIDER_BUDGETS", "local=2/week")]);
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("hour, day or month"), "{}", text(&bad.stderr));
    // A provider name no enabled provider has is refused, not ignored: it names the variable and
    // the name.
    for (key, value) in [
        ("FITROOM_PROVIDER_BUDGETS", "local=2/day,replicat=5/day"),
        ("FITROOM_PROVIDER_PRICES", "fal=0.04"),
    ] {
        let unknown =
            ws.fitroom_with(&["providers"], &[("FITROOM_PROVIDERS", "local"), (key, value)]);
        assert!(!unknown.status.success());
        let stderr = text(&unknown.stderr);
        let name = if key == "FITROOM_PROVIDER_PRICES" { "fal" } else { "replicat" };
        assert!(
            stderr.contains(key) && stderr.contains(&format!("{name} is not an enabled provider")),
            "{stderr}"
        );
    }

    // The spend ledger is verified beside the credits ledger, and each run is kept.
    sqlx::query("UPDATE provider_budgets SET committed_micros = 99")
        .execute(db.pool())
        .await
        .expect("corrupt");
    let verify = ws.fitroom(&["ledger", "verify"]);
    assert!(!verify.status.success());
    assert!(
        text(&verify.stdout).contains("violation: provider budget local/day"),
        "{}",
        text(&verify.stdout)
    );
    let (checks, violations): (i64, i64) =
        sqlx::query_as("SELECT COUNT(*), MAX(violations) FROM ledger_checks WHERE run_by = 'cli'")
            .fetch_one(db.pool())
            .await
            .expect("checks");
    // Two: the budget, and the hand-made succeeded job that has no credit hold.
    assert_eq!((checks, violations), (1, 2), "{}", text(&verify.stdout));
}

#[tokio::test]
async fn storage_sweep_deletes_only_old_objects_that_nothing_references() {
    let ws = Workspace::new();
    ws.db().await;
    let objects = ws.dir.path().join("data").join("objects");
    let results = objects.join("results");
    std::fs::create_dir_all(&results).expect("dir");
    for name in ["old-orphan.png", "new-orphan.png", "new-orphan.png.type"] {
        std::fs::write(results.join(name), b"png").expect("write");
    }
    // An hour and more ago, by the file's own time.
    // (The `.type` file beside an object holds its content type: part of the object, never an
    // object of its own, however old.)
    let touched = Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(results.join("old-orphan.png"))
        .arg(results.join("new-orphan.png.type"))
        .status()
        .expect("touch");
    assert!(touched.success());

    let dry = ws.fitroom(&["storage", "sweep", "--dry-run"]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let out = text(&dry.stdout);
    assert!(out.contains("would delete results/old-orphan.png"), "{out}");
    assert!(!out.contains("new-orphan"), "{out}");
    assert!(out.contains("2 objects examined"), "{out}");
    assert!(results.join("old-orphan.png").exists(), "a dry run deletes nothing");

    let swept = ws.fitroom(&["storage", "sweep"]);
    assert!(swept.status.success());
    assert!(text(&swept.stdout).contains("deleted results/old-orphan.png"));
    assert!(!results.join("old-orphan.png").exists());
    assert!(results.join("new-orphan.png").exists(), "younger than an hour: kept");
}
