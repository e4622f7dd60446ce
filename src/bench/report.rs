//! The benchmark's figures: percentiles, each figure beside its floor, the printed table and
//! the JSON.

use std::time::Duration;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figure {
    /// Scenario and figure, e.g. `click answer p99`.
    pub name: String,
    pub measured: f64,
    /// The best possible value (the API round trips the job cannot avoid; 0 when the job
    /// needs none), for figures that have one.
    pub floor: Option<f64>,
    /// A goal set by hand (memory), for figures that have no floor but a target.
    pub target: Option<f64>,
    /// measured ÷ floor (or ÷ target); `None` when that is 0 or there is neither.
    pub ratio: Option<f64>,
    /// `ms`, `MB`, `count`…
    pub unit: String,
    /// Requests or DMs that never arrived.
    pub lost: u64,
    /// Requests or DMs that arrived more than once.
    pub duplicated: u64,
    /// What else is worth knowing (429s received, samples taken…).
    pub note: String,
}

impl Figure {
    /// A figure beside its floor, the least the job can take.
    pub fn new(name: &str, measured: f64, floor: f64, unit: &str) -> Figure {
        Figure {
            name: name.into(),
            measured,
            floor: Some(floor),
            target: None,
            ratio: (floor > 0.0).then(|| measured / floor),
            unit: unit.into(),
            lost: 0,
            duplicated: 0,
            note: String::new(),
        }
    }

    /// A figure beside a target (no floor can be stated, e.g. memory).
    pub fn against_target(name: &str, measured: f64, target: f64, unit: &str) -> Figure {
        Figure {
            floor: None,
            target: Some(target),
            ..Figure::new(name, measured, target, unit)
        }
    }

    /// A figure reported as it is, with neither floor nor target (e.g. the database size).
    pub fn plain(name: &str, measured: f64, unit: &str) -> Figure {
        Figure {
            floor: None,
            ratio: None,
            ..Figure::new(name, measured, 0.0, unit)
        }
    }

    pub fn with_counts(mut self, lost: u64, duplicated: u64) -> Figure {
        self.lost = lost;
        self.duplicated = duplicated;
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Figure {
        self.note = note.into();
        self
    }

    /// The "floor or target" cell: `100.0 ms floor`, `20.0 MB target`, or `—`.
    fn bound(&self) -> String {
        match (self.floor, self.target) {
            (Some(floor), _) => format!("{floor:.1} {} floor", self.unit),
            (None, Some(target)) => format!("{target:.1} {} target", self.unit),
            (None, None) => "—".into(),
        }
    }
}

/// Milliseconds, with fractions.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`th percentile (0–100) of `samples` by nearest rank; 0 when empty.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    let mut sorted = samples.to_vec();
    sorted.sort();
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What the columns mean, printed under the table.
pub const LEGEND: &str = "\
floor: the least the job can take (the Mattermost round trips it cannot avoid; 0 when it needs none).
target: a goal set by hand where no floor can be stated (memory); — : neither (reported as is).
ratio: measured ÷ floor (or ÷ target); 1.00× is the best possible against a floor, below 1.00× meets a target; — when that is 0.
lost: requests or DMs that never arrived; duplicated: those that arrived more than once. Either makes the run fail.";

/// The figures as a table, with [`LEGEND`] under it.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| scenario | measured | floor or target | ratio | lost | duplicated | note |\n|---|---:|---:|---:|---:|---:|---|\n",
    );
    for f in figures {
        let ratio = f
            .ratio
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {} | {:.1} {} | {} | {} | {} | {} | {} |\n",
            f.name,
            f.measured,
            f.unit,
            f.bound(),
            ratio,
            f.lost,
            f.duplicated,
            f.note
        ));
    }
    out.push('\n');
    out.push_str(LEGEND);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&samples, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
        assert_eq!(
            percentile(&[Duration::from_millis(7)], 99.0),
            Duration::from_millis(7)
        );
    }

    #[test]
    fn a_zero_floor_has_no_ratio() {
        assert_eq!(Figure::new("x", 3.0, 0.0, "ms").ratio, None);
        assert_eq!(Figure::new("x", 3.0, 2.0, "ms").ratio, Some(1.5));
        let t = table(&[Figure::new("click answer p99", 3.0, 0.0, "ms")]);
        assert!(
            t.contains("| click answer p99 | 3.0 ms | 0.0 ms floor | — | 0 | 0 |"),
            "{t}"
        );
    }

    #[test]
    fn the_table_says_which_rows_have_a_floor_a_target_or_neither_and_explains_its_columns() {
        let t = table(&[
            Figure::new("decision applied", 120.0, 100.0, "ms"),
            Figure::against_target("RSS idle after start", 17.0, 20.0, "MB"),
            Figure::plain("database size", 13.0, "MB"),
        ]);
        assert!(
            t.contains("| scenario | measured | floor or target | ratio |"),
            "{t}"
        );
        assert!(t.contains("| 120.0 ms | 100.0 ms floor | 1.20× |"), "{t}");
        assert!(t.contains("| 17.0 MB | 20.0 MB target | 0.85× |"), "{t}");
        assert!(t.contains("| database size | 13.0 MB | — | — |"), "{t}");
        for word in ["floor:", "target:", "ratio:", "lost:", "duplicated:"] {
            assert!(t.contains(word), "{word} is not explained:\n{t}");
        }
        let json = serde_json::to_value(Figure::plain("database size", 13.0, "MB")).unwrap();
        assert!(
            json["floor"].is_null() && json["target"].is_null(),
            "{json}"
        );
        let json = serde_json::to_value(Figure::against_target("m", 17.0, 20.0, "MB")).unwrap();
        assert!(json["floor"].is_null() && json["target"] == 20.0, "{json}");
    }
}
