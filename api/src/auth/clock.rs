//! The time source of the key-set cache: real time, unless a test moves it
//! forward, so cache expiry and refetch intervals are tested without sleeps.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// How far this clock runs ahead of real time.
    ahead: Arc<Mutex<Duration>>,
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + *self.ahead.lock().expect("clock lock")
    }

    /// Moves this clock (and every clone of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        *self.ahead.lock().expect("clock lock") += by;
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
