//! What one user may hold: `MAX_TASKS_PER_USER` tasks (a create beyond is
//! a 403) and a bounded number of live idempotency keys (a keyed create
//! beyond is a 429); either refusal stores nothing.

use libtest_mimic::Trial;
use reqwest::Response;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use tokio::task::JoinSet;

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, assert_problem, id_of, json_with_status, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        a_create_over_the_task_quota_is_403_and_stores_nothing,
        concurrent_creates_at_the_limit_let_exactly_one_through,
        every_write_keeps_the_owners_task_count,
        an_idempotent_create_over_the_quota_is_not_remembered,
        a_keyed_create_over_the_key_bound_is_429_until_the_oldest_expires,
        concurrent_keyed_creates_at_the_key_bound_let_exactly_one_through,
    ]
}

const TASKS: u64 = 3;
const KEYS: u64 = 3;

/// An app whose users may hold 3 tasks and 3 live idempotency keys.
struct Limited(TestApp);

impl Fixture for Limited {
    async fn start(backend: Backend) -> Self {
        Self(
            spawn_app_with(backend, |settings| {
                settings.quotas.tasks_per_user = TASKS;
                settings.quotas.idempotency_keys_per_user = KEYS;
            })
            .await,
        )
    }
}

async fn assert_over_task_quota(response: Response) {
    let problem = assert_problem(response, 403).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains(&format!("{TASKS} tasks")), "{detail}");
    assert!(detail.contains("MAX_TASKS_PER_USER"), "{detail}");
}

async fn a_create_over_the_task_quota_is_403_and_stores_nothing(app: Limited) {
    let app = app.0;
    let mut ids = Vec::new();
    for n in 0..TASKS {
        ids.push(id_of(
            &app.create_task("ada", json!({"title": format!("t{n}")}))
                .await,
        ));
    }
    let seq = app.change_seq("ada").await.unwrap_or(0);
    assert_over_task_quota(
        app.try_create("ada", json!({"title": "one too many"}))
            .await,
    )
    .await;
    assert_eq!(app.count_rows("tasks").await, TASKS as i64);
    assert_eq!(
        app.change_seq("ada").await.unwrap_or(0),
        seq,
        "no change number taken"
    );
    // Another user has a quota of their own.
    app.create_task("bob", json!({"title": "bob's"})).await;
    // Deleting one makes room for one.
    assert_eq!(app.delete_task("ada", ids[0]).await.status(), 204);
    app.create_task("ada", json!({"title": "fits again"})).await;
    assert_over_task_quota(app.try_create("ada", json!({"title": "full again"})).await).await;
}

async fn concurrent_creates_at_the_limit_let_exactly_one_through(app: Limited) {
    let app = std::sync::Arc::new(app.0);
    for n in 0..TASKS - 1 {
        app.create_task("ada", json!({"title": format!("t{n}")}))
            .await;
    }
    let mut creates = JoinSet::new();
    for n in 0..10 {
        let app = app.clone();
        creates.spawn(async move {
            let response = app
                .try_create("ada", json!({"title": format!("race {n}")}))
                .await;
            let status = response.status().as_u16();
            if status == 403 {
                assert_over_task_quota(response).await;
            }
            status
        });
    }
    let statuses = creates.join_all().await;
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|status| [201, 403].contains(status)),
        "{statuses:?}"
    );
    assert_eq!(app.count_rows("tasks").await, TASKS as i64);
}

/// The quota is checked on the count the owner's row keeps, so every
/// write that adds or removes a task, and none that fails, must move it.
async fn every_write_keeps_the_owners_task_count(app: Limited) {
    let app = app.0;
    let counted = async |app: &TestApp| {
        assert_eq!(
            app.task_count("ada").await,
            Some(app.list("ada", "limit=1").await.1 as i64),
            "the row's count is the tasks held"
        );
    };
    let first = id_of(&app.create_task("ada", json!({"title": "one"})).await);
    counted(&app).await;
    let body = json!({"title": "keyed"});
    json_with_status(app.create_with_key("ada", "k", &body).await, 201, "keyed").await;
    json_with_status(
        app.create_with_key("ada", "k", &body).await,
        201,
        "replayed",
    )
    .await;
    app.create_task("ada", json!({"title": "three"})).await;
    counted(&app).await;
    // Refused and failed writes count nothing.
    assert_over_task_quota(app.try_create("ada", json!({"title": "over"})).await).await;
    assert_eq!(app.delete_task("ada", 999_999).await.status(), 404);
    let stale = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/tasks/{first}"),
            "ada",
        )
        .header("If-Match", "\"99\"")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    counted(&app).await;
    // A batch counts what it did: an atomic one that failed, nothing; one
    // that is not atomic, the operations that stood.
    let batch = |atomic: bool| {
        json!({"atomic": atomic, "operations": [
            {"op": "delete", "id": first},
            {"op": "create", "task": {"title": "fits"}},
            {"op": "create", "task": {"title": "over"}},
        ]})
    };
    let failed = app
        .send(
            reqwest::Method::POST,
            "/api/batch",
            "ada",
            Some(&batch(true)),
        )
        .await;
    assert_eq!(failed.status(), 403);
    counted(&app).await;
    let partly = app
        .send(
            reqwest::Method::POST,
            "/api/batch",
            "ada",
            Some(&batch(false)),
        )
        .await;
    assert_eq!(partly.status(), 200);
    assert_eq!(app.task_count("ada").await, Some(TASKS as i64));
    counted(&app).await;
    assert_eq!(
        app.delete_task("ada", id_of(&app.list("ada", "limit=1").await.0[0]))
            .await
            .status(),
        204
    );
    counted(&app).await;
}

