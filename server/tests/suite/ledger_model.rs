//! A property test: random sequences of grant / freeze / settle / release / clock advance /
//! expiry / deadline sweeps / refunds run against the real ledger and a tiny in-memory model; after every
//! step the two agree and `verify` finds every invariant intact.

use std::sync::Arc;

use fitroom_server::clock::{Clock, Timestamp};
use fitroom_server::db::Backend;
use fitroom_server::ids::{HoldId, JobId, PackageId, UserId};
use fitroom_server::ledger::{
    Credits, FreezeRequest, Grant, HoldState, Ledger, LedgerError, RefundShare,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::common::TestDb;

#[derive(Clone, Debug)]
enum Op {
    Grant { amount: i64, expires_in_hours: Option<i64> },
    Freeze { amount: i64 },
    Settle { pick: usize },
    Release { pick: usize },
    Advance { hours: i64 },
    ExpireDue,
    ReleaseOverdue,
    Refund { pick: usize, percent: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1i64..6, prop::option::of(1i64..96)).prop_map(|(amount, expires_in_hours)| Op::Grant { amount, expires_in_hours }),
        4 => (1i64..5).prop_map(|amount| Op::Freeze { amount }),
        2 => any::<usize>().prop_map(|pick| Op::Settle { pick }),
        2 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        2 => (1i64..48).prop_map(|hours| Op::Advance { hours }),
        1 => Just(Op::ExpireDue),
        1 => Just(Op::ReleaseOverdue),
        1 => (any::<usize>(), 1i64..=100).prop_map(|(pick, percent)| Op::Refund { pick, percent }),
    ]
}

#[derive(Clone, Debug)]
struct ModelPackage {
    id: PackageId,
    granted: i64,
    consumed: i64,
    held: i64,
    expired: i64,
    refund_target: i64,
    refunded: i64,
    granted_at: Timestamp,
    expires_at: Option<Timestamp>,
}

impl ModelPackage {
    fn free(&self) -> i64 {
        self.granted - self.consumed - self.held - self.expired - self.refunded
    }
    fn active_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
    fn expire_if_due(&mut self, now: Timestamp) {
        if !self.active_at(now) && self.free() > 0 {
            self.expired += self.free();
        }
    }
    /// What a refund still asks back, as far as it is free: returns how much it took.
    fn take_back_owed(&mut self) -> i64 {
        let take = self.free().min(self.refund_target - self.refunded).max(0);
        self.refunded += take;
        take
    }
}

#[derive(Clone, Debug)]
struct ModelHold {
    id: HoldId,
    job: JobId,
    allocations: Vec<(PackageId, i64)>,
    state: HoldState,
    deadline: Timestamp,
}

#[derive(Default)]
struct Model {
    packages: Vec<ModelPackage>,
    holds: Vec<ModelHold>,
}

impl Model {
    fn package(&mut self, id: &PackageId) -> &mut ModelPackage {
        self.packages.iter_mut().find(|p| &p.id == id).expect("model knows the package")
    }

    /// The greedy allocation the ledger must make: first-expiring-first, never-expiring last.
    fn allocate(&self, amount: i64, now: Timestamp) -> Option<Vec<(PackageId, i64)>> {
        let mut active: Vec<&ModelPackage> =
            self.packages.iter().filter(|p| p.active_at(now) && p.free() > 0).collect();
        active.sort_by_key(|p| (p.expires_at.is_none(), p.expires_at, p.granted_at, p.id.clone()));
        let mut left = amount;
        let mut out = Vec::new();
        for p in active {
            let take = left.min(p.free());
            if take > 0 {
                out.push((p.id.clone(), take));
                left -= take;
            }
        }
        (left == 0).then_some(out)
    }

    fn resolve(&mut self, index: usize, to: HoldState, now: Timestamp) {
        let hold = self.holds[index].clone();
        for (package, amount) in &hold.allocations {
            let p = self.package(package);
            p.held -= amount;
            if to == HoldState::Settled {
                p.consumed += amount;
            } else {
                p.take_back_owed();
                p.expire_if_due(now);
            }
        }
        self.holds[index].state = to;
    }
}

