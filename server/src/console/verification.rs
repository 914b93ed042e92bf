//! `ledger verify` as a recorded check: the credits ledger's and the spend ledger's invariants
//! and the audit log's hash chain, run from the CLI or the console, each run kept so that the console shows the last one.

use fitroom_types::admin::Verification;

use super::ConsoleError;
use crate::clock::Timestamp;
use crate::db::Db;
use crate::ledger::verify;

/// How many violations a stored check keeps; the run that found them reports them all.
const KEPT_VIOLATIONS: usize = 20;

/// Everything one check found.
#[derive(Debug)]
pub struct Check {
    pub summary: String,
    pub violations: Vec<String>,
}

impl Check {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Runs every check and records the run, `by` whom (`cli` or an admin's address).
pub async fn run(db: &Db, by: &str, now: Timestamp) -> Result<Check, ConsoleError> {
    let report = verify::verify(db).await?;
    // The admins' audit log is checked beside the ledger: it records who granted what.
    let audit_breaks = crate::audit::verify(db).await?;
    // And the providers' spend, the second ledger.
    let spend = crate::spend::verify::verify(db).await?;
    let mut violations = report.violations.clone();
    violations.extend(spend);
    violations.extend(audit_breaks);
    let summary = if violations.is_empty() {
        report.summary()
    } else {
        format!("ledger verify FAILED: {} violations", violations.len())
    };
    let kept: Vec<&str> = violations.iter().take(KEPT_VIOLATIONS).map(String::as_str).collect();
    sqlx::query(
        "INSERT INTO ledger_checks (id, at, run_by, violations, summary, details) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now.millis())
    .bind(by)
    .bind(i64::try_from(violations.len()).unwrap_or(i64::MAX))
    .bind(&summary)
    .bind(kept.join("\n"))
    .execute(db.pool())
    .await?;
    Ok(Check { summary, violations })
}

/// The most recent check, if any ran.
pub async fn last(db: &Db) -> Result<Option<Verification>, ConsoleError> {
    let row: Option<(i64, String, i64, String, String)> = sqlx::query_as(
        "SELECT at, run_by, violations, summary, details FROM ledger_checks \
         ORDER BY at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(at, by, violations, summary, details)| Verification {
        at: Timestamp::from_millis(at).to_rfc3339(),
        by,
        clean: violations == 0,
        summary,
        violations: details.lines().map(str::to_owned).filter(|l| !l.is_empty()).collect(),
    }))
}
