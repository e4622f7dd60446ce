//! Retry policy pieces: jittered exponential backoff, rate-limit header parsing, and the gate
//! that makes every task wait out a 429 together.

use std::collections::BTreeSet;
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

/// Requests of room the client leaves unused, for the WebSocket's reconnect and for requests
/// the server counted in an order other than ours.
const SPARE: f64 = 1.0;

/// Closed while the server is rate limiting us: after one call sees a 429, every call of the
/// client waits until the reset time before sending, instead of each burning its own 429.
///
/// And before that happens, calls are paced from what the server's limiter reports on every
/// answer (`server/channels/app/ratelimit.go`, the `throttled` library's GCRA):
/// `X-RateLimit-Limit` is the bucket's size (the burst, `MaxBurst + 1`) — not a rate;
/// `X-RateLimit-Remaining` is how many more requests it accepts right now; `X-RateLimit-Reset`
/// is the whole seconds (rounded up) until the bucket is full again. The bucket refills at a
/// steady rate, so the room never grows slower than a straight line from `Remaining` now to
/// `Limit` at `Reset`: the gate lets a call go while that line, less what was sent since, leaves
/// room, and otherwise waits for it. A burst thus spends the room the server offers at once and
/// then goes on at (just under) the server's rate, without a 429.
#[derive(Debug, Default)]
pub(crate) struct RateGate {
    closed_until: Mutex<Option<Instant>>,
    budget: Mutex<Budget>,
    /// Held by the one call in flight while nothing is known of the server's limiter yet.
    probe: tokio::sync::Mutex<()>,
}

/// What the client knows of the server's limiter.
#[derive(Debug, Default)]
struct Budget {
    /// An answer came: the server either reports its limiter or has none.
    known: bool,
    /// Calls sent so far; a call's number is the count when it was sent.
    sent: u64,
    /// Numbers of the calls in flight.
    in_flight: BTreeSet<u64>,
    /// The latest report, while the server limits us.
    anchor: Option<Anchor>,
}

/// One answer's report, as the room it proves at the time it arrived.
#[derive(Clone, Copy, Debug)]
struct Anchor {
    /// The number of the call it answered.
    call: u64,
    at: Instant,
    /// `X-RateLimit-Limit`.
    limit: f64,
    /// `X-RateLimit-Remaining` less every other call of ours the server may not have counted
    /// yet (in flight before it, or sent after it).
    room: f64,
    /// `X-RateLimit-Reset`.
    full_after: Duration,
    /// The slowest refill the report allows, for after `full_after` (requests a second).
    slowest: f64,
    /// Calls sent since `at`.
    sent_since: u64,
}

impl Anchor {
    /// When the room, less the calls sent since, reaches `needed`.
    fn when_room(&self, needed: f64) -> Instant {
        let target = needed + self.sent_since as f64;
        if target <= self.room {
            return self.at;
        }
        if target <= self.limit && self.limit > self.room {
            let share = (target - self.room) / (self.limit - self.room);
            return self.at + self.full_after.mul_f64(share);
        }
        // More was sent since than the bucket holds: past `full_after` it refills at least at
        // the slowest rate the report allows.
        let beyond = (target - self.limit.max(self.room)) / self.slowest.max(f64::MIN_POSITIVE);
        self.at + self.full_after + Duration::from_secs_f64(beyond.min(3600.0))
    }
}

/// One call's place in the gate's accounting, from its turn until its answer (or its end).
pub(crate) struct Ticket<'a> {
    gate: &'a RateGate,
    call: u64,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut budget = self.gate.budget.lock().unwrap_or_else(|p| p.into_inner());
        budget.in_flight.remove(&self.call);
    }
}

/// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`, when the first two
/// are there (a missing reset counts as a second).
fn rate_headers(headers: &HeaderMap) -> Option<(u64, u64, u64)> {
    let number = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    Some((
        number("x-ratelimit-limit")?,
        number("x-ratelimit-remaining")?,
        number("x-ratelimit-reset").unwrap_or(1),
    ))
}

impl RateGate {
    /// Until the first answer, calls go one at a time: a client's first burst must not
    /// overrun a limiter it knows nothing of yet. `None` once an answer came.
    pub(crate) async fn probe(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        if self.is_known() {
            return None;
        }
        let guard = self.probe.lock().await;
        (!self.is_known()).then_some(guard)
    }

    fn is_known(&self) -> bool {
        self.budget.lock().unwrap_or_else(|p| p.into_inner()).known
    }

