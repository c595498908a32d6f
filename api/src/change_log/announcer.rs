//! On PostgreSQL, how a commit reaches every instance's listener
//! ([`super::listener`]): a `NOTIFY` sent just after the commit, by one task
//! of this instance's own, on a connection of its own, for every commit
//! queued meanwhile at once.
//!
//! Not in the write's own transaction: PostgreSQL serializes the commits of
//! transactions that notify (they take one database-wide lock, held until
//! their commit is flushed), so every write would wait for every other's
//! flush, and writes would share no flush at all: with pgbench, one-row
//! write transactions ran at about 6,000 a second without a `NOTIFY` and
//! 1,400 with one (BENCHMARKS.md). The announcements'
//! own transaction is committed without waiting for its flush
//! (`synchronous_commit` off, for it alone): a notification is a wake-up,
//! not data, so it does not need to outlive a crash.
//!
//! An announcement lost (the instance stops between the commit and the
//! `NOTIFY`, or the database is unreachable) costs no change: every stream
//! also reads its feed at each keep-alive, and every scheduler looks for
//! due reminders at least once a minute
//! ([`crate::reminders::scheduler`]).

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::write::{CHANNEL, REMINDERS_CHANNEL};

/// The most notifications one statement sends.
const MOST_PER_STATEMENT: usize = 1000;

/// How long [`Announcer::stop`] waits for what is queued to be sent.
const STOP_WAIT: Duration = Duration::from_secs(2);

/// This instance's queue of announcements and the task that sends them.
pub struct Announcer {
    queue: mpsc::UnboundedSender<Announcement>,
    task: Mutex<Option<JoinHandle<()>>>,
}

enum Announcement {
    /// A user's changes committed.
    Changed(String),
    /// A reminder was scheduled (and committed) at this time.
    ReminderAt(DateTime<Utc>),
    /// From [`Announcer::stop`]: send what came before, then end.
    Stop,
}

impl Announcer {
    /// Starts the sending task on `db`, a pool of its own (one connection
    /// is enough: each statement sends everything queued).
    pub fn start(db: DatabaseConnection) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(send_until_stopped(db, receiver));
        Self {
            queue,
            task: Mutex::new(Some(task)),
        }
    }

    pub fn changed(&self, user_id: &str) {
        let _ = self.queue.send(Announcement::Changed(user_id.to_owned()));
    }

    pub fn reminder_scheduled(&self, at: DateTime<Utc>) {
        let _ = self.queue.send(Announcement::ReminderAt(at));
    }

    /// Sends what is queued, then stops the task (for shutdown, once no
    /// request is left to announce anything). Waits a little at most.
    pub async fn stop(&self) {
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        let Some(task) = task else { return };
        let _ = self.queue.send(Announcement::Stop);
        if tokio::time::timeout(STOP_WAIT, task).await.is_err() {
            tracing::warn!("change announcements were still queued at shutdown");
        }
    }
}

async fn send_until_stopped(
    db: DatabaseConnection,
    mut receiver: mpsc::UnboundedReceiver<Announcement>,
) {
    let mut batch = Vec::new();
    while receiver.recv_many(&mut batch, MOST_PER_STATEMENT).await > 0 {
        let stop = batch.iter().any(|a| matches!(a, Announcement::Stop));
        if let Err(err) = send(&db, &batch).await {
            tracing::warn!(error = %err, "could not announce committed changes to other instances");
        }
        batch.clear();
        if stop {
            return;
        }
    }
}

/// One statement: every user's change once, and the earliest reminder.
async fn send(db: &DatabaseConnection, batch: &[Announcement]) -> Result<(), sea_orm::DbErr> {
    let mut users = BTreeSet::new();
    let mut earliest: Option<DateTime<Utc>> = None;
    for announcement in batch {
        match announcement {
            Announcement::Changed(user_id) => {
                users.insert(user_id.as_str());
            }
            Announcement::ReminderAt(at) => {
                earliest = Some(earliest.map_or(*at, |e| e.min(*at)));
            }
            Announcement::Stop => {}
        }
    }
    let mut notifications: Vec<serde_json::Value> = users
        .into_iter()
        .map(|user_id| serde_json::json!({"channel": CHANNEL, "payload": user_id}))
        .collect();
    if let Some(at) = earliest {
        notifications.push(serde_json::json!({
            "channel": REMINDERS_CHANNEL,
            "payload": at.timestamp_millis().to_string(),
        }));
    }
    if notifications.is_empty() {
        return Ok(());
    }
    let sql = r#"SELECT set_config('synchronous_commit', 'off', true), pg_notify("n"."channel", "n"."payload") FROM json_to_recordset($1::json) AS "n"("channel" text, "payload" text)"#;
    let values = [serde_json::Value::Array(notifications).to_string().into()];
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}
