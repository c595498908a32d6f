//! A deleted task, remembered for the change feed so that a client following
//! it learns of the deletion. Kept at least 30 days, then purged by the
//! background sweeper (`api::sweeper`), oldest first.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Index, IndexCreateStatement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_tombstones")]
pub struct Model {
    /// The deleted task's id: ids are never reused, on either database.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// The owner's change number of the deletion.
    pub change_seq: i64,
    pub deleted_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Erasing a user erases their tombstones too.
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

/// The feed reads one user's tombstones after a cursor, in order; the
/// sweeper reads every user's oldest first, a batch at a time, so finding
/// the expired ones never scans the rest.
pub fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx-task_tombstones-user_id-change_seq")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::ChangeSeq)
            .to_owned(),
        Index::create()
            .name("idx-task_tombstones-deleted_at")
            .table(Entity)
            .col(Column::DeletedAt)
            .to_owned(),
    ]
}
