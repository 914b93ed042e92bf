//! Several statements sent to the database in one round trip.
//!
//! A ledger operation is a handful of small statements; sent one by one, the round trips (to
//! PostgreSQL, or to SQLite's worker thread) cost more than the work. So an operation sends its
//! reads as one script and its writes (with the `COMMIT`) as another. The statements come from
//! the catalogue in `statements`, with their values beside them:
//! - SQLite runs the script as one query whose statements share one numbering of bound values,
//!   and the driver keeps it compiled for the next script of the same shape;
//! - PostgreSQL cannot bind values in a multi-statement message, so each statement is sent as
//!   `EXECUTE name(values)` of the connection's prepared statement, or, inside a transaction the
//!   ledger did not open itself, as its own text. Values then travel as SQL literals written by
//!   the `Display` wrappers below: integers as digits, text single-quoted with quotes doubled —
//!   the standard SQL string literal, which PostgreSQL (with `standard_conforming_strings`,
//!   forced on at connect) reads back verbatim whatever the text holds. The one character it
//!   cannot store, NUL, makes the whole script refuse to run, on both databases alike.

use std::fmt::{self, Write as _};

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Either};

use super::statements::Statement as Sql;
use crate::fault::{FaultPoints, InjectedFault};
use crate::ledger::LedgerError;

/// A text value as an SQL string literal.
pub(crate) struct Text<'a>(pub &'a str);

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("'")?;
        for (i, part) in self.0.split('\'').enumerate() {
            if i > 0 {
                f.write_str("''")?;
            }
            f.write_str(part)?;
        }
        f.write_str("'")
    }
}

/// A value bound to a statement's parameter.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Value {
    Int(i64),
    Text(String),
    Null,
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

impl fmt::Display for Value {
    /// The value as an SQL literal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Parenthesised when negative, so that no `-` before it can make a `--` comment.
            Value::Int(n) if *n < 0 => write!(f, "({n})"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Text(t) => Text(t).fmt(f),
            Value::Null => f.write_str("NULL"),
        }
    }
}

/// How PostgreSQL receives a script's statements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Form {
    /// `EXECUTE` of the connection's prepared statements.
    Prepared,
    /// The statements' own text: for a transaction the ledger did not open, where an `EXECUTE`
    /// of a statement not yet prepared would abort the caller's work.
    Text,
}

/// Statements to run in order, in one round trip.
#[derive(Clone, Default)]
pub(crate) struct Script {
    statements: Vec<Statement>,
}

#[derive(Clone)]
enum Body {
    Catalogued(&'static Sql, Vec<Value>),
    /// Transaction control, and the statement a fault point sends (no values).
    Fixed(String),
}

#[derive(Clone)]
struct Statement {
    body: Body,
    /// A guarded write must change exactly this many rows, or the transaction is abandoned.
    expect_rows: Option<u64>,
    /// A decisive write's refusal is an answer, not a conflict (`push_decisive`).
    decisive: bool,
    /// The fault point this statement stands for (tests only).
    fault: Option<&'static str>,
}

/// Where and why a script stopped before its end.
pub(crate) enum Stop {
    /// A decisive write refused (`push_decisive`).
    Refused,
    /// A guarded write refused or changed another number of rows than it must.
    Conflict,
    /// Anything else: the statement failed.
    Failed(LedgerError),
}

/// What a script returned until it ended or stopped.
pub(crate) struct Collected {
    /// The rows of each statement that reported its end, in order.
    pub rows: Vec<Vec<AnyRow>>,
    /// The first statement that stopped the operation (its index), and why.
    pub stop: Option<(usize, Stop)>,
    /// Whether every statement ran: a guarded write that changed another number of rows than it
    /// must does not stop the database, which runs the script on (its `COMMIT` too, when no
    /// statement fails; see `statements` for why guards refuse instead).
    pub ran_to_the_end: bool,
}

/// What each statement of a script returned, in order.
pub(crate) struct Results(Vec<Vec<AnyRow>>);

impl Results {
    pub fn new(rows: Vec<Vec<AnyRow>>) -> Self {
        Results(rows)
    }

    /// The rows of the `index`-th statement.
    pub fn rows(&self, index: usize) -> &[AnyRow] {
        self.0.get(index).map(Vec::as_slice).unwrap_or_default()
    }

    /// The results of the statements after the first `n`.
    pub fn skip(mut self, n: usize) -> Results {
        self.0.drain(..n.min(self.0.len()));
        self
    }
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }

    pub fn is_empty(&self) -> bool {
        self.statements.is_empty()
    }

    pub fn len(&self) -> usize {
        self.statements.len()
    }

