//! The owner row: each user's `users` row is the lock every write of theirs
//! takes first, the counter their changes are numbered by, and where their
//! feed stands (`sync_epoch`, `change_seq`, `purged_seq`), and whether
//! their account is being erased (`erasing`). Every statement on `users`
//! is here.

use chrono::{DateTime, Utc};
use entity::user;
use std::collections::BTreeMap;

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict, Query, SimpleExpr};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QuerySelect, Set, Statement,
};

use crate::auth::Identity;

/// What a write took from its owner's row: its change number, and how
/// many tasks the owner holds with the write's own.
#[derive(Clone, Copy, Debug)]
pub struct Taken {
    pub seq: i64,
    pub task_count: i64,
}

/// Records the caller's row on their first write, and on later writes
/// brings its `email` and `name` up to the token's, in the write's own
/// transaction; either way takes the user's next change number, which the
/// write stamps on what it changes, and adds `tasks` (negative: removes)
/// to their task count: what the write will add, counted before it is
/// written, so the quota is checked on the answer. One statement. A claim
/// the token leaves out keeps the stored value: it says nothing new.
///
/// Every write takes this row first (and erasure deletes it first), so
/// writes of one user queue on its lock in the same order and never
/// deadlock, and their change numbers follow the order they commit in: the
/// change feed relies on that to never skip one. A write that turns out
/// not to add (or remove) what it counted rolls back.
pub async fn record_change(
    txn: &DatabaseTransaction,
    owner: &Identity,
    now: DateTime<Utc>,
    tasks: i64,
) -> Result<Taken, DbErr> {
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
        erasing: Set(false),
        task_count: Set(Ord::max(tasks, 0)),
    })
    .on_conflict(
        OnConflict::column(user::Column::Id)
            .value(user::Column::Email, refreshed(user::Column::Email))
            .value(user::Column::Name, refreshed(user::Column::Name))
            .value(
                user::Column::ChangeSeq,
                stored(user::Column::ChangeSeq).add(1),
            )
            .value(
                user::Column::TaskCount,
                stored(user::Column::TaskCount).add(tasks),
            )
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?;
    Ok(Taken {
        seq: user.change_seq,
        task_count: user.task_count,
    })
}

