//! Prometheus metrics on the `prometheus-client` crate: how Mattermost answered (transport) and
//! how the review work goes (requests, decisions, DMs, reconcile passes, commands), served at
//! `GET /metrics` in the text exposition format.

use std::collections::BTreeSet;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::store::{How, Verdict};

/// Upper bounds (seconds) of the latency histograms (API calls, callbacks).
const LATENCY: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Upper bounds (seconds) from a channel's arrival to its last review DM.
const FANOUT: [f64; 12] = [
    0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0,
];
/// Upper bounds (seconds) from a channel's arrival to its decision: a minute to a week.
const DECISION: [f64; 9] = [
    60.0, 300.0, 900.0, 3600.0, 14400.0, 28800.0, 86400.0, 259200.0, 604800.0,
];
/// Upper bounds (seconds) of one reconcile pass.
const RECONCILE: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0];

/// The states a review request can be in (`sharebot_requests`).
pub const REQUEST_STATES: [&str; 4] = ["pending", "accepted", "rejected", "withdrawn"];

/// What a decision did, as `sharebot_decisions_total{outcome}` names it.
fn outcome_label(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Accept => "accepted",
        Verdict::Reject => "rejected",
        Verdict::Relocate => "relocated",
        Verdict::Withdraw => "withdrawn",
    }
}

/// Every (outcome, how) a decision can have today; these series exist from start-up.
const DECISIONS: [(Verdict, How); 7] = [
    (Verdict::Accept, How::Click),
    (Verdict::Reject, How::Click),
    (Verdict::Accept, How::Dialog),
    (Verdict::Accept, How::Rule),
    (Verdict::Reject, How::Rule),
    (Verdict::Reject, How::Expiry),
    (Verdict::Withdraw, How::Withdrawal),
];

/// The results of a chat command (`sharebot_commands_total{result}`).
pub const COMMAND_RESULTS: [&str; 6] = ["ok", "usage", "unknown", "denied", "not_found", "error"];

