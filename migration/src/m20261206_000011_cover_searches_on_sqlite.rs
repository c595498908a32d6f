//! On SQLite, an index that a search's count reads alone
//! (`entity::task::sqlite_search_index`). PostgreSQL is left as it is.

use entity::task;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        manager.create_index(task::sqlite_search_index()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Sqlite {
            return Ok(());
        }
        let index = task::sqlite_search_index();
        let name = index
            .get_index_spec()
            .get_name()
            .unwrap_or_default()
            .to_owned();
        manager
            .drop_index(Index::drop().name(name).table(task::Entity).to_owned())
            .await
    }
}
