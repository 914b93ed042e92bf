//! `fitroom ledger verify`: the ledger's invariants, checked over the whole database.
//!
//! What the other modules keep, this one checks, reading every package, hold, entry and job:
//! - per package 0 ≤ consumed + held ≤ granted (with expired and refunded credits counted too);
//! - a package's held = sum of its allocations in open holds, consumed = sum in settled holds;
//! - a hold moved exactly once: its journal holds its freeze, then one settle or one release of
//!   its whole amount, as its state says;
//! - every freeze took from active packages by `expires_at` ascending (never-expiring last, ties
//!   by grant time), all or nothing (`check_consumption_order`, against `allocate`);
//! - the journal has no holes, and replaying it rebuilds every package's consumed and held (and
//!   granted, expired, refunded);
//! - an `expire` entry wrote off only what was free after the package's expiry, so credits held
//!   when it expired were left to settle.
//!
//! A freeze refused for want of credits leaves nothing to check; one that overdrew would show as
//! a package beyond its grant. Holds and jobs must also agree, and refunds take back no more than
//! they ask.

use std::collections::{BTreeMap, HashMap};

use crate::clock::Timestamp;
use crate::db::Db;
use crate::ids::PackageId;
use crate::ledger::entry::{ENTRY_COLUMNS, EntryRow};
use crate::ledger::package::{PACKAGE_COLUMNS, PackageRow, consumption_key};
use crate::ledger::{Allocation, Credits, Entry, EntryKind, HoldState, LedgerError, Package};

#[derive(Debug, Default)]
pub struct Report {
    pub packages: usize,
    pub holds: usize,
    pub entries: usize,
    pub jobs: usize,
    pub violations: Vec<String>,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn summary(&self) -> String {
        format!(
            "ledger ok: {} packages, {} holds, {} entries, {} jobs; every invariant holds",
            self.packages, self.holds, self.entries, self.jobs
        )
    }
}

struct HoldRow {
    id: String,
    user: String,
    job: String,
    amount: i64,
    /// The ledger transaction that froze it, where its allocation (its freeze entries) lies.
    freeze_seq: i64,
    state: Option<HoldState>,
    raw_state: String,
}

#[derive(Default, Clone, Copy)]
struct Rebuilt {
    granted: i64,
    grants: u32,
    consumed: i64,
    held: i64,
    expired: i64,
    refunded: i64,
}

