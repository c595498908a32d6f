//! Tombstones get an index on `deleted_at`, so the background sweeper finds
//! the expired ones oldest first, a batch at a time, without scanning the
//! ones it keeps.

use entity::task_tombstone;
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in task_tombstone::indexes() {
            let name = index.get_index_spec().get_name();
            if name
                .is_some_and(|name| crate::indexes_added_later::TOMBSTONES_BY_AGE.contains(&name))
            {
                manager.create_index(index).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in crate::indexes_added_later::TOMBSTONES_BY_AGE {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(task_tombstone::Entity)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
