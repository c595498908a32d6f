//! `idempotency_keys`: remembered creates, built from their entity with its
//! foreign key to `users` and the index the purge of expired keys uses.

use entity::idempotency_key;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager
            .create_table(schema.create_table_from_entity(idempotency_key::Entity))
            .await?;
        for index in schema.create_index_from_entity(idempotency_key::Entity) {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(idempotency_key::Entity).to_owned())
            .await
    }
}
