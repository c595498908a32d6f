//! A reminder of a task's occurrence: scheduled while its time is to come
//! (`change_seq` none), then recorded once, as a change of the owner, when
//! it fires. A recorded reminder keeps what its event said (title, due
//! time, lateness), so the change feed can list it after the task changed
//! or went.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Index, IndexCreateStatement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "reminders")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// The task reminded of. Not a foreign key: a recorded reminder stays
    /// in the feed after its task is deleted; a pending one goes with it.
    pub task_id: i64,
    /// When to remind: the occurrence's `due_at` less the task's minutes.
    pub remind_at: DateTimeUtc,
    /// The occurrence's `due_at`.
    pub due_at: DateTimeUtc,
    /// The owner's change number of the record; none while pending.
    pub change_seq: Option<i64>,
    /// When it was recorded; none while pending.
    pub fired_at: Option<DateTimeUtc>,
    /// Recorded more than a minute after `remind_at` (no instance ran).
    #[sea_orm(default_value = false)]
    pub late: bool,
    /// The task's title when recorded.
    #[sea_orm(column_type = "Text", nullable)]
    pub title: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Erasing a user erases their reminders too.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

pub fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // The scheduler: pending reminders (`change_seq IS NULL`) by time,
        // the next one first.
        Index::create()
            .name("idx-reminders-change_seq-remind_at")
            .table(Entity)
            .col(Column::ChangeSeq)
            .col(Column::RemindAt)
            .to_owned(),
        // The change feed: one user's recorded reminders after a cursor;
        // a round's read of its owners' pending ones; and a task's pending
        // ones, to cancel (a few per owner: no index of their own, so
        // recording one updates one index less).
        Index::create()
            .name("idx-reminders-user_id-change_seq")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::ChangeSeq)
            .to_owned(),
        // The sweeper: recorded reminders past their lifetime, oldest first.
        Index::create()
            .name("idx-reminders-fired_at")
            .table(Entity)
            .col(Column::FiredAt)
            .to_owned(),
    ]
}
