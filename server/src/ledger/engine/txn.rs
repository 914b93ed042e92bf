//! `LedgerTx`: one ledger transaction of one user, from its lock to its commit, on its own
//! connection, through SQLite's group commit, or inside a caller's transaction.

use std::sync::Arc;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, Transaction};

use super::batch::Batches;
use super::gate::{Gates, Turn};
use super::known::KnownHolds;
use super::script::{Form, Results, Script, Value};
use super::statements::{
    self, INSERT_ENTRY, INSERT_ENTRY_UNDER_LOCK, LOCK_HOLD_OWNER, LOCK_USER, LOCK_USER_QUIETLY,
};
use crate::clock::Timestamp;
use crate::db::{Db, Pooler};
use crate::ids::{EntryId, HoldId, JobId, PackageId, UserId};
use crate::ledger::{Credits, EntryKind, Hold, Ledger, LedgerError};

/// Whose ledger a transaction locks: a user's, or the owner's of a hold.
#[derive(Clone, Debug)]
enum Lock {
    User(UserId),
    Hold(HoldId),
}

enum Conn {
    /// Our own connection, not taken yet: an operation that needs nothing read commits through
    /// SQLite's group commit without ever holding the gate itself (`batch`).
    Pending,
    /// A connection of our own: `BEGIN` travels with the first script and `COMMIT` with the last,
    /// so a short operation costs two round trips.
    Own { conn: Option<Lease>, begun: bool },
    /// A caller's transaction that the ledger continues (an account and its sign-up package).
    Borrowed(Transaction<'static, Any>),
    /// Committed by SQLite's group commit: nothing is left to send.
    Batched,
}

/// Where our own connection comes from, and goes back to.
enum Lease {
    Pooled(PoolConnection<Any>),
    /// SQLite's writer connection, kept by the gate between transactions (see `gate`).
    Kept(AnyConnection),
}

impl std::ops::Deref for Lease {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        match self {
            Lease::Pooled(c) => c,
            Lease::Kept(c) => c,
        }
    }
}

impl std::ops::DerefMut for Lease {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match self {
            Lease::Pooled(c) => c,
            Lease::Kept(c) => c,
        }
    }
}

/// One ledger transaction of one user. Its first statement bumps the user's `ledger_seq`: that
/// write takes the user's lock (a row lock on PostgreSQL, the write lock on SQLite) before
/// anything is read, so the balance check and the reservation are atomic, and it numbers the
/// entries for replay. Writes are queued and sent with the commit.
pub struct LedgerTx {
    conn: Conn,
    gates: Arc<Gates>,
    /// SQLite's group commit; none on PostgreSQL.
    batches: Option<Arc<Batches>>,
    db: Db,
    /// Whose gate the transaction queues on.
    owner: UserId,
    /// This process's turn for the user (see `gate`); given back when the transaction ends.
    turn: Option<Turn>,
    lock: Lock,
    /// Known once the lock is taken, or assumed (`assume_locked`: its `seq` is then unknown).
    locked: Option<Locked>,
    line: i64,
    writes: Script,
    clock: crate::clock::SharedClock,
    known: Arc<KnownHolds>,
    /// Holds this transaction created, remembered once it commits.
    frozen: Vec<Hold>,
}

#[derive(Clone, Debug)]
struct Locked {
    user: UserId,
    /// The transaction's number; unknown until the lock has answered (`assume_locked`).
    seq: Option<i64>,
    /// Read after the lock so that entry times follow the replay order (for an assumed lock,
    /// after this process's gate, which orders the user's transactions in this process).
    now: Timestamp,
}

impl LedgerTx {
    /// A transaction of `user`'s ledger. Nothing is sent until the operation's first script.
    pub(crate) async fn begin(ledger: &Ledger, user: &UserId) -> Result<Self, LedgerError> {
        Self::own(ledger, user, Lock::User(user.clone())).await
    }

