//! Erasing a user: everything they own, then their row, in short steps.

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::change_log::{self, ChangeHub};
use crate::idempotent;
use crate::metrics::WriteKind;
use crate::reminders::store as reminder_store;
use crate::tasks::repository as tasks;

/// How many rows one step of an erasure deletes: a step's transaction holds
/// the user's row (and on SQLite every writer) for a few milliseconds,
/// however large the account. A task has twice the indexes of a tombstone
/// or a key, so half the sweeper's batch costs about as much as one.
const ERASE_STEP: u64 = 500;

/// The pause between two steps, so other writers get the lock in between.
const ERASE_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

/// Erases the user: their tasks, tombstones, reminders, idempotency keys and, last,
/// their row, in steps of at most [`ERASE_STEP`] rows, each its own short
/// transaction, so erasing a huge account never holds the write lock for
/// long. Returns once all of it is gone; a user with no row (who never
/// wrote anything, or is erased already) has nothing to erase.
///
/// Each step takes the user's row first, as every write does, and takes a
/// change number that it also records as purged: from the first step on,
/// every cursor the user holds is refused (410), the list's `ETag` changes
/// at each step, and each step is announced, so the user's open event
/// streams end. The first step also marks the row `erasing`, which hides
/// the account's tasks from every read ([`change_log::visible`]): to the
/// user's other requests the account is gone at once, not dwindling. A
/// write of theirs between two steps is erased by a later step (the
/// erasure, answered after it, counts as the later request), since the row
/// goes only in a step that finds nothing else left under its lock. A write
/// after the last step records the user afresh.
///
/// Interrupted (a crash, a lost connection), it leaves a hidden, smaller
/// account whose cursors are already refused; calling it again, or the
/// sweeper ([`change_log::unfinished_erasures`]), finishes the job.
pub async fn erase(db: &DatabaseConnection, hub: &ChangeHub, user_id: &str) -> Result<(), DbErr> {
    loop {
        let finished = change_log::announced(db, WriteKind::Erase, user_id, hub, async |txn| {
            erase_step(txn, user_id).await
        })
        .await?;
        if finished {
            return Ok(());
        }
        tokio::time::sleep(ERASE_PAUSE).await;
    }
}

/// One step of [`erase`]: whether the user is now gone.
async fn erase_step(txn: &DatabaseTransaction, user_id: &str) -> Result<bool, DbErr> {
    if !change_log::take_for_erasure(txn, user_id).await? {
        return Ok(true);
    }
    let mut left = ERASE_STEP;
    left -= tasks::delete_some(txn, user_id, left).await?;
    if left > 0 {
        left -= tasks::delete_some_tags(txn, user_id, left).await?;
    }
    if left > 0 {
        left -= change_log::delete_some_tombstones(txn, user_id, left).await?;
    }
    if left > 0 {
        left -= reminder_store::delete_some(txn, user_id, left).await?;
    }
    if left > 0 {
        left -= idempotent::forget_some(txn, user_id, left).await?;
    }
    if left == 0 {
        return Ok(false);
    }
    // Nothing refers to the row any more: its cascades have nothing to do.
    change_log::forget(txn, user_id).await?;
    Ok(true)
}