pub async fn verify(db: &Db) -> Result<Report, LedgerError> {
    // Every table is read from one snapshot: read one after another, an operation committing in
    // between (verify runs beside the live service) would look like a half-applied one, its
    // journal entry without its package's and hold's update. SQLite's read transaction keeps the
    // snapshot of its first read; PostgreSQL needs REPEATABLE READ for that.
    let mut tx = match db.backend() {
        crate::db::Backend::Postgres => {
            db.pool().begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY").await?
        }
        crate::db::Backend::Sqlite => db.pool().begin().await?,
    };
    let conn = &mut *tx;
    let packages: Vec<PackageRow> =
        sqlx::query_as(&format!("SELECT {PACKAGE_COLUMNS} FROM credit_packages"))
            .fetch_all(&mut *conn)
            .await?;
    let packages: Vec<Package> =
        packages.into_iter().map(Package::from_row).collect::<Result<_, _>>()?;
    let holds: Vec<(String, String, String, i64, String, i64)> =
        sqlx::query_as("SELECT id, user_id, job_id, amount, state, freeze_seq FROM holds")
            .fetch_all(&mut *conn)
            .await?;
    let holds: Vec<HoldRow> = holds
        .into_iter()
        .map(|(id, user, job, amount, raw_state, freeze_seq)| HoldRow {
            state: HoldState::parse(&raw_state),
            id,
            user,
            job,
            amount,
            freeze_seq,
            raw_state,
        })
        .collect();
    let entries: Vec<EntryRow> = sqlx::query_as(&format!(
        "SELECT {ENTRY_COLUMNS} FROM ledger_entries ORDER BY user_id, seq, line"
    ))
    .fetch_all(&mut *conn)
    .await?;
    let entries: Vec<Entry> = entries.into_iter().map(Entry::from_row).collect::<Result<_, _>>()?;
    let jobs: Vec<(String, String)> =
        sqlx::query_as("SELECT id, status FROM jobs").fetch_all(&mut *conn).await?;
    tx.rollback().await?;

    let mut report = Report {
        packages: packages.len(),
        holds: holds.len(),
        entries: entries.len(),
        jobs: jobs.len(),
        violations: Vec::new(),
    };
    let v = &mut report.violations;

    let package_by_id: HashMap<&str, &Package> =
        packages.iter().map(|p| (p.id.as_str(), p)).collect();
    let hold_by_id: HashMap<&str, &HoldRow> = holds.iter().map(|h| (h.id.as_str(), h)).collect();
    let job_status: HashMap<&str, &str> =
        jobs.iter().map(|(id, s)| (id.as_str(), s.as_str())).collect();

    // Allocations as the ledger reads them back: the freeze entries of the transaction each hold
    // names (`freeze_seq`). One pointing elsewhere leaves its hold short of its amount below.
    let allocations: Vec<(&str, &str, i64)> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Freeze)
        .filter_map(|e| {
            let hold = hold_by_id.get(e.hold.as_ref()?.as_str())?;
            let package = e.package.as_ref()?;
            let in_its_freeze = hold.user == e.user.as_str() && hold.freeze_seq == e.seq;
            in_its_freeze.then(|| (hold.id.as_str(), package.as_str(), e.amount.get()))
        })
        .collect();

    // Per package: 0 ≤ consumed + held (+ expired + refunded) ≤ granted.
    for p in &packages {
        let used = p.consumed.get() + p.held.get() + p.expired.get() + p.refunded.get();
        if used > p.granted.get() {
            v.push(format!(
                "package {}: consumed {} + held {} + expired {} + refunded {} exceeds granted {}",
                p.id, p.consumed, p.held, p.expired, p.refunded, p.granted
            ));
        }
        check_refund(p, v);
    }

    // held = Σ allocations of open holds; consumed = Σ allocations of settled holds.
    let mut open_alloc: HashMap<&str, i64> = HashMap::new();
    let mut settled_alloc: HashMap<&str, i64> = HashMap::new();
    let mut alloc_per_hold: HashMap<&str, i64> = HashMap::new();
    for &(hold, package, amount) in &allocations {
        *alloc_per_hold.entry(hold).or_default() += amount;
        match (package_by_id.get(package), hold_by_id.get(hold)) {
            (None, _) => {
                v.push(format!("allocation of hold {hold} names unknown package {package}"))
            }
            (Some(p), Some(h)) if p.user.as_str() != h.user => v.push(format!(
                "hold {hold} of user {} takes from package {package} of user {}",
                h.user, p.user
            )),
            _ => {}
        }
        match hold_by_id.get(hold).and_then(|h| h.state) {
            Some(HoldState::Open) => *open_alloc.entry(package).or_default() += amount,
            Some(HoldState::Settled) => *settled_alloc.entry(package).or_default() += amount,
            Some(HoldState::Released) => {}
            None => v.push(format!("allocation names unknown hold {hold}")),
        }
    }
    for p in &packages {
        let open = open_alloc.get(p.id.as_str()).copied().unwrap_or(0);
        if open != p.held.get() {
            v.push(format!(
                "package {}: held {} but its open holds allocate {}",
                p.id, p.held, open
            ));
        }
        let settled = settled_alloc.get(p.id.as_str()).copied().unwrap_or(0);
        if settled != p.consumed.get() {
            v.push(format!(
                "package {}: consumed {} but its settled holds allocate {}",
                p.id, p.consumed, settled
            ));
        }
    }

    // A hold reserves exactly its amount; its state is one of the three.
    for h in &holds {
        if h.state.is_none() {
            v.push(format!("hold {}: unknown state {:?}", h.id, h.raw_state));
        }
        let allocated = alloc_per_hold.get(h.id.as_str()).copied().unwrap_or(0);
        if allocated != h.amount {
            v.push(format!(
                "hold {}: amount {} but allocations sum to {}",
                h.id, h.amount, allocated
            ));
        }
    }

    // Entry ids are unique (by construction: no index enforces it since migration 0005).
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for e in &entries {
        *uses.entry(e.id.as_str()).or_default() += 1;
    }
    let mut reused: Vec<_> = uses.into_iter().filter(|(_, n)| *n > 1).collect();
    reused.sort_unstable();
    for (id, n) in reused {
        v.push(format!("entry id {id} is used by {n} entries"));
    }

    // The journal has no holes: within one transaction (user, seq) the lines run 1, 2, 3…, so an
    // entry deleted from the middle of a transaction shows; the replay below catches the rest.
    for pair in entries.windows(2) {
        let (prev, next) = (&pair[0], &pair[1]);
        let same_tx = prev.user == next.user && prev.seq == next.seq;
        let expected = if same_tx { prev.line + 1 } else { 1 };
        if next.line != expected {
            v.push(format!(
                "entry {}: line {} of transaction {} where line {expected} was expected",
                next.id, next.line, next.seq
            ));
        }
    }
    if let Some(first) = entries.first().filter(|e| e.line != 1) {
        v.push(format!(
            "entry {}: line {} of transaction {} where line 1 was expected",
            first.id, first.line, first.seq
        ));
    }

    // Replaying the journal rebuilds every package, and every hold moved exactly once.
    let mut rebuilt: HashMap<&str, Rebuilt> = HashMap::new();
    let mut per_hold: HashMap<&str, BTreeMap<&'static str, i64>> = HashMap::new();
    for e in &entries {
        let Some(package) = e.package.as_ref() else {
            v.push(format!("entry {}: {} without a package", e.id, e.kind.as_str()));
            continue;
        };
        let r = rebuilt.entry(package.as_str()).or_default();
        let a = e.amount.get();
        match e.kind {
            EntryKind::Grant => {
                r.granted += a;
                r.grants += 1;
            }
            EntryKind::Freeze => r.held += a,
            EntryKind::Settle => {
                r.held -= a;
                r.consumed += a;
            }
            EntryKind::Release => r.held -= a,
            EntryKind::Refund => r.refunded += a,
            EntryKind::Expire => {
                // An expiry writes off exactly what was then free (not consumed, held or refunded).
                let free = r.granted - r.consumed - r.held - r.expired - r.refunded;
                if a != free {
                    v.push(format!(
                        "entry {}: expire of {a} on package {package} whose remainder was {free}",
                        e.id
                    ));
                }
                r.expired += a;
                match package_by_id.get(package.as_str()).and_then(|p| p.expires_at) {
                    Some(at) if e.at >= at => {}
                    _ => v.push(format!(
                        "entry {}: expire on package {} before its expiry",
                        e.id, package
                    )),
                }
            }
        }
        if r.held < 0 {
            v.push(format!("entry {}: package {} would hold a negative amount", e.id, package));
        }
        if let Some(hold) = &e.hold {
            *per_hold.entry(hold.as_str()).or_default().entry(e.kind.as_str()).or_default() += a;
        } else if matches!(e.kind, EntryKind::Freeze | EntryKind::Settle | EntryKind::Release) {
            v.push(format!("entry {}: {} without a hold", e.id, e.kind.as_str()));
        }
    }
    for p in &packages {
        let r = rebuilt.get(p.id.as_str()).copied().unwrap_or_default();
        if r.grants != 1 || r.granted != p.granted.get() {
            v.push(format!(
                "package {}: granted {} but the journal grants {} in {} entries",
                p.id, p.granted, r.granted, r.grants
            ));
        }
        let stored = (p.consumed.get(), p.held.get(), p.expired.get(), p.refunded.get());
        if (r.consumed, r.held, r.expired, r.refunded) != stored {
            v.push(format!(
                "package {}: stored consumed/held/expired/refunded {}/{}/{}/{} but the journal rebuilds {}/{}/{}/{}",
                p.id, p.consumed, p.held, p.expired, p.refunded, r.consumed, r.held, r.expired, r.refunded
            ));
        }
    }
    for package in rebuilt.keys() {
        if !package_by_id.contains_key(package) {
            v.push(format!("journal names unknown package {package}"));
        }
    }
    for h in &holds {
        let moves = per_hold.get(h.id.as_str()).cloned().unwrap_or_default();
        let amount_of = |kind: &str| moves.get(kind).copied().unwrap_or(0);
        let expected: &[(&str, i64)] = match h.state {
            Some(HoldState::Open) => &[("freeze", h.amount), ("settle", 0), ("release", 0)],
            Some(HoldState::Settled) => {
                &[("freeze", h.amount), ("settle", h.amount), ("release", 0)]
            }
            Some(HoldState::Released) => {
                &[("freeze", h.amount), ("settle", 0), ("release", h.amount)]
            }
            None => &[],
        };
        for (kind, want) in expected {
            if amount_of(kind) != *want {
                v.push(format!(
                    "hold {} ({}): journal has {} {} entries totalling {}, expected {}",
                    h.id,
                    h.raw_state,
                    kind,
                    kind,
                    amount_of(kind),
                    want
                ));
            }
        }
    }

    // Holds and jobs agree.
    let mut holds_by_job: HashMap<&str, Vec<&HoldRow>> = HashMap::new();
    for h in &holds {
        holds_by_job.entry(h.job.as_str()).or_default().push(h);
        match job_status.get(h.job.as_str()) {
            None => v.push(format!("hold {}: its job {} does not exist", h.id, h.job)),
            Some(status) => {
                let finished = matches!(*status, "succeeded" | "failed" | "canceled");
                match (h.state, *status) {
                    (Some(HoldState::Open), _) if finished => {
                        v.push(format!("hold {} is open but its job {} is {}", h.id, h.job, status))
                    }
                    (Some(HoldState::Settled), s) if s != "succeeded" => {
                        v.push(format!("hold {} is settled but its job {} is {}", h.id, h.job, s))
                    }
                    (Some(HoldState::Released), "succeeded") => {
                        v.push(format!("hold {} is released but its job {} succeeded", h.id, h.job))
                    }
                    _ => {}
                }
            }
        }
    }
    for (job, status) in &jobs {
        if holds_by_job.get(job.as_str()).is_some_and(|hs| hs.len() > 1) {
            v.push(format!("job {job} has more than one hold"));
        }
        if status == "succeeded" && !holds_by_job.contains_key(job.as_str()) {
            v.push(format!("job {job} succeeded without a settled hold"));
        }
    }

    check_consumption_order(&entries, &packages, &hold_by_id, v);
    Ok(report)
}

