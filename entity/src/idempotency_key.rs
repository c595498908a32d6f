//! A remembered write made with an `Idempotency-Key` (`POST /api/tasks`,
//! so far): the request it was made with and the response it got, so a
//! retry with the same key gets the same answer and writes nothing.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_keys")]
pub struct Model {
    /// Keys are scoped to the caller: two users may use the same key.
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub user_id: String,
    #[sea_orm(primary_key, auto_increment = false, column_type = "Text")]
    pub key: String,
    /// The validated request, as canonical JSON: a retry must match it.
    /// Any route but `POST /api/tasks` puts its name first, so a key is
    /// also scoped to its route (`api::idempotent::Operation`).
    #[sea_orm(column_type = "Text")]
    pub request: String,
    /// The response body the first request got.
    #[sea_orm(column_type = "Text")]
    pub response: String,
    /// Keys are kept 24 hours from here, then purged; the index serves the purge.
    #[sea_orm(indexed)]
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// A user's keys go with the user.
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
