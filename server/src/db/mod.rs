//! The database: one code path for SQLite (embedded default) and PostgreSQL (beyond one machine).
//!
//! Queries go through sqlx's `Any` driver with `$N` placeholders, which both backends accept, and
//! use only portable SQL: integers are `BIGINT`, times are unix milliseconds, ids are text.

mod checkpoint;
mod pool;
mod retry;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{ConnectOptions, Connection, Executor};

pub use pool::{Pool, Pooler};
pub use retry::{AsRetryable, is_retryable, with_retry};

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
    backend: Backend,
    /// Where migrations run when the pool goes through a transaction pooler, which cannot keep
    /// the session-level lock the migrator takes (`DATABASE_DIRECT_URL`).
    direct_url: Option<String>,
}

/// How to reach the database: `DATABASE_URL`, `DATABASE_DIRECT_URL`, `FITROOM_DATABASE_POOLER`.
#[derive(Clone, Debug, Default)]
pub struct DbSettings {
    pub url: String,
    pub direct_url: Option<String>,
    pub pooler: Pooler,
    /// The pool's size (default 8 on SQLite, 32 on PostgreSQL); benchmarks match their clients.
    pub max_connections: Option<u32>,
}

impl DbSettings {
    pub fn url(url: &str) -> Self {
        DbSettings { url: url.to_owned(), ..DbSettings::default() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("DATABASE_URL must start with sqlite:// or postgres://, got {0:?}")]
    UnsupportedUrl(String),
    #[error(
        "FITROOM_DATABASE_POOLER=transaction needs PostgreSQL, and DATABASE_DIRECT_URL for migrations"
    )]
    PoolerWithoutDirectUrl,
    #[error("cannot create the directory for the SQLite file {path}: {source}")]
    CreateDir { path: String, source: std::io::Error },
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// sqlx pings every connection it hands out by default: one more round trip on every query and
/// every ledger operation. Only a connection that sat idle long enough for the server or a
/// firewall to have dropped it is checked; a busy pool's connections are known to be alive.
fn pool_options() -> AnyPoolOptions {
    const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(30);
    AnyPoolOptions::new().test_before_acquire(false).before_acquire(|conn, meta| {
        Box::pin(async move {
            if meta.idle_for >= CHECK_IF_IDLE_FOR {
                conn.ping().await?;
            }
            Ok(true)
        })
    })
}

