use std::sync::Arc;

use fitroom_server::clock::{ManualClock, Timestamp};
use fitroom_server::db::{Backend, Db, DbSettings, Pooler};
use fitroom_server::fault::FaultPoints;
use fitroom_server::ids::{JobId, UserId};
use fitroom_server::ledger::Ledger;

/// 2026-01-01T00:00:00Z: tests start from a fixed instant and move the clock by hand.
pub const START: Timestamp = Timestamp::from_millis(1_767_225_600_000);

pub struct TestDb {
    pub db: Db,
    /// How `db` was reached: directly, or through PgBouncer when the suite runs behind it.
    pub settings: DbSettings,
    pub clock: ManualClock,
    pub faults: FaultPoints,
    // Keeps the SQLite file alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> TestDb {
        // `FITROOM_TEST_LOG=warn` (a filter like RUST_LOG) shows the server's logs of a failing test.
        if let Ok(filter) = std::env::var("FITROOM_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let t = Self::unmigrated(backend).await;
        t.db.migrate().await.expect("migrate");
        t
    }

    /// A fresh, empty database: for specs of the migrations themselves.
    pub async fn unmigrated(backend: Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self::connect(&url, Some(dir)).await
            }
            Backend::Postgres => {
                let direct = fresh_postgres_database().await;
                // scripts/test.sh runs the PostgreSQL half a second time through PgBouncer in
                // transaction mode, migrations going straight to the database.
                let settings = match std::env::var("FITROOM_TEST_PGBOUNCER_URL") {
                    Ok(bouncer) => {
                        let (_, name) = direct.rsplit_once('/').expect("database name");
                        DbSettings {
                            url: format!("{}/{name}", bouncer.trim_end_matches('/')),
                            direct_url: Some(direct),
                            pooler: Pooler::Transaction,
                            max_connections: None,
                        }
                    }
                    Err(_) => DbSettings::url(&direct),
                };
                Self::connect_with(settings, None).await
            }
        }
    }

    async fn connect(url: &str, dir: Option<tempfile::TempDir>) -> TestDb {
        Self::connect_with(DbSettings::url(url), dir).await
    }

    async fn connect_with(settings: DbSettings, dir: Option<tempfile::TempDir>) -> TestDb {
        let db = Db::connect_with(settings.clone()).await.expect("connect");
        TestDb {
            db,
            settings,
            clock: ManualClock::at(START),
            faults: FaultPoints::default(),
            _dir: dir,
        }
    }

    /// The database as another process reaches it: a pool of its own on PostgreSQL; SQLite is the
    /// one-machine default, whose writers queue at the one pool's gate, so processes share it.
    pub async fn another_process(&self) -> Db {
        match self.db.backend() {
            Backend::Postgres => {
                Db::connect_with(self.settings.clone()).await.expect("a second pool")
            }
            Backend::Sqlite => self.db.clone(),
        }
    }

    /// The settings a Fitroom process needs to reach this database, as environment variables.
    pub fn database_env(&self) -> Vec<(String, String)> {
        let mut env = vec![("DATABASE_URL".to_owned(), self.settings.url.clone())];
        if let Some(direct) = &self.settings.direct_url {
            env.push(("DATABASE_DIRECT_URL".to_owned(), direct.clone()));
        }
        if self.settings.pooler == Pooler::Transaction {
            env.push(("FITROOM_DATABASE_POOLER".to_owned(), "transaction".to_owned()));
        }
        env
    }

    pub fn ledger(&self) -> Ledger {
        Ledger::with_faults(self.db.clone(), Arc::new(self.clock.clone()), self.faults.clone())
    }

    pub async fn user(&self) -> UserId {
        let id = UserId::generate();
        sqlx::query(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, 'x', $3)",
        )
        .bind(id.as_str())
        .bind(format!("{}@example.com", id.as_str()))
        .bind(START.millis())
        .execute(self.db.pool())
        .await
        .expect("insert user");
        id
    }

    /// A queued job for the user: every hold belongs to one.
    pub async fn job(&self, user: &UserId) -> JobId {
        let id = JobId::generate();
        sqlx::query(
            "INSERT INTO jobs (id, user_id, status, cost, provider, created_at, updated_at) \
             VALUES ($1, $2, 'queued', 1, 'local', $3, $3)",
        )
        .bind(id.as_str())
        .bind(user.as_str())
        .bind(START.millis())
        .execute(self.db.pool())
        .await
        .expect("insert job");
        id
    }

    pub async fn set_job_status(&self, job: &JobId, status: &str) {
        sqlx::query("UPDATE jobs SET status = $1 WHERE id = $2")
            .bind(status)
            .bind(job.as_str())
            .execute(self.db.pool())
            .await
            .expect("update job");
    }

    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.db.pool())
            .await
            .expect("count");
        n
    }

    /// Every row that the ledger writes, as text: equal snapshots mean nothing changed.
    pub async fn snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        let queries = [
            "SELECT id || ':' || CAST(consumed AS TEXT) || ':' || CAST(held AS TEXT) || ':' || CAST(expired AS TEXT) \
             || ':' || CAST(refund_target AS TEXT) || ':' || CAST(refunded AS TEXT) FROM credit_packages ORDER BY id",
            "SELECT id || ':' || state || ':' || CAST(freeze_seq AS TEXT) FROM holds ORDER BY id",
            "SELECT id || ':' || kind FROM ledger_entries ORDER BY id",
            "SELECT id || ':' || status FROM jobs ORDER BY id",
        ];
        for q in queries {
            let rows: Vec<(String,)> =
                sqlx::query_as(q).fetch_all(self.db.pool()).await.expect("snapshot");
            out.extend(rows.into_iter().map(|(r,)| r));
        }
        out
    }

    pub async fn assert_verified(&self) {
        let report = fitroom_server::ledger::verify::verify(&self.db).await.expect("verify runs");
        assert!(report.is_clean(), "ledger invariants violated: {:#?}", report.violations);
        let spend = fitroom_server::spend::verify::verify(&self.db).await.expect("verify runs");
        assert!(spend.is_empty(), "spend ledger invariants violated: {spend:#?}");
    }
}

/// Creates a database named by a UUID on the test cluster and returns its URL.
async fn fresh_postgres_database() -> String {
    let admin = std::env::var("FITROOM_TEST_POSTGRES_URL").expect(
        "FITROOM_TEST_POSTGRES_URL is not set: run the test suite with scripts/test.sh, which starts a \
         throwaway PostgreSQL cluster",
    );
    let name = format!("fitroom_test_{}", uuid::Uuid::new_v4().simple());
    let db = Db::connect(&admin).await.expect("connect to the test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(db.pool())
        .await
        .expect("create database");
    db.close().await;
    let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
    format!("{base}/{name}")
}

/// Writes each spec once per backend: `mod sqlite` and `mod postgres`, same body.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestDb::new(fitroom_server::db::Backend::Sqlite).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    super::$name($crate::common::TestDb::new(fitroom_server::db::Backend::Postgres).await).await
                }
            )*
        }
    };
}
