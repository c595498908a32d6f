//! Recurring tasks and reminders: a task's rule (`recurrence`) and the
//! anchor its series is expanded from (`series_start`), the minutes before
//! its due time at which to remind (`reminders`), and the `reminders` table
//! of reminder instants, pending and recorded. Every existing task keeps
//! its fields: no rule, no reminders.

use entity::{reminder, task};
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::Schema;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns this migration adds to `tasks`.
const COLUMNS: [task::Column; 3] = [
    task::Column::Recurrence,
    task::Column::SeriesStart,
    task::Column::Reminders,
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
            .create_table(schema.create_table_from_entity(reminder::Entity))
            .await?;
        for index in reminder::indexes() {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(reminder::Entity).to_owned())
            .await?;
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
