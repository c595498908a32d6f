//! A freshly migrated database holds exactly what the entities declare.

use std::collections::{BTreeMap, BTreeSet};

use entity::{idempotency_key, reminder, tag, task, task_tag, task_tombstone, user};
use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseConnection, DbBackend, EntityName, IdenStatic,
    Iterable, Statement,
};

use libtest_mimic::Trial;

use crate::helpers::{Backend, TestDatabase};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            migrated_schema_matches_the_entities,
            tasks_of_the_first_schema_migrate_to_version_one_and_back,
            tasks_before_organizing_get_the_defaults_and_survive_going_back,
        ],
        crate::standalone![with_auto_migrate_off_the_service_leaves_the_schema_alone],
    ])
}

#[derive(Debug, PartialEq, Eq, Default)]
struct SchemaSnapshot {
    /// table -> column -> nullable
    columns: BTreeMap<String, BTreeMap<String, bool>>,
    /// (table, column, referenced table, referenced column, on delete)
    foreign_keys: BTreeSet<(String, String, String, String, String)>,
    /// index name -> its columns, in order (primary keys left out)
    indexes: BTreeMap<String, Vec<String>>,
}

fn declared_by_entities(backend: DbBackend) -> SchemaSnapshot {
    let mut snapshot = SchemaSnapshot::default();
    let user_columns = user::Column::iter()
        .map(|c| (c.as_str().to_owned(), c.def().is_null()))
        .collect();
    let task_columns = task::Column::iter()
        .map(|c| (c.as_str().to_owned(), c.def().is_null()))
        .collect();
    snapshot
        .columns
        .insert(user::Entity.table_name().to_owned(), user_columns);
    snapshot
        .columns
        .insert(task::Entity.table_name().to_owned(), task_columns);
    let key_columns = idempotency_key::Column::iter()
        .map(|c| (c.as_str().to_owned(), c.def().is_null()))
        .collect();
    snapshot
        .columns
        .insert(idempotency_key::Entity.table_name().to_owned(), key_columns);
    snapshot.foreign_keys.insert((
        "idempotency_keys".into(),
        "user_id".into(),
        "users".into(),
        "id".into(),
        "CASCADE".into(),
    ));
    let schema = sea_orm::Schema::new(DbBackend::Sqlite);
    for index in schema.create_index_from_entity(idempotency_key::Entity) {
        let spec = index.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    snapshot.foreign_keys.insert((
        "tasks".into(),
        "user_id".into(),
        "users".into(),
        "id".into(),
        "CASCADE".into(),
    ));
    for index in task::indexes() {
        let spec = index.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    let tombstone_columns = task_tombstone::Column::iter()
        .map(|c| (c.as_str().to_owned(), c.def().is_null()))
        .collect();
    snapshot.columns.insert(
        task_tombstone::Entity.table_name().to_owned(),
        tombstone_columns,
    );
    snapshot.foreign_keys.insert((
        "task_tombstones".into(),
        "user_id".into(),
        "users".into(),
        "id".into(),
        "CASCADE".into(),
    ));
    for index in task_tombstone::indexes() {
        let spec = index.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    for (table, columns) in [
        (
            tag::Entity.table_name(),
            tag::Column::iter()
                .map(|c| (c.as_str().to_owned(), c.def().is_null()))
                .collect(),
        ),
        (
            task_tag::Entity.table_name(),
            task_tag::Column::iter()
                .map(|c| (c.as_str().to_owned(), c.def().is_null()))
                .collect(),
        ),
    ] {
        snapshot.columns.insert(table.to_owned(), columns);
    }
    snapshot.columns.insert(
        reminder::Entity.table_name().to_owned(),
        reminder::Column::iter()
            .map(|c| (c.as_str().to_owned(), c.def().is_null()))
            .collect(),
    );
    for index in reminder::indexes() {
        let spec = index.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    for (table, column, target) in [
        ("reminders", "user_id", "users"),
        ("tags", "user_id", "users"),
        ("task_tags", "task_id", "tasks"),
        ("task_tags", "tag_id", "tags"),
    ] {
        snapshot.foreign_keys.insert((
            table.into(),
            column.into(),
            target.into(),
            "id".into(),
            "CASCADE".into(),
        ));
    }
    for index in tag::indexes().into_iter().chain(task_tag::indexes()) {
        let spec = index.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    if backend == DbBackend::Sqlite {
        let spec = task::sqlite_search_index();
        let spec = spec.get_index_spec();
        snapshot
            .indexes
            .insert(spec.get_name().unwrap().to_owned(), spec.get_column_names());
    }
    if backend == DbBackend::Postgres {
        for (name, column) in task::TRIGRAM_INDEXES {
            snapshot
                .indexes
                .insert(name.to_owned(), vec![column.as_str().to_owned()]);
        }
    }
    snapshot
}

async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
}

fn text(row: &sea_orm::QueryResult, column: &str) -> String {
    row.try_get::<String>("", column).unwrap()
}

async fn snapshot(db: &DatabaseConnection) -> SchemaSnapshot {
    let mut snapshot = SchemaSnapshot::default();
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let tables = rows(
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'",
            )
            .await;
            for table in tables.iter().map(|r| text(r, "name")) {
                let columns = rows(
                    db,
                    &format!("SELECT name, \"notnull\" AS nn FROM pragma_table_info('{table}')"),
                )
                .await;
                snapshot.columns.insert(
                    table.clone(),
                    columns
                        .iter()
                        .map(|c| (text(c, "name"), c.try_get::<i32>("", "nn").unwrap() == 0))
                        .collect(),
                );
                for fk in rows(db, &format!("SELECT \"from\" AS f, \"table\" AS t, \"to\" AS c, on_delete FROM pragma_foreign_key_list('{table}')")).await {
                    snapshot.foreign_keys.insert((table.clone(), text(&fk, "f"), text(&fk, "t"), text(&fk, "c"), text(&fk, "on_delete")));
                }
                for index in rows(db, &format!("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' AND sql IS NOT NULL")).await {
                    let name = text(&index, "name");
                    let columns = rows(db, &format!("SELECT name FROM pragma_index_info('{name}') ORDER BY seqno")).await;
                    snapshot.indexes.insert(name, columns.iter().map(|c| text(c, "name")).collect());
                }
            }
        }
        DbBackend::Postgres => {
            let columns = rows(db, "SELECT table_name::text AS t, column_name::text AS c, is_nullable::text AS n \
                 FROM information_schema.columns WHERE table_schema = 'public' AND table_name <> 'seaql_migrations'").await;
            for column in columns {
                snapshot
                    .columns
                    .entry(text(&column, "t"))
                    .or_default()
                    .insert(text(&column, "c"), text(&column, "n") == "YES");
            }
            let fks = rows(db, "SELECT cl.relname::text AS t, a.attname::text AS f, rc.relname::text AS rt, ra.attname::text AS rc, \
                   CASE con.confdeltype WHEN 'c' THEN 'CASCADE' ELSE con.confdeltype::text END AS on_delete \
                 FROM pg_constraint con \
                 JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_class rc ON rc.oid = con.confrelid \
                 JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] \
                 JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1] \
                 WHERE con.contype = 'f'").await;
            for fk in fks {
                snapshot.foreign_keys.insert((
                    text(&fk, "t"),
                    text(&fk, "f"),
                    text(&fk, "rt"),
                    text(&fk, "rc"),
                    text(&fk, "on_delete"),
                ));
            }
            let indexes = rows(db, "SELECT i.relname::text AS name, a.attname::text AS col \
                 FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
                 JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) ON true \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
                 JOIN pg_namespace n ON n.oid = t.relnamespace \
                 WHERE NOT x.indisprimary AND n.nspname = 'public' ORDER BY i.relname, k.ord").await;
            for index in indexes {
                snapshot
                    .indexes
                    .entry(text(&index, "name"))
                    .or_default()
                    .push(text(&index, "col"));
            }
        }
        other => panic!("unsupported backend {other:?}"),
    }
    snapshot
}

async fn migrated_schema_matches_the_entities(database: TestDatabase) {
    let db = Database::connect(&database.url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        snapshot(&db).await,
        declared_by_entities(db.get_database_backend())
    );

    // `down` removes everything `up` made, and `up` works again after it.
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(snapshot(&db).await, SchemaSnapshot::default());
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        snapshot(&db).await,
        declared_by_entities(db.get_database_backend())
    );
}

async fn with_auto_migrate_off_the_service_leaves_the_schema_alone() {
    let app = crate::helpers::spawn_app_with(Backend::Sqlite, |settings| {
        settings.auto_migrate = false;
    })
    .await;
    assert_eq!(
        snapshot(&app.db).await,
        SchemaSnapshot::default(),
        "nothing was created"
    );
    let applied = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) FROM seaql_migrations",
        ))
        .await;
    assert!(applied.is_err(), "no migration table either");

    // Once migrated by hand (as `cargo run -p migration -- up` would), it serves.
    Migrator::up(&app.db, None).await.unwrap();
    app.create_task(
        "alice",
        serde_json::json!({"title": "after a manual migration"}),
    )
    .await;
}