impl Db {
    /// Connects, creating the SQLite file (and its directory) when it does not exist yet.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        Self::connect_with(DbSettings::url(url)).await
    }

    /// Like `connect`, with an explicit pool size (benchmarks match their client count).
    pub async fn connect_sized(url: &str, max_connections: Option<u32>) -> Result<Self, DbError> {
        Self::connect_with(DbSettings { max_connections, ..DbSettings::url(url) }).await
    }

    pub async fn connect_with(settings: DbSettings) -> Result<Self, DbError> {
        sqlx::any::install_default_drivers();
        let DbSettings { url, direct_url, pooler, max_connections } = settings;
        let url = url.as_str();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(url.to_owned()));
        };
        if pooler == Pooler::Transaction && (backend == Backend::Sqlite || direct_url.is_none()) {
            return Err(DbError::PoolerWithoutDirectUrl);
        }

        let pool = match backend {
            Backend::Sqlite => {
                let url = sqlite_url_creating_dir(url)?;
                let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
                let pool = pool_options()
                    .max_connections(max_connections.unwrap_or(8))
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // WAL lets readers run beside the one writer; the busy timeout makes
                            // writers queue instead of failing, and the retry loop covers the rest.
                            // Only a new database takes it. Every commit copies each page it
                            // dirtied into the WAL whole, and a ledger operation dirties ~8 pages to
                            // change a few small rows: 1 KiB pages (SQLite's default before 3.12)
                            // write a quarter of the bytes (+30 % ledger operations per second).
                            conn.execute("PRAGMA page_size = 1024").await?;
                            conn.execute("PRAGMA journal_mode = WAL").await?;
                            conn.execute("PRAGMA synchronous = NORMAL").await?;
                            conn.execute("PRAGMA foreign_keys = ON").await?;
                            conn.execute("PRAGMA busy_timeout = 10000").await?;
                            // Checkpoints are taken by `checkpoint::spawn`, not by commits.
                            conn.execute(&*format!(
                                "PRAGMA wal_autocheckpoint = {}",
                                checkpoint::AUTOCHECKPOINT_PAGES
                            ))
                            .await?;
                            conn.execute(&*format!(
                                "PRAGMA journal_size_limit = {}",
                                checkpoint::JOURNAL_SIZE_LIMIT_BYTES
                            ))
                            .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                checkpoint::spawn(pool.clone());
                pool
            }
            Backend::Postgres => {
                let url = match pooler {
                    Pooler::Session => url.to_owned(),
                    // Statements cached by name would be looked for on whichever server
                    // connection the pooler gives next (see `pool`).
                    Pooler::Transaction => {
                        let joint = if url.contains('?') { '&' } else { '?' };
                        format!("{url}{joint}statement-cache-capacity=0")
                    }
                };
                let options = AnyConnectOptions::from_str(&url)?.disable_statement_logging();
                pool_options()
                    .max_connections(max_connections.unwrap_or(32))
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // The ledger writes text values as standard SQL literals (quotes
                            // doubled, backslashes plain): make sure the server reads them so.
                            conn.execute("SET standard_conforming_strings = on").await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?
            }
        };
        Ok(Db { pool: Pool::new(pool, pooler), backend, direct_url })
    }

    /// Applies the migrations, over `DATABASE_DIRECT_URL` when one is set.
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.migrate_with(&MIGRATOR).await
    }

    /// Applies `migrator`'s migrations (an older set, in tests of the upgrades).
    pub async fn migrate_with(&self, migrator: &sqlx::migrate::Migrator) -> Result<(), DbError> {
        match &self.direct_url {
            Some(direct) => {
                let mut conn = sqlx::AnyConnection::connect(direct).await?;
                migrator.run(&mut conn).await?;
                conn.close().await?;
            }
            None => migrator.run(self.pool.inner()).await?,
        }
        Ok(())
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `/readyz`: the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }

    pub async fn close(&self) {
        self.pool.inner().close().await;
    }
}

/// `sqlite://data/fitroom.db` → makes sure `data/` exists and asks SQLite to create the file.
fn sqlite_url_creating_dir(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    if path != ":memory:"
        && !path.is_empty()
        && let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|source| DbError::CreateDir { path: dir.display().to_string(), source })?;
    }
    let query = match query {
        Some(q) if q.contains("mode=") => q.to_owned(),
        Some(q) => format!("{q}&mode=rwc"),
        None => "mode=rwc".to_owned(),
    };
    Ok(format!("sqlite://{path}?{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_ask_for_the_file_to_be_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("nested/fitroom.db");
        let url = sqlite_url_creating_dir(&format!("sqlite://{}", file.display())).expect("url");
        assert!(url.ends_with("?mode=rwc"));
        assert!(file.parent().expect("parent").is_dir());
    }

    #[test]
    fn an_explicit_mode_is_kept() {
        let url = sqlite_url_creating_dir("sqlite::memory:?mode=memory").expect("url");
        assert_eq!(url, "sqlite://:memory:?mode=memory");
    }

    #[tokio::test]
    async fn other_schemes_are_refused() {
        let err = Db::connect("mysql://localhost/x").await.expect_err("mysql");
        assert!(matches!(err, DbError::UnsupportedUrl(_)));
    }

    #[tokio::test]
    async fn a_transaction_pooler_needs_postgresql_and_a_direct_url_for_migrations() {
        let pooled = |url: &str, direct: Option<&str>| DbSettings {
            direct_url: direct.map(str::to_owned),
            pooler: Pooler::Transaction,
            ..DbSettings::url(url)
        };
        // Refused before any connection is tried.
        for settings in [
            pooled("postgres://127.0.0.1:1/x", None),
            pooled("sqlite::memory:", Some("sqlite::memory:")),
        ] {
            let err = Db::connect_with(settings).await.expect_err("refused");
            assert!(matches!(err, DbError::PoolerWithoutDirectUrl), "{err:?}");
        }
        assert_eq!(Pooler::parse("transaction"), Some(Pooler::Transaction));
        assert_eq!(Pooler::parse("none"), Some(Pooler::Session));
        assert_eq!(Pooler::parse("statement"), None, "statement pooling cannot run transactions");
    }
}
