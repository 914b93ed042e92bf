//! Every statement a ledger transaction sends, written once with numbered parameters (`$1`…).
//!
//! Planning a statement costs more than running it for statements this small, so none is planned
//! twice on a connection: SQLite keeps each script's compiled statements in the driver's cache
//! (the script is one query with bound values), and PostgreSQL keeps them as named prepared
//! statements (`PREPARE`, then `EXECUTE name(…)` inside the multi-statement scripts, which the
//! extended protocol cannot carry). A PostgreSQL connection prepares the whole catalogue the
//! first time a ledger transaction finds it missing (`prepare_all`).

use sqlx::AnyConnection;

/// One ledger statement: its text with `$1`… parameters, and the name it is prepared under.
pub(crate) struct Statement {
    pub name: &'static str,
    pub text: &'static str,
}

/// A package's credits that are neither consumed, held, written off nor taken back by a refund:
/// the one formula every query and guard uses (a macro so that statements stay `'static` text).
macro_rules! free {
    () => {
        "(granted - consumed - held - expired - refunded)"
    };
}

/// The packages of user `$user` that can be spent from at time `$now`, with their free credits.
macro_rules! active {
    ($user:literal, $now:literal) => {
        concat!(
            "(SELECT id, ",
            free!(),
            " AS free, expires_at, granted_at FROM credit_packages \
             WHERE user_id = ",
            $user,
            " AND ",
            free!(),
            " > 0 AND (expires_at IS NULL OR expires_at > ",
            $now,
            "))"
        )
    };
}

/// A hold with its allocations and their packages, one row per allocation (every hold has one).
/// A hold's allocation is its `freeze` entries, found through the journal's key: the hold keeps
/// the number of the transaction that froze it.
macro_rules! hold_query {
    ($condition:literal) => {
        concat!(
            "SELECT h.id, h.user_id, h.job_id, h.amount, h.state, h.created_at, h.deadline_at, \
                    a.package_id, a.amount, p.expires_at, ",
            free!(),
            ", p.refund_target - p.refunded, p.payment \
             FROM holds h JOIN ledger_entries a ON a.user_id = h.user_id AND a.seq = h.freeze_seq \
             AND a.hold_id = h.id AND a.kind = 'freeze' JOIN credit_packages p ON p.id = a.package_id \
             WHERE ",
            $condition,
            " ORDER BY a.package_id"
        )
    };
}

// Guarded writes (`Script::push_guarded`) must stop the transaction when the state is not what
// the operation read: a script carries its `COMMIT`, and both databases run a script's statements
// to the end unless one fails, so a write that merely matched no row would be committed with the
// rest. Each guarded write therefore sets a value its table's CHECK constraint refuses (-1, or a
// state that is not one) when its condition does not hold: the database refuses the statement,
// the statements after it, `COMMIT` included, do not run, and the transaction is rolled back.

