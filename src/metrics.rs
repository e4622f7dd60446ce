//! Prometheus metrics: counters and latency histograms kept in memory and rendered in the
//! text exposition format at `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

type Labels = Vec<(String, String)>;

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
struct Family<T> {
    help: &'static str,
    series: BTreeMap<Labels, T>,
}

#[derive(Default)]
struct Registry {
    counters: BTreeMap<&'static str, Family<u64>>,
    histograms: BTreeMap<&'static str, Family<Histogram>>,
}

/// The bot's metrics; cheap to clone, safe to share.
#[derive(Clone, Default)]
pub struct Metrics {
    registry: Arc<Mutex<Registry>>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Adds one to the counter `name` with these labels.
    pub fn inc(&self, name: &'static str, help: &'static str, pairs: &[(&str, &str)]) {
        if let Ok(mut r) = self.registry.lock() {
            let family = r.counters.entry(name).or_default();
            family.help = help;
            *family.series.entry(labels(pairs)).or_default() += 1;
        }
    }

    /// The sum of counter `name` over every series whose labels include all of `pairs`.
    pub fn counter_total(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let Ok(r) = self.registry.lock() else {
            return 0;
        };
        r.counters.get(name).map_or(0, |family| {
            family
                .series
                .iter()
                .filter(|(labels, _)| {
                    pairs
                        .iter()
                        .all(|(k, v)| labels.iter().any(|(lk, lv)| lk == k && lv == v))
                })
                .map(|(_, n)| *n)
                .sum()
        })
    }

    /// Records one observation of `elapsed` in the histogram `name`.
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        pairs: &[(&str, &str)],
        elapsed: Duration,
    ) {
        let secs = elapsed.as_secs_f64();
        if let Ok(mut r) = self.registry.lock() {
            let family = r.histograms.entry(name).or_default();
            family.help = help;
            let h = family.series.entry(labels(pairs)).or_default();
            for (i, bound) in BUCKETS.iter().enumerate() {
                if secs <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += secs;
            h.count += 1;
        }
    }

    /// A Mattermost API call: method, route template (never a concrete path with ids or
    /// tokens), status (`None` when no answer came) and latency.
    pub fn api_call(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration) {
        let status = status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "none".to_string());
        self.inc(
            "sharebot_mattermost_requests_total",
            "Mattermost API requests by method, route template and status",
            &[("method", method), ("route", route), ("status", &status)],
        );
        self.observe(
            "sharebot_mattermost_request_duration_seconds",
            "Latency of Mattermost API requests",
            &[("method", method), ("route", route)],
            elapsed,
        );
    }

    /// A WebSocket event received from Mattermost.
    pub fn ws_event(&self, event: &str) {
        self.inc(
            "sharebot_websocket_events_total",
            "WebSocket events received from Mattermost by type",
            &[("event", event)],
        );
    }

    /// An interactive callback (button, menu, dialog) handled, with its outcome.
    pub fn callback(&self, kind: &str, outcome: &str, elapsed: Duration) {
        self.inc(
            "sharebot_callbacks_total",
            "Interactive callbacks by kind and outcome",
            &[("kind", kind), ("outcome", outcome)],
        );
        self.observe(
            "sharebot_callback_duration_seconds",
            "Time to answer interactive callbacks",
            &[("kind", kind)],
            elapsed,
        );
    }

    /// The text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(r) = self.registry.lock() else {
            return out;
        };
        for (name, family) in &r.counters {
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} counter");
            for (labels, value) in &family.series {
                let _ = writeln!(out, "{name}{} {value}", render_labels(labels, None));
            }
        }
        for (name, family) in &r.histograms {
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} histogram");
            for (labels, h) in &family.series {
                for (i, bound) in BUCKETS.iter().enumerate() {
                    let le = bound.to_string();
                    let _ = writeln!(
                        out,
                        "{name}_bucket{} {}",
                        render_labels(labels, Some(&le)),
                        h.counts[i]
                    );
                }
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {}",
                    render_labels(labels, Some("+Inf")),
                    h.count
                );
                let _ = writeln!(out, "{name}_sum{} {}", render_labels(labels, None), h.sum);
                let _ = writeln!(
                    out,
                    "{name}_count{} {}",
                    render_labels(labels, None),
                    h.count
                );
            }
        }
        out
    }
}

fn render_labels(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl crate::mattermost::ApiObserver for Metrics {
    fn api_call(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration) {
        Metrics::api_call(self, method, route, status, elapsed);
    }

    fn ws_event(&self, event: &str) {
        Metrics::ws_event(self, event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_histograms_render_in_the_text_format() {
        let m = Metrics::new();
        m.api_call(
            "GET",
            "/api/v4/users/{user_id}",
            Some(200),
            Duration::from_millis(3),
        );
        m.api_call(
            "GET",
            "/api/v4/users/{user_id}",
            Some(200),
            Duration::from_millis(30),
        );
        m.api_call("POST", "/api/v4/posts", None, Duration::from_secs(20));
        m.ws_event("posted");
        let text = m.render();
        assert!(
            text.contains("# TYPE sharebot_mattermost_requests_total counter"),
            "{text}"
        );
        assert!(text.contains(
            "sharebot_mattermost_requests_total{method=\"GET\",route=\"/api/v4/users/{user_id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"none\"} 1"));
        assert!(text.contains(
            "sharebot_mattermost_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v4/users/{user_id}\",le=\"0.005\"} 1"
        ));
        assert!(text.contains(
            "sharebot_mattermost_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v4/users/{user_id}\",le=\"0.05\"} 2"
        ));
        assert!(
            text.contains("le=\"+Inf\"} 1"),
            "the 20 s call lands only in +Inf: {text}"
        );
        assert!(text.contains("sharebot_websocket_events_total{event=\"posted\"} 1"));
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.ws_event("we\"ird\nname");
        assert!(m.render().contains(r#"event="we\"ird\nname""#));
    }
}
