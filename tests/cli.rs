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
        Command::new(env!("CARGO_BIN_EXE_fitroom"))
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", self.url())
            .env("FITROOM_DATA_DIR", self.dir.path().join("data"))
            .env("RUST_LOG", "error")
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
