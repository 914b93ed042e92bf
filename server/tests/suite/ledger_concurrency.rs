//! Concurrency: credits for one job can never fund ten concurrent ones.

use std::sync::Arc;

use fitroom_server::ledger::{Credits, Grant, HoldState, LedgerError, Resolution};

use crate::common::TestDb;
use crate::ledger_holds::freeze;

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

async fn sixty_four_concurrent_freezes_against_ten_credits_exactly_ten_succeed(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(10),
            name: "Ten".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    let mut jobs = Vec::new();
    for _ in 0..64 {
        jobs.push(t.job(&user).await);
    }

    let mut tasks = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let (ledger, user) = (ledger.clone(), user.clone());
        tasks.push(tokio::spawn(async move {
            freeze(&ledger, &user, &job, 1, &format!("key-{i}")).await
        }));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(LedgerError::InsufficientCredits { .. }) => {}
            Err(other) => panic!("only insufficient_credits may fail a freeze, got {other:?}"),
        }
    }
    assert_eq!(won, 10);
    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!((balance.available, balance.held), (credits(0), credits(10)));
    t.assert_verified().await;
}

async fn concurrent_settle_and_release_of_one_hold_exactly_one_wins(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(50),
            name: "Fifty".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    for round in 0..8 {
        let job = t.job(&user).await;
        let hold =
            freeze(&ledger, &user, &job, 1, &format!("round-{round}")).await.expect("freeze").hold;
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8 {
            let (ledger, id, barrier) = (ledger.clone(), hold.id.clone(), barrier.clone());
            let resolution = if i % 2 == 0 { Resolution::Settle } else { Resolution::Release };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                (resolution, ledger.resolve(&id, resolution).await)
            }));
        }
        let mut firsts = Vec::new();
        let mut final_state = None;
        for task in tasks {
            let (resolution, result) = task.await.expect("task");
            match result {
                Ok(resolved) => {
                    final_state.get_or_insert(resolved.state);
                    assert_eq!(
                        Some(resolved.state),
                        final_state,
                        "every success reports the same outcome"
                    );
                    if !resolved.replayed {
                        firsts.push(resolution);
                    }
                }
                Err(LedgerError::AlreadyResolved(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(firsts.len(), 1, "exactly one resolution wins, got {firsts:?}");
        let state = ledger.hold(&hold.id).await.expect("load").expect("hold").state;
        t.set_job_status(&job, if state == HoldState::Settled { "succeeded" } else { "failed" })
            .await;
    }
    t.assert_verified().await;
}

async fn sixteen_callers_with_one_idempotency_key_make_one_hold(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(100),
            name: "Hundred".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    let job = t.job(&user).await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let (ledger, user, job) = (ledger.clone(), user.clone(), job.clone());
        tasks.push(tokio::spawn(async move { freeze(&ledger, &user, &job, 3, "one-key").await }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task").expect("freeze").hold.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(t.count("holds").await, 1);
    assert_eq!(ledger.balance(&user).await.expect("balance").held, credits(3));
    t.assert_verified().await;
}

async fn many_users_spend_concurrently_without_touching_each_other(t: TestDb) {
    let ledger = t.ledger();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let user = t.user().await;
        ledger
            .grant(&Grant {
                user: user.clone(),
                credits: credits(4),
                name: "Four".into(),
                expires_at: None,
                source: None,
            })
            .await
            .expect("grant");
        let mut jobs = Vec::new();
        for _ in 0..6 {
            jobs.push(t.job(&user).await);
        }
        let ledger = ledger.clone();
        tasks.push(tokio::spawn(async move {
            let mut won = 0;
            for (i, job) in jobs.iter().enumerate() {
                if let Ok(f) = freeze(&ledger, &user, job, 1, &format!("k{i}")).await {
                    ledger.release(&f.hold.id).await.expect("release");
                    won += 1;
                }
            }
            (user, won)
        }));
    }
    for task in tasks {
        let (user, won) = task.await.expect("task");
        assert_eq!(won, 6, "released credits are reusable");
        assert_eq!(ledger.balance(&user).await.expect("balance").available, credits(4));
    }
    sqlx::query("UPDATE jobs SET status = 'failed'")
        .execute(t.db.pool())
        .await
        .expect("finish jobs");
    t.assert_verified().await;
}

/// On SQLite, freezes and settles that arrive together commit together (`batch`): a shopper who
/// is refused, or whose hold is already gone, must not cost the others in the same commit
/// anything, nor slip anything of theirs in.
async fn refused_operations_leave_those_committed_with_them_whole(t: TestDb) {
    let ledger = t.ledger();
    let mut shoppers = Vec::new();
    for i in 0..24 {
        let user = t.user().await;
        // Every third shopper has nothing to spend.
        if i % 3 != 0 {
            ledger
                .grant(&Grant {
                    user: user.clone(),
                    credits: credits(2),
                    name: "Two".into(),
                    expires_at: None,
                    source: None,
                })
                .await
                .expect("grant");
        }
        let jobs = [t.job(&user).await, t.job(&user).await, t.job(&user).await];
        shoppers.push((i, user, jobs));
    }

    let barrier = Arc::new(tokio::sync::Barrier::new(shoppers.len()));
    let mut tasks = Vec::new();
    for (i, user, jobs) in shoppers {
        let (ledger, barrier) = (ledger.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            // Three freezes of one credit against two: the third is refused.
            let mut outcomes = Vec::new();
            for (n, job) in jobs.iter().enumerate() {
                outcomes.push(freeze(&ledger, &user, job, 1, &format!("{i}-{n}")).await);
            }
            // The first hold is settled twice over: once, then answered as settled.
            if let Some(Ok(first)) = outcomes.first() {
                ledger.settle(&first.hold.id).await.expect("settle");
                let again = ledger.settle(&first.hold.id).await.expect("settle again");
                assert!(again.replayed);
            }
            (i, user, jobs, outcomes.into_iter().map(|o| o.map(|f| f.hold.id)).collect::<Vec<_>>())
        }));
    }
    for task in tasks {
        let (i, user, jobs, outcomes) = task.await.expect("task");
        let balance = ledger.balance(&user).await.expect("balance");
        if i % 3 == 0 {
            assert!(
                outcomes.iter().all(|o| matches!(o, Err(LedgerError::InsufficientCredits { .. }))),
                "{outcomes:?}"
            );
            assert_eq!((balance.available, balance.held), (credits(0), credits(0)));
        } else {
            assert!(outcomes[0].is_ok() && outcomes[1].is_ok(), "{outcomes:?}");
            assert!(
                matches!(outcomes[2], Err(LedgerError::InsufficientCredits { .. })),
                "{outcomes:?}"
            );
            // One settled, one still held.
            assert_eq!((balance.available, balance.held), (credits(0), credits(1)));
            t.set_job_status(&jobs[0], "succeeded").await;
        }
    }
    t.assert_verified().await;
}

crate::on_both_databases!(
    refused_operations_leave_those_committed_with_them_whole,
    sixty_four_concurrent_freezes_against_ten_credits_exactly_ten_succeed,
    concurrent_settle_and_release_of_one_hold_exactly_one_wins,
    sixteen_callers_with_one_idempotency_key_make_one_hold,
    many_users_spend_concurrently_without_touching_each_other,
);
