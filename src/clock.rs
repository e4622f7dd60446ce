//! The bot's notion of now: the machine's clock, moved by an offset a test can change.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// What the time-driven loops (connection health, invite expiry) read as now; cheap to clone,
/// and every clone moves together. In production the offset stays zero.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the epoch, as Mattermost counts time, moved by the offset.
    pub fn now_ms(&self) -> i64 {
        crate::ids::now_ms() + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves this clock (and every clone) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(by, Ordering::SeqCst);
    }

    /// How far this clock is ahead of the machine's, in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_move_together() {
        let clock = Clock::default();
        let other = clock.clone();
        assert!((clock.now_ms() - crate::ids::now_ms()).abs() < 1000);
        other.advance(Duration::from_secs(3600));
        assert_eq!(clock.offset_ms(), 3_600_000);
        assert!(clock.now_ms() - crate::ids::now_ms() >= 3_599_000);
    }
}