/// The outcomes of an interactive callback (`sharebot_callbacks_total{outcome}`).
const CALLBACK_OUTCOMES: [&str; 5] = ["answered", "unsigned", "forged", "not_served", "error"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiCall {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiRoute {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WsEvent {
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackOutcome {
    kind: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackKind {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestSeries {
    state: String,
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionSeries {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionSeries {
    outcome: String,
    how: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HowSeries {
    how: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassResult {
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandSeries {
    command: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Build {
    version: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

struct Inner {
    registry: Registry,
    api_requests: Family<ApiCall, Counter>,
    api_duration: Histograms<ApiRoute>,
    ws_events: Family<WsEvent, Counter>,
    ws_disconnects: Counter,
    ws_resyncs: Counter,
    leader: Gauge,
    leader_changes: Counter,
    callbacks: Family<CallbackOutcome, Counter>,
    callback_duration: Histograms<CallbackKind>,
    requests: Family<RequestSeries, Gauge>,
    oldest_pending: Family<ConnectionSeries, Gauge<f64, AtomicU64>>,
    decisions: Family<DecisionSeries, Counter>,
    time_to_decision: Histograms<HowSeries>,
    dm_fanout: Histogram,
    reconcile_duration: Histograms<PassResult>,
    reconcile_requests: Gauge,
    commands: Family<CommandSeries, Counter>,
    /// Every connection whose request counts were set.
    connections: Mutex<BTreeSet<String>>,
}

/// The bot's metrics; cheap to clone, safe to share.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

fn owned<const N: usize>(pairs: [&str; N]) -> [String; N] {
    pairs.map(str::to_string)
}

impl Metrics {
    /// Every metric registered, and every series whose labels are known in advance at 0.
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let latency: fn() -> Histogram = || Histogram::new(LATENCY);
        let decision: fn() -> Histogram = || Histogram::new(DECISION);
        let reconcile: fn() -> Histogram = || Histogram::new(RECONCILE);
        let inner = Inner {
            api_requests: Family::default(),
            api_duration: Family::new_with_constructor(latency),
            ws_events: Family::default(),
            ws_disconnects: Counter::default(),
            ws_resyncs: Counter::default(),
            leader: Gauge::default(),
            leader_changes: Counter::default(),
            callbacks: Family::default(),
            callback_duration: Family::new_with_constructor(latency),
            requests: Family::default(),
            oldest_pending: Family::default(),
            decisions: Family::default(),
            time_to_decision: Family::new_with_constructor(decision),
            dm_fanout: Histogram::new(FANOUT),
            reconcile_duration: Family::new_with_constructor(reconcile),
            reconcile_requests: Gauge::default(),
            commands: Family::default(),
            connections: Mutex::default(),
            registry: Registry::default(),
        };
        // Counters are registered without `_total`: the encoder adds it.
        registry.register(
            "sharebot_mattermost_requests",
            "Mattermost API requests by method, route template and status",
            inner.api_requests.clone(),
        );
        registry.register(
            "sharebot_mattermost_request_duration_seconds",
            "Latency of Mattermost API requests",
            inner.api_duration.clone(),
        );
        registry.register(
            "sharebot_websocket_events",
            "WebSocket events received from Mattermost by type",
            inner.ws_events.clone(),
        );
        registry.register(
            "sharebot_websocket_disconnects",
            "Times the WebSocket to Mattermost dropped",
            inner.ws_disconnects.clone(),
        );
        registry.register(
            "sharebot_websocket_resyncs",
            "Times WebSocket events were lost and the bot reconciled over REST",
            inner.ws_resyncs.clone(),
        );
        registry.register(
            "sharebot_leader",
            "1 while this replica leads (runs the WebSocket listener and the loops), else 0",
            inner.leader.clone(),
        );
        registry.register(
            "sharebot_leader_changes",
            "Times this replica became the leader",
            inner.leader_changes.clone(),
        );
        registry.register(
            "sharebot_callbacks",
            "Interactive callbacks by kind and outcome",
            inner.callbacks.clone(),
        );
        registry.register(
            "sharebot_callback_duration_seconds",
            "Time to answer interactive callbacks",
            inner.callback_duration.clone(),
        );
        registry.register(
            "sharebot_requests",
            "Review requests by state and connection (remote id)",
            inner.requests.clone(),
        );
        registry.register(
            "sharebot_oldest_pending_request_age_seconds",
            "Age of the oldest pending review request by connection (0: none pending)",
            inner.oldest_pending.clone(),
        );
        registry.register(
            "sharebot_decisions",
            "Review decisions by outcome and by how they were made",
            inner.decisions.clone(),
        );
        registry.register(
            "sharebot_time_to_decision_seconds",
            "Time from a channel's arrival to its decision, by how it was made",
            inner.time_to_decision.clone(),
        );
        registry.register(
            "sharebot_dm_fanout_seconds",
            "Time from a channel's arrival to the last admin's review DM",
            inner.dm_fanout.clone(),
        );
        registry.register(
            "sharebot_reconcile_duration_seconds",
            "Duration of reconcile passes by result (ok, failed)",
            inner.reconcile_duration.clone(),
        );
        registry.register(
            "sharebot_reconcile_requests",
            "Pending review requests the last reconcile pass went through",
            inner.reconcile_requests.clone(),
        );
        registry.register(
            "sharebot_commands",
            "Chat commands by command and result",
            inner.commands.clone(),
        );
        let build: Family<Build, Gauge> = Family::default();
        build
            .get_or_create(&Build {
                version: env!("CARGO_PKG_VERSION").to_string(),
            })
            .set(1);
        registry.register(
            "sharebot_build_info",
            "The running build (always 1), by version",
            build,
        );

        for kind in ["action", "dialog"] {
            let _ = inner.callback_duration.get_or_create(&CallbackKind {
                kind: kind.to_string(),
            });
            for outcome in CALLBACK_OUTCOMES {
                let [kind, outcome] = owned([kind, outcome]);
                let _ = inner
                    .callbacks
                    .get_or_create(&CallbackOutcome { kind, outcome });
            }
        }
        for (verdict, how) in DECISIONS {
            let [outcome, how] = owned([outcome_label(verdict), how.as_str()]);
            let _ = inner
                .time_to_decision
                .get_or_create(&HowSeries { how: how.clone() });
            let _ = inner
                .decisions
                .get_or_create(&DecisionSeries { outcome, how });
        }
        for result in ["ok", "failed"] {
            let _ = inner.reconcile_duration.get_or_create(&PassResult {
                result: result.to_string(),
            });
        }
        Metrics {
            inner: Arc::new(Inner { registry, ..inner }),
        }
    }

    /// Creates the `sharebot_commands_total` series of each of `commands` (and of the words
    /// that are no command, `unknown`) at 0, for every result.
    pub fn expect_commands(&self, commands: &[&str]) {
        for command in commands.iter().copied().chain(["unknown"]) {
            for result in COMMAND_RESULTS {
                let [command, result] = owned([command, result]);
                let _ = self
                    .inner
                    .commands
                    .get_or_create(&CommandSeries { command, result });
            }
        }
    }

    /// A Mattermost API call: method, route template (never a concrete path with ids or
    /// tokens), status (`None` when no answer came) and latency.
    pub fn api_call(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration) {
        let status = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        let [method, route] = owned([method, route]);
        self.inner
            .api_duration
            .get_or_create(&ApiRoute {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.inner
            .api_requests
            .get_or_create(&ApiCall {
                method,
                route,
                status,
            })
            .inc();
    }

    /// A WebSocket event received from Mattermost.
    pub fn ws_event(&self, event: &str) {
        let event = event.to_string();
        self.inner.ws_events.get_or_create(&WsEvent { event }).inc();
    }

    /// The WebSocket to Mattermost dropped.
    pub fn ws_disconnect(&self) {
        self.inner.ws_disconnects.inc();
    }

    /// WebSocket events may have been lost: the bot reconciles over REST.
    pub fn ws_resync(&self) {
        self.inner.ws_resyncs.inc();
    }

    /// This replica became the leader (`true`) or stopped being it.
    pub fn leader(&self, leading: bool) {
        self.inner.leader.set(i64::from(leading));
        if leading {
            self.inner.leader_changes.inc();
        }
    }

    /// An interactive callback (button, menu, dialog) handled, with its outcome.
    pub fn callback(&self, kind: &str, outcome: &str, elapsed: Duration) {
        let [kind, outcome] = owned([kind, outcome]);
        self.inner
            .callback_duration
            .get_or_create(&CallbackKind { kind: kind.clone() })
            .observe(elapsed.as_secs_f64());
        self.inner
            .callbacks
            .get_or_create(&CallbackOutcome { kind, outcome })
            .inc();
    }

    /// A request was decided (`verdict`, `how`) `waited` after its channel arrived.
    pub fn decision(&self, verdict: Verdict, how: How, waited: Duration) {
        let [outcome, how] = owned([outcome_label(verdict), how.as_str()]);
        self.inner
            .time_to_decision
            .get_or_create(&HowSeries { how: how.clone() })
            .observe(waited.as_secs_f64());
        self.inner
            .decisions
            .get_or_create(&DecisionSeries { outcome, how })
            .inc();
    }

    /// How long ago `created_at` (ms since the epoch) was.
    pub fn since(created_at: i64) -> Duration {
        Duration::from_millis(u64::try_from(crate::ids::now_ms() - created_at).unwrap_or(0))
    }

    /// Every admin has had a request's review DM, `since_arrival` after its channel arrived.
    pub fn dm_fanout(&self, since_arrival: Duration) {
        self.inner.dm_fanout.observe(since_arrival.as_secs_f64());
    }

    /// A reconcile pass took `took` and succeeded (`ok`) or not.
    pub fn reconcile_pass(&self, ok: bool, took: Duration) {
        let result = if ok { "ok" } else { "failed" }.to_string();
        self.inner
            .reconcile_duration
            .get_or_create(&PassResult { result })
            .observe(took.as_secs_f64());
    }

    /// The pending requests a reconcile pass went through.
    pub fn reconcile_requests(&self, requests: u64) {
        self.inner
            .reconcile_requests
            .set(i64::try_from(requests).unwrap_or(i64::MAX));
    }

    /// A chat command (its name, or `unknown`) finished with `result`, one of
    /// [`COMMAND_RESULTS`].
    pub fn command(&self, command: &str, result: &str) {
        let [command, result] = owned([command, result]);
        self.inner
            .commands
            .get_or_create(&CommandSeries { command, result })
            .inc();
    }

    /// The review requests as the store counts them now: `(state, connection, count, oldest
    /// created_at in ms)`, and the connections known (each gets every state, at 0 when none).
    pub fn set_requests(
        &self,
        counts: &[(String, String, i64, i64)],
        connections: &[String],
        now_ms: i64,
    ) {
        // Series are overwritten, never removed, so a scrape beside this one never sees a
        // connection's series missing; a connection seen once stays, at 0.
        let mut known = self
            .inner
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        known.extend(connections.iter().cloned());
        known.extend(counts.iter().map(|(_, c, _, _)| c.clone()));
        for connection in known.iter() {
            let mut oldest_pending = 0.0;
            for state in REQUEST_STATES {
                let found = counts
                    .iter()
                    .find(|(s, c, _, _)| s == state && c == connection);
                let count = found.map_or(0, |(_, _, n, _)| *n);
                if let (Some((_, _, _, oldest)), "pending") = (found, state) {
                    if count > 0 {
                        oldest_pending = (now_ms - oldest).max(0) as f64 / 1000.0;
                    }
                }
                let series = RequestSeries {
                    state: state.to_string(),
                    connection: connection.clone(),
                };
                self.inner.requests.get_or_create(&series).set(count);
            }
            let series = ConnectionSeries {
                connection: connection.clone(),
            };
            self.inner
                .oldest_pending
                .get_or_create(&series)
                .set(oldest_pending);
        }
    }

    /// The sum of counter `name` (as served, with `_total`) over every series whose labels
    /// include all of `pairs`.
    pub fn counter_total(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let wanted: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        self.render()
            .lines()
            .filter_map(|line| {
                let rest = line.strip_prefix(name)?;
                let (labels, value) = match rest.strip_prefix('{') {
                    Some(rest) => rest.rsplit_once("} ")?,
                    None => ("", rest.strip_prefix(' ')?),
                };
                let labels: Vec<&str> = labels.split(',').collect();
                wanted
                    .iter()
                    .all(|w| labels.contains(&w.as_str()))
                    .then(|| value.trim().parse::<u64>().ok())
                    .flatten()
            })
            .sum()
    }

    /// The text exposition format (OpenMetrics; its `# EOF` is a comment to older scrapers).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.inner.registry).is_err() {
            tracing::warn!("cannot render the metrics");
        }
        out
    }
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
        // OpenMetrics names a counter's family without `_total` (its samples carry it).
        assert!(
            text.contains("# TYPE sharebot_mattermost_requests counter"),
            "{text}"
        );
        assert!(text.contains(
            "sharebot_mattermost_requests_total{method=\"GET\",route=\"/api/v4/users/{user_id}\",status=\"200\"} 2"
        ));
        assert!(text.contains("status=\"none\"} 1"));
        // The crate writes `le` first; label order means nothing to Prometheus.
        assert!(text.contains(
            "sharebot_mattermost_request_duration_seconds_bucket{le=\"0.005\",method=\"GET\",route=\"/api/v4/users/{user_id}\"} 1"
        ), "{text}");
        assert!(text.contains(
            "sharebot_mattermost_request_duration_seconds_bucket{le=\"0.05\",method=\"GET\",route=\"/api/v4/users/{user_id}\"} 2"
        ));
        assert!(
            text.contains("_bucket{le=\"+Inf\",method=\"POST\",route=\"/api/v4/posts\"} 1")
                && text.contains("_bucket{le=\"10.0\",method=\"POST\",route=\"/api/v4/posts\"} 0"),
            "the 20 s call lands only in +Inf: {text}"
        );
        assert!(text.contains("sharebot_websocket_events_total{event=\"posted\"} 1"));
        assert_eq!(
            m.counter_total("sharebot_mattermost_requests_total", &[("method", "GET")]),
            2
        );
        assert_eq!(
            m.counter_total("sharebot_mattermost_requests_total", &[]),
            3
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.ws_event("we\"ird\nname");
        assert!(m.render().contains(r#"event="we\"ird\nname""#));
    }

    #[test]
    fn known_series_exist_before_their_first_event() {
        let m = Metrics::new();
        m.expect_commands(&["help"]);
        let text = m.render();
        for series in [
            "sharebot_decisions_total{outcome=\"rejected\",how=\"expiry\"} 0",
            "sharebot_decisions_total{outcome=\"withdrawn\",how=\"withdrawal\"} 0",
            "sharebot_commands_total{command=\"help\",result=\"ok\"} 0",
            "sharebot_commands_total{command=\"unknown\",result=\"unknown\"} 0",
            "sharebot_callbacks_total{kind=\"dialog\",outcome=\"forged\"} 0",
            "sharebot_websocket_resyncs_total 0",
            "sharebot_reconcile_duration_seconds_count{result=\"failed\"} 0",
            "sharebot_reconcile_requests 0",
            "sharebot_dm_fanout_seconds_count 0",
            "sharebot_build_info{version=\"",
        ] {
            assert!(text.contains(series), "{series} missing from {text}");
        }
    }

    #[test]
    fn request_counts_cover_every_state_of_every_connection() {
        let m = Metrics::new();
        let counts = [("pending".to_string(), "r1".to_string(), 2, 1_000)];
        m.set_requests(&counts, &["r2".to_string()], 61_000);
        let text = m.render();
        assert!(
            text.contains("sharebot_requests{state=\"pending\",connection=\"r1\"} 2"),
            "{text}"
        );
        assert!(text.contains("sharebot_requests{state=\"accepted\",connection=\"r1\"} 0"));
        assert!(text.contains("sharebot_requests{state=\"pending\",connection=\"r2\"} 0"));
        assert!(
            text.contains("sharebot_oldest_pending_request_age_seconds{connection=\"r1\"} 60.0"),
            "{text}"
        );
        // A connection whose requests are all decided drops back to 0, not to its last count.
        m.set_requests(&[], &["r1".to_string()], 61_000);
        assert!(m
            .render()
            .contains("sharebot_requests{state=\"pending\",connection=\"r1\"} 0"));
    }
}