async fn an_idempotent_create_over_the_quota_is_not_remembered(app: Limited) {
    let app = app.0;
    let mut ids = Vec::new();
    for n in 0..TASKS {
        ids.push(id_of(
            &app.create_task("ada", json!({"title": format!("t{n}")}))
                .await,
        ));
    }
    let body = json!({"title": "keyed"});
    assert_over_task_quota(app.create_with_key("ada", "k", &body).await).await;
    assert_eq!(
        app.count_rows("idempotency_keys").await,
        0,
        "the key is not kept"
    );
    // The retry once there is room creates the task: the refusal was not
    // remembered as the key's answer.
    assert_eq!(app.delete_task("ada", ids[0]).await.status(), 204);
    let created =
        json_with_status(app.create_with_key("ada", "k", &body).await, 201, "retry").await;
    let replayed =
        json_with_status(app.create_with_key("ada", "k", &body).await, 201, "again").await;
    assert_eq!(created, replayed);
    assert_eq!(app.count_rows("tasks").await, TASKS as i64);
}

async fn a_keyed_create_over_the_key_bound_is_429_until_the_oldest_expires(app: Limited) {
    let app = app.0;
    let body = json!({"title": "keyed"});
    let mut first = None;
    for n in 0..KEYS {
        let response = app.create_with_key("ada", &format!("k{n}"), &body).await;
        let task = json_with_status(response, 201, "within the bound").await;
        first.get_or_insert(task);
    }
    assert_eq!(app.count_rows("tasks").await, KEYS as i64);
    // Delete the tasks so only the key bound stands in the way.
    let (tasks, _) = app.list("ada", "").await;
    for task in &tasks {
        assert_eq!(app.delete_task("ada", id_of(task)).await.status(), 204);
    }
    let seq = app.change_seq("ada").await.unwrap_or(0);
    let refused = app.create_with_key("ada", "one-more", &body).await;
    let header = |name: &str| -> u64 { refused.headers()[name].to_str().unwrap().parse().unwrap() };
    let retry_after = header("retry-after");
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    assert_eq!(header("ratelimit-limit"), KEYS);
    assert_eq!(header("ratelimit-remaining"), 0);
    assert!(header("ratelimit-reset") >= retry_after);
    let problem = assert_problem(refused, 429).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("idempotency keys"),
        "{problem}"
    );
    assert_eq!(app.count_rows("idempotency_keys").await, KEYS as i64);
    assert_eq!(app.count_rows("tasks").await, 0, "nothing stored");
    assert_eq!(
        app.change_seq("ada").await.unwrap_or(0),
        seq,
        "no change number taken"
    );
    // A retry of a remembered key is still answered, and a create without
    // a key is not limited by keys.
    let replay =
        json_with_status(app.create_with_key("ada", "k0", &body).await, 201, "replay").await;
    assert_eq!(Some(replay), first);
    app.create_task("ada", json!({"title": "unkeyed"})).await;
    // Once the oldest key has expired, there is room for one.
    let backend = app.db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE idempotency_keys SET created_at = $1::timestamptz WHERE key = 'k0'"
        }
        _ => "UPDATE idempotency_keys SET created_at = ? WHERE key = 'k0'",
    };
    let aged = (chrono::Utc::now() - chrono::TimeDelta::hours(25)).to_rfc3339();
    app.db
        .execute_raw(Statement::from_sql_and_values(backend, sql, [aged.into()]))
        .await
        .unwrap();
    json_with_status(
        app.create_with_key("ada", "one-more", &body).await,
        201,
        "room",
    )
    .await;
}

async fn concurrent_keyed_creates_at_the_key_bound_let_exactly_one_through(app: Limited) {
    let app = std::sync::Arc::new(app.0);
    let body = json!({"title": "keyed"});
    for n in 0..KEYS - 1 {
        json_with_status(
            app.create_with_key("ada", &format!("k{n}"), &body).await,
            201,
            "fill",
        )
        .await;
    }
    let (tasks, _) = app.list("ada", "").await;
    for task in &tasks {
        assert_eq!(app.delete_task("ada", id_of(task)).await.status(), 204);
    }
    let mut creates = JoinSet::new();
    for n in 0..10 {
        let app = app.clone();
        let body = body.clone();
        creates.spawn(async move {
            app.create_with_key("ada", &format!("race{n}"), &body)
                .await
                .status()
                .as_u16()
        });
    }
    let statuses = creates.join_all().await;
    assert_eq!(
        statuses.iter().filter(|status| **status == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|status| [201, 429].contains(status)),
        "{statuses:?}"
    );
    assert_eq!(app.count_rows("idempotency_keys").await, KEYS as i64);
}
