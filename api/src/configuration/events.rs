//! Live sync: the event stream's keep-alive and limits, and where the
//! PostgreSQL listener connects.

use std::time::Duration;

use super::DatabaseUrl;

/// `GET /api/events`.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// `EVENT_KEEP_ALIVE`: how often an idle stream sends a comment line
    /// (and reads the feed again, whatever became of a notification).
    pub keep_alive: Duration,
    /// `EVENT_STREAMS_PER_USER`: open streams one user may hold on one
    /// instance.
    pub streams_per_user: usize,
    /// `LISTEN_DATABASE_URL`: where the PostgreSQL listener connects, where
    /// `DATABASE_URL` goes through a transaction-mode pooler (which cannot
    /// hold a `LISTEN`); `DATABASE_URL` when unset.
    pub listen_database_url: Option<DatabaseUrl>,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(15),
            streams_per_user: 10,
            listen_database_url: None,
        }
    }
}
