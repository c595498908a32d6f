//! The time source of the key-set cache: real time, unless a test moves it
//! forward, so cache expiry and refetch intervals are tested without sleeps.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// How far this clock runs ahead of real time, in nanoseconds; an atomic,
    /// so reading the clock on every token costs no lock.
    ahead_nanos: Arc<AtomicU64>,
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_nanos(self.ahead_nanos.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.ahead_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_the_advance() {
        let clock = Clock::default();
        let before = clock.clone().now();
        clock.advance(Duration::from_secs(600));
        assert!(clock.now() >= before + Duration::from_secs(600));
    }
}
