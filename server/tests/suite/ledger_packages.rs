//! Packages: grants, expiry, status and the order in which credits are consumed.

use fitroom_server::ledger::{Credits, Grant, LedgerError, PackageStatus};

use crate::common::{START, TestDb};

fn credits(n: i64) -> Credits {
    Credits::new(n).expect("non-negative")
}

fn grant(user: &fitroom_server::ids::UserId, n: i64, name: &str, days: Option<i64>) -> Grant {
    Grant {
        user: user.clone(),
        credits: credits(n),
        name: name.into(),
        expires_at: days.map(|d| START.plus_days(d)),
        source: None,
    }
}

async fn a_grant_creates_an_active_package_and_a_grant_entry(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let id = ledger.grant(&grant(&user, 5, "Starter", Some(30))).await.expect("grant");

    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!(balance.available, credits(5));
    assert_eq!(balance.held, credits(0));
    assert_eq!(balance.packages.len(), 1);
    let p = &balance.packages[0];
    assert_eq!(
        (p.id.clone(), p.name.as_str(), p.granted, p.remaining()),
        (id.clone(), "Starter", credits(5), credits(5))
    );
    assert_eq!(p.status_at(START), PackageStatus::Active);

    let entries = ledger.entries(&user, 50).await.expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].kind.as_str(), "grant");
    assert_eq!(entries[0].package.as_ref(), Some(&id));
    t.assert_verified().await;
}

async fn packages_are_listed_in_consumption_order_then_finished_ones_newest_first(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let never = ledger.grant(&grant(&user, 1, "Forever", None)).await.expect("grant");
    let late = ledger.grant(&grant(&user, 1, "Late", Some(60))).await.expect("grant");
    let soon = ledger.grant(&grant(&user, 1, "Soon", Some(10))).await.expect("grant");
    let short = ledger.grant(&grant(&user, 1, "Short", Some(1))).await.expect("grant");
    t.clock.advance_days(2);

    let order: Vec<_> =
        ledger.packages(&user).await.expect("packages").into_iter().map(|p| p.id).collect();
    assert_eq!(order, vec![soon, late, never, short]);
}

async fn the_same_grant_source_is_granted_once(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let mut g = grant(&user, 10, "Purchase", Some(30));
    g.source = Some("stripe:cs_test_1".into());
    let first = ledger.grant(&g).await.expect("grant");
    let second = ledger.grant(&g).await.expect("grant again");
    assert_eq!(first, second);
    assert_eq!(ledger.balance(&user).await.expect("balance").available, credits(10));
    assert_eq!(t.count("ledger_entries").await, 1);
}

async fn bad_grants_are_refused_and_write_nothing(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    assert!(matches!(
        ledger.grant(&grant(&user, 0, "Nothing", None)).await,
        Err(LedgerError::NonPositiveGrant)
    ));
    assert!(matches!(
        ledger.grant(&grant(&user, 1, "Past", Some(-1))).await,
        Err(LedgerError::ExpiresInThePast)
    ));
    let stranger = fitroom_server::ids::UserId::generate();
    assert!(matches!(
        ledger.grant(&grant(&stranger, 1, "Nobody", None)).await,
        Err(LedgerError::UnknownUser)
    ));
    assert_eq!(t.count("credit_packages").await, 0);
    assert_eq!(t.count("ledger_entries").await, 0);
}

async fn an_expired_package_is_no_longer_available_and_its_remainder_is_written_off(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    let week = ledger.grant(&grant(&user, 3, "Week", Some(7))).await.expect("grant");
    ledger.grant(&grant(&user, 2, "Forever", None)).await.expect("grant");
    t.clock.advance_days(7);

    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!(balance.available, credits(2), "the expired package no longer counts");
    let expired = balance.packages.iter().find(|p| p.id == week).expect("listed");
    assert_eq!(expired.status_at(balance.now), PackageStatus::Expired);

    assert_eq!(ledger.expire_due().await.expect("expire"), 1);
    assert_eq!(ledger.expire_due().await.expect("expire again"), 0, "expiry is written once");
    let entries = ledger.entries(&user, 10).await.expect("entries");
    assert_eq!(entries[0].kind.as_str(), "expire");
    assert_eq!(entries[0].amount, credits(3));
    assert_eq!(entries[0].package.as_ref(), Some(&week));
    t.assert_verified().await;
}

async fn a_package_whose_credits_are_all_held_or_spent_is_depleted(t: TestDb) {
    let ledger = t.ledger();
    let user = t.user().await;
    ledger.grant(&grant(&user, 1, "One", Some(30))).await.expect("grant");
    let job = t.job(&user).await;
    crate::ledger_holds::freeze(&ledger, &user, &job, 1, "k").await.expect("freeze");
    let balance = ledger.balance(&user).await.expect("balance");
    assert_eq!(balance.packages[0].status_at(balance.now), PackageStatus::Depleted);
    assert_eq!((balance.available, balance.held), (credits(0), credits(1)));
}

crate::on_both_databases!(
    a_grant_creates_an_active_package_and_a_grant_entry,
    packages_are_listed_in_consumption_order_then_finished_ones_newest_first,
    the_same_grant_source_is_granted_once,
    bad_grants_are_refused_and_write_nothing,
    an_expired_package_is_no_longer_available_and_its_remainder_is_written_off,
    a_package_whose_credits_are_all_held_or_spent_is_depleted,
);
