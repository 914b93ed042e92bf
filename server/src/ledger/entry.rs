//! The journal: the entries every change to a package appends, and reading them back.
//!
//! Invariant kept here: every change appends ledger entries that are never updated or deleted,
//! and replaying them rebuilds each package's consumed and held (and granted, expired, refunded;
//! `verify` does so). Entries are only ever inserted (`LedgerTx::entry`, and a freeze's
//! allocation, `FREEZE_ALLOCATE`); this module reads them. They are ordered by the user's
//! transaction number (`seq`, taken with the user's lock) and their line within it, not by
//! clocks, so replay order is the order in which the changes were made. The kind gives the
//! direction; the amount is always positive.

use serde::Serialize;

use crate::clock::Timestamp;
use crate::ids::{EntryId, HoldId, JobId, PackageId, UserId};
use crate::ledger::{Credits, Ledger, LedgerError};

/// What a journal line records; the kind gives the direction, the amount is always positive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    Grant,
    Freeze,
    Settle,
    Release,
    Expire,
    /// Credits taken back because the payment that bought the package was refunded.
    Refund,
}

impl EntryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Grant => "grant",
            EntryKind::Freeze => "freeze",
            EntryKind::Settle => "settle",
            EntryKind::Release => "release",
            EntryKind::Expire => "expire",
            EntryKind::Refund => "refund",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "grant" => EntryKind::Grant,
            "freeze" => EntryKind::Freeze,
            "settle" => EntryKind::Settle,
            "release" => EntryKind::Release,
            "expire" => EntryKind::Expire,
            "refund" => EntryKind::Refund,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    pub user: UserId,
    pub seq: i64,
    pub line: i64,
    pub at: Timestamp,
    pub kind: EntryKind,
    pub amount: Credits,
    pub package: Option<PackageId>,
    pub hold: Option<HoldId>,
    pub job: Option<JobId>,
    pub reference: Option<String>,
}

pub(crate) type EntryRow = (
    String,
    String,
    i64,
    i64,
    i64,
    String,
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub(crate) const ENTRY_COLUMNS: &str =
    "id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id, reference";

impl Entry {
    pub(crate) fn from_row(row: EntryRow) -> Result<Self, LedgerError> {
        let (id, user, seq, line, at, kind, amount, package, hold, job, reference) = row;
        let kind = EntryKind::parse(&kind).ok_or_else(|| {
            LedgerError::Database(sqlx::Error::Decode(
                format!("unknown entry kind {kind:?}").into(),
            ))
        })?;
        let amount = Credits::new(amount)
            .map_err(|e| LedgerError::Database(sqlx::Error::Decode(Box::new(e))))?;
        Ok(Entry {
            id: EntryId::from_string(id),
            user: UserId::from_string(user),
            seq,
            line,
            at: Timestamp::from_millis(at),
            kind,
            amount,
            package: package.map(PackageId::from_string),
            hold: hold.map(HoldId::from_string),
            job: job.map(JobId::from_string),
            reference,
        })
    }
}

impl Ledger {
    /// The user's journal, newest first.
    pub async fn entries(&self, user: &UserId, limit: u32) -> Result<Vec<Entry>, LedgerError> {
        let rows: Vec<EntryRow> = sqlx::query_as(&format!(
            "SELECT {ENTRY_COLUMNS} FROM ledger_entries WHERE user_id = $1 \
             ORDER BY seq DESC, line DESC LIMIT $2"
        ))
        .bind(user.as_str())
        .bind(i64::from(limit))
        .fetch_all(self.db.pool())
        .await?;
        rows.into_iter().map(Entry::from_row).collect()
    }
}
