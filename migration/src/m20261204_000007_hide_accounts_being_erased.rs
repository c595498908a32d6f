//! `users.erasing`: an account being erased (in short steps) is hidden from
//! every read from its first step on.

use entity::user;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager
            .alter_table(
                Table::alter()
                    .table(user::Entity)
                    .add_column(schema.get_column_def::<user::Entity>(user::Column::Erasing))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(user::Entity)
                    .drop_column(user::Column::Erasing)
                    .to_owned(),
            )
            .await
    }
}
