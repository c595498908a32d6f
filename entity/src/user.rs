//! A user as the token names them. The row exists so that `tasks.user_id` is a
//! real foreign key; it is written the first time a user creates a task.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// The token's `sub`: Better Auth ids are opaque strings.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub id: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub email: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub name: Option<String>,
    pub created_at: DateTimeUtc,
    /// The number of the user's latest change: every write of theirs takes
    /// the next one, under this row's lock, so one user's changes are
    /// numbered in the order they commit. The change feed's cursors count
    /// in it.
    #[sea_orm(default_value = 0)]
    pub change_seq: i64,
    /// Random, chosen when the row is made: cursors carry it, so a cursor
    /// made up, or issued for an earlier row of the same id (before an
    /// erasure), is recognised as never issued.
    #[sea_orm(default_value = 0)]
    pub sync_epoch: i64,
    /// The newest change whose tombstone has been purged: a cursor before it
    /// may have missed a deletion, so it has expired.
    #[sea_orm(default_value = 0)]
    pub purged_seq: i64,
    /// Set by the first step of an erasure, which goes on in short steps:
    /// from then on every read hides the user's tasks, until the last step
    /// deletes the row. A set flag with no erasure running (the process
    /// stopped half-way) is finished by the sweeper.
    #[sea_orm(default_value = false)]
    pub erasing: bool,
    /// How many tasks the user holds, kept by every write that adds or
    /// removes one, in its own transaction under this row's lock: the task
    /// quota is checked on this row, which every write takes anyway,
    /// rather than by counting the user's tasks.
    #[sea_orm(default_value = 0)]
    pub task_count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::task::Entity")]
    Task,
    #[sea_orm(has_many = "super::task_tombstone::Entity")]
    TaskTombstone,
}

impl Related<super::task::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Task.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
