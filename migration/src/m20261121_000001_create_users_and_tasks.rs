//! Creates `users` and `tasks` with their foreign key and indexes.
//!
//! Everything is derived from the entities, so the column list is never
//! written twice. A later schema change comes as a new migration that
//! describes the change itself; its columns are listed in
//! [`crate::columns_added_later`] so that this migration keeps creating the
//! first schema.

use entity::{task, user};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        manager
            .create_table(crate::first_version_of(
                schema.create_table_from_entity(user::Entity),
                crate::columns_added_later::USERS,
            ))
            .await?;
        manager
            .create_table(crate::first_version_of(
                schema.create_table_from_entity(task::Entity),
                crate::columns_added_later::TASKS,
            ))
            .await?;
        let declared = schema
            .create_index_from_entity(user::Entity)
            .into_iter()
            .chain(schema.create_index_from_entity(task::Entity))
            .chain(task::indexes().into_iter().filter(|index| {
                let name = index.get_index_spec().get_name();
                !name.is_some_and(crate::indexes_added_later::contains)
            }));
        for index in declared {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(task::Entity).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(user::Entity).to_owned())
            .await
    }
}