/// A refund takes back at most what it asks for, and while it still asks for more the package has
/// nothing spendable (held credits are taken back when released, never left free).
fn check_refund(p: &Package, v: &mut Vec<String>) {
    if p.refunded > p.refund_target || p.refund_target > p.granted {
        v.push(format!(
            "package {}: refunded {} of a refund target {} (granted {})",
            p.id, p.refunded, p.refund_target, p.granted
        ));
    }
    let free =
        p.granted.get() - p.consumed.get() - p.held.get() - p.expired.get() - p.refunded.get();
    if p.refund_target > p.refunded && free > 0 {
        v.push(format!(
            "package {}: its refund still asks back {} but {} credits are left free",
            p.id,
            p.refund_target.get() - p.refunded.get(),
            free
        ));
    }
}

/// Replays each user's journal in order and checks that every freeze took from active packages
/// only, first-expiring-first, exactly as `freeze` would have with the state at that moment.
fn check_consumption_order(
    entries: &[Entry],
    packages: &[Package],
    holds: &HashMap<&str, &HoldRow>,
    v: &mut Vec<String>,
) {
    let package_by_id: HashMap<&PackageId, &Package> =
        packages.iter().map(|p| (&p.id, p)).collect();
    // Free (unheld, unconsumed, unexpired, unrefunded) credits per package, as of the replay point.
    let mut free: HashMap<&PackageId, i64> = HashMap::new();
    let mut i = 0;
    while i < entries.len() {
        // One transaction = the entries sharing (user, seq).
        let mut j = i;
        while j < entries.len()
            && entries[j].user == entries[i].user
            && entries[j].seq == entries[i].seq
        {
            j += 1;
        }
        let group = &entries[i..j];
        let at: Timestamp = group[0].at;
        let freezes: Vec<&Entry> = group.iter().filter(|e| e.kind == EntryKind::Freeze).collect();
        if let Some(first) = freezes.first() {
            let user = &first.user;
            let mut candidates: Vec<&Package> = free
                .iter()
                .filter(|(_, n)| **n > 0)
                .filter_map(|(id, _)| package_by_id.get(id).copied())
                .filter(|p| &p.user == user && !p.is_expired_at(at))
                .collect();
            candidates.sort_by(|a, b| consumption_key(a).cmp(&consumption_key(b)));
            let ordered: Vec<(PackageId, i64)> = candidates
                .iter()
                .map(|p| (p.id.clone(), free.get(&p.id).copied().unwrap_or(0)))
                .collect();
            let total: i64 = freezes.iter().map(|e| e.amount.get()).sum();
            let mut want: Vec<(PackageId, i64)> = allocate(&ordered, total)
                .unwrap_or_default()
                .into_iter()
                .map(|a| (a.package, a.amount.get()))
                .collect();
            let mut got: Vec<(PackageId, i64)> = freezes
                .iter()
                .filter_map(|e| e.package.clone().map(|p| (p, e.amount.get())))
                .collect();
            want.sort();
            got.sort();
            if want != got {
                let hold = first.hold.as_ref().map_or("?", |h| h.as_str());
                let known = holds.contains_key(hold);
                v.push(format!(
                    "hold {hold}{}: froze {got:?} but first-expiring-first from active packages gives {want:?}",
                    if known { "" } else { " (unknown hold)" }
                ));
            }
        }
        for e in group {
            let Some(p) = e.package.as_ref() else { continue };
            let Some(package) = package_by_id.get(p) else { continue };
            let slot = free.entry(&package.id).or_insert(0);
            match e.kind {
                EntryKind::Grant => *slot += e.amount.get(),
                EntryKind::Freeze => *slot -= e.amount.get(),
                EntryKind::Release => *slot += e.amount.get(),
                EntryKind::Expire | EntryKind::Refund => *slot -= e.amount.get(),
                EntryKind::Settle => {}
            }
        }
        i = j;
    }
}

