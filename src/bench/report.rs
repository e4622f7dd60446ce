//! The benchmark's figures: percentiles, each figure beside its floor, the printed table and
//! the JSON.

use std::time::Duration;

use serde::Serialize;

/// One measured figure.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Figure {
    /// Scenario and figure, e.g. `click answer p99`.
    pub name: String,
    /// The median over the runs (what the ratio is computed from).
    pub measured: f64,
    /// How many runs the figure was taken from.
    pub runs: usize,
    /// The median, the smallest and the largest value over the runs.
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// The best possible value (the API round trips the job cannot avoid; 0 when the job
    /// needs none), for figures that have one.
    pub floor: Option<f64>,
    /// A goal set by hand (memory), for figures that have no floor but a target.
    pub target: Option<f64>,
    /// measured ÷ floor (or ÷ target); `None` when that is 0 or there is neither.
    pub ratio: Option<f64>,
    /// The worst run (`max`) ÷ floor (or ÷ target): a target counts as met only when this is
    /// at most 1.
    pub worst_ratio: Option<f64>,
    /// For a figure with a target: whether the worst run meets it (`max` ≤ target).
    pub met: Option<bool>,
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
            runs: 1,
            median: measured,
            min: measured,
            max: measured,
            floor: Some(floor),
            target: None,
            ratio: (floor > 0.0).then(|| measured / floor),
            worst_ratio: (floor > 0.0).then(|| measured / floor),
            met: None,
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
            met: Some(measured <= target),
            ..Figure::new(name, measured, target, unit)
        }
    }

    /// A figure reported as it is, with neither floor nor target (e.g. the database size).
    pub fn plain(name: &str, measured: f64, unit: &str) -> Figure {
        Figure {
            floor: None,
            ratio: None,
            worst_ratio: None,
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

    /// The bound the ratios are taken against: the floor, else the target; none when 0.
    fn bound_value(&self) -> Option<f64> {
        self.floor.or(self.target).filter(|b| *b > 0.0)
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

/// The same figure from several runs of a scenario, as one: `measured` and `median` the
/// median (the upper middle one of an even count: the figure is never flattered), `min` and
/// `max` the range, the ratios against the median and the worst run, `met` only when the
/// worst run meets the target, lost and duplicated summed, the notes of every run that said
/// something different kept once each.
pub fn combine(runs: &[Figure]) -> Option<Figure> {
    let first = runs.first()?;
    let mut values: Vec<f64> = runs.iter().map(|f| f.measured).collect();
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    let (min, max) = (values[0], values[values.len() - 1]);
    let mut notes: Vec<&str> = Vec::new();
    for f in runs {
        if !f.note.is_empty() && !notes.contains(&f.note.as_str()) {
            notes.push(&f.note);
        }
    }
    let mut out = Figure {
        measured: median,
        runs: runs.len(),
        median,
        min,
        max,
        lost: runs.iter().map(|f| f.lost).sum(),
        duplicated: runs.iter().map(|f| f.duplicated).sum(),
        note: if notes.len() > 3 {
            format!("{}; … ({} runs differ)", notes[0], notes.len())
        } else {
            notes.join("; ")
        },
        ..first.clone()
    };
    let bound = out.bound_value();
    out.ratio = bound.map(|b| median / b);
    out.worst_ratio = bound.map(|b| max / b);
    out.met = out.target.map(|t| max <= t);
    Some(out)
}

/// Figures of several runs of the same scenarios grouped by name (in the order first seen)
/// and [`combine`]d.
pub fn combine_runs(runs: &[Vec<Figure>]) -> Vec<Figure> {
    let mut names: Vec<&str> = Vec::new();
    for f in runs.iter().flatten() {
        if !names.contains(&f.name.as_str()) {
            names.push(&f.name);
        }
    }
    names
        .into_iter()
        .filter_map(|name| {
            let same: Vec<Figure> = runs
                .iter()
                .flatten()
                .filter(|f| f.name == name)
                .cloned()
                .collect();
            combine(&same)
        })
        .collect()
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
measured: the median over the runs; min–max: the best and the worst run.
ratio: median ÷ floor (or ÷ target); 1.00× is the best possible against a floor, at most 1.00× meets a target; — when that is 0.
worst: the worst run ÷ floor (or ÷ target); a target is met only when the worst run meets it (met: yes).
lost: requests or DMs that never arrived; duplicated: those that arrived more than once. Either makes the run fail.";

/// The figures as a table, with [`LEGEND`] under it.
pub fn table(figures: &[Figure]) -> String {
    let mut out = String::from(
        "| scenario | runs | measured | min–max | floor or target | ratio | worst | met | lost | duplicated | note |\n|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---|\n",
    );
    let times = |r: Option<f64>| r.map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into());
    for f in figures {
        let met = match f.met {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        out.push_str(&format!(
            "| {} | {} | {:.1} {} | {:.1}–{:.1} | {} | {} | {} | {} | {} | {} | {} |\n",
            f.name,
            f.runs,
            f.measured,
            f.unit,
            f.min,
            f.max,
            f.bound(),
            times(f.ratio),
            times(f.worst_ratio),
            met,
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
            t.contains(
                "| click answer p99 | 1 | 3.0 ms | 3.0–3.0 | 0.0 ms floor | — | — | — | 0 | 0 |"
            ),
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
            t.contains(
                "| scenario | runs | measured | min–max | floor or target | ratio | worst | met |"
            ),
            "{t}"
        );
        assert!(
            t.contains("| 120.0 ms | 120.0–120.0 | 100.0 ms floor | 1.20× | 1.20× | — |"),
            "{t}"
        );
        assert!(
            t.contains("| 17.0 MB | 17.0–17.0 | 20.0 MB target | 0.85× | 0.85× | yes |"),
            "{t}"
        );
        assert!(
            t.contains("| database size | 1 | 13.0 MB | 13.0–13.0 | — | — | — | — |"),
            "{t}"
        );
        for word in [
            "measured:",
            "min–max:",
            "floor:",
            "target:",
            "ratio:",
            "worst:",
            "lost:",
            "duplicated:",
        ] {
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

    #[test]
    fn runs_combine_into_median_and_range_and_a_target_is_met_only_by_the_worst_run() {
        let runs: Vec<Vec<Figure>> = [4.0, 7.0, 5.0, 30.0, 6.0]
            .iter()
            .map(|&v| {
                vec![
                    Figure::new("click answer p99", v, 0.0, "ms"),
                    Figure::against_target("RSS idle after start", v * 3.0, 20.0, "MB")
                        .with_counts(1, 0),
                    Figure::new("fan-out", v * 10.0, 40.0, "ms"),
                ]
            })
            .collect();
        let all = combine_runs(&runs);
        assert_eq!(all.len(), 3, "{all:?}");
        let click = &all[0];
        assert_eq!(click.name, "click answer p99");
        assert_eq!((click.runs, click.median, click.measured), (5, 6.0, 6.0));
        assert_eq!((click.min, click.max), (4.0, 30.0));
        assert_eq!(
            (click.ratio, click.worst_ratio, click.met),
            (None, None, None)
        );
        // The median (18 MB) meets the target, the worst run (90 MB) does not.
        let rss = &all[1];
        assert_eq!((rss.median, rss.max, rss.lost), (18.0, 90.0, 5));
        assert_eq!(rss.met, Some(false));
        assert_eq!(rss.ratio, Some(18.0 / 20.0));
        let fan = &all[2];
        assert_eq!(fan.ratio, Some(60.0 / 40.0));
        assert_eq!(fan.worst_ratio, Some(300.0 / 40.0));
        // An even count takes the upper middle run.
        let two = combine(&[
            Figure::new("x", 1.0, 1.0, "ms"),
            Figure::new("x", 3.0, 1.0, "ms"),
        ])
        .unwrap();
        assert_eq!((two.median, two.min, two.max), (3.0, 1.0, 3.0));
        let json = serde_json::to_value(rss).unwrap();
        for key in [
            "runs",
            "median",
            "min",
            "max",
            "measured",
            "worst_ratio",
            "met",
        ] {
            assert!(!json[key].is_null(), "{key} missing: {json}");
        }
    }
}
