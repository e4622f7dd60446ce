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
    /// The best possible value (the API round trips the job cannot avoid); 0 when the job
    /// needs none.
    pub floor: f64,
    /// measured ÷ floor; `None` when the floor is 0.
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
    pub fn new(name: &str, measured: f64, floor: f64, unit: &str) -> Figure {
        Figure {
            name: name.into(),
            measured,
            floor,
            ratio: (floor > 0.0).then(|| measured / floor),
            unit: unit.into(),
            lost: 0,
            duplicated: 0,
            note: String::new(),
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

/// The figures as a table.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| scenario | measured | floor | ratio | lost | duplicated | note |\n|---|---:|---:|---:|---:|---:|---|\n",
    );
    for f in figures {
        let ratio = f
            .ratio
            .map(|r| format!("{r:.2}×"))
            .unwrap_or_else(|| "—".into());
        out.push_str(&format!(
            "| {} | {:.1} {} | {:.1} {} | {} | {} | {} | {} |\n",
            f.name, f.measured, f.unit, f.floor, f.unit, ratio, f.lost, f.duplicated, f.note
        ));
    }
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
            t.contains("| click answer p99 | 3.0 ms | 0.0 ms | — | 0 | 0 |"),
            "{t}"
        );
    }
}
