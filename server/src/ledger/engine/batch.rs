//! Group commit on SQLite: ledger transactions that arrive together share one round trip and
//! one commit.
//!
//! SQLite has one writer, so this process's ledger transactions queue on one gate (`gate`). Those
//! that need nothing read first — a freeze, whose database allocates under the lock, and the
//! settle of a hold this process froze (`known`) — are one script each: the lock and the writes.
//! Instead of each taking the gate in turn to send `BEGIN`, its script and `COMMIT`, they queue
//! their scripts here, and whoever gets the gate sends the queued scripts in one round trip, one
//! after the other, with one `COMMIT` for all:
//!
//! ```text
//! BEGIN; <lock, writes of the 1st>; <lock, writes of the 2nd>; …; COMMIT
//! ```
//!
//! Every operation is answered only after that `COMMIT`. When one stops (a decisive refusal, a
//! guard, an error), the script stops there and the whole batch is rolled back: the operation
//! that stopped is answered why, and the others go back to the front of the queue to run again
//! in the next batch (their statements carry every value they write, so running them again
//! writes the same). Stops are rare — a freeze refused for want of credits is answered by a
//! careful read anyway — so there is no savepoint around each operation, which would cost two
//! statements per operation in every batch. A `COMMIT` that fails is rolled back and every
//! operation of the batch is retried.
//!
//! A batch takes at most `MAX_BATCH` operations and sorts them by shape (a digest of their
//! statements without values), so that the driver sees few distinct texts and compiles each once: mostly
//! some number of freezes followed by some number of settles.
//!
//! Row counts: a batch cannot stop at a guarded write that merely matched another number of rows
//! than it must (the database runs on; the count is only read afterwards), so batched scripts rely
//! on refusals. Those they carry do refuse: a hold or package that does not exist makes the
//! journal entry's foreign key refuse; the state a guard expects is enforced by its CHECK. Should
//! a count still be off in a batch that committed, the batch is answered as committed and that
//! operation as a conflict: nothing is run twice.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Mutex;
use std::task::Poll;

use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use tokio::sync::oneshot;

use super::gate::{Gates, Turn};
use super::script::{Form, Results, Script, Stop};
use crate::db::Db;
use crate::ids::UserId;
use crate::ledger::LedgerError;

/// Enough to share the commit among a burst of shoppers, few enough shapes to stay compiled.
const MAX_BATCH: usize = 16;

/// An operation's answer: its statements' results, `None` when a decisive write refused.
type Answer = Result<Option<Results>, LedgerError>;

struct Queued {
    body: Script,
    shape: u64,
    answer: oneshot::Sender<Answer>,
}

#[derive(Default)]
pub struct Batches {
    queue: Mutex<VecDeque<Queued>>,
}

impl Batches {
    /// Group commit where the gate keeps SQLite's one writer between transactions; none on
    /// PostgreSQL, where each transaction commits on its own connection.
    pub(crate) fn for_gates(gates: &Gates) -> Option<Batches> {
        gates.keeps_connections().then(Batches::default)
    }

