//! The background sweeper: purges tombstones, recorded reminders and
//! idempotency keys past their lifetimes, off the request path, and finishes erasures an
//! instance left half-way. Each instance runs one (they
//! agree: a batch another sweeper purged first is simply not found).
//!
//! It works in batches of [`BATCH`] rows, each in a transaction of its own,
//! with a pause between them, so however much has piled up (millions of
//! tombstones after a restore, say), no transaction holds SQLite's write
//! lock, or PostgreSQL's row locks, for more than a few milliseconds, and
//! requests' writes slip in between batches.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DbErr};

use crate::change_log::{self, ChangeHub};
use crate::configuration::SweeperSettings;
use crate::idempotent;
use crate::me;
use crate::metrics::{Metrics, reporting_to};
use crate::reminders::store as reminder_store;

/// Rows one transaction purges.
pub const BATCH: u64 = 500;

/// The pause between two full batches, so a backlog never keeps the write
/// lock busy back to back.
const PAUSE: Duration = Duration::from_millis(20);

/// Sweeps now and then every `settings.interval`, until dropped (the task
/// is aborted at shutdown; a batch cut short rolls back).
pub async fn run(
    db: DatabaseConnection,
    hub: Arc<ChangeHub>,
    metrics: Arc<Metrics>,
    settings: SweeperSettings,
) {
    reporting_to(metrics, async move {
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            finish_erasures(&db, &hub).await;
            sweep(&db).await;
        }
    })
    .await;
}

/// Finishes every erasure whose instance stopped half-way (the accounts
/// stay hidden meanwhile), in the same short steps.
pub async fn finish_erasures(db: &DatabaseConnection, hub: &ChangeHub) {
    let unfinished = match change_log::unfinished_erasures(db, BATCH).await {
        Ok(unfinished) => unfinished,
        Err(err) => {
            tracing::warn!(error = %err, "the sweeper could not look for unfinished erasures");
            return;
        }
    };
    for user_id in unfinished {
        match me::erase(db, hub, &user_id).await {
            Ok(()) => tracing::info!("the sweeper finished an erasure left half-way"),
            Err(err) => tracing::warn!(error = %err, "the sweeper could not finish an erasure"),
        }
    }
}

/// One sweep: every expired tombstone, then every expired key, a batch at
/// a time. An error ends that part of the sweep; the next sweep goes on.
pub async fn sweep(db: &DatabaseConnection) {
    drain("tombstones", || {
        change_log::purge_expired_tombstones(db, BATCH)
    })
    .await;
    drain("recorded reminders", || {
        reminder_store::purge_expired(db, BATCH)
    })
    .await;
    drain("idempotency keys", || idempotent::purge_expired(db, BATCH)).await;
}

async fn drain<F: Future<Output = Result<u64, DbErr>>>(what: &str, mut purge: impl FnMut() -> F) {
    let mut total = 0;
    loop {
        match purge().await {
            Ok(purged) => {
                total += purged;
                if purged < BATCH {
                    break;
                }
                tokio::time::sleep(PAUSE).await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "the sweeper could not purge expired {what}");
                break;
            }
        }
    }
    if total > 0 {
        tracing::info!("the sweeper purged {total} expired {what}");
    }
}
