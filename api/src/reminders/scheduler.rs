//! The scheduler: one per instance, no cron. It records what is due, asks
//! the database when the next reminder is, and sleeps until then (a
//! minute at most), holding no connection, unless a write (on any
//! instance: PostgreSQL's `LISTEN` connection or SQLite's in-process hub)
//! schedules an earlier one, or the service stops.
//!
//! Instances share the work without coordinating: a round takes its
//! owners' rows first and skips those another instance holds, and a
//! reminder is recorded only while still pending, so each is recorded
//! once. One whose time passed while no instance ran is recorded by the
//! first round after a start, `late`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::DatabaseConnection;

use super::store;
use crate::change_log::ChangeHub;
use crate::metrics::{Metrics, count_reminder_recorded, reporting_to};

/// Reminders one round records at most, in one transaction.
const ROUND: u64 = 1000;

/// The pause before trying again after the database failed, or after
/// skipping owners another transaction held.
const RETRY: Duration = Duration::from_millis(500);
const BUSY_RETRY: Duration = Duration::from_millis(20);
/// The least a scheduler sleeps after a round, whatever the next reminder.
const NOTHING_RECORDED_PAUSE: chrono::TimeDelta = chrono::TimeDelta::milliseconds(10);
/// The most it sleeps: a reminder whose announcement was lost (on
/// PostgreSQL it is sent after the write's commit, and an instance can
/// stop in between) is still recorded, at most this late.
const LONGEST_SLEEP: chrono::TimeDelta = chrono::TimeDelta::minutes(1);

/// Runs until the hub closes (shutdown): a round under way finishes (it
/// is one short transaction), then the scheduler stops instead of
/// sleeping again.
pub async fn run(db: DatabaseConnection, hub: Arc<ChangeHub>, metrics: Arc<Metrics>) {
    reporting_to(metrics, schedule_until_closed(&db, &hub)).await;
}

async fn schedule_until_closed(db: &DatabaseConnection, hub: &ChangeHub) {
    let closing = hub.closing().clone();
    while !closing.is_cancelled() {
        let wake_at = match record_all_due(db, hub).await {
            Ok(Some(busy)) => Some(Utc::now() + busy),
            // One already due that no round could record (it came due
            // since the round looked) is tried again after a pause, never
            // in a loop.
            Ok(None) => match store::next_pending(db).await {
                Ok(next) => {
                    let now = Utc::now();
                    let latest = now + LONGEST_SLEEP;
                    Some(next.map_or(latest, |at| at.clamp(now + NOTHING_RECORDED_PAUSE, latest)))
                }
                Err(err) => {
                    tracing::warn!(error = %err, "the scheduler could not read the next reminder");
                    Some(Utc::now() + RETRY)
                }
            },
            Err(err) => {
                tracing::warn!(error = %err, "the scheduler could not record due reminders");
                Some(Utc::now() + RETRY)
            }
        };
        tokio::select! {
            () = sleep_until(wake_at, hub) => {}
            () = closing.cancelled() => {}
        }
    }
}

/// Records rounds until none is due: `Some(pause)` when owners were
/// skipped (held by another transaction), to come back for them soon.
async fn record_all_due(
    db: &DatabaseConnection,
    hub: &ChangeHub,
) -> Result<Option<chrono::TimeDelta>, sea_orm::DbErr> {
    loop {
        let recorded = store::record_due(db, hub, ROUND).await?;
        let now = Utc::now();
        for (remind_at, late) in &recorded.reminders {
            let lag = (now - *remind_at).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
            count_reminder_recorded(lag.max(0.0), *late);
        }
        if !recorded.reminders.is_empty() {
            tracing::debug!(count = recorded.reminders.len(), "reminders recorded");
        }
        if recorded.full {
            continue;
        }
        if recorded.skipped {
            return Ok(Some(
                chrono::TimeDelta::from_std(BUSY_RETRY).unwrap_or_default(),
            ));
        }
        return Ok(None);
    }
}

/// Sleeps until `wake_at` (forever without one), or until a reminder is
/// scheduled before it.
async fn sleep_until(mut wake_at: Option<DateTime<Utc>>, hub: &ChangeHub) {
    loop {
        let sleep = async {
            match wake_at {
                Some(at) => {
                    let left = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    tokio::time::sleep(left).await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => return,
            scheduled = hub.next_scheduled() => {
                if wake_at.is_none_or(|at| scheduled < at) {
                    wake_at = Some(scheduled);
                }
            }
        }
    }
}
