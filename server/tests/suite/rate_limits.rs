//! Abuse limits are kept in the database: one budget per key whatever the number of processes,
//! refilled evenly over the period by the test clock, forgotten once whole again.

use std::sync::Arc;

use fitroom_server::clock::SharedClock;
use fitroom_server::config::Config;
use fitroom_server::limits::{Limit, Limits};

use crate::common::TestDb;
use crate::on_both_databases;

fn clock(t: &TestDb) -> SharedClock {
    Arc::new(t.clock.clone())
}

async fn a_key_gets_its_budget_and_it_refills_over_the_period(t: TestDb) {
    let limit = Limit::per_minute("test", 3, t.db.clone(), clock(&t));
    for _ in 0..3 {
        assert!(limit.allow("k").await.expect("allow"));
    }
    assert!(!limit.allow("k").await.expect("allow"), "the fourth in a minute is refused");
    assert!(limit.allow("other").await.expect("allow"), "keys are independent");
    let other_scope = Limit::per_minute("another", 3, t.db.clone(), clock(&t));
    assert!(other_scope.allow("k").await.expect("allow"), "and so are limits");
    t.clock.advance_millis(20_000);
    assert!(limit.allow("k").await.expect("allow"), "a third of a minute gives one back");
    assert!(!limit.allow("k").await.expect("allow"), "and only one");
    t.clock.advance_millis(60_000);
    for _ in 0..3 {
        assert!(limit.allow("k").await.expect("allow"), "a minute later the budget is whole");
    }
    assert!(!limit.allow("k").await.expect("allow"));
}

async fn refused_attempts_cost_nothing(t: TestDb) {
    let limit = Limit::per_minute("test", 2, t.db.clone(), clock(&t));
    assert!(limit.allow("k").await.expect("allow") && limit.allow("k").await.expect("allow"));
    for _ in 0..50 {
        assert!(!limit.allow("k").await.expect("allow"));
    }
    t.clock.advance_millis(30_000);
    assert!(limit.allow("k").await.expect("allow"), "hammering did not push the refill back");
}

async fn zero_means_no_limit(t: TestDb) {
    let limit = Limit::per_minute("test", 0, t.db.clone(), clock(&t));
    for _ in 0..100 {
        assert!(limit.allow("free").await.expect("allow"));
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM rate_limits")
        .fetch_one(t.db.pool())
        .await
        .expect("count");
    assert_eq!(rows, 0, "nothing is written for an unlimited key");
}

/// Two processes, 32 attempts each at once, one budget of 10: exactly 10 pass.
async fn two_processes_share_one_budget_exactly(t: TestDb) {
    let second = t.another_process().await;
    let limits = [
        Limit::per_minute("test", 10, t.db.clone(), clock(&t)),
        Limit::per_minute("test", 10, second, clock(&t)),
    ];
    let mut attempts = Vec::new();
    for limit in &limits {
        for _ in 0..32 {
            let limit = limit.clone();
            attempts.push(tokio::spawn(async move { limit.allow("shared").await.expect("allow") }));
        }
    }
    let mut allowed = 0;
    for attempt in attempts {
        allowed += usize::from(attempt.await.expect("task"));
    }
    assert_eq!(allowed, 10);
}

async fn pruning_forgets_only_keys_whose_budget_is_whole_again(t: TestDb) {
    let config =
        Config::from_source(&std::collections::HashMap::<String, String>::new()).expect("config");
    let limits = Limits::new(&config, &t.db, clock(&t));
    for i in 0..20 {
        limits.submit_by_user.allow(&format!("user-{i}")).await.expect("allow");
    }
    t.clock.advance_millis(90_000);
    while limits.submit_by_user.allow("busy").await.expect("allow") {}
    let pruned = limits.prune().await.expect("prune");
    assert_eq!(pruned, 20, "the idle keys go, the busy one stays");
    assert!(
        !limits.submit_by_user.allow("busy").await.expect("allow"),
        "a key still over its budget is remembered"
    );
}

on_both_databases!(
    a_key_gets_its_budget_and_it_refills_over_the_period,
    refused_attempts_cost_nothing,
    zero_means_no_limit,
    two_processes_share_one_budget_exactly,
    pruning_forgets_only_keys_whose_budget_is_whole_again,
);
