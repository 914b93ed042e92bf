//! Which provider a task goes to first (`FITROOM_ROUTING`), from figures every process reads
//! alike: prices from the configuration, success and speed from the tasks each provider was sent
//! that ended in the routing window (`figures::measure`).
//!
//! - `ordered`: the `FITROOM_PROVIDERS` order.
//! - `cheapest`: lowest price first (ties keep the configured order).
//! - `fastest`: lowest median time from submission to result over the window's successes.
//! - `reliable`: highest success rate over the window's ended tasks, submission failures
//!   included.
//! - `balanced`: the highest score `0.4 × success rate + 0.3 × speed + 0.3 × thrift`, where speed
//!   is the fastest median divided by this provider's (1 for the fastest) and thrift the lowest
//!   price divided by this one's (1 for the cheapest, and for a free one).
//!
//! A provider with fewer than `MIN_SAMPLES` measurements is unmeasured: measured strategies put it
//! after the measured ones, and explore it. Exploration (`FITROOM_ROUTING_EXPLORE`, default 0.05,
//! measured strategies only): that share of tasks goes first to another usable provider, picked
//! uniformly, so that a recovered or new provider gets measured. A provider the request names
//! always goes first, and every other usable provider follows as failover.

use std::fmt::Write as _;

use super::Usd;
use super::figures::Measured;

/// Below this many ended tasks in the window a provider counts as unmeasured.
pub const MIN_SAMPLES: i64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    Ordered,
    Cheapest,
    Fastest,
    Reliable,
    Balanced,
}

impl Strategy {
    pub fn parse(text: &str) -> Option<Strategy> {
        match text.trim().to_ascii_lowercase().as_str() {
            "ordered" => Some(Strategy::Ordered),
            "cheapest" => Some(Strategy::Cheapest),
            "fastest" => Some(Strategy::Fastest),
            "reliable" => Some(Strategy::Reliable),
            "balanced" => Some(Strategy::Balanced),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Ordered => "ordered",
            Strategy::Cheapest => "cheapest",
            Strategy::Fastest => "fastest",
            Strategy::Reliable => "reliable",
            Strategy::Balanced => "balanced",
        }
    }

    /// Whether the strategy reads the window's measurements (and so explores).
    pub fn is_measured(self) -> bool {
        matches!(self, Strategy::Fastest | Strategy::Reliable | Strategy::Balanced)
    }
}

/// One usable provider, as routing sees it.
#[derive(Clone, Debug)]
pub struct Candidate<'a> {
    pub name: &'a str,
    pub price: Usd,
    /// `None` under strategies that do not measure.
    pub measured: Option<Measured>,
}

impl Candidate<'_> {
    fn is_measured(&self) -> bool {
        self.measured.as_ref().is_some_and(|m| m.jobs() >= MIN_SAMPLES)
    }

    fn p50(&self) -> Option<i64> {
        self.measured.as_ref().filter(|_| self.is_measured()).and_then(|m| m.percentile_ms(0.5))
    }

    fn success(&self) -> Option<f64> {
        self.measured.as_ref().filter(|_| self.is_measured()).and_then(Measured::success_rate)
    }
}

/// The order to try, and why, in words for the job's timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route<'a> {
    pub order: Vec<&'a str>,
    pub reason: String,
}

/// Orders `candidates` (usable providers, in the configured order). `requested` goes first when
/// it is among them; `explore` is `Some(k)` when this task explores, and then the `k`-th (modulo)
/// other candidate goes first.
pub fn decide<'a>(
    strategy: Strategy,
    candidates: &[Candidate<'a>],
    requested: Option<&str>,
    explore: Option<usize>,
) -> Route<'a> {
    let mut ranked: Vec<&Candidate<'a>> = candidates.iter().collect();
    // Stable sorts: equal figures keep the configured order.
    match strategy {
        Strategy::Ordered => {}
        Strategy::Cheapest => ranked.sort_by_key(|c| c.price),
        Strategy::Fastest => ranked.sort_by_key(|c| (c.p50().is_none(), c.p50().unwrap_or(0))),
        Strategy::Reliable => ranked.sort_by(|a, b| {
            let key = |c: &Candidate<'_>| c.success().map_or(f64::NEG_INFINITY, |s| s);
            key(b).total_cmp(&key(a)).then(a.is_measured().cmp(&b.is_measured()).reverse())
        }),
        Strategy::Balanced => {
            let scores = balanced_scores(candidates);
            let score = |c: &Candidate<'_>| {
                candidates
                    .iter()
                    .position(|x| x.name == c.name)
                    .and_then(|i| scores[i])
                    .unwrap_or(f64::NEG_INFINITY)
            };
            ranked.sort_by(|a, b| score(b).total_cmp(&score(a)));
        }
    }
    let mut order: Vec<&'a str> = ranked.iter().map(|c| c.name).collect();
    let mut reason = strategy.as_str().to_owned();
    if let Some(first) = requested.and_then(|r| order.iter().position(|n| *n == r)) {
        let name = order.remove(first);
        order.insert(0, name);
        let _ = write!(reason, ", {name} requested");
    } else if let Some(k) = explore.filter(|_| strategy.is_measured() && order.len() > 1) {
        let name = order.remove(1 + k % (order.len() - 1));
        order.insert(0, name);
        let _ = write!(reason, ", exploring {name}");
    }
    let figures: Vec<String> = order
        .iter()
        .filter_map(|name| candidates.iter().find(|c| c.name == *name))
        .map(|c| describe(strategy, c))
        .collect();
    let _ = write!(
        reason,
        ": {}",
        if figures.is_empty() { "none".to_owned() } else { figures.join(", ") }
    );
    Route { order, reason }
}