macro_rules! statements {
    ($($(#[$doc:meta])* $name:ident = $text:expr;)*) => {
        $(
            $(#[$doc])*
            pub(crate) static $name: Statement = Statement {
                name: concat!("fitroom_ledger_", stringify!($name)),
                text: $text,
            };
        )*
        /// The catalogue a PostgreSQL connection prepares.
        pub(crate) static ALL: &[&Statement] = &[$(&$name),*];
    };
}

statements! {
    /// Takes the user's lock and numbers the transaction (see `txn`).
    LOCK_USER = "UPDATE users SET ledger_seq = ledger_seq + 1 WHERE id = $1 RETURNING id, ledger_seq";
    /// The lock of a script that commits in the same round trip and needs nothing back from it:
    /// its writes read the number from the row (a row sent back costs SQLite's driver a hand-off
    /// between threads).
    LOCK_USER_QUIETLY = "UPDATE users SET ledger_seq = ledger_seq + 1 WHERE id = $1";
    LOCK_HOLD_OWNER = "UPDATE users SET ledger_seq = ledger_seq + 1 \
        WHERE id = (SELECT user_id FROM holds WHERE id = $1) RETURNING id, ledger_seq";
    INSERT_ENTRY = "INSERT INTO ledger_entries \
        (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
    /// An entry of a transaction whose lock travels in the same script, so its number is read
    /// from the row the lock has just bumped.
    INSERT_ENTRY_UNDER_LOCK = "INSERT INTO ledger_entries \
        (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference) \
        VALUES ($1, $2, (SELECT ledger_seq FROM users WHERE id = $2), $3, $4, $5, $6, $7, $8, $9, $10)";

    /// Expiry is judged in Rust against the time read after the lock, not in SQL.
    PACKAGES_WITH_CREDITS = concat!(
        "SELECT id, ", free!(), ", expires_at FROM credit_packages WHERE user_id = $1 AND ", free!(), " > 0 \
         ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, granted_at, id"
    );

    // A freeze is three statements that need nothing from Rust but the request: the database
    // allocates under the lock. They run in this order so that the allocation reads the packages
    // before they are reserved, and the reservation reads the allocation.

    /// The hold ($5 credits, created at $6), frozen by the transaction that holds the lock.
    /// Decisive: it refuses to be written (-1 credits) when the idempotency key was used before or
    /// the user's active packages hold fewer than $5 credits (an unknown user has none), so a
    /// one-round-trip freeze writes nothing then.
    FREEZE_HOLD = concat!(
        "INSERT INTO holds (id, user_id, job_id, idempotency_key, amount, state, created_at, deadline_at, freeze_seq) \
         VALUES ($1, $2, $3, $4, CASE WHEN NOT EXISTS (SELECT 1 FROM holds WHERE user_id = $2 AND idempotency_key = $4) \
         AND (SELECT CAST(COALESCE(SUM(free), 0) AS BIGINT) FROM ", active!("$2", "$6"), " AS active) >= $5 \
         THEN $5 ELSE -1 END, 'open', $6, $7, COALESCE((SELECT ledger_seq FROM users WHERE id = $2), 0))"
    );
    /// Hold $5 (job $6) takes $7 credits from user $2's packages active at $4, first-expiring-first:
    /// from each package what it has free, up to what the packages before it left to take. Each
    /// package taken from is one `freeze` entry, numbered in that order after line $3 of the
    /// transaction, with ids $1 followed by the line within the freeze; the entries are the
    /// allocation. One window gives both the running sum and the numbering: the packages taken
    /// are the first ones in its order, so their numbers run 1, 2, 3….
    FREEZE_ALLOCATE = concat!(
        "INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id) \
         SELECT CAST($1 AS TEXT) || CAST(n AS TEXT), u.id, u.ledger_seq, CAST($3 AS BIGINT) + n, CAST($4 AS BIGINT), \
         'freeze', CASE WHEN free < $7 - before THEN free ELSE $7 - before END, package_id, CAST($5 AS TEXT), \
         CAST($6 AS TEXT) FROM \
         (SELECT id AS package_id, free, ROW_NUMBER() OVER consumption AS n, \
         CAST(SUM(free) OVER consumption AS BIGINT) - free AS before FROM ", active!("$2", "$4"), " AS active \
         WINDOW consumption AS (ORDER BY CASE WHEN expires_at IS NULL THEN 1 ELSE 0 END, expires_at, granted_at, id \
         ROWS UNBOUNDED PRECEDING)) AS running \
         JOIN users u ON u.id = $2 WHERE before < $7 RETURNING package_id, amount"
    );
    /// The packages keep what hold $2 of user $1 allocated; their CHECK refuses an overdraft.
    FREEZE_RESERVE = "UPDATE credit_packages SET held = held + e.amount FROM ledger_entries e \
        WHERE e.user_id = $1 AND e.seq = (SELECT ledger_seq FROM users WHERE id = $1) AND e.hold_id = $2 \
        AND e.kind = 'freeze' AND credit_packages.id = e.package_id";

    HOLD_BY_KEY = hold_query!("h.user_id = $1 AND h.idempotency_key = $2");
    HOLD_BY_ID = hold_query!("h.id = $1");
    SETTLE_FROM_PACKAGE = "UPDATE credit_packages \
        SET held = CASE WHEN held >= $2 THEN held - $2 ELSE -1 END, consumed = consumed + $2 WHERE id = $1";
    RELEASE_TO_PACKAGE = "UPDATE credit_packages SET held = CASE WHEN held >= $2 THEN held - $2 ELSE -1 END \
        WHERE id = $1";
    RESOLVE_HOLD = "UPDATE holds SET state = CASE WHEN state = 'open' THEN $2 ELSE 'not open' END, resolved_at = $3 \
        WHERE id = $1";

    PACKAGE_BY_SOURCE = "SELECT id FROM credit_packages WHERE source = $1";
    INSERT_PACKAGE = "INSERT INTO credit_packages (id, user_id, name, granted, granted_at, expires_at, source) \
        VALUES ($1, $2, $3, $4, $5, $6, $7)";
    RECORD_PAYMENT = "UPDATE credit_packages SET payment = $2 WHERE id = $1 AND payment IS NULL";

    PACKAGE_FOR_REFUND = concat!(
        "SELECT granted, refund_target, refunded, ", free!(), ", expires_at, payment FROM credit_packages \
         WHERE id = $1 AND user_id = $2"
    );
    RAISE_REFUND_TARGET = "UPDATE credit_packages \
        SET refund_target = CASE WHEN refund_target = $3 THEN $2 ELSE -1 END WHERE id = $1";
    TAKE_BACK = concat!(
        "UPDATE credit_packages SET refunded = CASE WHEN ", free!(), " = $3 AND refund_target - refunded = $4 \
         THEN refunded + $2 ELSE -1 END WHERE id = $1"
    );

    PACKAGE_EXPIRY = concat!("SELECT ", free!(), ", expires_at FROM credit_packages WHERE id = $1");
    WRITE_OFF = concat!(
        "UPDATE credit_packages SET expired = CASE WHEN ", free!(), " = $2 THEN expired + $2 ELSE -1 END WHERE id = $1"
    );
}

/// PostgreSQL's answer when `EXECUTE` names a statement this connection has not prepared.
pub(crate) fn is_unprepared(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some("26000"))
}

/// Ends whatever transaction the connection was in (an `EXECUTE` that failed aborted it) and
/// prepares the catalogue, in one round trip.
pub(crate) async fn prepare_all(conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
    let mut sql = String::from("ROLLBACK");
    for statement in ALL {
        sql.push_str(";\nPREPARE ");
        sql.push_str(statement.name);
        sql.push_str(" AS ");
        sql.push_str(statement.text);
    }
    let mut results = sqlx::raw_sql(&sql).fetch_many(conn);
    while futures_util::TryStreamExt::try_next(&mut results).await?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_statement_has_its_own_name() {
        let mut names: Vec<_> = ALL.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn statements_carry_values_only_as_parameters() {
        // The scripts renumber and substitute `$n`; a quote other than a fixed literal would mean
        // a value was written into the text.
        for s in ALL {
            assert!(!s.text.contains(';'), "{}: one statement per entry", s.name);
            let quoted: Vec<_> = s.text.split('\'').skip(1).step_by(2).collect();
            for literal in quoted {
                assert!(
                    ["open", "not open", "failed", "queued", "processing", "freeze"]
                        .contains(&literal),
                    "{}: literal {literal:?}",
                    s.name
                );
            }
        }
    }
}
