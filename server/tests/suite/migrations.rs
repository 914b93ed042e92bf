//! The migrations upgrade a database that already holds a ledger, on both backends.

use std::borrow::Cow;

use fitroom_server::db::{Backend, MIGRATOR};
use fitroom_server::ids::{HoldId, PackageId};
use fitroom_server::ledger::{Allocation, Credits, RefundShare};
use sqlx::migrate::Migrator;

use crate::common::{START, TestDb};

/// Runs the migrations up to and including `version`, as an older Fitroom would have.
async fn migrate_up_to(t: &TestDb, version: i64) {
    let older: Vec<_> =
        MIGRATOR.migrations.iter().filter(|m| m.version <= version).cloned().collect();
    let migrator = Migrator { migrations: Cow::Owned(older), ..Migrator::DEFAULT };
    t.db.migrate_with(&migrator).await.expect("older migrations");
}

/// A package of 5 credits with 2 held by a running job, written with the schema of 0002.
async fn ledger_before_refunds(t: &TestDb) -> PackageId {
    let user = t.user().await;
    let job = t.job(&user).await;
    let at = START.millis();
    let u = user.as_str();
    for sql in [
        format!("INSERT INTO credit_packages (id, user_id, name, granted, held, granted_at) VALUES ('pkg_old', '{u}', 'Old', 5, 2, {at})"),
        format!("INSERT INTO holds (id, user_id, job_id, idempotency_key, amount, state, created_at, deadline_at) \
                 VALUES ('hold_old', '{u}', '{job}', 'k', 2, 'open', {at}, {})", at + 86_400_000),
        "INSERT INTO hold_allocations (hold_id, package_id, amount) VALUES ('hold_old', 'pkg_old', 2)".to_owned(),
        format!("UPDATE users SET ledger_seq = 2 WHERE id = '{u}'"),
        format!("INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount, package_id) \
                 VALUES ('ent_1', '{u}', 1, 1, {at}, 'grant', 5, 'pkg_old')"),
        format!("INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount, package_id, hold_id, job_id) \
                 VALUES ('ent_2', '{u}', 2, 1, {at}, 'freeze', 2, 'pkg_old', 'hold_old', '{job}')"),
    ] {
        sqlx::query(&sql).execute(t.db.pool()).await.expect("old-schema row");
    }
    PackageId::from_string("pkg_old")
}

async fn the_refunds_migration_keeps_an_existing_ledger_and_allows_refund_entries(
    backend: Backend,
) {
    let t = TestDb::unmigrated(backend).await;
    migrate_up_to(&t, 2).await;
    let package = ledger_before_refunds(&t).await;

    t.db.migrate().await.expect("upgrade to the current schema");

    assert_eq!(t.count("ledger_entries").await, 2, "every entry survives the table rebuild");
    t.assert_verified().await;
    let duplicate = "INSERT INTO ledger_entries (id, user_id, seq, line, at, kind, amount) \
                     SELECT 'ent_dup', user_id, seq, line, at, kind, amount FROM ledger_entries WHERE id = 'ent_1'";
    assert!(
        sqlx::query(duplicate).execute(t.db.pool()).await.is_err(),
        "(user, seq, line) is still unique"
    );

    // The hold's allocation is read back from its freeze entry.
    let hold = t
        .ledger()
        .hold(&HoldId::from_string("hold_old"))
        .await
        .expect("read")
        .expect("the hold survives");
    assert_eq!(
        hold.allocations,
        vec![Allocation { package: package.clone(), amount: Credits::new(2).expect("2") }]
    );

    let refunded = t.ledger().refund_package(&package, RefundShare::FULL).await.expect("refund");
    assert_eq!(
        (refunded.taken_back, refunded.owed),
        (Credits::new(3).expect("3"), Credits::new(2).expect("2"))
    );
    t.assert_verified().await;
}

// Not `on_both_databases!`: that hands over a database already migrated to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refunds_migration_upgrades_an_existing_sqlite_ledger() {
    the_refunds_migration_keeps_an_existing_ledger_and_allows_refund_entries(Backend::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refunds_migration_upgrades_an_existing_postgres_ledger() {
    the_refunds_migration_keeps_an_existing_ledger_and_allows_refund_entries(Backend::Postgres)
        .await
}