    /// Like `begin`, for operations that know only the hold. Its owner is read first (a hold
    /// never changes owner) to queue on the right gate; the lock statement checks it again.
    pub(crate) async fn begin_for_hold(
        ledger: &Ledger,
        hold: &HoldId,
    ) -> Result<Self, LedgerError> {
        let owner = match ledger.known.owner_of(hold) {
            Some(owner) => owner,
            None => {
                let row: Option<(String,)> =
                    sqlx::query_as("SELECT user_id FROM holds WHERE id = $1")
                        .bind(hold.as_str())
                        .fetch_optional(ledger.db.pool())
                        .await?;
                UserId::from_string(row.ok_or(LedgerError::UnknownHold)?.0)
            }
        };
        Self::own(ledger, &owner, Lock::Hold(hold.clone())).await
    }

    /// Nothing is taken yet: the gate and the connection come with the first script (`attach`).
    async fn own(ledger: &Ledger, user: &UserId, lock: Lock) -> Result<Self, LedgerError> {
        Ok(Self::new(ledger, user, lock, Conn::Pending))
    }

    /// Continues a caller's transaction as a ledger transaction of `user`, and takes the lock.
    /// No gate: the caller may already hold database locks (a new account's row), and waiting
    /// on a gate while holding them could stall whoever holds the gate.
    pub async fn begin_in(
        ledger: &Ledger,
        tx: Transaction<'static, Any>,
        user: &UserId,
    ) -> Result<Self, LedgerError> {
        let mut this = Self::new(ledger, user, Lock::User(user.clone()), Conn::Borrowed(tx));
        this.read(Script::new()).await?;
        Ok(this)
    }

    /// A transaction of `user`'s ledger on `conn` that has sent nothing yet.
    fn new(ledger: &Ledger, user: &UserId, lock: Lock, conn: Conn) -> Self {
        LedgerTx {
            conn,
            gates: ledger.gates.clone(),
            batches: ledger.batches.clone(),
            db: ledger.db.clone(),
            owner: user.clone(),
            turn: None,
            lock,
            locked: None,
            line: 0,
            writes: Script::new(),
            clock: ledger.clock.clone(),
            known: ledger.known.clone(),
            frozen: Vec::new(),
        }
    }

    /// Takes the owner's turn at the gate, then a connection: the turn comes first, so a queued
    /// request holds no connection.
    async fn attach(&mut self) -> Result<(), LedgerError> {
        if !matches!(self.conn, Conn::Pending) {
            return Ok(());
        }
        let mut turn = self.gates.enter(&self.owner).await;
        let conn = match turn.take_kept() {
            Some(kept) => Lease::Kept(kept),
            None if self.gates.keeps_connections() => {
                Lease::Kept(self.db.pool().acquire().await?.detach())
            }
            None => Lease::Pooled(self.db.pool().acquire().await?),
        };
        self.turn = Some(turn);
        self.conn = Conn::Own { conn: Some(conn), begun: false };
        Ok(())
    }

    /// Own transactions use the connection's prepared statements; a caller's transaction gets
    /// the statements' text, since preparing them there could abort the caller's work, and so
    /// does every transaction behind a transaction pooler, whose server connections keep no
    /// statement of ours from one transaction to the next.
    fn form(&self) -> Form {
        if self.db.pool().pooler() == Pooler::Transaction {
            return Form::Text;
        }
        match self.conn {
            Conn::Own { .. } | Conn::Pending | Conn::Batched => Form::Prepared,
            Conn::Borrowed(_) => Form::Text,
        }
    }

    fn connection(&mut self) -> Result<&mut AnyConnection, LedgerError> {
        match &mut self.conn {
            Conn::Pending => Err(LedgerError::NotLocked),
            Conn::Own { conn: Some(conn), .. } => Ok(&mut **conn),
            Conn::Own { conn: None, .. } | Conn::Batched => {
                Err(LedgerError::Database(sqlx::Error::PoolClosed))
            }
            Conn::Borrowed(tx) => Ok(&mut **tx),
        }
    }

