//! A user's tag: one row per tag name, compared case-insensitively, shared
//! by every task of theirs that carries it (through [`super::task_tag`]).

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Index, IndexCreateStatement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tags")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    /// The spelling every task answers: as first used, or as last renamed.
    #[sea_orm(column_type = "Text")]
    pub name: String,
    /// `name` case-folded ([`super::task::fold_case`]): what makes two
    /// spellings one tag, and what `tag=` and `/api/tags/{name}` match.
    #[sea_orm(column_type = "Text")]
    pub name_key: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Erasing a user erases their tags.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
    #[sea_orm(has_many = "super::task_tag::Entity")]
    TaskTag,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::task_tag::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::TaskTag.def()
    }
}

impl Related<super::task::Entity> for Entity {
    fn to() -> RelationDef {
        super::task_tag::Relation::Task.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::task_tag::Relation::Tag.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// One tag per user and case-folded name: a lookup by name (a filter, a
/// rename) is one index probe, and two spellings can never both be stored.
pub fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        Index::create()
            .name("idx-tags-user_id-name_key")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::NameKey)
            .unique()
            .to_owned(),
    ]
}
