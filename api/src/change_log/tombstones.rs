//! Tombstones: a deletion, remembered under its change number for
//! [`TOMBSTONE_LIFETIME`], so the feed can tell a client what went.

use chrono::{DateTime, Utc};
use entity::task_tombstone;
use std::collections::BTreeMap;

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use super::owner;
use super::write::begin;
use crate::metrics::WriteKind;

/// How long a deletion is remembered, so a cursor this old still works.
pub const TOMBSTONE_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Remembers the deletion of task `id` as change `seq`, in the deleting
/// transaction. Tombstones past their lifetime are purged by the sweeper
/// ([`purge_expired_tombstones`]), never here: a delete's transaction stays
/// as short as any other write's, however many a user has to purge.
pub async fn record_deletion(
    txn: &DatabaseTransaction,
    user_id: &str,
    id: i64,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    task_tombstone::Entity::insert(task_tombstone::ActiveModel {
        id: Set(id),
        user_id: Set(user_id.to_owned()),
        change_seq: Set(seq),
        deleted_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Purges at most `batch` tombstones past their lifetime, oldest first (from
/// any users), in one short transaction; returns how many. Each owner's
/// `purged_seq` is first raised to the newest change purged, in the same
/// transaction and before the tombstones go, so no reader ever sees a
/// tombstone missing below `purged_seq`'s old value: a cursor older than a
/// purged deletion is then refused (410), never answered without it. The
/// owners' rows are taken first, the order every write takes them in.
///
/// A tombstone left below `purged_seq` (a clock that stepped back made it
/// younger than a later one) is never read, since no accepted cursor is
/// below `purged_seq`, and goes in a later batch once it expires.
pub async fn purge_expired_tombstones(db: &DatabaseConnection, batch: u64) -> Result<u64, DbErr> {
    let expired: Vec<(i64, String, i64)> = task_tombstone::Entity::find()
        .select_only()
        .column(task_tombstone::Column::Id)
        .column(task_tombstone::Column::UserId)
        .column(task_tombstone::Column::ChangeSeq)
        .filter(task_tombstone::Column::DeletedAt.lt(Utc::now() - TOMBSTONE_LIFETIME))
        .order_by_asc(task_tombstone::Column::DeletedAt)
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    purge_past(db, &expired, async |txn, ids| {
        Ok(task_tombstone::Entity::delete_many()
            .filter(task_tombstone::Column::Id.is_in(ids))
            .exec(txn)
            .await?
            .rows_affected)
    })
    .await
}

/// Deletes records of past changes (`(id, owner, change number)`: expired
/// tombstones, old recorded reminders) with `delete`, in one short
/// transaction, after raising each owner's `purged_seq` to the newest
/// change purged, taking the owners' rows first as every write does: a
/// cursor older than a purged change is then refused (410), never
/// answered without it. Returns how many `delete` removed.
pub async fn purge_past(
    db: &DatabaseConnection,
    expired: &[(i64, String, i64)],
    delete: impl AsyncFnOnce(&DatabaseTransaction, Vec<i64>) -> Result<u64, DbErr>,
) -> Result<u64, DbErr> {
    if expired.is_empty() {
        return Ok(0);
    }
    let mut newest = BTreeMap::new();
    for (_, user_id, seq) in expired {
        let purged = newest.entry(user_id.clone()).or_insert(*seq);
        *purged = (*purged).max(*seq);
    }
    let txn = begin(db, WriteKind::TombstonePurge).await?;
    owner::advance_purged(&txn, &newest).await?;
    let purged = delete(&txn, expired.iter().map(|(id, _, _)| *id).collect()).await?;
    txn.commit().await?;
    Ok(purged)
}

/// Deletes at most `limit` of the user's tombstones, for erasure (whose
/// caller holds the user's row); returns how many.
pub async fn delete_some_tombstones(
    txn: &DatabaseTransaction,
    user_id: &str,
    limit: u64,
) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(task_tombstone::Column::Id)
        .from(task_tombstone::Entity)
        .and_where(task_tombstone::Column::UserId.eq(user_id))
        .limit(limit)
        .to_owned();
    Ok(task_tombstone::Entity::delete_many()
        .filter(task_tombstone::Column::Id.in_subquery(some))
        .exec(txn)
        .await?
        .rows_affected)
}
