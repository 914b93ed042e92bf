//! Several statements sent to the database in one round trip.
//!
//! A ledger operation is a handful of small statements; sent one by one, the round trips (to
//! PostgreSQL, or to SQLite's worker thread) cost more than the work. So an operation sends its
//! reads as one script and its writes (with the `COMMIT`) as another. Multi-statement text cannot
//! carry bind parameters, so values are written as SQL literals by the `Display` wrappers below:
//! integers as digits, text single-quoted with quotes doubled — the standard SQL string literal,
//! which both SQLite and PostgreSQL (with `standard_conforming_strings`, forced on at connect)
//! read back verbatim whatever the text holds. The one character neither can store, NUL, makes
//! the whole script refuse to run.

use std::fmt;

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Either};

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

/// An optional value: `NULL` when absent.
pub(crate) struct Opt<T>(pub Option<T>);

impl<T: fmt::Display> fmt::Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => v.fmt(f),
            None => f.write_str("NULL"),
        }
    }
}

/// Statements to run in order, in one round trip.
#[derive(Default)]
pub(crate) struct Script {
    statements: Vec<Statement>,
    /// The armed fault point this script stops at, if any (tests only).
    fault: Option<&'static str>,
}

struct Statement {
    sql: String,
    /// A guarded write must change exactly this many rows, or the transaction is abandoned.
    expect_rows: Option<u64>,
}

/// What each statement of a script returned, in order.
pub(crate) struct Results(Vec<Vec<AnyRow>>);

impl Results {
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

    /// Adds a statement; returns its index in the results.
    pub fn push(&mut self, sql: impl Into<String>) -> usize {
        self.statements.push(Statement { sql: sql.into(), expect_rows: None });
        self.statements.len() - 1
    }

    /// Adds a write that must change exactly `rows` rows: defence in depth behind the user's
    /// lock, which already keeps every other ledger transaction of this user out.
    pub fn push_guarded(&mut self, sql: impl Into<String>, rows: u64) -> usize {
        self.statements.push(Statement { sql: sql.into(), expect_rows: Some(rows) });
        self.statements.len() - 1
    }

    /// Appends another script's statements after this one's.
    pub fn append(&mut self, other: Script) {
        self.statements.extend(other.statements);
        self.fault = self.fault.or(other.fault);
    }

    /// A place between two statements where a test can make the script fail: when `point` is
    /// armed, a statement that the database refuses is sent here, so the statements before it
    /// really run and the transaction must undo them.
    pub fn fault_point(&mut self, faults: &FaultPoints, point: &'static str) {
        if self.fault.is_none() && faults.check(point).is_err() {
            self.fault = Some(point);
            self.push(format!("SELECT missing FROM \"fault injected at {point}\""));
        }
    }

    /// Sends every statement in one round trip and collects what each returned.
    pub async fn run(self, conn: &mut AnyConnection) -> Result<Results, LedgerError> {
        let sql = self.statements.iter().map(|s| s.sql.as_str()).collect::<Vec<_>>().join(";\n");
        if sql.contains('\0') {
            return Err(LedgerError::InvalidText);
        }
        let mut results: Vec<Vec<AnyRow>> = vec![Vec::new()];
        let mut stream = sqlx::raw_sql(&sql).fetch_many(conn);
        loop {
            let item = match stream.try_next().await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => return Err(self.fault.map_or(LedgerError::Database(e), |p| InjectedFault(p).into())),
            };
            match item {
                Either::Right(row) => {
                    if let Some(rows) = results.last_mut() {
                        rows.push(row);
                    }
                }
                Either::Left(done) => {
                    let index = results.len() - 1;
                    let expected = self.statements.get(index).and_then(|s| s.expect_rows);
                    if expected.is_some_and(|n| n != done.rows_affected()) {
                        return Err(LedgerError::Conflict);
                    }
                    results.push(Vec::new());
                }
            }
        }
        results.pop();
        if results.len() != self.statements.len() {
            // Every statement reports its end: fewer reports mean the script stopped early.
            return Err(self.fault.map_or(LedgerError::Conflict, |p| InjectedFault(p).into()));
        }
        Ok(Results(results))
    }
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
        assert_eq!(Opt(Some(Text("a"))).to_string(), "'a'");
        assert_eq!(Opt::<i64>(None).to_string(), "NULL");
    }
}
