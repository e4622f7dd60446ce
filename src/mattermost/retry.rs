//! Retry policy pieces: jittered exponential backoff, rate-limit header parsing, and the gate
//! that makes every task wait out a 429 together.

use std::sync::Mutex;
use std::time::Duration;

use rand::Rng;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Capped exponential backoff with jitter: attempt `n` waits a random time in
/// `[d/2, d]` where `d = min(cap, base * 2^n)`, so retries spread out but never stall.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The un-jittered ceiling for attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// The jittered delay before retry number `attempt` (0-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half).as_micros() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::thread_rng().gen_range(0..=spread)
        };
        half + Duration::from_micros(jitter)
    }
}

/// How long a 429 asks us to wait: `Retry-After` seconds, else `X-Ratelimit-Reset` seconds.
/// Mattermost sends whole seconds in both; anything unparsable is ignored.
pub fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let seconds = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
    };
    seconds("retry-after").or_else(|| seconds("x-ratelimit-reset"))
}

/// Below this many requests left in the server's window, the client paces itself.
const PACE_BELOW: u64 = 2;

/// Closed while the server is rate limiting us: after one call sees a 429, every call of the
/// client waits until the reset time before sending, instead of each burning its own 429. And
/// before that happens: once an answer says few requests are left (`X-Ratelimit-Remaining`),
/// calls are spaced at the server's rate (`X-Ratelimit-Limit` a second), so a burst of work
/// slows down to what the server allows instead of hammering it.
#[derive(Debug, Default)]
pub(crate) struct RateGate {
    closed_until: Mutex<Option<Instant>>,
    pace: Mutex<Pace>,
}

#[derive(Debug, Default)]
struct Pace {
    /// One request per this much time while pacing; `None` while there is room.
    every: Option<Duration>,
    /// The earliest time the next request may go.
    next: Option<Instant>,
}

/// `X-Ratelimit-Limit` (requests a second) and `X-Ratelimit-Remaining`, when both are there.
fn rate_headers(headers: &HeaderMap) -> Option<(u64, u64)> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((
        number("x-ratelimit-limit")?,
        number("x-ratelimit-remaining")?,
    ))
}

impl RateGate {
    /// Reads an answer's rate-limit headers: pace at the server's rate while little room is
    /// left, stop pacing when there is room again.
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let Some((limit, remaining)) = rate_headers(headers) else {
            return;
        };
        let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
        if remaining < PACE_BELOW && limit > 0 {
            pace.every = Some(Duration::from_secs_f64(1.0 / limit as f64));
        } else {
            pace.every = None;
            pace.next = None;
        }
    }

    /// Waits for this request's turn when pacing (each caller gets its own slot).
    pub(crate) async fn wait_turn(&self) {
        let slot = {
            let mut pace = self.pace.lock().unwrap_or_else(|p| p.into_inner());
            let Some(every) = pace.every else {
                return;
            };
            let now = Instant::now();
            let slot = pace.next.map_or(now, |n| n.max(now));
            pace.next = Some(slot + every);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// Keeps every request back for `wait` from now (never shortens an existing closure).
    pub(crate) fn close_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut guard = self
            .closed_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none_or(|current| current < until) {
            *guard = Some(until);
        }
    }

    /// Returns once the gate is open.
    pub(crate) async fn wait_open(&self) {
        loop {
            let until = *self
                .closed_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match until {
                Some(until) if until > Instant::now() => tokio::time::sleep_until(until).await,
                _ => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn limits(limit: &str, remaining: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_str(limit).unwrap());
        h.insert(
            "x-ratelimit-remaining",
            HeaderValue::from_str(remaining).unwrap(),
        );
        h
    }

    #[tokio::test(start_paused = true)]
    async fn little_room_left_spaces_requests_at_the_servers_rate() {
        let gate = RateGate::default();
        let started = Instant::now();
        gate.wait_turn().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "no pacing without headers"
        );
        gate.observe(&limits("10", "0"));
        for _ in 0..5 {
            gate.wait_turn().await;
        }
        // Five turns at 10 a second: the first at once, the fifth 400 ms later.
        assert_eq!(started.elapsed(), Duration::from_millis(400));
        gate.observe(&limits("10", "9"));
        let again = Instant::now();
        gate.wait_turn().await;
        assert_eq!(again.elapsed(), Duration::ZERO, "room again: no pacing");
    }

    #[test]
    fn backoff_stays_within_bounds() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(2),
        };
        for attempt in 0..40 {
            let ceiling = b.ceiling(attempt);
            assert!(ceiling <= b.cap);
            for _ in 0..20 {
                let d = b.delay(attempt);
                assert!(d <= ceiling, "{d:?} > {ceiling:?}");
                assert!(d >= ceiling / 2, "{d:?} < half of {ceiling:?}");
            }
        }
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(10), Duration::from_secs(2));
    }

    #[test]
    fn parses_rate_limit_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(rate_limit_wait(&h), None);
        h.insert("X-RateLimit-Reset", HeaderValue::from_static("3"));
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(3)));
        h.insert("Retry-After", HeaderValue::from_static(" 1 "));
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(1)));
        h.insert("Retry-After", HeaderValue::from_static("soon"));
        assert_eq!(rate_limit_wait(&h), Some(Duration::from_secs(3)));
        h.insert("X-RateLimit-Reset", HeaderValue::from_static("-1"));
        assert_eq!(rate_limit_wait(&h), None);
    }

    #[tokio::test]
    async fn gate_holds_until_reset() {
        let gate = RateGate::default();
        let start = Instant::now();
        gate.wait_open().await;
        assert!(start.elapsed() < Duration::from_millis(20));
        gate.close_for(Duration::from_millis(80));
        gate.close_for(Duration::from_millis(10)); // does not shorten
        gate.wait_open().await;
        assert!(start.elapsed() >= Duration::from_millis(80));
    }
}