/// Adds `tasks` (negative: removes) to the count of the user whose row
/// `txn` holds, for a write that learns only as it goes how many it adds:
/// a batch.
pub async fn count_tasks(
    txn: &DatabaseTransaction,
    user_id: &str,
    tasks: i64,
) -> Result<(), DbErr> {
    user::Entity::update_many()
        .col_expr(
            user::Column::TaskCount,
            Expr::col(user::Column::TaskCount).add(tasks),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Takes `more` change numbers after the one [`record_change`] took, in
/// the same transaction (which holds the row), for a write that changes
/// several tasks: each gets a number of its own, so a feed page never
/// ends between two changes sharing one. Returns the last number taken.
pub async fn record_more_changes(
    txn: &DatabaseTransaction,
    user_id: &str,
    more: i64,
) -> Result<i64, DbErr> {
    let taken = user::Entity::update_many()
        .col_expr(
            user::Column::ChangeSeq,
            Expr::col(user::Column::ChangeSeq).add(more),
        )
        .filter(user::Column::Id.eq(user_id))
        .exec_with_returning(txn)
        .await?;
    taken
        .first()
        .map(|user| user.change_seq)
        .ok_or_else(|| DbErr::RecordNotFound("the owner's row".into()))
}

/// Of `user_ids`, those whose rows this transaction now holds, sorted:
/// each row is taken as every write takes it, in id order (so two
/// takers never deadlock). On PostgreSQL a row another transaction holds
/// is skipped (`FOR UPDATE SKIP LOCKED`), so two instances split the users
/// between them instead of waiting on each other; SQLite's writer holds
/// them all. Users being erased, or gone, are left out.
pub async fn lock_owners(
    txn: &DatabaseTransaction,
    user_ids: &[String],
) -> Result<Vec<String>, DbErr> {
    let mut select = Query::select();
    select
        .column(user::Column::Id)
        .from(user::Entity)
        .and_where(user::Column::Id.is_in(user_ids.iter().map(String::as_str)))
        .and_where(user::Column::Erasing.eq(false))
        .order_by(user::Column::Id, sea_orm::Order::Asc);
    if txn.get_database_backend() == DbBackend::Postgres {
        select.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let rows = txn.query_all(&select).await?;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0))
        .collect()
}

/// Takes `counts[user]` change numbers for each user, whose rows `txn`
/// holds ([`lock_owners`]), in one statement; answers the last number
/// each took (the numbers before it, down to `count` of them, are theirs
/// too) and their feed's epoch.
pub async fn take_changes(
    txn: &DatabaseTransaction,
    counts: &BTreeMap<String, i64>,
) -> Result<BTreeMap<String, (i64, i64)>, DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(counts.len() * 2);
    let mut rows = Vec::with_capacity(counts.len());
    for (user_id, count) in counts {
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
        values.push((*count).into());
    }
    // `VALUES` names its columns column1, column2 on both databases.
    let sql = format!(
        r#"UPDATE "users" SET "change_seq" = "users"."change_seq" + "taken"."column2" FROM (VALUES {}) AS "taken" WHERE "users"."id" = "taken"."column1" RETURNING "users"."id", "users"."change_seq", "users"."sync_epoch""#,
        rows.join(", ")
    );
    let taken = txn
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    taken
        .iter()
        .map(|row| {
            let taken = (row.try_get_by_index(1)?, row.try_get_by_index(2)?);
            Ok((row.try_get_by_index(0)?, taken))
        })
        .collect()
}

/// Raises each user's `purged_seq` to the change number given (never
/// lowers it: another sweeper may have gone further), in one statement
/// joining a `VALUES` list, so a batch spanning many users costs one pass,
/// for the tombstone purge. Users with no row are skipped: erased meanwhile.
pub async fn advance_purged(
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

/// Takes the user's row and a change number for a step of erasing them, recorded
/// as purged so every cursor issued before it is refused; `false` when the
/// user has no row.
pub async fn take_for_erasure(txn: &DatabaseTransaction, user_id: &str) -> Result<bool, DbErr> {
    let next = Expr::col(user::Column::ChangeSeq).add(1);
    let taken = user::Entity::update_many()
        .col_expr(user::Column::ChangeSeq, next.clone())
        .col_expr(user::Column::PurgedSeq, next)
        .col_expr(user::Column::Erasing, Expr::value(true))
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(taken.rows_affected > 0)
}

/// A condition on task (and tombstone) reads: true unless `user_id`'s
/// account is being erased ([`take_for_erasure`] marked it). One
/// primary-key lookup.
pub fn visible(user_id: &str) -> SimpleExpr {
    Expr::exists(
        Query::select()
            .expr(Expr::value(1))
            .from(user::Entity)
            .and_where(user::Column::Id.eq(user_id))
            .and_where(user::Column::Erasing.eq(true))
            .to_owned(),
    )
    .not()
}

/// Users whose erasure began and has not finished (at most `limit`), for
/// the sweeper to finish: their erasing instance stopped half-way. One
/// still running elsewhere is harmless to join: each step holds the row.
pub async fn unfinished_erasures(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<String>, DbErr> {
    user::Entity::find()
        .select_only()
        .column(user::Column::Id)
        .filter(user::Column::Erasing.eq(true))
        .limit(limit)
        .into_tuple()
        .all(db)
        .await
}

/// Deletes the user's row, the last step of erasing them, once nothing
/// refers to it any more (its cascades have nothing to do).
pub async fn forget(txn: &DatabaseTransaction, user_id: &str) -> Result<(), DbErr> {
    user::Entity::delete_many()
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    Ok(())
}
