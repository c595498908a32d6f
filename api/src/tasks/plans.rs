//! The list's plans: each common filter and sort reads one user's tasks
//! through an index, on SQLite and PostgreSQL, never by scanning the table.
//! Run with `--nocapture` to see the plans (BENCHMARKS.md quotes them).

use chrono::{Duration, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use super::list_query::{ListQuery, SortKey, SortOrder, StatusFilter};
use super::priority::Priority;
use super::repository::list_statement;

/// Tasks per user, and users: one user's tasks are a small share of the
/// table, as in any service with more than a few users, so the PostgreSQL
/// planner weighs an index against a scan as it would in production.
const TASKS_PER_USER: i64 = 2000;
const USERS: usize = 20;

fn query() -> ListQuery {
    ListQuery {
        status: StatusFilter::All,
        sort: SortKey::CreatedAt,
        order: SortOrder::Desc,
        text: None,
        priorities: Vec::new(),
        tags: Vec::new(),
        due_before: None,
        due_after: None,
        overdue: None,
        has_due: None,
        limit: 100,
        offset: 0,
    }
}

/// The combinations a task app asks for most, by name.
fn common() -> Vec<(&'static str, ListQuery)> {
    vec![
        ("default (newest first)", query()),
        (
            "status=pending",
            ListQuery {
                status: StatusFilter::Pending,
                ..query()
            },
        ),
        (
            "sort=due_at&order=asc",
            ListQuery {
                sort: SortKey::DueAt,
                order: SortOrder::Asc,
                ..query()
            },
        ),
        (
            "status=pending&sort=due_at&order=asc",
            ListQuery {
                status: StatusFilter::Pending,
                sort: SortKey::DueAt,
                order: SortOrder::Asc,
                ..query()
            },
        ),
        (
            "sort=priority",
            ListQuery {
                sort: SortKey::Priority,
                ..query()
            },
        ),
        (
            "priority=high,medium",
            ListQuery {
                priorities: vec![Priority::Medium, Priority::High],
                ..query()
            },
        ),
        (
            "tag=t1",
            ListQuery {
                tags: vec!["t1".into()],
                ..query()
            },
        ),
        (
            "tag=t1&priority=high,medium&sort=due_at (list-filtered)",
            ListQuery {
                tags: vec!["t1".into()],
                priorities: vec![Priority::Medium, Priority::High],
                sort: SortKey::DueAt,
                order: SortOrder::Asc,
                ..query()
            },
        ),
        (
            "overdue=true",
            ListQuery {
                overdue: Some(true),
                ..query()
            },
        ),
        (
            "due_before=…&sort=due_at",
            ListQuery {
                due_before: Some(Utc::now()),
                sort: SortKey::DueAt,
                ..query()
            },
        ),
        (
            "has_due=false",
            ListQuery {
                has_due: Some(false),
                ..query()
            },
        ),
    ]
}

/// [`USERS`] users' tasks (the first is `u`): every fourth without a due date, priorities in turn,
/// a third completed, and tags t0–t2 on a third of them each.
async fn seed(db: &DatabaseConnection) {
    Migrator::up(db, None).await.unwrap();
    let backend = db.get_database_backend();
    let series = match backend {
        DbBackend::Postgres => format!("SELECT generate_series(1, {TASKS_PER_USER}) AS n"),
        _ => format!(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {TASKS_PER_USER}) SELECT n FROM s"
        ),
    };
    let start = (Utc::now() - Duration::days(30)).to_rfc3339();
    let users: Vec<String> = (0..USERS)
        .map(|i| {
            if i == 0 {
                "u".to_owned()
            } else {
                format!("v{i}")
            }
        })
        .collect();
    for user in &users {
        db.execute_unprepared(&format!(
            "INSERT INTO users (id, created_at, change_seq, sync_epoch, purged_seq, erasing) \
             VALUES ('{user}', '{start}', 0, 1, 0, false)"
        ))
        .await
        .unwrap();
        let due = match backend {
            DbBackend::Postgres => format!("TIMESTAMPTZ '{start}' + n * INTERVAL '10 minutes'"),
            _ => format!(
                "strftime('%Y-%m-%dT%H:%M:%S+00:00', '{start}', '+' || (n * 10) || ' minutes')"
            ),
        };
        db.execute_unprepared(&format!(
            "INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at, version, \
             title_key, description_key, change_seq, priority, tags, time_zone, due_at) \
             SELECT '{user}', 'task ' || n, NULL, n % 3 = 0, '{start}', '{start}', 1, 'task ' || n, NULL, n, \
             n % 4, '', 'UTC', CASE WHEN n % 4 = 0 THEN NULL ELSE {due} END FROM ({series}) AS s"
        ))
        .await
        .unwrap();
        for tag in 0..3 {
            db.execute_unprepared(&format!(
                "INSERT INTO tags (user_id, name, name_key) VALUES ('{user}', 't{tag}', 't{tag}')"
            ))
            .await
            .unwrap();
            db.execute_unprepared(&format!(
                "INSERT INTO task_tags (task_id, tag_id) SELECT tasks.id, tags.id FROM tasks, tags \
                 WHERE tasks.user_id = '{user}' AND tags.user_id = '{user}' AND tags.name = 't{tag}' \
                 AND tasks.id % 3 = {tag}"
            ))
            .await
            .unwrap();
        }
    }
    db.execute_unprepared("ANALYZE").await.unwrap();
}

