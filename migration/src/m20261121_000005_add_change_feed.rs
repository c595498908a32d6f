//! The change feed: each user's changes are numbered (`users.change_seq`,
//! `tasks.change_seq`), cursors carry a random per-user epoch
//! (`users.sync_epoch`), and deletions leave tombstones (`task_tombstones`)
//! with the number of the change that made them.
//!
//! Existing data gets numbers that keep the feed's rules: each task's
//! `change_seq` is its id (unique per user), each user's the largest of
//! their tasks', and each user a random epoch.

use entity::{task, task_tombstone, user};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend, Schema};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns `users` gets (`crate::columns_added_later::USERS`).
const USER_COLUMNS: [user::Column; 3] = [
    user::Column::ChangeSeq,
    user::Column::SyncEpoch,
    user::Column::PurgedSeq,
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let schema = Schema::new(backend);
        for column in USER_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(user::Entity)
                        .add_column(schema.get_column_def::<user::Entity>(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(task::Entity)
                    .add_column(schema.get_column_def::<task::Entity>(task::Column::ChangeSeq))
                    .to_owned(),
            )
            .await?;
        number_existing_rows(manager.get_connection(), backend).await?;
        for index in task::indexes() {
            let name = index.get_index_spec().get_name();
            if name.is_some_and(|name| crate::indexes_added_later::CHANGE_FEED.contains(&name)) {
                manager.create_index(index).await?;
            }
        }
        manager
            .create_table(schema.create_table_from_entity(task_tombstone::Entity))
            .await?;
        for index in task_tombstone::indexes() {
            let name = index.get_index_spec().get_name();
            if !name.is_some_and(crate::indexes_added_later::contains) {
                manager.create_index(index).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(task_tombstone::Entity).to_owned())
            .await?;
        for name in crate::indexes_added_later::CHANGE_FEED {
            manager
                .drop_index(Index::drop().name(*name).table(task::Entity).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(task::Entity)
                    .drop_column(task::Column::ChangeSeq)
                    .to_owned(),
            )
            .await?;
        for column in USER_COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(user::Entity)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Numbers the tasks and users already stored (see the module's comment).
async fn number_existing_rows(db: &impl ConnectionTrait, backend: DbBackend) -> Result<(), DbErr> {
    // A random 63-bit number per row, in each database's own words.
    let random = match backend {
        DbBackend::Postgres => "(random() * 9.2e18)::bigint",
        _ => "random()",
    };
    db.execute_unprepared(r#"UPDATE "tasks" SET "change_seq" = "id""#)
        .await?;
    db.execute_unprepared(&format!(
        r#"UPDATE "users" SET "sync_epoch" = {random}, "change_seq" = COALESCE((SELECT MAX("id") FROM "tasks" WHERE "tasks"."user_id" = "users"."id"), 0)"#
    ))
    .await?;
    Ok(())
}
