//! Every statement on `reminders`, but the change feed's read of the
//! recorded ones.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use entity::{reminder, task};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, Set, Statement,
};

use crate::change_log::{self, ChangeHub, Pushed};
use crate::metrics::WriteKind;

/// A reminder recorded more than this after its time is `late`.
pub const LATE_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Schedules the reminders of task `task_id` (owned by `user_id`) at
/// `instants` for its occurrence due at `due_at`: only those still to come
/// after `now`. Answers the earliest scheduled, for the scheduler.
pub async fn schedule(
    txn: &DatabaseTransaction,
    user_id: &str,
    task_id: i64,
    due_at: DateTime<Utc>,
    instants: impl Iterator<Item = DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    let rows: Vec<reminder::ActiveModel> = instants
        .filter(|&at| at > now)
        .map(|remind_at| reminder::ActiveModel {
            user_id: Set(user_id.to_owned()),
            task_id: Set(task_id),
            remind_at: Set(remind_at),
            due_at: Set(due_at),
            change_seq: Set(None),
            fired_at: Set(None),
            late: Set(false),
            title: Set(None),
            ..Default::default()
        })
        .collect();
    let earliest = rows
        .iter()
        .filter_map(|row| row.remind_at.try_as_ref().copied())
        .min();
    if !rows.is_empty() {
        reminder::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(earliest)
}

/// Cancels the pending reminders of task `task_id`; recorded ones stay in
/// the feed.
pub async fn cancel(txn: &DatabaseTransaction, user_id: &str, task_id: i64) -> Result<(), DbErr> {
    // Found through the owner's index: a task has few pending reminders.
    reminder::Entity::delete_many()
        .filter(reminder::Column::UserId.eq(user_id))
        .filter(reminder::Column::ChangeSeq.is_null())
        .filter(reminder::Column::TaskId.eq(task_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// The time of the next pending reminder, if any.
pub async fn next_pending(db: &DatabaseConnection) -> Result<Option<DateTime<Utc>>, DbErr> {
    reminder::Entity::find()
        .select_only()
        .column(reminder::Column::RemindAt)
        .filter(reminder::Column::ChangeSeq.is_null())
        .order_by_asc(reminder::Column::RemindAt)
        .limit(1)
        .into_tuple()
        .one(db)
        .await
}

/// What one [`record_due`] did.
pub struct Recorded {
    /// Each reminder recorded: its time and whether it was late.
    pub reminders: Vec<(DateTime<Utc>, bool)>,
    /// Users with reminders due whose rows another transaction held: their
    /// reminders are recorded by a later round (or by the instance that
    /// held them).
    pub skipped: bool,
    /// Whether more reminders may be due than this round took.
    pub full: bool,
}

/// Owners whose due reminders one round records.
const OWNERS_PER_ROUND: usize = 200;

/// Records up to `limit` reminders due by now, of up to
/// [`OWNERS_PER_ROUND`] owners, in one transaction: each owner's row is
/// taken first, as every write of theirs takes it ([`change_log::lock_owners`],
/// which skips rows another instance holds), each reminder gets a change
/// number of its owner's, its title and lateness are stamped, and the
/// owners' streams are woken on every instance when it commits. A
/// reminder is recorded once: under its owner's row, a second instance
/// finds it no longer pending.
pub async fn record_due(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    limit: u64,
) -> Result<Recorded, DbErr> {
    let now = Utc::now();
    // The owners of the next due reminders, read in time order from the
    // index (a read proportional to the round, however large the backlog),
    // then sorted: the order their rows are taken in.
    let due_owners: Vec<String> = reminder::Entity::find()
        .select_only()
        .column(reminder::Column::UserId)
        .filter(reminder::Column::ChangeSeq.is_null())
        .filter(reminder::Column::RemindAt.lte(now))
        .order_by_asc(reminder::Column::RemindAt)
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?;
    let owners: Vec<String> = due_owners
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .take(OWNERS_PER_ROUND)
        .collect();
    if owners.is_empty() {
        return Ok(Recorded {
            reminders: Vec::new(),
            skipped: false,
            full: false,
        });
    }
    let txn = change_log::begin(db, WriteKind::Reminders).await?;
    let held = change_log::lock_owners(&txn, &owners).await?;
    let skipped = held.len() < owners.len();
    let due: Vec<Due> = reminder::Entity::find()
        .select_only()
        .column(reminder::Column::Id)
        .column(reminder::Column::UserId)
        .column(reminder::Column::TaskId)
        .column(reminder::Column::RemindAt)
        .column(reminder::Column::DueAt)
        .column_as(Expr::col((task::Entity, task::Column::Title)), "task_title")
        .join(
            JoinType::LeftJoin,
            reminder::Entity::belongs_to(task::Entity)
                .from(reminder::Column::TaskId)
                .to(task::Column::Id)
                .into(),
        )
        .filter(reminder::Column::UserId.is_in(held.iter().map(String::as_str)))
        .filter(reminder::Column::ChangeSeq.is_null())
        .filter(reminder::Column::RemindAt.lte(now))
        .order_by_asc(reminder::Column::UserId)
        .order_by_asc(reminder::Column::RemindAt)
        .order_by_asc(reminder::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(&*txn)
        .await?;
    if due.is_empty() {
        txn.rollback().await?;
        return Ok(Recorded {
            reminders: Vec::new(),
            skipped,
            full: false,
        });
    }
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for (_, user_id, ..) in &due {
        *counts.entry(user_id.clone()).or_default() += 1;
    }
    let taken = change_log::take_changes(&txn, &counts).await?;
    // Each owner's numbers, oldest reminder first, end at the last taken.
    let recorded_at = Utc::now();
    let mut pushed: BTreeMap<&str, Pushed> = counts
        .iter()
        .map(|(user_id, count)| {
            let (last, epoch) = taken.get(user_id).copied().unwrap_or_default();
            let pushed = Pushed {
                epoch,
                first: last - count + 1,
                reminders: Vec::with_capacity(*count as usize),
            };
            (user_id.as_str(), pushed)
        })
        .collect();
    let mut reminders = Vec::with_capacity(due.len());
    for (id, user_id, task_id, remind_at, due_at, title) in &due {
        let Some(owner) = pushed.get_mut(user_id.as_str()) else {
            continue;
        };
        let seq = owner.first + owner.reminders.len() as i64;
        let late = recorded_at - *remind_at > LATE_AFTER;
        owner.reminders.push(reminder::Model {
            id: *id,
            user_id: user_id.clone(),
            task_id: *task_id,
            remind_at: *remind_at,
            due_at: *due_at,
            change_seq: Some(seq),
            fired_at: Some(recorded_at),
            late,
            title: Some(title.clone().unwrap_or_default()),
        });
        reminders.push((*remind_at, late));
    }
    let stamped: Vec<&reminder::Model> = pushed.values().flat_map(|p| &p.reminders).collect();
    for chunk in stamped.chunks(STAMP_BATCH) {
        stamp(&txn, chunk, recorded_at).await?;
    }
    let pushed: Vec<(String, Arc<Pushed>)> = pushed
        .into_iter()
        .map(|(user_id, changes)| (user_id.to_owned(), Arc::new(changes)))
        .collect();
    change_log::commit_pushing(txn, pushed, hub).await?;
    Ok(Recorded {
        full: due.len() as u64 >= limit,
        reminders,
        skipped,
    })
}

/// A due reminder as a round reads it: id, owner, task, time, the
/// occurrence's due time and the task's title.
type Due = (
    i64,
    String,
    i64,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
);

/// Reminders one statement stamps.
const STAMP_BATCH: usize = 500;

/// Records each reminder as `rows` say (change number, lateness, title)
/// at `at`, in one statement joining a `VALUES` list.
async fn stamp(
    txn: &DatabaseTransaction,
    rows: &[&reminder::Model],
    at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(rows.len() * 4 + 1);
    let mut bind = |value: sea_orm::Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    // Bound in the order the statement names them (SQLite's `?` count by
    // position): the time, then the rows.
    let at = bind(at.into());
    let listed: Vec<String> = rows
        .iter()
        .map(|row| {
            let id = bind(row.id.into());
            let seq = bind(row.change_seq.into());
            let late = bind(row.late.into());
            let title = bind(row.title.clone().into());
            format!("({id}, {seq}, {late}, {title})")
        })
        .collect();
    // `VALUES` names its columns column1, column2, … on both databases.
    let sql = format!(
        r#"UPDATE "reminders" SET "change_seq" = "stamped"."column2", "late" = "stamped"."column3", "title" = "stamped"."column4", "fired_at" = {at} FROM (VALUES {}) AS "stamped" WHERE "reminders"."id" = "stamped"."column1" AND "reminders"."change_seq" IS NULL"#,
        listed.join(", ")
    );
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    Ok(())
}

/// How long a recorded reminder stays in the feed: as long as a deletion's
/// tombstone, so a cursor that old still finds it.
pub const RECORD_LIFETIME: chrono::TimeDelta = change_log::tombstones::TOMBSTONE_LIFETIME;

/// Purges at most `batch` reminders recorded longer ago than
/// [`RECORD_LIFETIME`], oldest first, in one short transaction; returns
/// how many, as tombstones are purged ([`change_log::purge_past`]).
pub async fn purge_expired(db: &DatabaseConnection, batch: u64) -> Result<u64, DbErr> {
    let expired: Vec<(i64, String, i64)> = reminder::Entity::find()
        .select_only()
        .column(reminder::Column::Id)
        .column(reminder::Column::UserId)
        .column(reminder::Column::ChangeSeq)
        .filter(reminder::Column::FiredAt.lt(Utc::now() - RECORD_LIFETIME))
        .order_by_asc(reminder::Column::FiredAt)
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    change_log::purge_past(db, &expired, async |txn, ids| {
        Ok(reminder::Entity::delete_many()
            .filter(reminder::Column::Id.is_in(ids))
            .exec(txn)
            .await?
            .rows_affected)
    })
    .await
}

/// Deletes at most `limit` of the user's reminders, for erasure (whose
/// caller holds the user's row); returns how many.
pub async fn delete_some(
    txn: &DatabaseTransaction,
    user_id: &str,
    limit: u64,
) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(reminder::Column::Id)
        .from(reminder::Entity)
        .and_where(reminder::Column::UserId.eq(user_id))
        .limit(limit)
        .to_owned();
    Ok(reminder::Entity::delete_many()
        .filter(reminder::Column::Id.in_subquery(some))
        .exec(txn)
        .await?
        .rows_affected)
}