/// The plan of `query`'s statement, one line per step.
async fn plan(db: &DatabaseConnection, query: &ListQuery) -> Vec<String> {
    let backend = db.get_database_backend();
    let built = backend.build(&list_statement("u", query, backend));
    let explain = match backend {
        DbBackend::Postgres => "EXPLAIN",
        _ => "EXPLAIN QUERY PLAN",
    };
    let statement = Statement::from_sql_and_values(
        backend,
        format!("{explain} {}", built.sql),
        built.values.map(|values| values.0).unwrap_or_default(),
    );
    let rows = db.query_all_raw(statement).await.unwrap();
    rows.iter()
        .map(|row| match backend {
            DbBackend::Postgres => row.try_get::<String>("", "QUERY PLAN").unwrap(),
            _ => row.try_get::<String>("", "detail").unwrap(),
        })
        .collect()
}

/// A step that reads `tasks` without an index: SQLite's `SCAN tasks`
/// (with an index it says `USING … INDEX`), PostgreSQL's `Seq Scan`.
fn scans_tasks(step: &str) -> bool {
    let step = step.trim_start_matches([' ', '-', '>']).trim();
    (step.starts_with("SCAN tasks") && !step.contains("INDEX"))
        || step.starts_with("Seq Scan on tasks")
}

async fn check(db: &DatabaseConnection) {
    seed(db).await;
    let mut scans = Vec::new();
    for (name, query) in common() {
        let steps = plan(db, &query).await;
        println!("{name}:\n  {}", steps.join("\n  "));
        if steps.iter().any(|step| scans_tasks(step)) {
            scans.push(name);
        }
        // A sort by a new key reads that key's index, in order.
        let index = match query.sort {
            SortKey::DueAt if query.tags.is_empty() => Some("-due_at"),
            SortKey::Priority => Some("-priority"),
            _ => None,
        };
        if let Some(index) = index {
            assert!(
                steps.iter().any(|step| step.contains(index)),
                "{name} reads no index on {index}"
            );
        }
    }
    assert!(
        scans.is_empty(),
        "these lists scan the tasks table: {scans:?}"
    );
}

#[tokio::test]
async fn every_common_list_reads_an_index_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("plans.db").display()
    );
    let db = Database::connect(url).await.unwrap();
    check(&db).await;
}

#[tokio::test]
async fn every_common_list_reads_an_index_on_postgres() {
    let Ok(server) = std::env::var("TEST_DATABASE_URL") else {
        // CI sets it: there, a missing database is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs TEST_DATABASE_URL"
        );
        eprintln!("skipped: TEST_DATABASE_URL is not set");
        return;
    };
    let name = format!("todo_test_plans_{}", std::process::id());
    let admin = Database::connect(&server).await.unwrap();
    let drop = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
    admin.execute_unprepared(&drop).await.unwrap();
    admin
        .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
        .await
        .unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    let db = Database::connect(url.as_str()).await.unwrap();
    check(&db).await;
    db.close().await.ok();
    admin.execute_unprepared(&drop).await.unwrap();
}
