//! Progress of a long scenario step on standard error: how far, and about how long is left.

use std::time::{Duration, Instant};

/// How often a progress line is written at most.
const EVERY: Duration = Duration::from_secs(3);

/// Reports `done of total` for one step of a scenario, on standard error.
pub struct Progress {
    label: String,
    unit: &'static str,
    total: usize,
    started: Instant,
    last: Option<Instant>,
    finished: bool,
}

impl Progress {
    /// Starts a step and writes its first line (`footprint: 0 of 20000 DMs`).
    pub fn start(label: &str, total: usize, unit: &'static str) -> Progress {
        let mut progress = Progress {
            label: label.into(),
            unit,
            total,
            started: Instant::now(),
            last: None,
            finished: false,
        };
        progress.update(0);
        progress
    }

    /// Notes that `done` are done; writes a line when the last one is a few seconds old, and
    /// a final one when everything is done.
    pub fn update(&mut self, done: usize) {
        if self.finished {
            return;
        }
        let now = Instant::now();
        let complete = done >= self.total;
        if !complete && self.last.is_some_and(|last| now - last < EVERY) {
            return;
        }
        self.last = Some(now);
        self.finished = complete;
        eprintln!(
            "{}",
            line(&self.label, done, self.total, self.unit, now - self.started)
        );
    }
}

/// One progress line: `burst: 120 of 1000 DMs (12%), about 1 min 5 s left`, or `… done in 4 s`.
pub fn line(label: &str, done: usize, total: usize, unit: &str, elapsed: Duration) -> String {
    let done = done.min(total);
    let percent = (done * 100).checked_div(total).unwrap_or(100);
    let head = format!("  {label}: {done} of {total} {unit} ({percent}%)");
    if done >= total {
        return format!("{head}, done in {}", words(elapsed));
    }
    match estimate(done, total, elapsed) {
        Some(left) => format!("{head}, about {} left", words(left)),
        None => format!("{head}, estimating the time left…"),
    }
}

/// Time left at the rate so far; `None` before anything is done.
pub fn estimate(done: usize, total: usize, elapsed: Duration) -> Option<Duration> {
    if done == 0 || done >= total {
        return (done >= total).then_some(Duration::ZERO);
    }
    Some(elapsed.mul_f64((total - done) as f64 / done as f64))
}

/// `1 min 5 s`, `12 s`.
fn words(d: Duration) -> String {
    let secs = d.as_secs_f64().round() as u64;
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_follows_the_rate_so_far() {
        let ten = Duration::from_secs(10);
        assert_eq!(estimate(0, 100, ten), None);
        assert_eq!(estimate(25, 100, ten), Some(Duration::from_secs(30)));
        assert_eq!(estimate(100, 100, ten), Some(Duration::ZERO));
        assert_eq!(
            line("burst", 25, 100, "DMs", ten),
            "  burst: 25 of 100 DMs (25%), about 30 s left"
        );
        assert_eq!(
            line("footprint", 0, 20_000, "DMs", ten),
            "  footprint: 0 of 20000 DMs (0%), estimating the time left…"
        );
        assert_eq!(
            line("footprint", 20_000, 20_000, "DMs", Duration::from_secs(65)),
            "  footprint: 20000 of 20000 DMs (100%), done in 1 min 5 s"
        );
    }
}
