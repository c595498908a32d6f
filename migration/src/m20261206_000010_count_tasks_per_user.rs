//! Each user's task count on their own row (`users.task_count`), counted
//! once here from the tasks they hold; from then on every write that adds
//! or removes a task keeps it.

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
            .alter_table(
                Table::alter()
                    .table(user::Entity)
                    .add_column(schema.get_column_def::<user::Entity>(user::Column::TaskCount))
                    .to_owned(),
            )
            .await?;
        let held = Query::select()
            .expr(Expr::col((task::Entity, task::Column::Id)).count())
            .from(task::Entity)
            .and_where(
                Expr::col((task::Entity, task::Column::UserId))
                    .equals((user::Entity, user::Column::Id)),
            )
            .to_owned();
        manager
            .exec_stmt(
                Query::update()
                    .table(user::Entity)
                    .value(user::Column::TaskCount, held)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(user::Entity)
                    .drop_column(user::Column::TaskCount)
                    .to_owned(),
            )
            .await
    }
}