    /// Runs `reads` in one round trip and answers each statement's rows. The first script of the
    /// transaction also opens it and takes the lock, in the same round trip.
    pub(crate) async fn read(&mut self, reads: Script) -> Result<Results, LedgerError> {
        self.attach().await?;
        let form = self.form();
        if self.lock_taken() {
            return reads.run(self.connection()?, form).await;
        }
        let (mut script, lock) = self.opening();
        script.append(reads);
        let results = self.run_opening(script).await?;
        let row = results.rows(lock).first().ok_or(match self.lock {
            Lock::User(_) => LedgerError::UnknownUser,
            Lock::Hold(_) => LedgerError::UnknownHold,
        })?;
        use sqlx::Row;
        let user: String = row.try_get(0)?;
        let seq: i64 = row.try_get(1)?;
        // An assumed lock keeps the time its queued entries already carry.
        let now = self.locked.as_ref().map_or_else(|| self.clock.now(), |l| l.now);
        self.locked = Some(Locked { user: UserId::from_string(user), seq: Some(seq), now });
        Ok(results.skip(lock + 1))
    }

    /// The start of the transaction's first script: `BEGIN` (on our own connection) and the lock
    /// statement, whose index is returned.
    fn opening(&mut self) -> (Script, usize) {
        let mut script = Script::new();
        let pooled = self.db.pool().pooler() == Pooler::Transaction;
        if let Conn::Own { begun, .. } = &mut self.conn {
            script.control("BEGIN");
            if pooled {
                // Callers may run their own statements in this transaction (`conn`): as in
                // `Pool::begin`, nothing another client named on this server connection may stay.
                script.control("DEALLOCATE ALL");
            }
            *begun = true;
        }
        let lock = self.push_lock(&mut script);
        (script, lock)
    }

    /// Adds the lock statement to `script`; returns its index.
    fn push_lock(&self, script: &mut Script) -> usize {
        match &self.lock {
            Lock::User(user) => script.push(&LOCK_USER, [user.as_str().into()]),
            Lock::Hold(hold) => script.push(&LOCK_HOLD_OWNER, [hold.as_str().into()]),
        }
    }

    /// The script an operation hands to the group commit: the lock, which answers nothing there
    /// (its writes read the number themselves, see `batch`), then `writes`. Returns it with the
    /// index of the writes' first statement.
    fn batch_body(&self, writes: Script) -> (Script, usize) {
        let mut body = Script::new();
        match &self.lock {
            Lock::User(user) => body.push(&LOCK_USER_QUIETLY, [user.as_str().into()]),
            Lock::Hold(hold) => body.push(&LOCK_HOLD_OWNER, [hold.as_str().into()]),
        };
        let first = body.len();
        body.append(writes);
        (body, first)
    }

    /// Runs the transaction's first script.
    async fn run_opening(&mut self, script: Script) -> Result<Results, LedgerError> {
        self.run_opening_or_refused(script).await?.ok_or(LedgerError::Conflict)
    }

    /// Runs the transaction's first script; `None` when a decisive write refused.
    async fn run_opening_or_refused(
        &mut self,
        script: Script,
    ) -> Result<Option<Results>, LedgerError> {
        let form = self.form();
        let conn = self.connection()?;
        match script.run_or_refused(conn, form).await {
            // A connection that has not prepared the ledger's statements yet (PostgreSQL): the
            // failed `EXECUTE` aborted only this transaction's first script, which nothing but
            // this `BEGIN` preceded, so prepare them and send it again.
            Err(LedgerError::Database(e))
                if form == Form::Prepared && statements::is_unprepared(&e) =>
            {
                statements::prepare_all(conn).await?;
                script.run_or_refused(conn, form).await
            }
            result => result,
        }
    }

