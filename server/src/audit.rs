//! The operator console's audit log: every admin write, with who, what, on what and why.
//! Append-only: nothing in the code updates or deletes a row, and each row's hash covers the row
//! and the hash before it, so `verify` sees any row edited, removed or inserted out of order.

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use crate::clock::Timestamp;
use crate::db::{Db, with_retry};
use crate::ids::UserId;

/// One admin write, as recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub id: String,
    pub at: Timestamp,
    pub actor_id: String,
    pub actor_email: String,
    pub action: String,
    pub target: String,
    pub reason: String,
    pub hash: String,
}

/// The chain's hash of a row: every field length-prefixed, then the previous row's hash.
fn chain_hash(previous: &str, e: &AuditEntry) -> String {
    let mut hash = Sha256::new();
    let at = e.at.millis().to_string();
    let seq = e.seq.to_string();
    let fields: [&str; 9] = [
        previous,
        seq.as_str(),
        e.id.as_str(),
        at.as_str(),
        e.actor_id.as_str(),
        e.actor_email.as_str(),
        e.action.as_str(),
        e.target.as_str(),
        e.reason.as_str(),
    ];
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hex::encode(hash.finalize())
}

const COLUMNS: &str = "seq, id, at, actor_id, actor_email, action, target, reason, hash";

type Row = (i64, String, i64, String, String, String, String, String, String);

fn from_row((seq, id, at, actor_id, actor_email, action, target, reason, hash): Row) -> AuditEntry {
    AuditEntry {
        seq,
        id,
        at: Timestamp::from_millis(at),
        actor_id,
        actor_email,
        action,
        target,
        reason,
        hash,
    }
}

/// What an admin did, before it is recorded.
#[derive(Debug)]
pub struct AdminWrite<'a> {
    pub actor: &'a UserId,
    pub actor_email: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub reason: &'a str,
}

/// Appends `write` to the log in its own transaction (a write that has nothing else to commit,
/// such as running a verification).
pub async fn record(
    db: &Db,
    write: &AdminWrite<'_>,
    now: Timestamp,
) -> Result<AuditEntry, sqlx::Error> {
    with_retry(|| async {
        let mut tx = db.pool().begin().await?;
        let entry = record_in(&mut tx, write, now).await?;
        tx.commit().await?;
        Ok(entry)
    })
    .await
}

/// Appends `write` to the log on the caller's transaction, so that the entry exists exactly when
/// the write it records does. Two writes racing for the same place: the loser's insert waits for
/// the winner's commit, is refused by the unique `seq`, and takes the next place (each statement
/// reads what is committed, READ COMMITTED on PostgreSQL; SQLite has one writer at a time).
pub async fn record_in(
    conn: &mut AnyConnection,
    write: &AdminWrite<'_>,
    now: Timestamp,
) -> Result<AuditEntry, sqlx::Error> {
    let mut attempt = 0;
    loop {
        let last: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM admin_audit ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *conn)
                .await?;
        let (previous_seq, previous_hash) = last.unwrap_or((0, String::new()));
        let mut entry = AuditEntry {
            seq: previous_seq + 1,
            id: format!("aud_{}", uuid::Uuid::now_v7().simple()),
            at: now,
            actor_id: write.actor.to_string(),
            actor_email: write.actor_email.to_owned(),
            action: write.action.to_owned(),
            target: write.target.to_owned(),
            reason: write.reason.to_owned(),
            hash: String::new(),
        };
        entry.hash = chain_hash(&previous_hash, &entry);
        let inserted = sqlx::query(&format!(
            "INSERT INTO admin_audit ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING"
        ))
        .bind(entry.seq)
        .bind(&entry.id)
        .bind(entry.at.millis())
        .bind(&entry.actor_id)
        .bind(&entry.actor_email)
        .bind(&entry.action)
        .bind(&entry.target)
        .bind(&entry.reason)
        .bind(&entry.hash)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(entry);
        }
        attempt += 1;
        if attempt >= 20 {
            return Err(sqlx::Error::Protocol("the audit log stayed contended".into()));
        }
    }
}

/// The newest `limit` entries, newest first.
pub async fn newest(db: &Db, limit: i64) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_audit ORDER BY seq DESC LIMIT $1"))
            .bind(limit)
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(from_row).collect())
}

/// Where the chain ended when it was last verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// What a walk of the chain found.
#[derive(Debug)]
pub struct ChainCheck {
    /// One line per break; empty when the log is as written.
    pub broken: Vec<String>,
    /// The last entry, `None` for an empty log.
    pub head: Option<Head>,
}

/// Walks the whole chain; one line per break found (an empty list: the log is as written).
pub async fn verify(db: &Db) -> Result<Vec<String>, sqlx::Error> {
    Ok(verify_since(db, None).await?.broken)
}

/// Walks the whole chain, and checks that the head a former verification kept is still there
/// as it was: the chain alone cannot see its newest entries removed, or every entry.
pub async fn verify_since(db: &Db, kept: Option<&Head>) -> Result<ChainCheck, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM admin_audit ORDER BY seq"))
        .fetch_all(db.pool())
        .await?;
    let mut broken = Vec::new();
    let mut previous = String::new();
    let mut head = None;
    let mut kept_found = false;
    for (expected_seq, entry) in (1..).zip(rows.into_iter().map(from_row)) {
        if entry.seq != expected_seq {
            broken.push(format!(
                "audit entry {} is at place {}, expected {expected_seq}",
                entry.id, entry.seq
            ));
        }
        if chain_hash(&previous, &entry) != entry.hash {
            broken.push(format!("audit entry {} does not match its hash", entry.id));
        }
        if let Some(kept) = kept.filter(|k| k.seq == entry.seq) {
            kept_found = true;
            if kept.hash != entry.hash {
                broken.push(format!(
                    "audit entry {} at place {} changed since the last verification",
                    entry.id, entry.seq
                ));
            }
        }
        previous = entry.hash.clone();
        head = Some(Head { seq: entry.seq, hash: entry.hash });
    }
    if let Some(kept) = kept.filter(|_| !kept_found) {
        broken.push(format!(
            "the audit log's entries from place {} on are gone since the last verification",
            head.as_ref().map_or(1, |h| h.seq + 1).min(kept.seq)
        ));
    }
    Ok(ChainCheck { broken, head })
}