/// Takes `amount` from `free` (package, unheld credits) in the given order; all or nothing. The
/// database allocates a freeze (`FREEZE_ALLOCATE`); this is the model the replay holds it to.
pub fn allocate(free: &[(PackageId, i64)], amount: i64) -> Option<Vec<Allocation>> {
    let mut left = amount;
    let mut allocations = Vec::new();
    for (package, available) in free {
        if left == 0 {
            break;
        }
        let take = left.min(*available);
        if take > 0 {
            allocations
                .push(Allocation { package: package.clone(), amount: Credits::new(take).ok()? });
            left -= take;
        }
    }
    (left == 0).then_some(allocations)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkg(n: &str) -> PackageId {
        PackageId::from_string(n)
    }

    #[test]
    fn allocation_takes_packages_in_order_and_splits_across_them() {
        let free = vec![(pkg("a"), 2), (pkg("b"), 5)];
        let got = allocate(&free, 4).expect("enough");
        assert_eq!(
            got,
            vec![
                Allocation { package: pkg("a"), amount: Credits::new(2).unwrap_or_default() },
                Allocation { package: pkg("b"), amount: Credits::new(2).unwrap_or_default() },
            ]
        );
    }

    #[test]
    fn allocation_is_all_or_nothing() {
        assert_eq!(allocate(&[(pkg("a"), 2), (pkg("b"), 1)], 4), None);
    }
}
