//! What one user may store, and how often what has expired is swept.

use std::time::Duration;

/// What one user may hold, so no one account can fill the database.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// `MAX_TASKS_PER_USER`: tasks one user may hold; a create beyond is a 403.
    pub tasks_per_user: u64,
    /// Live (unexpired) idempotency keys one user may hold; a keyed create
    /// beyond is a 429 until the oldest expires. Each key keeps a copy of
    /// a request and its response (up to 64 KiB each), so the bound caps
    /// what one user's retries can store at about 1000 × 128 KiB, while a
    /// client that keys each create still makes 1000 a day, far more than
    /// an interactive user does. Not read from the environment: tests lower it.
    pub idempotency_keys_per_user: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            tasks_per_user: 10_000,
            idempotency_keys_per_user: 1000,
        }
    }
}

/// The background sweeper ([`crate::sweeper`]).
#[derive(Clone, Copy, Debug)]
pub struct SweeperSettings {
    /// How often it looks for expired tombstones and idempotency keys. Not
    /// read from the environment: tests shorten it.
    pub interval: Duration,
}

impl Default for SweeperSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::configuration::settings;

    #[test]
    fn the_task_quota_is_read_and_at_least_one() {
        let s = settings(&[("MAX_TASKS_PER_USER", "3")]).unwrap();
        assert_eq!(s.quotas.tasks_per_user, 3);
        for bad in ["0", "-1", "many"] {
            let err = settings(&[("MAX_TASKS_PER_USER", bad)]).unwrap_err();
            assert!(err.to_string().starts_with("MAX_TASKS_PER_USER"), "{err}");
        }
    }
}
