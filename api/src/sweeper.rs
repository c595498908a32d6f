//! The background sweeper: purges tombstones and idempotency keys past
//! their lifetimes, off the request path. Each instance runs one (they
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

use crate::changes::repository as changes;
use crate::configuration::SweeperSettings;
use crate::idempotent;
use crate::metrics::{Metrics, reporting_to};

/// Rows one transaction purges.
pub const BATCH: u64 = 500;

/// The pause between two full batches, so a backlog never keeps the write
/// lock busy back to back.
const PAUSE: Duration = Duration::from_millis(20);

/// Sweeps now and then every `settings.interval`, until dropped (the task
/// is aborted at shutdown; a batch cut short rolls back).
pub async fn run(db: DatabaseConnection, metrics: Arc<Metrics>, settings: SweeperSettings) {
    reporting_to(metrics, async move {
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            sweep(&db).await;
        }
    })
    .await;
}

/// One sweep: every expired tombstone, then every expired key, a batch at
/// a time. An error ends that part of the sweep; the next sweep goes on.
pub async fn sweep(db: &DatabaseConnection) {
    drain("tombstones", || {
        changes::purge_expired_tombstones(db, BATCH)
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