    /// Takes the assumed lock, runs `writes` and commits, all in one round trip: for an operation
    /// that needs nothing read first because its writes carry their own checks (decisive writes,
    /// `Script::push_decisive`). Answers what the writes returned, or `None` when a decisive write
    /// refused: then nothing was written, and the transaction starts over, so that its next
    /// script takes the lock again and can read why. The writes must also refuse when the lock
    /// finds no user (a freeze finds no credits then): the lock's own row count is only known
    /// once the whole script has run.
    pub(crate) async fn commit_in_one_round_trip(
        &mut self,
        writes: Script,
    ) -> Result<Option<Results>, LedgerError> {
        if !self.is_locked() || self.lock_taken() || !self.writes.is_empty() {
            return Err(LedgerError::NotLocked);
        }
        if let Some(batches) = self.batches() {
            let (body, first) = self.batch_body(writes);
            let Some(results) = batches.commit(&self.gates, &self.db, &self.owner, body).await?
            else {
                self.start_over();
                return Ok(None);
            };
            self.batch_committed();
            return Ok(Some(results.skip(first)));
        }
        self.attach().await?;
        let (mut script, lock) = self.opening();
        script.append(writes);
        script.control("COMMIT");
        let results = match self.run_opening_or_refused(script).await {
            Ok(Some(results)) => results,
            Ok(None) => {
                self.rollback_own().await;
                if matches!(self.conn, Conn::Own { begun: true, .. }) {
                    // Not rolled back: this connection is closed when the transaction drops, and
                    // the operation starts over on another.
                    return Err(LedgerError::Conflict);
                }
                self.start_over();
                return Ok(None);
            }
            Err(e) => return self.committed(Err(e)).await.map(|()| None),
        };
        self.committed(Ok(())).await?;
        self.lock_committed(&results, lock)?;
        Ok(Some(results.skip(lock + 1)))
    }

    /// After a refused one-round-trip commit, which wrote nothing: the next script takes the lock
    /// again and numbers its lines from the first.
    fn start_over(&mut self) {
        self.locked = None;
        self.line = 0;
    }

    /// SQLite's group commit, for a transaction that has not taken the gate itself: one that
    /// holds it would wait for itself there.
    fn batches(&self) -> Option<&Batches> {
        self.batches.as_deref().filter(|_| matches!(self.conn, Conn::Pending))
    }

    /// After the group commit took the lock and committed: `commit` afterwards sends nothing.
    fn batch_committed(&mut self) {
        self.conn = Conn::Batched;
        for hold in std::mem::take(&mut self.frozen) {
            self.known.remember(&hold);
        }
    }

    /// After a script that took the lock and committed: what `commit` does afterwards (sending
    /// nothing) must find the lock taken, and the holds frozen are remembered.
    fn lock_committed(&mut self, results: &Results, lock: usize) -> Result<(), LedgerError> {
        if let Some(locked) = &mut self.locked {
            use sqlx::Row;
            locked.seq =
                Some(results.rows(lock).first().ok_or(LedgerError::UnknownUser)?.try_get(1)?);
        }
        for hold in std::mem::take(&mut self.frozen) {
            self.known.remember(&hold);
        }
        Ok(())
    }

    /// Sends the queued writes and `script` now, inside the transaction, and answers what the
    /// statements of `script` returned: for writes whose results the operation needs before it
    /// goes on (a freeze's allocation). The lock must be taken.
    pub(crate) async fn send(&mut self, script: Script) -> Result<Results, LedgerError> {
        if !self.lock_taken() {
            return Err(LedgerError::NotLocked);
        }
        let mut all = std::mem::take(&mut self.writes);
        let queued = all.len();
        all.append(script);
        let form = self.form();
        Ok(all.run(self.connection()?, form).await?.skip(queued))
    }

    /// The number of the transaction's last journal line so far.
    pub(crate) fn last_line(&self) -> i64 {
        self.line
    }

    /// Counts `n` journal lines that a statement numbered itself after `last_line`.
    pub(crate) fn take_lines(&mut self, n: usize) {
        self.line += n as i64;
    }

