//! Holds: freeze first-expiring-first, settle or release exactly once, idempotency, deadlines.

use fitroom_server::ids::{HoldId, JobId, UserId};
use fitroom_server::ledger::{
    Credits, FreezeRequest, Frozen, Grant, HoldState, Ledger, LedgerError,
};

use crate::common::{START, TestDb};

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

pub async fn freeze(
    ledger: &Ledger,
    user: &UserId,
    job: &JobId,
    n: i64,
    key: &str,
) -> Result<Frozen, LedgerError> {
    ledger
        .freeze(&FreezeRequest {
            id: HoldId::generate(),
            user: user.clone(),
            amount: credits(n),
            job: job.clone(),
            idempotency_key: key.into(),
            deadline: START.plus_days(1),
        })
        .await
}

async fn give(
    ledger: &Ledger,
    user: &UserId,
    n: i64,
    days: Option<i64>,
) -> fitroom_server::ids::PackageId {
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(n),
            name: "p".into(),
            expires_at: days.map(|d| START.plus_days(d)),
            source: None,
        })
        .await
        .expect("grant")
}

async fn a_freeze_takes_from_the_first_expiring_package_first_and_never_expiring_last(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let never = give(&ledger, &user, 5, None).await;
    let late = give(&ledger, &user, 2, Some(60)).await;
    let soon = give(&ledger, &user, 2, Some(10)).await;
    let job = t.job(&user).await;

    let hold = freeze(&ledger, &user, &job, 5, "k1").await.expect("freeze").hold;
    let mut taken: Vec<_> =
        hold.allocations.iter().map(|a| (a.package.clone(), a.amount.get())).collect();
    taken.sort();
    let mut expected = vec![(soon, 2), (late, 2), (never, 1)];
    expected.sort();
    assert_eq!(taken, expected);
    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!((balance.available, balance.held), (credits(4), credits(5)));
    t.assert_verified().await;
}

async fn equal_expiry_is_consumed_in_grant_order(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let first = give(&ledger, &user, 1, Some(10)).await;
    t.clock.advance_millis(1);
    let _second = ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(1),
            name: "p".into(),
            expires_at: Some(START.plus_days(10)),
            source: None,
        })
        .await
        .expect("grant");
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 1, "k").await.expect("freeze").hold;
    assert_eq!(hold.allocations[0].package, first);
}

async fn a_freeze_beyond_the_balance_fails_and_writes_nothing(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 2, Some(10)).await;
    let job = t.job(&user).await;
    let before = t.snapshot().await;
    let err = freeze(&ledger, &user, &job, 3, "k").await.expect_err("only 2 available");
    assert!(
        matches!(err, LedgerError::InsufficientCredits { requested, available } if requested.get() == 3 && available.get() == 2),
        "{err:?}"
    );
    assert_eq!(t.snapshot().await, before);
}

async fn a_freeze_for_an_unknown_user_is_refused_and_writes_nothing(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 2, None).await;
    let job = t.job(&user).await;
    let before = t.snapshot().await;
    let err = freeze(&ledger, &UserId::generate(), &job, 1, "k").await.expect_err("no such user");
    assert!(matches!(err, LedgerError::UnknownUser), "{err:?}");
    assert_eq!(t.snapshot().await, before);
}

async fn expired_packages_cannot_fund_a_freeze(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 5, Some(1)).await;
    t.clock.advance_days(1);
    let job = t.job(&user).await;
    let err = freeze(&ledger, &user, &job, 1, "k").await.expect_err("expired");
    assert!(matches!(err, LedgerError::InsufficientCredits { .. }));
}