async fn run_case(t: &TestDb, ledger: &Ledger, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let user: UserId = t.user().await;
    let mut model = Model::default();
    for (step, op) in ops.into_iter().enumerate() {
        let now = t.clock.now();
        match op.clone() {
            Op::Grant { amount, expires_in_hours } => {
                let expires_at = expires_in_hours.map(|h| now.plus_secs(h * 3600));
                let id = ledger
                    .grant(&Grant {
                        user: user.clone(),
                        credits: c(amount),
                        name: format!("p{step}"),
                        expires_at,
                        source: None,
                    })
                    .await
                    .map_err(|e| TestCaseError::fail(format!("grant: {e}")))?;
                model.packages.push(ModelPackage {
                    id,
                    granted: amount,
                    consumed: 0,
                    held: 0,
                    expired: 0,
                    refund_target: 0,
                    refunded: 0,
                    granted_at: now,
                    expires_at,
                });
            }
            Op::Freeze { amount } => {
                let job = t.job(&user).await;
                let deadline = now.plus_secs(36 * 3600);
                let result = ledger
                    .freeze(&FreezeRequest {
                        id: HoldId::generate(),
                        user: user.clone(),
                        amount: c(amount),
                        job: job.clone(),
                        idempotency_key: format!("k{step}"),
                        deadline,
                    })
                    .await;
                match (model.allocate(amount, now), result) {
                    (Some(expected), Ok(frozen)) => {
                        let mut got: Vec<_> = frozen
                            .hold
                            .allocations
                            .iter()
                            .map(|a| (a.package.clone(), a.amount.get()))
                            .collect();
                        let mut want = expected.clone();
                        got.sort();
                        want.sort();
                        prop_assert_eq!(got, want, "step {}: allocation", step);
                        for (package, n) in &expected {
                            model.package(package).held += n;
                        }
                        model.holds.push(ModelHold {
                            id: frozen.hold.id,
                            job,
                            allocations: expected,
                            state: HoldState::Open,
                            deadline,
                        });
                    }
                    (None, Err(LedgerError::InsufficientCredits { .. })) => {
                        t.set_job_status(&job, "failed").await;
                    }
                    (expected, got) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: model says {expected:?}, ledger says {got:?}"
                        )));
                    }
                }
            }
            Op::Settle { pick } | Op::Release { pick } => {
                if model.holds.is_empty() {
                    continue;
                }
                let index = pick % model.holds.len();
                let hold = model.holds[index].clone();
                let settle = matches!(op, Op::Settle { .. });
                let target = if settle { HoldState::Settled } else { HoldState::Released };
                let result = if settle {
                    ledger.settle(&hold.id).await
                } else {
                    ledger.release(&hold.id).await
                };
                match (hold.state, result) {
                    (HoldState::Open, Ok(r)) => {
                        prop_assert!(!r.replayed);
                        model.resolve(index, target, now);
                        t.set_job_status(&hold.job, if settle { "succeeded" } else { "failed" })
                            .await;
                    }
                    (state, Ok(r)) if state == target => prop_assert!(r.replayed),
                    (state, Err(LedgerError::AlreadyResolved(s)))
                        if state != target && s == state => {}
                    (state, other) => {
                        return Err(TestCaseError::fail(format!(
                            "step {step}: hold was {state:?}, ledger said {other:?}"
                        )));
                    }
                }
            }
            Op::Advance { hours } => t.clock.advance_millis(hours * 3_600_000),
            Op::ExpireDue => {
                ledger.expire_due().await.map_err(|e| TestCaseError::fail(e.to_string()))?;
                for p in &mut model.packages {
                    p.expire_if_due(now);
                }
            }
            Op::Refund { pick, percent } => {
                if model.packages.is_empty() {
                    continue;
                }
                let index = pick % model.packages.len();
                let share = RefundShare::new(percent, 100)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                let refunded = ledger
                    .refund_package(&model.packages[index].id, share)
                    .await
                    .map_err(|e| TestCaseError::fail(format!("refund: {e}")))?;
                let p = &mut model.packages[index];
                p.refund_target = p.refund_target.max(p.granted * percent / 100);
                p.expire_if_due(now);
                let taken = p.take_back_owed();
                prop_assert_eq!(refunded.taken_back.get(), taken, "step {}: taken back", step);
                prop_assert_eq!(
                    refunded.owed.get(),
                    p.refund_target - p.refunded,
                    "step {}: owed",
                    step
                );
            }
            Op::ReleaseOverdue => {
                // The reconciler's part, done by hand: the ledger lists the overdue holds, each
                // is released and its job ends.
                let overdue = ledger
                    .overdue_holds(1000)
                    .await
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                for hold in overdue {
                    ledger
                        .release(&hold.id)
                        .await
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    t.set_job_status(&hold.job, "failed").await;
                }
                for i in 0..model.holds.len() {
                    if model.holds[i].state == HoldState::Open && model.holds[i].deadline <= now {
                        model.resolve(i, HoldState::Released, now);
                    }
                }
            }
        }

        // After every step: the database matches the model, and every invariant holds.
        let now = t.clock.now();
        let balance =
            ledger.balance(&user).await.map_err(|e| TestCaseError::fail(e.to_string()))?;
        for p in &model.packages {
            let stored = balance.packages.iter().find(|s| s.id == p.id).expect("package listed");
            prop_assert_eq!(
                (
                    stored.consumed.get(),
                    stored.held.get(),
                    stored.expired.get(),
                    stored.refunded.get()
                ),
                (p.consumed, p.held, p.expired, p.refunded),
                "step {} ({:?}): package {}",
                step,
                op,
                p.id
            );
        }
        let available: i64 =
            model.packages.iter().filter(|p| p.active_at(now)).map(|p| p.free()).sum();
        prop_assert_eq!(balance.available.get(), available, "step {}: available", step);
        let held: i64 = model.packages.iter().map(|p| p.held).sum();
        prop_assert_eq!(balance.held.get(), held, "step {}: held", step);
        let report = fitroom_server::ledger::verify::verify(&t.db)
            .await
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(report.is_clean(), "step {} ({:?}): {:#?}", step, op, report.violations);
    }
    Ok(())
}

fn c(n: i64) -> Credits {
    Credits::new(n).expect("the strategy generates positive amounts")
}

fn run_model(backend: Backend, default_cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let t = rt.block_on(TestDb::new(backend));
    let ledger = Ledger::with_faults(t.db.clone(), Arc::new(t.clock.clone()), t.faults.clone());
    let cases = std::env::var("FITROOM_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    let mut runner =
        TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    let strategy = prop::collection::vec(op(), 1..40);
    let result = runner.run(&strategy, |ops| rt.block_on(run_case(&t, &ledger, ops)));
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("ledger model: {cases} cases passed on {backend:?}");
}

#[test]
fn the_ledger_agrees_with_the_model_on_sqlite() {
    run_model(Backend::Sqlite, 128);
}

#[test]
fn the_ledger_agrees_with_the_model_on_postgres() {
    run_model(Backend::Postgres, 64);
}
