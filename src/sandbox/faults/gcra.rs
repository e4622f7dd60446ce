//! The generic cell rate algorithm as the `throttled` library (used by Mattermost's rate
//! limiter) runs it: `limit = max_burst + 1`, emission interval `1s / per_sec`, tolerance
//! `emission × limit`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The outcome of one request, with what the rate-limit headers report.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Decision {
    pub limited: bool,
    /// `X-RateLimit-Limit`: requests allowed in a burst (`max_burst + 1`).
    pub limit: u32,
    /// `X-RateLimit-Remaining`.
    pub remaining: u32,
    /// `X-RateLimit-Reset`: until the bucket is full again.
    pub reset_after: Duration,
    /// `Retry-After`: only when limited.
    pub retry_after: Option<Duration>,
}

/// Per-key theoretical arrival times (TAT), in nanoseconds since `origin`.
pub(crate) struct Gcra {
    origin: Instant,
    emission: i128,
    tolerance: i128,
    limit: u32,
    tats: HashMap<String, i128>,
    calls: u32,
}

impl Gcra {
    pub(crate) fn new(per_sec: u32, max_burst: u32, origin: Instant) -> Gcra {
        let emission = 1_000_000_000_i128 / i128::from(per_sec.max(1));
        let limit = max_burst.saturating_add(1);
        Gcra {
            origin,
            emission,
            tolerance: emission * i128::from(limit),
            limit,
            tats: HashMap::new(),
            calls: 0,
        }
    }

    /// Counts one request for `key` at `now`.
    pub(crate) fn check(&mut self, key: &str, now: Instant) -> Decision {
        let now = now.saturating_duration_since(self.origin).as_nanos() as i128;
        self.calls = self.calls.wrapping_add(1);
        if self.calls.is_multiple_of(1024) {
            // Keys whose bucket is full again carry no state.
            self.tats.retain(|_, tat| *tat > now);
        }
        let tat = self.tats.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + self.emission;
        let allow_at = new_tat - self.tolerance;
        let (limited, ttl, retry_after) = if now < allow_at {
            (true, tat - now, Some(nanos(allow_at - now)))
        } else {
            self.tats.insert(key.to_owned(), new_tat);
            (false, new_tat - now, None)
        };
        let next = self.tolerance - ttl;
        let remaining = if next > -self.emission {
            u32::try_from((next / self.emission).max(0)).unwrap_or(u32::MAX)
        } else {
            0
        };
        Decision {
            limited,
            limit: self.limit,
            remaining,
            reset_after: nanos(ttl),
            retry_after,
        }
    }
}

fn nanos(value: i128) -> Duration {
    Duration::from_nanos(u64::try_from(value.max(0)).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(origin: Instant, millis: u64) -> Instant {
        origin + Duration::from_millis(millis)
    }

    #[test]
    fn a_burst_of_max_burst_plus_one_then_one_per_interval() {
        let origin = Instant::now();
        let mut gcra = Gcra::new(1, 2, origin);
        let seen: Vec<(bool, u32, Duration)> = (0..4)
            .map(|_| gcra.check("k", origin))
            .map(|d| (d.limited, d.remaining, d.reset_after))
            .collect();
        assert_eq!(
            seen,
            vec![
                (false, 2, Duration::from_secs(1)),
                (false, 1, Duration::from_secs(2)),
                (false, 0, Duration::from_secs(3)),
                (true, 0, Duration::from_secs(3)),
            ]
        );
        let limited = gcra.check("k", at(origin, 500));
        assert!(limited.limited);
        assert_eq!(limited.limit, 3);
        assert_eq!(limited.retry_after, Some(Duration::from_millis(500)));
        assert_eq!(limited.reset_after, Duration::from_millis(2500));
        // One emission interval later one more request fits.
        let again = gcra.check("k", at(origin, 1000));
        assert!(!again.limited);
        assert_eq!(again.retry_after, None);
        assert!(gcra.check("k", at(origin, 1000)).limited);
        // Keys are independent.
        assert!(!gcra.check("other", at(origin, 1000)).limited);
    }

    #[test]
    fn the_bucket_refills_completely() {
        let origin = Instant::now();
        let mut gcra = Gcra::new(10, 4, origin);
        for _ in 0..5 {
            assert!(!gcra.check("k", origin).limited);
        }
        assert!(gcra.check("k", origin).limited);
        let refilled = gcra.check("k", at(origin, 10_000));
        assert!(!refilled.limited);
        assert_eq!(refilled.remaining, 4);
        assert_eq!(refilled.reset_after, Duration::from_millis(100));
    }
}