async fn settle_consumes_exactly_what_was_held_and_only_once(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 3, Some(10)).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold;

    let first = ledger.settle(&hold.id).await.expect("settle");
    assert_eq!((first.state, first.replayed), (HoldState::Settled, false));
    t.set_job_status(&job, "succeeded").await;
    let entries_after_first = t.count("ledger_entries").await;

    let again = ledger.settle(&hold.id).await.expect("settle again");
    assert_eq!((again.state, again.replayed), (HoldState::Settled, true));
    assert_eq!(t.count("ledger_entries").await, entries_after_first, "a repeat writes nothing");

    let opposite = ledger.release(&hold.id).await.expect_err("already settled");
    assert!(matches!(opposite, LedgerError::AlreadyResolved(HoldState::Settled)));

    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!((balance.available, balance.held), (credits(1), credits(0)));
    assert_eq!(balance.packages[0].consumed, credits(2));
    t.assert_verified().await;
}

async fn release_gives_back_what_was_held_and_only_once(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 3, Some(10)).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold;

    assert!(!ledger.release(&hold.id).await.expect("release").replayed);
    t.set_job_status(&job, "failed").await;
    assert!(ledger.release(&hold.id).await.expect("release again").replayed);
    assert!(matches!(
        ledger.settle(&hold.id).await,
        Err(LedgerError::AlreadyResolved(HoldState::Released))
    ));

    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!((balance.available, balance.held), (credits(3), credits(0)));
    t.assert_verified().await;
}

async fn the_same_idempotency_key_answers_the_first_hold(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 5, None).await;
    let job = t.job(&user).await;
    let first = freeze(&ledger, &user, &job, 2, "same").await.expect("freeze");
    let second = freeze(&ledger, &user, &job, 2, "same").await.expect("freeze again");
    assert!(!first.replayed);
    assert!(second.replayed);
    assert_eq!(first.hold.id, second.hold.id);
    assert_eq!(ledger.balance(&user).await.expect("balance").held, credits(2));

    let other_job = t.job(&user).await;
    let mismatch =
        freeze(&ledger, &user, &other_job, 2, "same").await.expect_err("different request");
    assert!(matches!(mismatch, LedgerError::IdempotencyMismatch));
}

async fn credits_held_in_a_package_that_expires_still_settle(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let week = give(&ledger, &user, 3, Some(7)).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold;
    t.clock.advance_days(8);
    ledger.expire_due().await.expect("expire");

    ledger.settle(&hold.id).await.expect("settle after expiry");
    t.set_job_status(&job, "succeeded").await;
    let p = ledger
        .packages(&user)
        .await
        .expect("packages")
        .into_iter()
        .find(|p| p.id == week)
        .expect("package");
    assert_eq!((p.consumed, p.held, p.expired), (credits(2), credits(0), credits(1)));
    t.assert_verified().await;
}

async fn credits_released_into_an_expired_package_are_written_off(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let week = give(&ledger, &user, 3, Some(7)).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold;
    t.clock.advance_days(8);
    ledger.expire_due().await.expect("expire");

    ledger.release(&hold.id).await.expect("release after expiry");
    t.set_job_status(&job, "failed").await;
    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!(balance.available, credits(0));
    let p = balance.packages.iter().find(|p| p.id == week).expect("package");
    assert_eq!((p.consumed, p.held, p.expired), (credits(0), credits(0), credits(3)));
    t.assert_verified().await;
}

async fn open_holds_past_their_deadline_are_listed_for_the_reconciler(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    give(&ledger, &user, 2, None).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 1, "k").await.expect("freeze").hold;
    assert_eq!(ledger.overdue_holds(10).await.expect("list"), vec![], "not yet due");

    t.clock.advance_days(1);
    let overdue = ledger.overdue_holds(10).await.expect("list");
    assert_eq!(overdue.len(), 1);
    assert_eq!((&overdue[0].id, &overdue[0].job, &overdue[0].user), (&hold.id, &job, &user));
    // Listing changes nothing: the job and its hold end together, in the jobs module.
    assert_eq!(ledger.hold(&hold.id).await.expect("load").expect("hold").state, HoldState::Open);

    ledger.settle(&hold.id).await.expect("settle");
    assert_eq!(
        ledger.overdue_holds(10).await.expect("list"),
        vec![],
        "resolved holds are not overdue"
    );
}

