//! The one PostgreSQL connection per instance that `LISTEN`s for commits
//! announced by any instance ([`super::write::commit`]) and wakes this
//! instance's streams of the user named.
//!
//! Notifications sent while the connection is down are lost, so every
//! (re)connection wakes every stream: each reads from its own cursor and so
//! misses nothing. Streams also read on every keep-alive, whatever happens
//! here.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::hub::ChangeHub;
use super::write::{CHANNEL, REMINDERS_CHANNEL};

/// How the listening connection names itself in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "todo-api-listener";

const FIRST_RETRY: Duration = Duration::from_millis(100);
const LONGEST_RETRY: Duration = Duration::from_secs(5);

/// Listens on `url` until the hub closes, reconnecting with backoff.
pub async fn listen(url: String, hub: Arc<ChangeHub>) {
    let closing = hub.closing().clone();
    tokio::select! {
        () = listen_forever(&url, &hub) => {}
        () = closing.cancelled() => {}
    }
}

async fn listen_forever(url: &str, hub: &ChangeHub) {
    let mut retry = FIRST_RETRY;
    loop {
        match connect(url).await {
            Ok(mut listener) => {
                tracing::debug!("listening for task changes");
                retry = FIRST_RETRY;
                hub.wake_all();
                loop {
                    match listener.try_recv().await {
                        Ok(Some(notification)) if notification.channel() == REMINDERS_CHANNEL => {
                            let at = notification
                                .payload()
                                .parse()
                                .ok()
                                .and_then(chrono::DateTime::from_timestamp_millis);
                            if let Some(at) = at {
                                hub.reminder_scheduled(at);
                            }
                        }
                        Ok(Some(notification)) => {
                            tracing::trace!(user = notification.payload(), "a change committed");
                            hub.wake(notification.payload());
                        }
                        // Lost and already reconnected: what came meanwhile
                        // is lost too.
                        Ok(None) => hub.wake_all(),
                        Err(err) => {
                            tracing::warn!(error = %err, "the listening connection failed");
                            break;
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "cannot listen for task changes"),
        }
        hub.wake_all();
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

async fn connect(url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let options = PgConnectOptions::from_str(url)?.application_name(APPLICATION_NAME);
    // A pool of one, used only to reconnect: no idle or lifetime limits.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options);
    let mut listener = PgListener::connect_with(&pool).await?;
    listener.listen_all([CHANNEL, REMINDERS_CHANNEL]).await?;
    Ok(listener)
}