    /// Goes on as if `user`'s lock were taken, without a round trip: the lock statement is sent
    /// with the writes and the commit. Only for an operation that needs to read nothing because
    /// what it depends on cannot have changed or is checked by guarded writes (`known`), on a
    /// transaction of our own that has sent nothing yet.
    pub(crate) fn assume_locked(&mut self, user: &UserId) -> Result<(), LedgerError> {
        if self.locked.is_some()
            || !matches!(self.conn, Conn::Own { begun: false, .. } | Conn::Pending)
        {
            return Err(LedgerError::NotLocked);
        }
        self.lock = Lock::User(user.clone());
        self.locked = Some(Locked { user: user.clone(), seq: None, now: self.clock.now() });
        Ok(())
    }

    /// Whether the lock statement has answered (an assumed lock has not: it goes out with the
    /// writes and the commit, in one round trip).
    fn lock_taken(&self) -> bool {
        self.locked.as_ref().is_some_and(|l| l.seq.is_some())
    }

    /// Whether the lock has been taken or assumed.
    pub(crate) fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    /// Remembers a hold this transaction created once the transaction commits (`known`).
    pub(crate) fn remember_on_commit(&mut self, hold: &Hold) {
        self.frozen.push(hold.clone());
    }

    fn locked(&self) -> Result<&Locked, LedgerError> {
        // Every operation reads (and so locks) before it writes; this only guards that order. Not
        // `Conflict`: a misordered operation would fail the same way on every retry.
        self.locked.as_ref().ok_or(LedgerError::NotLocked)
    }

    /// The user whose ledger this is (known once the lock is taken).
    pub fn user(&self) -> Result<&UserId, LedgerError> {
        Ok(&self.locked()?.user)
    }

    /// The transaction's time, read right after the lock.
    pub fn now(&self) -> Result<Timestamp, LedgerError> {
        Ok(self.locked()?.now)
    }

    /// Takes the lock if not yet taken, sends the queued writes, and hands out the connection
    /// for statements that belong in the same transaction (a job beside its hold).
    pub async fn conn(&mut self) -> Result<&mut AnyConnection, LedgerError> {
        if !self.lock_taken() {
            self.read(Script::new()).await?;
        }
        if !self.writes.is_empty() {
            let writes = std::mem::take(&mut self.writes);
            let form = self.form();
            writes.run(self.connection()?, form).await?;
        }
        self.connection()
    }

    /// Queues writes, sent with the commit.
    pub(crate) fn writes(&mut self) -> &mut Script {
        &mut self.writes
    }

    /// Queues one journal line. Entries are only ever inserted.
    pub(crate) fn entry(
        &mut self,
        kind: EntryKind,
        amount: Credits,
        package: Option<&PackageId>,
        hold: Option<&HoldId>,
        job: Option<&JobId>,
        reference: Option<&str>,
    ) -> Result<(), LedgerError> {
        let locked = self.locked()?.clone();
        self.line += 1;
        let id = EntryId::generate();
        let (user, line, at) =
            (locked.user.as_str().into(), self.line.into(), locked.now.millis().into());
        let (kind, amount) = (kind.as_str().into(), amount.get().into());
        let package = package.map(PackageId::as_str).into();
        let hold = hold.map(HoldId::as_str).into();
        let job = job.map(JobId::as_str).into();
        let reference = Value::from(reference);
        match locked.seq {
            Some(seq) => self.writes.push(
                &INSERT_ENTRY,
                [
                    id.as_str().into(),
                    user,
                    seq.into(),
                    line,
                    at,
                    kind,
                    amount,
                    package,
                    hold,
                    job,
                    reference,
                ],
            ),
            None => self.writes.push(
                &INSERT_ENTRY_UNDER_LOCK,
                [id.as_str().into(), user, line, at, kind, amount, package, hold, job, reference],
            ),
        };
        Ok(())
    }

    /// Sends the queued writes and commits, in one round trip of our own connection.
    pub async fn commit(mut self) -> Result<(), LedgerError> {
        let committed = self.send_commit().await;
        if committed.is_ok() {
            for hold in std::mem::take(&mut self.frozen) {
                self.known.remember(&hold);
            }
        }
        committed
    }