/// Rows of `tasks` as (id, title, description, completed), in id order.
async fn stored_tasks(db: &DatabaseConnection) -> Vec<(i64, String, Option<String>, bool)> {
    rows(
        db,
        "SELECT id, title, description, completed FROM tasks ORDER BY id",
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "id").unwrap(),
            row.try_get("", "title").unwrap(),
            row.try_get("", "description").unwrap(),
            row.try_get("", "completed").unwrap(),
        )
    })
    .collect()
}

async fn tasks_of_the_first_schema_migrate_to_version_one_and_back(database: TestDatabase) {
    let db = Database::connect(&database.url).await.unwrap();
    // The first schema, holding tasks written before versions existed.
    Migrator::up(&db, Some(1)).await.unwrap();
    assert!(!snapshot(&db).await.columns["tasks"].contains_key("version"));
    let now = "'2026-11-01T09:00:00Z'";
    db.execute_unprepared(&format!(
        "INSERT INTO users (id, email, name, created_at) VALUES ('u1', NULL, NULL, {now})"
    ))
    .await
    .unwrap();
    for (title, description, completed) in [("One", "NULL", "false"), ("ÉTÉ", "'Déjà'", "true")]
    {
        db.execute_unprepared(&format!(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at) \
             VALUES ('u1', '{title}', {description}, {completed}, {now}, {now})"
        ))
        .await
        .unwrap();
    }
    let before = stored_tasks(&db).await;
    assert_eq!(before.len(), 2);

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(stored_tasks(&db).await, before, "every task intact");
    // The owner's row counts the tasks they already held.
    let counts = rows(&db, "SELECT task_count FROM users").await;
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].try_get::<i64>("", "task_count").unwrap(), 2);
    let versions = rows(&db, "SELECT version FROM tasks").await;
    assert!(
        versions
            .iter()
            .all(|row| row.try_get::<i32>("", "version").unwrap() == 1)
    );
    // Existing tasks get their case-folded keys, as the service folds them.
    let keys: Vec<(String, Option<String>)> = rows(
        &db,
        "SELECT title_key, description_key FROM tasks ORDER BY id",
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "title_key").unwrap(),
            row.try_get("", "description_key").unwrap(),
        )
    })
    .collect();
    assert_eq!(
        keys,
        vec![
            ("one".to_owned(), None),
            ("été".to_owned(), Some("déjà".to_owned()))
        ]
    );
    // Existing tasks are numbered for the change feed, each by its id, and
    // their owner's latest number is the largest.
    let numbered: Vec<(i64, i64)> = rows(&db, "SELECT id, change_seq FROM tasks ORDER BY id")
        .await
        .iter()
        .map(|row| {
            (
                row.try_get("", "id").unwrap(),
                row.try_get("", "change_seq").unwrap(),
            )
        })
        .collect();
    assert!(numbered.iter().all(|(id, seq)| id == seq), "{numbered:?}");
    let user = &rows(&db, "SELECT change_seq, sync_epoch FROM users").await[0];
    assert_eq!(
        user.try_get::<i64>("", "change_seq").unwrap(),
        numbered[1].0
    );
    assert_ne!(user.try_get::<i64>("", "sync_epoch").unwrap(), 0);
    assert_eq!(
        snapshot(&db).await,
        declared_by_entities(db.get_database_backend())
    );

    // Down to the first schema again: the columns go, the tasks stay.
    let later = Migrator::migrations().len() as u32 - 1;
    Migrator::down(&db, Some(later)).await.unwrap();
    let first = snapshot(&db).await;
    assert!(!first.columns["tasks"].contains_key("version"));
    assert!(!first.columns["tasks"].contains_key("title_key"));
    assert!(!first.columns["tasks"].contains_key("change_seq"));
    assert!(!first.columns["users"].contains_key("sync_epoch"));
    assert!(!first.columns.contains_key("idempotency_keys"));
    assert!(!first.columns.contains_key("task_tombstones"));
    assert_eq!(stored_tasks(&db).await, before);
    db.close().await.ok();
}