    /// Reads an answer (`status`, headers) to the call of `ticket`: the server's report
    /// replaces what the gate knew; an answer without one means the server does not limit us.
    pub(crate) fn observe(&self, ticket: &Ticket<'_>, status: u16, headers: &HeaderMap) {
        let now = Instant::now();
        let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
        let Some((limit, remaining, reset)) = rate_headers(headers) else {
            // A proxy's error says nothing of the server's limiter.
            if status < 500 {
                budget.known = true;
                budget.anchor = None;
            }
            return;
        };
        budget.known = true;
        if budget.anchor.is_some_and(|a| a.call > ticket.call) {
            return;
        }
        let before = budget.in_flight.range(..ticket.call).count() as u64;
        let after = budget.sent.saturating_sub(ticket.call);
        let full_after = Duration::from_secs(reset);
        let slowest =
            limit.saturating_sub(remaining).saturating_sub(1).max(1) as f64 / (reset.max(1) as f64);
        budget.anchor = Some(Anchor {
            call: ticket.call,
            at: now,
            limit: limit as f64,
            room: remaining as f64 - (before + after) as f64,
            full_after,
            slowest,
            sent_since: 0,
        });
    }

    /// Waits for this call's turn: at once while the server's last report leaves room, else
    /// until it has refilled enough.
    pub(crate) async fn wait_turn(&self) -> Ticket<'_> {
        loop {
            let wake = {
                let mut budget = self.budget.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let ready = match &budget.anchor {
                    None => None,
                    Some(anchor) => {
                        let needed = (1.0 + SPARE).min(anchor.limit.max(1.0));
                        Some(anchor.when_room(needed)).filter(|at| *at > now)
                    }
                };
                match ready {
                    Some(wake) => wake,
                    None => {
                        budget.sent += 1;
                        let call = budget.sent;
                        budget.in_flight.insert(call);
                        if let Some(anchor) = budget.anchor.as_mut() {
                            anchor.sent_since += 1;
                        }
                        return Ticket { gate: self, call };
                    }
                }
            };
            tokio::time::sleep_until(wake).await;
        }
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

    fn report(limit: &str, remaining: &str, reset: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_str(limit).unwrap());
        h.insert(
            "x-ratelimit-remaining",
            HeaderValue::from_str(remaining).unwrap(),
        );
        h.insert("x-ratelimit-reset", HeaderValue::from_str(reset).unwrap());
        h
    }

    #[tokio::test(start_paused = true)]
    async fn the_room_the_server_reports_is_spent_then_calls_follow_its_refill() {
        let gate = RateGate::default();
        let started = Instant::now();
        let first = gate.wait_turn().await;
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "nothing known: no waiting"
        );
        // The server's defaults: a bucket of 101 (burst 100 + 1), 10 a second; one call made.
        gate.observe(&first, 200, &report("101", "100", "1"));
        drop(first);
        // 99 more go at once (one of the 100 is kept spare)...
        let mut burst = Vec::new();
        for _ in 0..99 {
            burst.push(gate.wait_turn().await);
        }
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the room is spent at once"
        );
        // ...the last of them says the bucket is empty and full again in 11 s (10.1 s rounded up).
        let last = burst.pop().unwrap();
        drop(burst);
        gate.observe(&last, 200, &report("101", "0", "11"));
        drop(last);
        let empty = Instant::now();
        let mut previous = empty;
        for _ in 0..10 {
            let ticket = gate.wait_turn().await;
            // Never faster than the server refills (one each 100 ms)...
            assert!(previous.elapsed() >= Duration::from_millis(100));
            previous = Instant::now();
            // ...which then reports the one spare left.
            gate.observe(&ticket, 200, &report("101", "1", "11"));
        }
        // Just under the server's rate, far from the 101 a second `Limit` is not.
        let ten = empty.elapsed();
        assert!(ten <= Duration::from_millis(1300), "{ten:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn calls_in_flight_count_against_the_reported_room() {
        let gate = RateGate::default();
        let a = gate.wait_turn().await;
        let b = gate.wait_turn().await;
        let c = gate.wait_turn().await;
        // `a`'s answer says 3 left; `b` and `c` may not be counted yet: 1 left, kept spare.
        gate.observe(&a, 200, &report("10", "3", "1"));
        let started = Instant::now();
        let d = gate.wait_turn().await;
        assert!(
            started.elapsed() > Duration::ZERO,
            "had to wait for a refill"
        );
        drop((a, b, c, d));
        // An answer without the headers: the server does not limit us (any more).
        let e = gate.wait_turn().await;
        gate.observe(&e, 200, &HeaderMap::new());
        let again = Instant::now();
        for _ in 0..50 {
            drop(gate.wait_turn().await);
        }
        assert_eq!(again.elapsed(), Duration::ZERO);
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