    /// A digest of the script's statements without their values: scripts of one shape send the
    /// same text, which the driver compiles once.
    pub fn shape(&self) -> u64 {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let names = self.statements.iter().map(|s| match &s.body {
            Body::Catalogued(sql, _) => sql.name,
            Body::Fixed(text) => text.as_str(),
        });
        BuildHasherDefault::<DefaultHasher>::default().hash_one(names.collect::<Vec<_>>())
    }

    /// The armed fault point this script stops at, if any (tests only).
    fn fault(&self) -> Option<&'static str> {
        self.statements.iter().find_map(|s| s.fault)
    }

    /// Adds a statement with its values (`$1` is the first); returns its index in the results.
    pub fn push<const N: usize>(&mut self, sql: &'static Sql, values: [Value; N]) -> usize {
        self.add(Body::Catalogued(sql, values.into()), None)
    }

    /// Adds a write that must change exactly `rows` rows and whose statement the database refuses
    /// (a CHECK constraint) when its condition does not hold (see `statements`): defence in depth
    /// behind the user's lock, which already keeps every other ledger transaction of this user
    /// out. Either failure abandons the transaction as a conflict; a refused statement stops the
    /// script before its `COMMIT`, while a row count is only known once the script has run.
    pub fn push_guarded<const N: usize>(
        &mut self,
        sql: &'static Sql,
        values: [Value; N],
        rows: u64,
    ) -> usize {
        self.add(Body::Catalogued(sql, values.into()), Some(rows))
    }

    /// Adds a write whose CHECK refusal decides the operation (a freeze that finds too few credits
    /// or a used key): the script stops there, as for a guarded write, but `run_or_refused`
    /// answers `None` instead of a conflict, so the caller can find out why and answer that.
    pub fn push_decisive<const N: usize>(
        &mut self,
        sql: &'static Sql,
        values: [Value; N],
    ) -> usize {
        let index = self.add(Body::Catalogued(sql, values.into()), None);
        if let Some(statement) = self.statements.get_mut(index) {
            statement.decisive = true;
        }
        index
    }

    /// Makes the `index`-th statement a guarded one that must change exactly `rows` rows.
    pub fn set_guard(&mut self, index: usize, rows: u64) {
        if let Some(statement) = self.statements.get_mut(index) {
            statement.expect_rows = Some(rows);
        }
    }

    /// Adds transaction control (`BEGIN`, `COMMIT`, `ROLLBACK`).
    pub fn control(&mut self, sql: &'static str) -> usize {
        self.add(Body::Fixed(sql.to_owned()), None)
    }

    fn add(&mut self, body: Body, expect_rows: Option<u64>) -> usize {
        self.statements.push(Statement { body, expect_rows, decisive: false, fault: None });
        self.statements.len() - 1
    }

    /// Appends another script's statements after this one's.
    pub fn append(&mut self, other: Script) {
        self.statements.extend(other.statements);
    }

    /// A place between two statements where a test can make the script fail: when `point` is
    /// armed, a statement that the database refuses is sent here, so the statements before it
    /// really run and the transaction must undo them.
    pub fn fault_point(&mut self, faults: &FaultPoints, point: &'static str) {
        if self.fault().is_none() && faults.check(point).is_err() {
            let index = self.add(
                Body::Fixed(format!("SELECT missing FROM \"fault injected at {point}\"")),
                None,
            );
            if let Some(statement) = self.statements.get_mut(index) {
                statement.fault = Some(point);
            }
        }
    }

    /// Every value of the script, in the order of the SQLite numbering.
    fn values(&self) -> Vec<&Value> {
        let mut all = Vec::new();
        for statement in &self.statements {
            if let Body::Catalogued(_, values) = &statement.body {
                all.extend(values);
            }
        }
        all
    }

    /// Sends every statement in one round trip and collects what each returned. A decisive write
    /// that refused is a conflict here: only `run_or_refused` expects one.
    pub async fn run(&self, conn: &mut AnyConnection, form: Form) -> Result<Results, LedgerError> {
        self.run_or_refused(conn, form).await?.ok_or(LedgerError::Conflict)
    }

    /// Like `run`, answering `None` when a decisive write refused (the script stopped there: its
    /// transaction must be rolled back, or on PostgreSQL is already aborted).
    pub async fn run_or_refused(
        &self,
        conn: &mut AnyConnection,
        form: Form,
    ) -> Result<Option<Results>, LedgerError> {
        let collected = self.collect(conn, form).await?;
        match collected.stop {
            None => Ok(Some(Results(collected.rows))),
            Some((_, Stop::Refused)) => Ok(None),
            Some((_, Stop::Conflict)) => Err(LedgerError::Conflict),
            Some((_, Stop::Failed(e))) => Err(e),
        }
    }

    /// Sends every statement in one round trip and collects what each returned, up to the
    /// statement the script stopped at, if any. Boxed as `Send`: the compiler then proves that
    /// here, where the lifetimes are known, instead of failing to in the group commit's loop.
    pub fn collect<'a>(
        &'a self,
        conn: &'a mut AnyConnection,
        form: Form,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Collected, LedgerError>> + Send + 'a>,
    > {
        Box::pin(self.collect_inner(conn, form))
    }

    async fn collect_inner(
        &self,
        conn: &mut AnyConnection,
        form: Form,
    ) -> Result<Collected, LedgerError> {
        let values = self.values();
        if values.iter().any(|v| matches!(v, Value::Text(t) if t.contains('\0'))) {
            return Err(LedgerError::InvalidText);
        }
        let sqlite = conn.backend_name() == "SQLite";
        let sql = self.sql(if sqlite { None } else { Some(form) });
        let mut stream = if sqlite {
            let mut query = sqlx::query(&sql);
            for value in values {
                query = match value {
                    Value::Int(n) => query.bind(*n),
                    Value::Text(t) => query.bind(t.clone()),
                    Value::Null => query.bind(None::<String>),
                };
            }
            // A script that stops at a fault point is not worth keeping compiled. (The driver
            // deprecates several statements in one prepared query for the drivers that cannot;
            // SQLite runs them one by one with the shared numbering, which is what this needs.)
            #[allow(deprecated)]
            query.persistent(self.fault().is_none()).fetch_many(&mut *conn)
        } else {
            sqlx::raw_sql(&sql).fetch_many(&mut *conn)
        };
        let mut rows: Vec<Vec<AnyRow>> = vec![Vec::new()];
        // A row count off is recorded and reading goes on, to learn whether the script ran on.
        let mut miscounted = None;
        let failed = loop {
            let item = match stream.try_next().await {
                Ok(Some(item)) => item,
                Ok(None) => break None,
                Err(e) => {
                    let failed = self.statements.get(rows.len() - 1);
                    let why = match failed {
                        Some(s) if s.decisive && refused_by_check(&e) => Stop::Refused,
                        Some(s) if s.expect_rows.is_some() && refused_by_check(&e) => {
                            Stop::Conflict
                        }
                        Some(Statement { fault: Some(point), .. }) => {
                            Stop::Failed(InjectedFault(point).into())
                        }
                        _ => Stop::Failed(LedgerError::Database(e)),
                    };
                    break Some((rows.len() - 1, why));
                }
            };
            match item {
                Either::Right(row) => {
                    if let Some(last) = rows.last_mut() {
                        last.push(row);
                    }
                }
                Either::Left(done) => {
                    let index = rows.len() - 1;
                    let expected = self.statements.get(index).and_then(|s| s.expect_rows);
                    if miscounted.is_none() && expected.is_some_and(|n| n != done.rows_affected()) {
                        miscounted = Some((index, Stop::Conflict));
                    }
                    rows.push(Vec::new());
                }
            }
        };
        // The last entry collected the rows of a statement that did not report its end.
        rows.pop();
        let ran_to_the_end = failed.is_none() && rows.len() == self.statements.len();
        let stop = miscounted.or(failed).or_else(|| {
            // Every statement reports its end: fewer reports mean the script stopped early.
            (!ran_to_the_end).then(|| {
                (
                    rows.len(),
                    self.fault().map_or(Stop::Conflict, |p| Stop::Failed(InjectedFault(p).into())),
                )
            })
        });
        Ok(Collected { rows, stop, ran_to_the_end })
    }

    /// The script's text: for SQLite (`form` None) with parameters renumbered across statements,
    /// for PostgreSQL with the values written in.
    fn sql(&self, form: Option<Form>) -> String {
        let mut sql = String::new();
        let mut offset = 0;
        for (i, statement) in self.statements.iter().enumerate() {
            if i > 0 {
                sql.push_str(";\n");
            }
            match (&statement.body, form) {
                (Body::Fixed(text), _) => sql.push_str(text),
                (Body::Catalogued(s, values), None) => {
                    substitute(&mut sql, s.text, |out, n| {
                        let _ = write!(out, "${}", n + offset);
                    });
                    offset += values.len();
                }
                (Body::Catalogued(s, values), Some(Form::Prepared)) => {
                    sql.push_str("EXECUTE ");
                    sql.push_str(s.name);
                    if !values.is_empty() {
                        let list =
                            values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                        let _ = write!(sql, "({list})");
                    }
                }
                (Body::Catalogued(s, values), Some(Form::Text)) => {
                    substitute(&mut sql, s.text, |out, n| {
                        if let Some(v) = n.checked_sub(1).and_then(|i| values.get(i)) {
                            let _ = write!(out, "{v}");
                        }
                    })
                }
            }
        }
        sql
    }
}

