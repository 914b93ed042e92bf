//! `ledger verify` as a recorded check: the credits ledger's and the spend ledger's invariants
//! and the audit log's hash chain, run from the CLI or the console, each run kept so that the console shows the last one.

use fitroom_types::admin::Verification;

use super::ConsoleError;
use crate::audit::{self, Head};
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
    // The admins' audit log is checked beside the ledger: it records who granted what. Each run
    // keeps the log's head, so that the next sees entries removed from its end; a broken log
    // keeps the head it was checked against, and is reported until someone looks into it.
    let kept = last_audit_head(db).await?;
    let chain = audit::verify_since(db, kept.as_ref()).await?;
    let head = if chain.broken.is_empty() { chain.head } else { kept };
    let audit_breaks = chain.broken;
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
    let kept_violations: Vec<&str> =
        violations.iter().take(KEPT_VIOLATIONS).map(String::as_str).collect();
    sqlx::query(
        "INSERT INTO ledger_checks (id, at, run_by, violations, summary, details, audit_seq, \
         audit_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now.millis())
    .bind(by)
    .bind(i64::try_from(violations.len()).unwrap_or(i64::MAX))
    .bind(&summary)
    .bind(kept_violations.join("\n"))
    .bind(head.as_ref().map(|h| h.seq))
    .bind(head.map(|h| h.hash))
    .execute(db.pool())
    .await?;
    Ok(Check { summary, violations })
}

/// The audit log's head as the most recent check that kept one found it.
async fn last_audit_head(db: &Db) -> Result<Option<Head>, sqlx::Error> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT audit_seq, audit_hash FROM ledger_checks \
         WHERE audit_seq IS NOT NULL AND audit_hash IS NOT NULL ORDER BY at DESC, id DESC LIMIT 1",
    )
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|(seq, hash)| Head { seq, hash }))
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
