//! Schema migrations, built from the entities in the `entity` crate.
//!
//! A migration builds its tables, columns and indexes from the entities, so
//! a column is declared once. Since an entity always describes the newest
//! schema, a migration that creates a table leaves out the columns later
//! migrations add ([`columns_added_later`]), and so creates its table as it
//! first was.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_users_and_tasks;
mod m20261121_000002_add_task_version;
mod m20261121_000003_create_idempotency_keys;
mod m20261121_000004_add_task_sort_and_search_keys;
mod m20261121_000005_add_change_feed;
mod m20261204_000006_index_tombstones_by_age;
mod m20261204_000007_hide_accounts_being_erased;
mod m20261205_000008_organize_tasks;
mod m20261206_000009_recur_and_remind;
mod m20261206_000010_count_tasks_per_user;
mod m20261206_000011_cover_searches_on_sqlite;

pub struct Migrator;

#[sea_orm_migration::async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_users_and_tasks::Migration),
            Box::new(m20261121_000002_add_task_version::Migration),
            Box::new(m20261121_000003_create_idempotency_keys::Migration),
            Box::new(m20261121_000004_add_task_sort_and_search_keys::Migration),
            Box::new(m20261121_000005_add_change_feed::Migration),
            Box::new(m20261204_000006_index_tombstones_by_age::Migration),
            Box::new(m20261204_000007_hide_accounts_being_erased::Migration),
            Box::new(m20261205_000008_organize_tasks::Migration),
            Box::new(m20261206_000009_recur_and_remind::Migration),
            Box::new(m20261206_000010_count_tasks_per_user::Migration),
            Box::new(m20261206_000011_cover_searches_on_sqlite::Migration),
        ]
    }
}

/// Per table, the columns a later migration adds.
pub mod columns_added_later {
    /// `version`: m20261121_000002_add_task_version; `title_key` and
    /// `description_key`: m20261121_000004_add_task_sort_and_search_keys;
    /// `change_seq`: m20261121_000005_add_change_feed; `priority`, `tags`,
    /// `due_date`, `due_time`, `time_zone`, `due_at` and `completed_at`:
    /// m20261205_000008_organize_tasks; `recurrence`, `series_start` and
    /// `reminders`: m20261206_000009_recur_and_remind.
    pub const TASKS: &[&str] = &[
        "version",
        "title_key",
        "description_key",
        "change_seq",
        "priority",
        "tags",
        "due_date",
        "due_time",
        "time_zone",
        "due_at",
        "completed_at",
        "recurrence",
        "series_start",
        "reminders",
    ];
    /// `change_seq`, `sync_epoch` and `purged_seq`:
    /// m20261121_000005_add_change_feed; `erasing`:
    /// m20261204_000007_hide_accounts_being_erased; `task_count`:
    /// m20261206_000010_count_tasks_per_user.
    pub const USERS: &[&str] = &[
        "change_seq",
        "sync_epoch",
        "purged_seq",
        "erasing",
        "task_count",
    ];
}

/// Per table, the indexes (of `entity::task::indexes`) a later migration adds.
pub mod indexes_added_later {
    /// m20261121_000004_add_task_sort_and_search_keys.
    pub const TASKS: &[&str] = &[
        "idx-tasks-user_id-completed-updated_at",
        "idx-tasks-user_id-title_key",
        "idx-tasks-user_id-completed-title_key",
    ];
    /// m20261121_000005_add_change_feed.
    pub const CHANGE_FEED: &[&str] = &["idx-tasks-user_id-change_seq"];
    /// Of `entity::task_tombstone::indexes`: m20261204_000006_index_tombstones_by_age.
    pub const TOMBSTONES_BY_AGE: &[&str] = &["idx-task_tombstones-deleted_at"];

    /// m20261205_000008_organize_tasks.
    pub const ORGANIZE: &[&str] = &[
        "idx-tasks-user_id-due_at",
        "idx-tasks-user_id-completed-due_at",
        "idx-tasks-user_id-priority",
        "idx-tasks-user_id-completed-priority",
    ];

    /// Whether any later migration adds the index `name`.
    pub fn contains(name: &str) -> bool {
        [TASKS, CHANGE_FEED, TOMBSTONES_BY_AGE, ORGANIZE]
            .iter()
            .any(|later| later.contains(&name))
    }
}

/// `table` without the columns named in `later`: the table as the migration
/// that creates it first made it.
fn first_version_of(table: TableCreateStatement, later: &[&str]) -> TableCreateStatement {
    let mut first = Table::create();
    if let Some(name) = table.get_table_name() {
        first.table(name.clone());
    }
    for column in table.get_columns() {
        if !later.contains(&column.get_column_name().as_str()) {
            first.col(column.clone());
        }
    }
    for foreign_key in table.get_foreign_key_create_stmts() {
        first.foreign_key(&mut foreign_key.clone());
    }
    for index in table.get_indexes() {
        first.index(&mut index.clone());
    }
    first
}
