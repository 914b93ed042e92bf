//! Process counters for `/metrics` (Prometheus text format). Job counts come from the database at
//! scrape time; everything else is counted here as it happens.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Metrics(Arc<Mutex<Inner>>);

/// A metric's name and its labels.
type Series = (&'static str, Vec<(&'static str, String)>);

#[derive(Default)]
struct Inner {
    counters: BTreeMap<Series, u64>,
    /// name + labels → (sum of seconds, count)
    durations: BTreeMap<Series, (f64, u64)>,
}

impl Metrics {
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        let key = (name, labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect());
        *self.lock().counters.entry(key).or_default() += 1;
    }

    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], seconds: f64) {
        let key = (name, labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect());
        let mut inner = self.lock();
        let slot = inner.durations.entry(key).or_default();
        slot.0 += seconds;
        slot.1 += 1;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn render(&self, out: &mut String) {
        let inner = self.lock();
        for ((name, labels), value) in &inner.counters {
            out.push_str(&format!("{name}_total{} {value}\n", label_text(labels)));
        }
        for ((name, labels), (sum, count)) in &inner.durations {
            out.push_str(&format!("{name}_seconds_sum{} {sum}\n", label_text(labels)));
            out.push_str(&format!("{name}_seconds_count{} {count}\n", label_text(labels)));
        }
    }
}

pub fn label_text(labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| {
            format!("{k}=\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " "))
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_durations_render_as_prometheus_text() {
        let m = Metrics::default();
        m.count("fitroom_webhooks", &[("provider", "local"), ("outcome", "applied")]);
        m.count("fitroom_webhooks", &[("provider", "local"), ("outcome", "applied")]);
        m.observe("fitroom_submission", &[("provider", "local")], 0.5);
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("fitroom_webhooks_total{provider=\"local\",outcome=\"applied\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("fitroom_submission_seconds_count{provider=\"local\"} 1\n"), "{out}");
    }
}