async fn tasks_before_organizing_get_the_defaults_and_survive_going_back(database: TestDatabase) {
    let db = Database::connect(&database.url).await.unwrap();
    // The schema just before priorities, tags and due dates (and the
    // recurring tasks, reminders, task counts and the search index after them).
    let before_organizing = Migrator::migrations().len() as u32 - 4;
    Migrator::up(&db, Some(before_organizing)).await.unwrap();
    assert!(!snapshot(&db).await.columns["tasks"].contains_key("priority"));
    let now = "'2026-11-01T09:00:00Z'";
    db.execute_unprepared(&format!(
        "INSERT INTO users (id, email, name, created_at, change_seq, sync_epoch, purged_seq, erasing) \
         VALUES ('u1', NULL, NULL, {now}, 2, 7, 0, false)"
    ))
    .await
    .unwrap();
    for (title, description, completed, seq) in
        [("One", "NULL", "false", 1), ("Été", "'Déjà'", "true", 2)]
    {
        db.execute_unprepared(&format!(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at, \
             version, title_key, description_key, change_seq) \
             VALUES ('u1', '{title}', {description}, {completed}, {now}, {now}, 3, '', NULL, {seq})"
        ))
        .await
        .unwrap();
    }
    let before = stored_tasks(&db).await;

    Migrator::up(&db, None).await.unwrap();
    assert_eq!(stored_tasks(&db).await, before, "every task intact");
    // The owner's row counts the tasks they already held.
    let counts = rows(&db, "SELECT task_count FROM users").await;
    assert_eq!(counts.len(), 1);
    assert_eq!(counts[0].try_get::<i64>("", "task_count").unwrap(), 2);
    let organized = rows(
        &db,
        "SELECT priority, tags, due_date, due_time, time_zone, due_at, version, \
         completed_at IS NOT NULL AS has_completed_at, recurrence, series_start, reminders \
         FROM tasks ORDER BY id",
    )
    .await;
    for (row, completed) in organized.iter().zip([false, true]) {
        assert_eq!(row.try_get::<i16>("", "priority").unwrap(), 0);
        assert_eq!(
            row.try_get::<Option<String>>("", "recurrence").unwrap(),
            None
        );
        assert_eq!(
            row.try_get::<Option<chrono::NaiveDate>>("", "series_start")
                .unwrap(),
            None
        );
        assert_eq!(text(row, "reminders"), "");
        assert_eq!(text(row, "tags"), "");
        assert_eq!(text(row, "time_zone"), "UTC");
        assert_eq!(
            row.try_get::<Option<chrono::NaiveDate>>("", "due_date")
                .unwrap(),
            None
        );
        assert_eq!(
            row.try_get::<Option<chrono::NaiveTime>>("", "due_time")
                .unwrap(),
            None
        );
        assert_eq!(
            row.try_get::<Option<chrono::DateTime<chrono::Utc>>>("", "due_at")
                .unwrap(),
            None
        );
        assert_eq!(
            row.try_get::<i32>("", "version").unwrap(),
            3,
            "versions kept"
        );
        assert_eq!(
            row.try_get::<bool>("", "has_completed_at").unwrap(),
            completed
        );
    }
    assert_eq!(
        snapshot(&db).await,
        declared_by_entities(db.get_database_backend())
    );

    // Down again: the new columns and tables go, the tasks stay.
    Migrator::down(&db, Some(4)).await.unwrap();
    let back = snapshot(&db).await;
    assert!(!back.columns["users"].contains_key("task_count"));
    assert!(!back.columns["tasks"].contains_key("priority"));
    assert!(!back.columns["tasks"].contains_key("recurrence"));
    assert!(!back.columns["tasks"].contains_key("reminders"));
    assert!(!back.columns.contains_key("reminders"));
    assert!(!back.columns["tasks"].contains_key("due_at"));
    assert!(!back.columns.contains_key("tags"));
    assert!(!back.columns.contains_key("task_tags"));
    assert_eq!(stored_tasks(&db).await, before);
    db.close().await.ok();
}
