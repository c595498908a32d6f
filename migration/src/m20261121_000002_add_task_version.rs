//! Tasks get a `version`: 1 for every task that exists, one more on every
//! change. The column is the entity's own definition (`NOT NULL DEFAULT 1`).

use entity::task;
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
                    .table(task::Entity)
                    .add_column(schema.get_column_def::<task::Entity>(task::Column::Version))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(task::Entity)
                    .drop_column(task::Column::Version)
                    .to_owned(),
            )
            .await
    }
}
