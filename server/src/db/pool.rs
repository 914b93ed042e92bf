//! The pool every query goes through, directly to the database or through a transaction pooler.
//!
//! Behind PgBouncer in transaction mode (`FITROOM_DATABASE_POOLER=transaction`) a server
//! connection is ours only while a transaction is open: between two of our messages, outside a
//! transaction, the pooler may hand it to another client. sqlx sends every query with values in
//! two exchanges (Parse and Describe, then Bind and Execute), so a query outside a transaction
//! could be parsed on one server connection and bound on another, and statements it names would
//! stay behind on a server connection that another client uses next. So, in that mode:
//! - a query sent to the pool runs in a transaction of its own (`BEGIN`, the query, `COMMIT`), as
//!   an unnamed statement;
//! - a transaction begins with `DEALLOCATE ALL`, dropping whatever statements the server
//!   connection's previous clients named (no name of ours can then collide with one of theirs);
//! - the statement cache is off (`statement-cache-capacity=0`), and the ledger sends its
//!   statements' text rather than `EXECUTE` of statements prepared on the connection.
//!
//! Directly connected (the default), the pool is sqlx's own, untouched.

use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{FutureExt, StreamExt, TryStreamExt};
use sqlx::any::{AnyArguments, AnyQueryResult, AnyRow, AnyStatement, AnyTypeInfo};
use sqlx::error::BoxDynError;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Describe, Either, Error, Execute, Executor, Transaction};

/// How the database is reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pooler {
    /// Directly, or through a pooler in session mode: a connection is ours while we hold it.
    #[default]
    Session,
    /// Through a pooler in transaction mode: a connection is ours only inside a transaction.
    Transaction,
}

impl Pooler {
    /// `FITROOM_DATABASE_POOLER`: `none` (or `session`) and `transaction`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "none" | "session" => Some(Pooler::Session),
            "transaction" => Some(Pooler::Transaction),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Pool {
    inner: AnyPool,
    pooler: Pooler,
}

impl Pool {
    pub(super) fn new(inner: AnyPool, pooler: Pooler) -> Self {
        Pool { inner, pooler }
    }

    pub fn pooler(&self) -> Pooler {
        self.pooler
    }

    /// A transaction, ready for any statement.
    pub async fn begin(&self) -> Result<Transaction<'static, Any>, Error> {
        self.begin_with("BEGIN").await
    }

    /// A transaction opened by `begin` (`BEGIN` with its options, e.g. an isolation level).
    pub async fn begin_with(
        &self,
        begin: &'static str,
    ) -> Result<Transaction<'static, Any>, Error> {
        match self.pooler {
            Pooler::Session => self.inner.begin_with(begin).await,
            Pooler::Transaction => self.inner.begin_with(format!("{begin}; DEALLOCATE ALL")).await,
        }
    }

    /// A connection of the pool's own. Behind a transaction pooler, whoever takes one sends only
    /// scripts of plain text that open and close their transaction themselves (the ledger).
    pub async fn acquire(&self) -> Result<PoolConnection<Any>, Error> {
        self.inner.acquire().await
    }

    pub(super) fn inner(&self) -> &AnyPool {
        &self.inner
    }
}

/// A query sent as an unnamed statement: nothing of it stays on the server connection.
struct Unnamed<E>(E);

impl<'q, E: Execute<'q, Any>> Execute<'q, Any> for Unnamed<E> {
    fn sql(&self) -> &'q str {
        self.0.sql()
    }

    fn statement(&self) -> Option<&AnyStatement<'q>> {
        self.0.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<AnyArguments<'q>>, BoxDynError> {
        self.0.take_arguments()
    }

    fn persistent(&self) -> bool {
        false
    }
}

/// Runs one query in a transaction of its own, gathering what it answers.
async fn alone<'q, E: 'q + Execute<'q, Any>>(
    pool: &AnyPool,
    query: E,
) -> Result<Vec<Either<AnyQueryResult, AnyRow>>, Error> {
    let mut tx = pool.begin().await?;
    let steps = (&mut *tx).fetch_many(Unnamed(query)).try_collect().await?;
    tx.commit().await?;
    Ok(steps)
}

impl<'p> Executor<'p> for &'p Pool {
    type Database = Any;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<AnyQueryResult, AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.pooler {
            Pooler::Session => self.inner.fetch_many(query),
            Pooler::Transaction => futures_util::stream::once(alone(&self.inner, query))
                .map_ok(|steps| futures_util::stream::iter(steps.into_iter().map(Ok)))
                .try_flatten()
                .boxed(),
        }
    }

    fn fetch_optional<'e, 'q: 'e, E>(self, query: E) -> BoxFuture<'e, Result<Option<AnyRow>, Error>>
    where
        'p: 'e,
        E: 'q + Execute<'q, Any>,
    {
        match self.pooler {
            Pooler::Session => self.inner.fetch_optional(query),
            Pooler::Transaction => async move {
                let steps = alone(&self.inner, query).await?;
                Ok(steps.into_iter().find_map(|step| step.right()))
            }
            .boxed(),
        }
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [AnyTypeInfo],
    ) -> BoxFuture<'e, Result<AnyStatement<'q>, Error>>
    where
        'p: 'e,
    {
        self.inner.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<Any>, Error>>
    where
        'p: 'e,
    {
        self.inner.describe(sql)
    }
}