fn describe(strategy: Strategy, c: &Candidate<'_>) -> String {
    match strategy {
        Strategy::Ordered => c.name.to_owned(),
        Strategy::Cheapest => format!("{} ({})", c.name, c.price),
        _ if !c.is_measured() => format!("{} (unmeasured)", c.name),
        Strategy::Fastest => format!("{} (p50 {} ms)", c.name, c.p50().unwrap_or(0)),
        Strategy::Reliable => {
            format!("{} ({:.0} % ok)", c.name, c.success().unwrap_or(0.0) * 100.0)
        }
        Strategy::Balanced => format!(
            "{} ({:.0} % ok, p50 {} ms, {})",
            c.name,
            c.success().unwrap_or(0.0) * 100.0,
            c.p50().unwrap_or(0),
            c.price
        ),
    }
}

/// `0.4 × success + 0.3 × speed + 0.3 × thrift` for each measured candidate; `None` otherwise.
fn balanced_scores(candidates: &[Candidate<'_>]) -> Vec<Option<f64>> {
    let fastest = candidates.iter().filter_map(Candidate::p50).min().map(|ms| ms.max(1));
    let cheapest = candidates.iter().map(|c| c.price.micros()).min().unwrap_or(0);
    candidates
        .iter()
        .map(|c| {
            let success = c.success()?;
            let speed = match (fastest, c.p50()) {
                (Some(fastest), Some(p50)) => fastest as f64 / p50.max(1) as f64,
                _ => 0.0,
            };
            let thrift =
                if c.price.micros() == 0 { 1.0 } else { cheapest as f64 / c.price.micros() as f64 };
            Some(0.4 * success + 0.3 * speed + 0.3 * thrift)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(succeeded: i64, failed: i64, p50_ms: i64) -> Option<Measured> {
        Some(Measured { succeeded, failed, durations_ms: vec![p50_ms; succeeded as usize] })
    }

    fn candidate<'a>(name: &'a str, price: &str, m: Option<Measured>) -> Candidate<'a> {
        Candidate { name, price: price.parse().expect("price"), measured: m }
    }

    fn three() -> Vec<Candidate<'static>> {
        vec![
            // Cheap, slow, flaky.
            candidate("a", "0.01", measured(6, 4, 9000)),
            // Dear, fast, solid.
            candidate("b", "0.05", measured(10, 0, 1000)),
            // Middling on every count.
            candidate("c", "0.02", measured(9, 1, 3000)),
        ]
    }

    #[test]
    fn each_strategy_puts_first_what_it_optimises() {
        let c = three();
        assert_eq!(decide(Strategy::Ordered, &c, None, None).order, ["a", "b", "c"]);
        assert_eq!(decide(Strategy::Cheapest, &c, None, None).order, ["a", "c", "b"]);
        assert_eq!(decide(Strategy::Fastest, &c, None, None).order, ["b", "c", "a"]);
        assert_eq!(decide(Strategy::Reliable, &c, None, None).order, ["b", "c", "a"]);
        // b: 0.4 + 0.3 + 0.06 = 0.76; c: 0.36 + 0.1 + 0.15 = 0.61; a: 0.24 + 0.033 + 0.3 = 0.573.
        assert_eq!(decide(Strategy::Balanced, &c, None, None).order, ["b", "c", "a"]);
    }

    #[test]
    fn balanced_trades_speed_for_price() {
        let c = vec![
            candidate("dear", "0.10", measured(10, 0, 1000)),
            candidate("cheap", "0.01", measured(10, 0, 1100)),
        ];
        // dear: 0.4 + 0.3 + 0.03 = 0.73; cheap: 0.4 + 0.27 + 0.3 = 0.97.
        assert_eq!(decide(Strategy::Balanced, &c, None, None).order, ["cheap", "dear"]);
    }

    #[test]
    fn an_unmeasured_provider_comes_after_the_measured_ones() {
        let c = vec![
            candidate("new", "0", measured(2, 0, 10)),
            candidate("known", "0", measured(10, 0, 5000)),
        ];
        let route = decide(Strategy::Fastest, &c, None, None);
        assert_eq!(route.order, ["known", "new"]);
        assert_eq!(route.reason, "fastest: known (p50 5000 ms), new (unmeasured)");
        assert_eq!(decide(Strategy::Reliable, &c, None, None).order, ["known", "new"]);
    }

    #[test]
    fn a_requested_provider_goes_first_whatever_the_strategy() {
        let c = three();
        let route = decide(Strategy::Fastest, &c, Some("a"), Some(0));
        assert_eq!(route.order, ["a", "b", "c"]);
        assert!(route.reason.starts_with("fastest, a requested: "), "{}", route.reason);
    }

    #[test]
    fn exploring_puts_another_provider_first_under_measured_strategies_only() {
        let c = three();
        assert_eq!(decide(Strategy::Fastest, &c, None, Some(0)).order, ["c", "b", "a"]);
        assert_eq!(decide(Strategy::Fastest, &c, None, Some(1)).order, ["a", "b", "c"]);
        assert_eq!(decide(Strategy::Cheapest, &c, None, Some(0)).order, ["a", "c", "b"]);
        assert_eq!(decide(Strategy::Ordered, &c, None, Some(1)).order, ["a", "b", "c"]);
        assert!(
            decide(Strategy::Fastest, &c, None, Some(0))
                .reason
                .starts_with("fastest, exploring c: ")
        );
    }
}
