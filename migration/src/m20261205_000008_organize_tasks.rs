//! Tasks get what a task app organizes by: `priority`, tags (the `tags` and
//! `task_tags` tables, and the task's own copy of its tag names), a due date
//! and time in a time zone with the instant they mean (`due_at`), and
//! `completed_at`; with the indexes that keep sorting and filtering by them
//! an index scan. Every existing task keeps its fields and gets the
//! defaults: no priority, no tags, no due date, in UTC; one already
//! completed counts as completed when it was last changed.

use entity::{tag, task, task_tag};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ExprTrait, Schema};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns this migration adds to `tasks`.
const COLUMNS: [task::Column; 7] = [
    task::Column::Priority,
    task::Column::Tags,
    task::Column::DueDate,
    task::Column::DueTime,
    task::Column::TimeZone,
    task::Column::DueAt,
    task::Column::CompletedAt,
];

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let schema = Schema::new(manager.get_database_backend());
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(task::Entity)
                        .add_column(schema.get_column_def::<task::Entity>(column))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .exec_stmt(
                Query::update()
                    .table(task::Entity)
                    .value(
                        task::Column::CompletedAt,
                        Expr::col(task::Column::UpdatedAt),
                    )
                    .and_where(Expr::col(task::Column::Completed).eq(true))
                    .to_owned(),
            )
            .await?;
        for index in task::indexes() {
            let name = index.get_index_spec().get_name();
            if name.is_some_and(|name| crate::indexes_added_later::ORGANIZE.contains(&name)) {
                manager.create_index(index).await?;
            }
        }
        manager
            .create_table(schema.create_table_from_entity(tag::Entity))
            .await?;
        manager
            .create_table(schema.create_table_from_entity(task_tag::Entity))
            .await?;
        for index in tag::indexes().into_iter().chain(task_tag::indexes()) {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(task_tag::Entity).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(tag::Entity).to_owned())
            .await?;
        for name in crate::indexes_added_later::ORGANIZE {
            manager
                .drop_index(Index::drop().name(*name).table(task::Entity).to_owned())
                .await?;
        }
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(task::Entity)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
