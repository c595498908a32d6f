//! The feed's reads: what changed after a cursor (tasks written,
//! tombstones, reminders recorded).

use entity::{reminder, task, task_tombstone};

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::change_log;

/// Which kinds of change beside tasks a read includes.
#[derive(Clone, Copy, Debug)]
pub struct ChangeKinds {
    /// Tombstones: not for a client that has seen nothing (it has nothing
    /// to delete).
    pub deletions: bool,
    /// Recorded reminders: news for anyone following, but a snapshot (the
    /// feed without `since`) lists none.
    pub reminders: bool,
}

/// One user's changes numbered in `(after, through]`, oldest first: at
/// most `limit + 1` of each kind, so the caller can tell whether more remain.
pub struct Changed {
    pub tasks: Vec<task::Model>,
    pub deleted: Vec<task_tombstone::Model>,
    pub reminders: Vec<reminder::Model>,
}

/// Everything up to `through` (a
/// [`Position::head`](crate::change_log::Position::head) read before) has
/// committed, since one user's changes commit in number order; so reading
/// no further than it, in separate statements, never skips a change. A task
/// changed again since is simply found later, at its new number.
pub async fn changed_between(
    db: &DatabaseConnection,
    user_id: &str,
    after: i64,
    through: i64,
    limit: u64,
    kinds: ChangeKinds,
) -> Result<Changed, DbErr> {
    let tasks = task::Entity::find()
        .filter(task::Column::UserId.eq(user_id))
        .filter(change_log::visible(user_id))
        .filter(task::Column::ChangeSeq.gt(after))
        .filter(task::Column::ChangeSeq.lte(through))
        .order_by_asc(task::Column::ChangeSeq)
        .limit(limit + 1)
        .all(db);
    let deleted = async {
        if !kinds.deletions {
            return Ok(Vec::new());
        }
        task_tombstone::Entity::find()
            .filter(task_tombstone::Column::UserId.eq(user_id))
            .filter(change_log::visible(user_id))
            .filter(task_tombstone::Column::ChangeSeq.gt(after))
            .filter(task_tombstone::Column::ChangeSeq.lte(through))
            .order_by_asc(task_tombstone::Column::ChangeSeq)
            .limit(limit + 1)
            .all(db)
            .await
    };
    let reminders = async {
        if !kinds.reminders {
            return Ok(Vec::new());
        }
        reminder::Entity::find()
            .filter(reminder::Column::UserId.eq(user_id))
            .filter(change_log::visible(user_id))
            .filter(reminder::Column::ChangeSeq.gt(after))
            .filter(reminder::Column::ChangeSeq.lte(through))
            .order_by_asc(reminder::Column::ChangeSeq)
            .limit(limit + 1)
            .all(db)
            .await
    };
    let (tasks, deleted, reminders) = tokio::try_join!(tasks, deleted, reminders)?;
    Ok(Changed {
        tasks,
        deleted,
        reminders,
    })
}