fn refused_by_check(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.kind() == sqlx::error::ErrorKind::CheckViolation)
}

/// Copies `text` into `out`, writing each parameter `$n` through `param(out, n)`. Catalogued
/// statements hold no `$` but their parameters.
fn substitute(out: &mut String, text: &str, mut param: impl FnMut(&mut String, usize)) {
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let digits = rest[at + 1..].bytes().take_while(u8::is_ascii_digit).count();
        match rest[at + 1..at + 1 + digits].parse() {
            Ok(n) => param(out, n),
            Err(_) => out.push('$'),
        }
        rest = &rest[at + 1 + digits..];
    }
    out.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_literals_double_their_quotes_and_keep_everything_else() {
        assert_eq!(Text("plain").to_string(), "'plain'");
        assert_eq!(Text("it's").to_string(), "'it''s'");
        assert_eq!(Text("'; DROP TABLE users; --").to_string(), "'''; DROP TABLE users; --'");
        assert_eq!(Text(r"back\slash").to_string(), r"'back\slash'");
        assert_eq!(Text("").to_string(), "''");
        assert_eq!(Value::from(Some("a")).to_string(), "'a'");
        assert_eq!(Value::from(None::<i64>).to_string(), "NULL");
        assert_eq!(Value::from(-3).to_string(), "(-3)");
    }

    static ONE: Sql =
        Sql { name: "fitroom_ledger_one", text: "UPDATE t SET n = n - $2 WHERE id = $1" };
    static TWO: Sql =
        Sql { name: "fitroom_ledger_two", text: "SELECT a FROM t WHERE b = $1 AND c = $1" };

    fn script() -> Script {
        let mut script = Script::new();
        script.control("BEGIN");
        script.push(&ONE, ["it's".into(), 2.into()]);
        script.push(&TWO, [None::<&str>.into()]);
        script
    }

    static SPEND: Sql = Sql {
        name: "fitroom_ledger_spend",
        text: "UPDATE wallet SET n = CASE WHEN n >= $2 THEN n - $2 ELSE -1 END WHERE id = $1",
    };
    static NOTE: Sql =
        Sql { name: "fitroom_ledger_note", text: "INSERT INTO notes (text) VALUES ($1)" };

    #[tokio::test]
    async fn a_refused_guard_stops_the_script_before_its_commit() {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = AnyConnection::connect("sqlite::memory:").await.expect("sqlite");
        sqlx::raw_sql(
            "CREATE TABLE wallet (id TEXT PRIMARY KEY, n BIGINT NOT NULL CHECK (n >= 0)); \
             CREATE TABLE notes (text TEXT); INSERT INTO wallet VALUES ('a', 1)",
        )
        .execute(&mut conn)
        .await
        .expect("schema");

        let mut script = Script::new();
        script.control("BEGIN");
        script.push_guarded(&SPEND, ["a".into(), 5.into()], 1);
        script.push(&NOTE, ["spent".into()]);
        script.control("COMMIT");
        let refused = script.run(&mut conn, Form::Prepared).await;
        assert!(
            matches!(refused, Err(LedgerError::Conflict)),
            "a guard that does not hold is a conflict"
        );
        sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.expect("the transaction is still open");

        let (n,): (i64,) =
            sqlx::query_as("SELECT n FROM wallet").fetch_one(&mut conn).await.expect("wallet");
        let (notes,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM notes").fetch_one(&mut conn).await.expect("notes");
        assert_eq!((n, notes), (1, 0), "nothing after the refused write was committed");
    }

    #[test]
    fn sqlite_scripts_number_parameters_across_statements() {
        assert_eq!(
            script().sql(None),
            "BEGIN;\nUPDATE t SET n = n - $2 WHERE id = $1;\nSELECT a FROM t WHERE b = $3 AND c = $3"
        );
        assert_eq!(script().values().len(), 3);
    }

    #[test]
    fn postgres_scripts_execute_prepared_statements_or_write_values_in() {
        assert_eq!(
            script().sql(Some(Form::Prepared)),
            "BEGIN;\nEXECUTE fitroom_ledger_one('it''s', 2);\nEXECUTE fitroom_ledger_two(NULL)"
        );
        assert_eq!(
            script().sql(Some(Form::Text)),
            "BEGIN;\nUPDATE t SET n = n - 2 WHERE id = 'it''s';\nSELECT a FROM t WHERE b = NULL AND c = NULL"
        );
    }
}
