//! Tasks get `title_key` and `description_key`, their text case-folded, so
//! `sort=title` and `q` run in the database on both backends (SQLite's own
//! `lower` folds ASCII only), and the indexes that let every status × sort
//! listing read its page in order; on PostgreSQL also trigram indexes, so
//! `q` stays fast as a user's tasks grow. Existing rows are folded here, by
//! the same function the service uses.

use entity::task;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityName, EntityTrait, IdenStatic, QueryFilter,
    QueryOrder, QuerySelect, Schema,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Rows folded per batch, so a large table is not held in memory at once.
const BATCH: u64 = 1000;

#[sea_orm_migration::async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let schema = Schema::new(backend);
        let mut title_key = schema.get_column_def::<task::Entity>(task::Column::TitleKey);
        if backend == DbBackend::Postgres {
            // Bytewise order, as SQLite compares: the same on both databases
            // whatever the server's locale.
            title_key.extra("COLLATE \"C\"");
        }
        manager
            .alter_table(
                Table::alter()
                    .table(task::Entity)
                    .add_column(title_key)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(task::Entity)
                    .add_column(schema.get_column_def::<task::Entity>(task::Column::DescriptionKey))
                    .to_owned(),
            )
            .await?;
        fold_existing_rows(manager).await?;
        for index in task::indexes() {
            let name = index.get_index_spec().get_name();
            if name.is_some_and(|name| crate::indexes_added_later::TASKS.contains(&name)) {
                manager.create_index(index).await?;
            }
        }
        if backend == DbBackend::Postgres {
            let db = manager.get_connection();
            // A trusted extension: the database's owner may create it.
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            for (name, column) in task::TRIGRAM_INDEXES {
                db.execute_unprepared(&format!(
                    r#"CREATE INDEX "{name}" ON "{table}" USING gin ("{column}" gin_trgm_ops)"#,
                    table = task::Entity.table_name(),
                    column = column.as_str(),
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            for (name, _) in task::TRIGRAM_INDEXES {
                manager
                    .get_connection()
                    .execute_unprepared(&format!(r#"DROP INDEX IF EXISTS "{name}""#))
                    .await?;
            }
        }
        for name in crate::indexes_added_later::TASKS {
            manager
                .drop_index(Index::drop().name(*name).table(task::Entity).to_owned())
                .await?;
        }
        for column in [task::Column::TitleKey, task::Column::DescriptionKey] {
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

/// Fills both keys of every existing task, a batch of ids at a time.
async fn fold_existing_rows(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut after = i64::MIN;
    loop {
        let rows: Vec<(i64, String, Option<String>)> = task::Entity::find()
            .select_only()
            .columns([
                task::Column::Id,
                task::Column::Title,
                task::Column::Description,
            ])
            .filter(task::Column::Id.gt(after))
            .order_by_asc(task::Column::Id)
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        let Some(&(last, _, _)) = rows.last() else {
            return Ok(());
        };
        for (id, title, description) in rows {
            task::Entity::update_many()
                .col_expr(task::Column::TitleKey, Expr::value(task::fold_case(&title)))
                .col_expr(
                    task::Column::DescriptionKey,
                    Expr::value(description.as_deref().map(task::fold_case)),
                )
                .filter(task::Column::Id.eq(id))
                .exec(db)
                .await?;
        }
        after = last;
    }
}
