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

/// Closed while the server is rate limiting us: after one call sees a 429, every call of the
/// client waits until the reset time before sending, instead of each burning its own 429.
#[derive(Debug, Default)]
pub(crate) struct RateGate {
    closed_until: Mutex<Option<Instant>>,
}

impl RateGate {
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
