//! Which task carries which tag: the join between [`super::task`] and
//! [`super::tag`]. Deleting either side deletes the link.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Index, IndexCreateStatement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "task_tags")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub task_id: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag_id: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::task::Entity",
        from = "Column::TaskId",
        to = "super::task::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Task,
    #[sea_orm(
        belongs_to = "super::tag::Entity",
        from = "Column::TagId",
        to = "super::tag::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    Tag,
}

impl Related<super::task::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Task.def()
    }
}

impl Related<super::tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tag.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// The primary key leads with the task (a task's tags); this one leads with
/// the tag: the tasks carrying it, for `tag=` filters, counts, renames and
/// deletions, and for the cascade when a tag row goes.
pub fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx-task_tags-tag_id-task_id")
            .table(Entity)
            .col(Column::TagId)
            .col(Column::TaskId)
            .to_owned(),
    ]
}
