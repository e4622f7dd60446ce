//! The seeded fault schedule: which fault, when, and for how long; the same seed gives the same plan.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// One fault the chaos run injects.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `kill -9` of the replica that leads; restarted after `pause`.
    KillLeader { pause: Duration },
    /// `kill -9` of a replica that follows; restarted after `pause`.
    KillFollower { pause: Duration },
    /// Org B closes every WebSocket (resumable).
    DropSockets,
    /// Org B forgets every WebSocket session and closes them (nothing to resume).
    ForgetSockets,
    /// Org B answers this share of API requests with a 5xx for a while.
    ErrorStorm { rate: f64, lasting: Duration },
    /// Org B rate-limits every token to `per_sec` for a while (429 beyond).
    RateLimitStorm { per_sec: u32, lasting: Duration },
    /// `pg_terminate_backend` of the session holding the leader's advisory lock.
    ResetLockConnection,
    /// SIGSTOP of the leader, SIGCONT once another replica leads (or after a bound).
    StallLeader,
}

impl Fault {
    /// The name the report counts it under.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::KillLeader { .. } => "kill -9 leader",
            Fault::KillFollower { .. } => "kill -9 follower",
            Fault::DropSockets => "dropped WebSockets",
            Fault::ForgetSockets => "forgotten WebSockets",
            Fault::ErrorStorm { .. } => "5xx storm",
            Fault::RateLimitStorm { .. } => "429 storm",
            Fault::ResetLockConnection => "lock connection reset",
            Fault::StallLeader => "SIGSTOP leader",
        }
    }
}

/// A fault and when it is due, counted from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub at: Duration,
    pub fault: Fault,
}

/// How many kinds of fault there are: a plan long enough has each at least once.
pub const KINDS: usize = 8;

/// The faults for a run of `length`: the first [`KINDS`] are one of each kind in a seeded
/// order, the rest drawn at random; one slot every 2.5 s or so (at least [`KINDS`] slots), each
/// at a jittered time between the first second and 85 % of the run, so the run ends with time
/// to recover before the settle period.
pub fn plan(seed: u64, length: Duration) -> Vec<Planned> {
    let mut rng = StdRng::seed_from_u64(seed);
    let slots = ((length.as_secs_f64() / 2.5) as usize).max(KINDS);
    let start = Duration::from_secs(1).min(length / 10);
    let end = length.mul_f64(0.85);
    let span = end.saturating_sub(start);
    let slot = span / slots as u32;
    let mut kinds: Vec<usize> = (0..KINDS).collect();
    kinds.shuffle(&mut rng);
    (0..slots)
        .map(|i| {
            let kind = kinds
                .get(i)
                .copied()
                .unwrap_or_else(|| rng.gen_range(0..KINDS));
            let jitter = slot.mul_f64(rng.gen_range(0.0..0.5));
            let fault = fault(kind, slot, &mut rng);
            Planned {
                at: start + slot * i as u32 + jitter,
                fault,
            }
        })
        .collect()
}

/// Fault number `kind`, its pauses and storms sized to the slot they fall in.
fn fault(kind: usize, slot: Duration, rng: &mut StdRng) -> Fault {
    let lasting = slot
        .mul_f64(rng.gen_range(0.5..0.9))
        .clamp(Duration::from_millis(300), Duration::from_secs(3));
    let pause = Duration::from_millis(rng.gen_range(300..1500));
    match kind {
        0 => Fault::KillLeader { pause },
        1 => Fault::KillFollower { pause },
        2 => Fault::DropSockets,
        3 => Fault::ForgetSockets,
        4 => Fault::ErrorStorm {
            rate: rng.gen_range(0.2..0.6),
            lasting,
        },
        5 => Fault::RateLimitStorm {
            per_sec: rng.gen_range(2..6),
            lasting,
        },
        6 => Fault::ResetLockConnection,
        _ => Fault::StallLeader,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_gives_the_same_plan_and_every_kind_once_at_least() {
        let length = Duration::from_secs(10);
        let plan_a = plan(7, length);
        assert_eq!(plan_a, plan(7, length));
        assert_ne!(plan_a, plan(8, length));
        let mut kinds: Vec<&str> = plan_a.iter().map(|p| p.fault.kind()).collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds.len(), KINDS);
        assert!(plan_a.windows(2).all(|w| w[0].at < w[1].at));
        assert!(plan_a.iter().all(|p| p.at <= length.mul_f64(0.85)));
        assert_eq!(plan(1, Duration::from_secs(60)).len(), 24);
    }
}