    /// Runs `body` (the lock and the writes of one operation, no `BEGIN` or `COMMIT`) in the
    /// next batch, and answers once that batch has committed.
    pub(crate) async fn commit(
        &self,
        gates: &Gates,
        db: &Db,
        user: &UserId,
        body: Script,
    ) -> Answer {
        let shape = body.shape();
        let (answer, mut answered) = oneshot::channel();
        self.lock_queue().push_back(Queued { body, shape, answer });
        loop {
            tokio::select! {
                biased;
                result = &mut answered => return result.unwrap_or(Err(LedgerError::Conflict)),
                turn = gates.enter(user) => self.lead(turn, db).await,
            }
        }
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        // A panic elsewhere while holding this lock left a queue that is still consistent.
        self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// With the gate: sends batches until the queue is empty. The one writer is what every
    /// operation waits for, so a committed batch's operations are answered once the next batch is
    /// on its way to the database, not before.
    async fn lead(&self, mut turn: Turn, db: &Db) {
        let mut conn = match turn.take_kept() {
            Some(conn) => conn,
            None => match db.pool().acquire().await {
                Ok(conn) => conn.detach(),
                Err(e) => {
                    let queued: Vec<_> = self.lock_queue().drain(..).collect();
                    fail_all(queued, LedgerError::Database(e));
                    return;
                }
            },
        };
        let mut committed = None;
        loop {
            let batch = self.next_batch();
            if batch.is_empty() {
                break;
            }
            let (sent, answers) = self.send(&mut conn, batch, committed.take()).await;
            committed = answers;
            if !sent {
                // A transaction that could not be ended: the connection is closed as it drops.
                if let Some(committed) = committed {
                    committed.answer();
                }
                return;
            }
        }
        if let Some(committed) = committed {
            committed.answer();
        }
        turn.keep(conn);
    }

    /// The oldest queued operations, at most `MAX_BATCH`.
    fn next_batch(&self) -> Vec<Queued> {
        let mut queue = self.lock_queue();
        let take = queue.len().min(MAX_BATCH);
        let mut batch: Vec<Queued> = queue.drain(..take).collect();
        // Independent operations (none waits for another's answer), so their order is free: in
        // shape order the batch's text depends only on how many of each shape it holds.
        batch.sort_by_key(|queued| queued.shape);
        batch
    }

    /// Sends one batch, answers the `previous` committed batch once this one is on its way, and
    /// answers this one's operations unless it committed: those it hands back. False when the
    /// connection was left inside a transaction.
    async fn send(
        &self,
        conn: &mut AnyConnection,
        batch: Vec<Queued>,
        previous: Option<Committed>,
    ) -> (bool, Option<Committed>) {
        let mut script = Script::new();
        script.control("BEGIN");
        // Where each operation's statements start and end.
        let mut spans = Vec::with_capacity(batch.len());
        for queued in &batch {
            let start = script.len();
            script.append(queued.body.clone());
            spans.push(start..script.len());
        }
        let commit = script.control("COMMIT");
        let mut running = script.collect(conn, Form::Prepared);
        // The first poll hands the script to the database's thread.
        let first = std::future::poll_fn(|cx| Poll::Ready(running.as_mut().poll(cx))).await;
        if let Some(previous) = previous {
            previous.answer();
        }
        let collected = match first {
            Poll::Ready(collected) => collected,
            Poll::Pending => running.as_mut().await,
        };
        drop(running);
        let collected = match collected {
            Ok(collected) => collected,
            // Refused before it was sent (a value neither database can store): nothing ran. The
            // error goes to one operation, the others retry and meet their own.
            Err(e) => {
                fail_all(batch, e);
                return (true, None);
            }
        };
        let Some((at, why)) = collected.stop else {
            return (
                true,
                Some(Committed { batch, spans, rows: collected.rows, miscounted: None }),
            );
        };
        if collected.ran_to_the_end {
            // Committed with a guarded write that changed another number of rows than it must
            // (see the module's comment on row counts): what is committed is answered as such,
            // the operation with the miscounted write as a conflict, and nothing runs twice.
            tracing::error!(
                statement = at,
                "a batched ledger write changed an unexpected number of rows"
            );
            return (
                true,
                Some(Committed { batch, spans, rows: collected.rows, miscounted: Some(at) }),
            );
        }
        // Nothing of a batch that stopped is kept.
        let ended = end(conn, &["ROLLBACK"]).await;
        let Some(stopped) = spans.iter().position(|span| span.contains(&at)) else {
            // `BEGIN` or `COMMIT` failed.
            let error = match why {
                Stop::Failed(e) if at == commit || at == 0 => e,
                _ => LedgerError::Conflict,
            };
            fail_all(batch, error);
            return (ended, None);
        };
        // The operation that stopped is answered why; the others run again, first in the next batch.
        let mut others = batch;
        let queued = others.remove(stopped);
        let _ = queued.answer.send(match why {
            Stop::Refused => Ok(None),
            Stop::Failed(e) => Err(e),
            Stop::Conflict => Err(LedgerError::Conflict),
        });
        let mut queue = self.lock_queue();
        for queued in others.into_iter().rev() {
            queue.push_front(queued);
        }
        (ended, None)
    }
}

/// A committed batch, not answered yet: its operations, where each one's statements are, every
/// statement's rows (`BEGIN`'s first), and the statement that changed an unexpected number of
/// rows, if any.
struct Committed {
    batch: Vec<Queued>,
    spans: Vec<Range<usize>>,
    rows: Vec<Vec<AnyRow>>,
    miscounted: Option<usize>,
}

impl Committed {
    /// Answers each operation with its statements' results; the one holding the miscounted
    /// statement with a conflict.
    fn answer(self) {
        let mut rows = self.rows.into_iter().skip(1);
        for (queued, span) in self.batch.into_iter().zip(&self.spans) {
            let results = Results::new(rows.by_ref().take(span.len()).collect());
            let answer = match self.miscounted {
                Some(at) if span.contains(&at) => Err(LedgerError::Conflict),
                _ => Ok(Some(results)),
            };
            let _ = queued.answer.send(answer);
        }
    }
}

/// Answers every operation of a batch that failed as a whole: the error to the first, a retry to
/// the others.
fn fail_all(batch: Vec<Queued>, error: LedgerError) {
    let mut error = Some(error);
    for queued in batch {
        let _ = queued.answer.send(Err(error.take().unwrap_or(LedgerError::Conflict)));
    }
}

/// Ends the batch's transaction with `statements`; false when that failed too.
async fn end(conn: &mut AnyConnection, statements: &[&'static str]) -> bool {
    let mut script = Script::new();
    for &statement in statements {
        script.control(statement);
    }
    matches!(script.collect(conn, Form::Prepared).await, Ok(collected) if collected.stop.is_none())
}
