//! A job's timeline: one append-only row per step, written in the same transaction as the step,
//! so it never claims a step that did not happen. Nothing updates or deletes these rows.

use crate::clock::Timestamp;
use crate::ids::{EventId, JobId};

/// What happened to a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Held,
    Routed,
    Submitted,
    SubmitFailed,
    Webhook,
    Polled,
    Stored,
    Settled,
    Released,
    Canceled,
    Failed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Held => "held",
            EventKind::Routed => "routed",
            EventKind::Submitted => "submitted",
            EventKind::SubmitFailed => "submit_failed",
            EventKind::Webhook => "webhook",
            EventKind::Polled => "polled",
            EventKind::Stored => "stored",
            EventKind::Settled => "settled",
            EventKind::Released => "released",
            EventKind::Canceled => "canceled",
            EventKind::Failed => "failed",
        }
    }
}

/// One step, as read back for the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobEvent {
    pub at: Timestamp,
    pub kind: String,
    pub detail: Option<String>,
}

/// Appends a step on the caller's connection (inside the transaction of the step it records).
pub(crate) async fn append<'c>(
    conn: impl sqlx::Executor<'c, Database = sqlx::Any>,
    job: &JobId,
    at: Timestamp,
    kind: EventKind,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO job_events (id, job_id, at, kind, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(EventId::generate().as_str())
    .bind(job.as_str())
    .bind(at.millis())
    .bind(kind.as_str())
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// A job's steps, oldest first.
pub(crate) async fn timeline(
    pool: &crate::db::Pool,
    job: &JobId,
) -> Result<Vec<JobEvent>, sqlx::Error> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT at, kind, detail FROM job_events WHERE job_id = $1 ORDER BY id")
            .bind(job.as_str())
            .fetch_all(pool)
            .await?;
    Ok(rows
        .into_iter()
        .map(|(at, kind, detail)| JobEvent { at: Timestamp::from_millis(at), kind, detail })
        .collect())
}
