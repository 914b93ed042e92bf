//! Process metrics for `/metrics`, recorded with the `metrics` crate into a Prometheus recorder
//! of our own (not the global one: every `AppState`, and so every test server, has its own).
//! Counters are named with their `_total`; durations are histograms in seconds.

use std::sync::Arc;

use metrics::{Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};

/// Upper bounds, in seconds, of the duration histograms: from a fast webhook to a slow provider.
const SECONDS_BUCKETS: [f64; 12] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Clone)]
pub struct Metrics(Arc<PrometheusRecorder>);

impl Default for Metrics {
    fn default() -> Self {
        let builder = PrometheusBuilder::new();
        // The buckets are constants: the builder refuses only an empty list.
        let builder =
            builder.set_buckets(&SECONDS_BUCKETS).unwrap_or_else(|_| PrometheusBuilder::new());
        Metrics(Arc::new(builder.build_recorder()))
    }
}

fn metadata() -> Metadata<'static> {
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()))
}

fn key(name: String, labels: &[(&'static str, &str)]) -> Key {
    Key::from_parts(
        name,
        labels.iter().map(|(k, v)| Label::new(*k, (*v).to_owned())).collect::<Vec<_>>(),
    )
}

impl Metrics {
    /// One more of `name` (rendered `name_total`).
    pub fn count(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.0.register_counter(&key(format!("{name}_total"), labels), &metadata()).increment(1);
    }

    /// One duration of `name` (rendered as the histogram `name_seconds`).
    pub fn observe(&self, name: &'static str, labels: &[(&'static str, &str)], seconds: f64) {
        self.0
            .register_histogram(&key(format!("{name}_seconds"), labels), &metadata())
            .record(seconds);
    }

    /// A value read at scrape time (jobs by status, provider health).
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)], value: f64) {
        self.0.register_gauge(&key(name.to_owned(), labels), &metadata()).set(value);
    }

    /// Everything recorded, in Prometheus' text format.
    pub fn render(&self) -> String {
        self.0.handle().render()
    }

    /// Folds recorded durations into their histograms; run every few seconds so that memory
    /// stays flat between scrapes.
    pub fn upkeep(&self) {
        self.0.handle().run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_gauges_and_durations_render_as_prometheus_text() {
        let m = Metrics::default();
        m.count("fitroom_webhooks", &[("provider", "local"), ("outcome", "applied")]);
        m.count("fitroom_webhooks", &[("provider", "local"), ("outcome", "applied")]);
        m.observe("fitroom_submission", &[("provider", "local")], 0.3);
        m.gauge("fitroom_jobs", &[("status", "queued"), ("provider", "local")], 4.0);
        m.gauge("fitroom_jobs", &[("status", "queued"), ("provider", "local")], 0.0);
        let out = m.render();
        assert!(
            out.contains("fitroom_webhooks_total{provider=\"local\",outcome=\"applied\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("fitroom_submission_seconds_count{provider=\"local\"} 1\n"), "{out}");
        assert!(
            out.contains("fitroom_submission_seconds_bucket{provider=\"local\",le=\"0.5\"} 1\n"),
            "{out}"
        );
        assert!(
            out.contains("fitroom_submission_seconds_bucket{provider=\"local\",le=\"0.25\"} 0\n"),
            "{out}"
        );
        assert!(out.contains("fitroom_jobs{status=\"queued\",provider=\"local\"} 0\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::default();
        m.count("fitroom_odd", &[("provider", "a\"b\\c")]);
        assert!(
            m.render().contains(r#"fitroom_odd_total{provider="a\"b\\c"} 1"#),
            "{}",
            m.render()
        );
    }
}
