//! `verify` names each violation of a database that was corrupted on purpose.

use fitroom_server::ids::{PackageId, UserId};
use fitroom_server::ledger::{Credits, Grant, Ledger, RefundShare, verify};

use crate::common::TestDb;
use crate::ledger_holds::freeze;

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

async fn corrupted(t: &TestDb, sql: &str) -> Vec<String> {
    sqlx::query(sql).execute(t.db.pool()).await.expect("corrupt on purpose");
    verify::verify(&t.db).await.expect("verify runs").violations
}

async fn five_credits(ledger: &Ledger, user: &UserId) -> PackageId {
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(5),
            name: "Five".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant")
}

async fn verify_names_each_kind_of_corruption(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let package = five_credits(&ledger, &user).await;
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 2, "k").await.expect("freeze").hold;
    t.assert_verified().await;

    let v =
        corrupted(&t, &format!("UPDATE credit_packages SET held = 3 WHERE id = '{package}'")).await;
    assert!(v.iter().any(|m| m.contains("held 3 but its open holds allocate 2")), "{v:#?}");
    corrupted(&t, &format!("UPDATE credit_packages SET held = 2 WHERE id = '{package}'")).await;

    let v =
        corrupted(&t, &format!("UPDATE jobs SET status = 'succeeded' WHERE id = '{job}'")).await;
    assert!(v.iter().any(|m| m.contains("is open but its job")), "{v:#?}");
    corrupted(&t, &format!("UPDATE jobs SET status = 'queued' WHERE id = '{job}'")).await;

    let v = corrupted(&t, &format!("UPDATE holds SET state = 'settled' WHERE id = '{}'", hold.id))
        .await;
    assert!(v.iter().any(|m| m.contains("settled but its job")), "{v:#?}");
    assert!(v.iter().any(|m| m.contains("consumed 0 but its settled holds allocate 2")), "{v:#?}");
    corrupted(&t, &format!("UPDATE holds SET state = 'open' WHERE id = '{}'", hold.id)).await;

    // A hold that points at another transaction than its freeze has lost its allocation.
    let v = corrupted(
        &t,
        &format!("UPDATE holds SET freeze_seq = freeze_seq + 1 WHERE id = '{}'", hold.id),
    )
    .await;
    assert!(v.iter().any(|m| m.contains("amount 2 but allocations sum to 0")), "{v:#?}");
    assert!(v.iter().any(|m| m.contains("held 2 but its open holds allocate 0")), "{v:#?}");
    corrupted(
        &t,
        &format!("UPDATE holds SET freeze_seq = freeze_seq - 1 WHERE id = '{}'", hold.id),
    )
    .await;

    let v = corrupted(
        &t,
        &format!("DELETE FROM ledger_entries WHERE kind = 'freeze' AND package_id = '{package}'"),
    )
    .await;
    assert!(v.iter().any(|m| m.contains("journal rebuilds")), "{v:#?}");
}

async fn verify_catches_a_freeze_that_skipped_the_first_expiring_package(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let soon = ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(1),
            name: "Soon".into(),
            expires_at: Some(t.clock_now().plus_days(1)),
            source: None,
        })
        .await
        .expect("grant");
    let never = ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(1),
            name: "Never".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    let job = t.job(&user).await;
    let hold = freeze(&ledger, &user, &job, 1, "k").await.expect("freeze").hold;
    assert_eq!(hold.allocations[0].package, soon);

    // Rewrite history as if the never-expiring package had been used first.
    for sql in [
        format!("UPDATE credit_packages SET held = 0 WHERE id = '{soon}'"),
        format!("UPDATE credit_packages SET held = 1 WHERE id = '{never}'"),
        format!("UPDATE ledger_entries SET package_id = '{never}' WHERE hold_id = '{}'", hold.id),
    ] {
        sqlx::query(&sql).execute(t.db.pool()).await.expect("rewrite");
    }
    let v = verify::verify(&t.db).await.expect("verify").violations;
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(v[0].contains("first-expiring-first"), "{v:#?}");
}

async fn verify_catches_a_wrong_write_off_a_reused_entry_id_and_a_hole_in_the_journal(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let soon = |days| Some(t.clock_now().plus_days(days));
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(1),
            name: "Gift".into(),
            expires_at: soon(1),
            source: None,
        })
        .await
        .expect("grant");
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(2),
            name: "Soon".into(),
            expires_at: soon(30),
            source: None,
        })
        .await
        .expect("grant");
    ledger
        .grant(&Grant {
            user: user.clone(),
            credits: credits(3),
            name: "Never".into(),
            expires_at: None,
            source: None,
        })
        .await
        .expect("grant");
    t.clock.advance_days(2);
    assert_eq!(ledger.expire_due().await.expect("expire"), 1);
    let job = t.job(&user).await;
    // Three credits from two packages: one transaction, two freeze lines.
    let hold = freeze(&ledger, &user, &job, 3, "k").await.expect("freeze").hold;
    assert_eq!(hold.allocations.len(), 2);
    t.assert_verified().await;

    let v = corrupted(&t, "UPDATE ledger_entries SET amount = 2 WHERE kind = 'expire'").await;
    assert!(
        v.iter().any(|m| m.contains("expire of 2") && m.contains("whose remainder was 1")),
        "{v:#?}"
    );
    corrupted(&t, "UPDATE ledger_entries SET amount = 1 WHERE kind = 'expire'").await;
    t.assert_verified().await;

    let ids: Vec<(String,)> = sqlx::query_as(&format!(
        "SELECT id FROM ledger_entries WHERE hold_id = '{}' ORDER BY line",
        hold.id
    ))
    .fetch_all(t.db.pool())
    .await
    .expect("the freeze's entries");
    let (first, second) = (&ids[0].0, &ids[1].0);
    let v =
        corrupted(&t, &format!("UPDATE ledger_entries SET id = '{first}' WHERE id = '{second}'"))
            .await;
    assert_eq!(v, vec![format!("entry id {first} is used by 2 entries")]);
    corrupted(
        &t,
        &format!(
            "UPDATE ledger_entries SET id = '{second}' WHERE hold_id = '{}' AND line = 2",
            hold.id
        ),
    )
    .await;
    t.assert_verified().await;

    let v = corrupted(
        &t,
        &format!("DELETE FROM ledger_entries WHERE hold_id = '{}' AND line = 1", hold.id),
    )
    .await;
    assert!(
        v.iter().any(|m| m.contains("line 2 of transaction") && m.contains("line 1 was expected")),
        "{v:#?}"
    );
}

async fn verify_names_a_refund_that_the_journal_does_not_account_for(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let package = five_credits(&ledger, &user).await;
    ledger.refund_package(&package, RefundShare::FULL).await.expect("refund");
    t.assert_verified().await;

    let v =
        corrupted(&t, &format!("UPDATE credit_packages SET refunded = 3 WHERE id = '{package}'"))
            .await;
    assert!(v.iter().any(|m| m.contains("journal rebuilds 0/0/0/5")), "{v:#?}");
    assert!(
        v.iter().any(|m| m.contains("its refund still asks back 2 but 2 credits are left free")),
        "{v:#?}"
    );
}

impl TestDb {
    fn clock_now(&self) -> fitroom_server::clock::Timestamp {
        use fitroom_server::clock::Clock;
        self.clock.now()
    }
}

crate::on_both_databases!(
    verify_names_each_kind_of_corruption,
    verify_catches_a_freeze_that_skipped_the_first_expiring_package,
    verify_catches_a_wrong_write_off_a_reused_entry_id_and_a_hole_in_the_journal,
    verify_names_a_refund_that_the_journal_does_not_account_for,
);
