//! Fault injection: an error forced between the statements of a multi-row operation leaves no
//! partial state, and the operation succeeds once the fault is gone.

use fitroom_server::ledger::{Credits, FAULT_POINTS, Grant, LedgerError, RefundShare};

use fitroom_server::clock::Clock;

use crate::common::TestDb;
use crate::ledger_holds::freeze;

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

async fn every_fault_point_leaves_no_partial_state(t: TestDb) {
    let ledger = t.ledger();
    let mut exercised = Vec::new();
    for &point in FAULT_POINTS {
        let user = t.user().await;
        // Two packages, one expiring, so that operations touch several rows.
        ledger
            .grant(&Grant {
                user: user.clone(),
                credits: credits(1),
                name: "Soon".into(),
                expires_at: Some(t.clock.now().plus_days(400)),
                source: None,
            })
            .await
            .expect("grant");
        let never = ledger
            .grant(&Grant {
                user: user.clone(),
                credits: credits(3),
                name: "Never".into(),
                expires_at: None,
                source: None,
            })
            .await
            .expect("grant");
        let job = t.job(&user).await;

        // Bring the world to just before the operation that `point` interrupts.
        let family = point.split(':').next().unwrap_or_default();
        let hold = match family {
            "resolve" => Some(freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold),
            _ => None,
        };
        let before = t.snapshot().await;
        t.faults.arm(point);

        let result: Result<(), LedgerError> = match family {
            "grant" => ledger
                .grant(&Grant {
                    user: user.clone(),
                    credits: credits(5),
                    name: "More".into(),
                    expires_at: None,
                    source: None,
                })
                .await
                .map(|_| ()),
            "freeze" => freeze(&ledger, &user, &job, 2, "k").await.map(|_| ()),
            "resolve" => ledger.release(&hold.as_ref().expect("hold").id).await.map(|_| ()),
            "expire" => {
                t.clock.advance_days(401);
                ledger.expire_due().await.map(|_| ())
            }
            "refund" => ledger.refund_package(&never, RefundShare::FULL).await.map(|_| ()),
            other => panic!("no scenario for fault family {other}"),
        };
        let err = result.expect_err("the armed fault point must be reached");
        assert!(matches!(err, LedgerError::Fault(_)), "{point}: {err:?}");
        assert_eq!(t.snapshot().await, before, "{point} left partial state");

        t.faults.disarm_all();
        t.assert_verified().await;
        exercised.push(point);
    }
    assert_eq!(exercised.len(), FAULT_POINTS.len());
}

async fn after_a_fault_the_same_operation_completes_normally(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
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
    let job = t.job(&user).await;
    t.faults.arm("freeze:after_entries");
    assert!(freeze(&ledger, &user, &job, 1, "k").await.is_err());
    t.faults.disarm_all();
    let frozen = freeze(&ledger, &user, &job, 1, "k").await.expect("freeze after the fault");
    assert!(!frozen.replayed, "the failed attempt left no hold behind");
    assert_eq!(ledger.balance(&user).await.expect("balance").held, credits(1));
    t.assert_verified().await;
}

/// A request can be dropped at any await (a client gone, a timeout): the transaction in flight
/// must leave nothing behind and its connection must not carry it into the next one.
async fn operations_abandoned_at_any_point_leave_the_ledger_whole(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(1000),
            name: "p".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    for i in 0..60u64 {
        let job = t.job(&user).await;
        let key = format!("k{i}");
        // Cut off after a different delay each time, so that the cut lands between different
        // steps; where exactly does not matter, every outcome must leave the ledger whole.
        let cut = std::time::Duration::from_micros(40 * i);
        if let Ok(Ok(frozen)) =
            tokio::time::timeout(cut, freeze(&ledger, &user, &job, 1, &key)).await
        {
            let _ = tokio::time::timeout(cut, ledger.settle(&frozen.hold.id)).await;
        }
    }
    // A cut-off operation's last message may still be running on the server (longer behind
    // PgBouncer): wait until no other session of this database is inside a transaction.
    if t.db.backend() == fitroom_server::db::Backend::Postgres {
        for _ in 0..100 {
            let (busy,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND pid <> pg_backend_pid() AND state IN ('active', 'idle in transaction', 'idle in transaction (aborted)')",
            )
            .fetch_one(t.db.pool())
            .await
            .expect("activity");
            if busy == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
    // Jobs follow their holds (the job service's part, not under test here).
    sqlx::query("UPDATE jobs SET status = 'succeeded' WHERE id IN (SELECT job_id FROM holds WHERE state = 'settled')")
        .execute(t.db.pool())
        .await
        .expect("jobs");
    t.assert_verified().await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 1, "after").await.expect("the ledger still works").hold;
    ledger.settle(&hold.id).await.expect("and settles");
    let balance = ledger.balance(&user).await.expect("balance");
    let p = &balance.packages[0];
    assert_eq!(
        p.consumed.get() + p.held.get() + balance.available.get(),
        1000,
        "no credit lost or made"
    );
}

crate::on_both_databases!(
    every_fault_point_leaves_no_partial_state,
    after_a_fault_the_same_operation_completes_normally,
    operations_abandoned_at_any_point_leave_the_ledger_whole
);
