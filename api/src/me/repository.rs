//! Every statement on `users`. A user's row is written by their writes
//! (never by reads) and erased with everything they own.

use chrono::{DateTime, Utc};
use entity::user;
use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set, Statement,
};

use crate::auth::Identity;
use crate::changes::hub::ChangeHub;
use crate::changes::repository as changes;
use crate::idempotent;
use crate::metrics::WriteKind;
use crate::tasks::repository as tasks;

/// Records the caller's row on their first write, and on later writes
/// brings its `email` and `name` up to the token's, in the write's own
/// transaction; either way takes the user's next change number, which the
/// write stamps on what it changes. One statement. A claim the token leaves
/// out keeps the stored value: it says nothing new.
///
/// Every write takes this row first (and erasure deletes it first), so
/// writes of one user queue on its lock in the same order and never
/// deadlock, and their change numbers follow the order they commit in: the
/// change feed relies on that to never skip one.
pub(crate) async fn record_change(
    txn: &DatabaseTransaction,
    owner: &Identity,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let stored = |column: user::Column| Expr::col((user::Entity, column));
    let offered = |column: user::Column| Expr::col((Alias::new("excluded"), column));
    // The token's value where it has one, else the stored one.
    let refreshed =
        |column: user::Column| Expr::expr(Func::coalesce([offered(column), stored(column)]));
    let user = user::Entity::insert(user::ActiveModel {
        id: Set(owner.user_id.clone()),
        email: Set(owner.email.clone()),
        name: Set(owner.name.clone()),
        created_at: Set(now),
        change_seq: Set(1),
        sync_epoch: Set(rand::random()),
        purged_seq: Set(0),
    })
    .on_conflict(
        OnConflict::column(user::Column::Id)
            .value(user::Column::Email, refreshed(user::Column::Email))
            .value(user::Column::Name, refreshed(user::Column::Name))
            .value(
                user::Column::ChangeSeq,
                stored(user::Column::ChangeSeq).add(1),
            )
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?;
    Ok(user.change_seq)
}

/// Raises each user's `purged_seq` to the change number given (never
/// lowers it: another sweeper may have gone further), in one statement
/// joining a `VALUES` list, so a batch spanning many users costs one pass,
/// for the tombstone purge. Users with no row are skipped: erased meanwhile.
pub(crate) async fn advance_purged(
    txn: &DatabaseTransaction,
    purged: &BTreeMap<String, i64>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut values = Vec::with_capacity(purged.len() * 2);
    let mut rows = Vec::with_capacity(purged.len());
    for (user_id, seq) in purged {
        let placeholder = |n: usize| match backend {
            DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        rows.push(format!(
            "({}, {})",
            placeholder(values.len() + 1),
            placeholder(values.len() + 2)
        ));
        values.push(user_id.as_str().into());
        values.push((*seq).into());
    }
    // `VALUES` names its columns column1, column2 on both databases.
    let sql = format!(
        r#"UPDATE "users" SET "purged_seq" = "raised"."column2" FROM (VALUES {}) AS "raised" WHERE "users"."id" = "raised"."column1" AND "users"."purged_seq" < "raised"."column2""#,
        rows.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// The user's change-feed position: `None` for a user with no row (who
/// never wrote anything, or was erased).
pub async fn feed_position(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(user_id).one(db).await
}

/// How many rows one step of an erasure deletes: a step's transaction holds
/// the user's row (and on SQLite every writer) for a few milliseconds,
/// however large the account. A task has twice the indexes of a tombstone
/// or a key, so half the sweeper's batch costs about as much as one.
const ERASE_STEP: u64 = 500;

/// The pause between two steps, so other writers get the lock in between.
const ERASE_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

/// Erases the user: their tasks, tombstones, idempotency keys and, last,
/// their row, in steps of at most [`ERASE_STEP`] rows, each its own short
/// transaction, so erasing a huge account never holds the write lock for
/// long. Returns once all of it is gone; a user with no row (who never
/// wrote anything, or is erased already) has nothing to erase.
///
/// Each step takes the user's row first, as every write does, and takes a
/// change number that it also records as purged: from the first step on,
/// every cursor the user holds is refused (410), the list's `ETag` changes
/// at each step, and each step is announced, so the user's open event
/// streams end. Meanwhile the user's other requests see their tasks
/// dwindle; a write of theirs between two steps is erased by a later step,
/// since the row goes only in a step that finds nothing else left under its
/// lock. A write after the last step records the user afresh.
///
/// Interrupted (a crash, a lost connection), it leaves a smaller account
/// whose cursors are already refused; calling it again finishes the job.
pub async fn erase(db: &DatabaseConnection, hub: &ChangeHub, user_id: &str) -> Result<(), DbErr> {
    loop {
        let finished = changes::announced(db, WriteKind::Erase, user_id, hub, async |txn| {
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
    if !purge_feed(txn, user_id).await? {
        return Ok(true);
    }
    let mut left = ERASE_STEP;
    left -= tasks::delete_some(txn, user_id, left).await?;
    if left > 0 {
        left -= changes::delete_some_tombstones(txn, user_id, left).await?;
    }
    if left > 0 {
        left -= idempotent::forget_some(txn, user_id, left).await?;
    }
    if left == 0 {
        return Ok(false);
    }
    // Nothing refers to the row any more: its cascades have nothing to do.
    user::Entity::delete_many()
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(true)
}

/// Takes the user's row and a change number for an erasure step, recorded
/// as purged so every cursor issued before it is refused; `false` when the
/// user has no row.
async fn purge_feed(txn: &DatabaseTransaction, user_id: &str) -> Result<bool, DbErr> {
    let next = Expr::col(user::Column::ChangeSeq).add(1);
    let taken = user::Entity::update_many()
        .col_expr(user::Column::ChangeSeq, next.clone())
        .col_expr(user::Column::PurgedSeq, next)
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(taken.rows_affected > 0)
}