/// Two processes on one database: `here` froze `hold` (2 of 5 credits), `elsewhere` froze 2 more
/// of the same package, so that the package alone cannot tell which hold moved.
struct Shared {
    here: Ledger,
    elsewhere: Ledger,
    user: UserId,
    job: JobId,
    hold: fitroom_server::ledger::Hold,
}

async fn shared_package_across_processes(t: &TestDb) -> Shared {
    let (here, elsewhere) = (t.ledger(), t.ledger());
    let user = t.user().await;
    give(&here, &user, 5, Some(10)).await;
    let job = t.job(&user).await;
    let hold = freeze(&here, &user, &job, 2, "k").await.expect("freeze").hold;
    let other = t.job(&user).await;
    freeze(&elsewhere, &user, &other, 2, "other").await.expect("freeze elsewhere");
    Shared { here, elsewhere, user, job, hold }
}

/// The process that froze a hold settles it without reading it back; the hold may have been
/// resolved by another process meanwhile, and then nothing may move twice.
async fn a_hold_released_by_another_process_is_not_then_settled_by_the_one_that_froze_it(
    t: TestDb,
) {
    let Shared { here, elsewhere, user, job, hold } = shared_package_across_processes(&t).await;

    assert!(!elsewhere.release(&hold.id).await.expect("released elsewhere").replayed);
    t.set_job_status(&job, "failed").await;
    let entries = t.count("ledger_entries").await;

    let settle = here.settle(&hold.id).await.expect_err("already released");
    assert!(matches!(settle, LedgerError::AlreadyResolved(HoldState::Released)), "{settle:?}");
    assert_eq!(t.count("ledger_entries").await, entries, "the refused settle wrote nothing");
    let balance = here.balance(&user).await.expect("balance");
    assert_eq!(
        (balance.available, balance.held, balance.packages[0].consumed),
        (credits(3), credits(2), credits(0))
    );
    t.assert_verified().await;
}

async fn a_hold_settled_by_another_process_is_answered_as_settled_once(t: TestDb) {
    let Shared { here, elsewhere, user, job, hold } = shared_package_across_processes(&t).await;

    assert!(!elsewhere.settle(&hold.id).await.expect("settled elsewhere").replayed);
    t.set_job_status(&job, "succeeded").await;
    let entries = t.count("ledger_entries").await;

    let again = here.settle(&hold.id).await.expect("settle here");
    assert_eq!((again.state, again.replayed), (HoldState::Settled, true));
    assert_eq!(t.count("ledger_entries").await, entries, "a repeat writes nothing");
    let balance = here.balance(&user).await.expect("balance");
    assert_eq!(
        (balance.available, balance.held, balance.packages[0].consumed),
        (credits(1), credits(2), credits(2))
    );
    t.assert_verified().await;
}

async fn an_unknown_hold_is_reported_as_such(t: TestDb) {
    let ledger = t.ledger();
    let missing = fitroom_server::ids::HoldId::generate();
    assert!(matches!(ledger.settle(&missing).await, Err(LedgerError::UnknownHold)));
    assert!(matches!(ledger.release(&missing).await, Err(LedgerError::UnknownHold)));
}

crate::on_both_databases!(
    a_freeze_takes_from_the_first_expiring_package_first_and_never_expiring_last,
    equal_expiry_is_consumed_in_grant_order,
    a_freeze_beyond_the_balance_fails_and_writes_nothing,
    a_freeze_for_an_unknown_user_is_refused_and_writes_nothing,
    expired_packages_cannot_fund_a_freeze,
    settle_consumes_exactly_what_was_held_and_only_once,
    release_gives_back_what_was_held_and_only_once,
    the_same_idempotency_key_answers_the_first_hold,
    credits_held_in_a_package_that_expires_still_settle,
    credits_released_into_an_expired_package_are_written_off,
    open_holds_past_their_deadline_are_listed_for_the_reconciler,
    an_unknown_hold_is_reported_as_such,
    a_hold_released_by_another_process_is_not_then_settled_by_the_one_that_froze_it,
    a_hold_settled_by_another_process_is_answered_as_settled_once,
);