    async fn send_commit(&mut self) -> Result<(), LedgerError> {
        if matches!(self.conn, Conn::Batched) {
            return Ok(());
        }
        let writes = std::mem::take(&mut self.writes);
        if self.is_locked() && !self.lock_taken() {
            if let Some(batches) = self.batches() {
                // Its writes refuse what the lock's row count would (see `batch`).
                let (body, _) = self.batch_body(writes);
                batches
                    .commit(&self.gates, &self.db, &self.owner, body)
                    .await?
                    .ok_or(LedgerError::Conflict)?;
                return Ok(());
            }
            self.attach().await?;
            // The lock, the writes and the commit in one round trip. The lock must find its row:
            // a guard, like the writes'.
            let (mut script, lock) = self.opening();
            script.set_guard(lock, 1);
            script.append(writes);
            script.control("COMMIT");
            let result = self.run_opening(script).await.map(drop);
            return self.committed(result).await;
        }
        let form = self.form();
        match &mut self.conn {
            Conn::Pending | Conn::Batched => Ok(()),
            Conn::Own { conn, begun } => {
                if !*begun {
                    return Ok(());
                }
                let mut script = writes;
                script.control("COMMIT");
                let Some(c) = conn.as_mut() else {
                    return Err(LedgerError::Database(sqlx::Error::PoolClosed));
                };
                let result = script.run(c, form).await.map(drop);
                self.committed(result).await
            }
            Conn::Borrowed(tx) => {
                if !writes.is_empty() {
                    writes.run(tx, Form::Text).await?;
                }
                match std::mem::replace(&mut self.conn, Conn::Own { conn: None, begun: false }) {
                    Conn::Borrowed(tx) => tx.commit().await.map_err(Into::into),
                    Conn::Own { .. } | Conn::Pending | Conn::Batched => Ok(()),
                }
            }
        }
    }

    /// After our own connection's commit script: closed on success, rolled back otherwise.
    async fn committed(&mut self, result: Result<(), LedgerError>) -> Result<(), LedgerError> {
        if result.is_ok() {
            if let Conn::Own { begun, .. } = &mut self.conn {
                *begun = false;
            }
        } else {
            self.rollback_own().await;
        }
        result
    }

    /// Abandons everything: nothing queued is sent, nothing sent stays.
    pub async fn rollback(mut self) -> Result<(), LedgerError> {
        match std::mem::replace(&mut self.conn, Conn::Own { conn: None, begun: false }) {
            Conn::Borrowed(tx) => tx.rollback().await.map_err(Into::into),
            own => {
                self.conn = own;
                self.rollback_own().await;
                Ok(())
            }
        }
    }

    /// Commits when the operation succeeded, rolls back when it failed, and answers its result.
    pub async fn end<T, E: From<LedgerError>>(self, result: Result<T, E>) -> Result<T, E> {
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(e) => {
                if let Err(failed) = self.rollback().await {
                    tracing::warn!(error = %failed, "rolling back a ledger transaction failed");
                }
                Err(e)
            }
        }
    }

    async fn rollback_own(&mut self) {
        let Conn::Own { conn, begun } = &mut self.conn else {
            return;
        };
        if !*begun {
            return;
        }
        if let Some(c) = conn.as_mut() {
            let mut script = Script::new();
            script.control("ROLLBACK");
            if script.run(c, Form::Prepared).await.is_ok() {
                *begun = false;
            }
        }
        // A connection that could not roll back is closed by `drop`, which ends its transaction.
    }
}

impl Drop for LedgerTx {
    /// A transaction dropped half-way (an error path, a cancelled request) must not go back to
    /// the pool or the gate still open: the connection is closed instead, and the database rolls
    /// it back. A finished one goes back where it came from.
    fn drop(&mut self) {
        let Conn::Own { conn, begun } = &mut self.conn else { return };
        match (conn.take(), *begun) {
            (Some(Lease::Kept(c)), false) => {
                if let Some(turn) = &mut self.turn {
                    turn.keep(c);
                }
            }
            (Some(Lease::Pooled(c)), true) => drop(c.detach()),
            // Pooled and finished: back to the pool as it drops. Kept and unfinished: closed.
            _ => {}
        }
    }
}
