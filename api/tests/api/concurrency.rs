//! Two devices, one task list: versions and `ETag`s, conditional writes,
//! idempotent creates, and two instances of the service on one database.

use std::collections::BTreeMap;

use libtest_mimic::Trial;
use reqwest::{Method, Response};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::helpers::{TestApp, assert_problem, error_fields, id_of, json_with_status};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            every_single_task_response_carries_its_version_as_etag,
            if_match_guards_every_write,
            if_none_match_answers_304_without_a_body,
            of_fifty_concurrent_conditional_updates_exactly_one_wins,
            a_retried_create_gets_the_first_response_and_creates_nothing,
            idempotency_keys_are_per_user_and_per_request,
            twenty_concurrent_retries_leave_one_task,
            expired_idempotency_keys_are_purged,
        ],
        crate::postgres_only![two_instances_on_one_database_agree],
    ])
}

fn etag(response: &Response) -> String {
    response
        .headers()
        .get("etag")
        .expect("an ETag header")
        .to_str()
        .unwrap()
        .to_owned()
}

async fn send_if_match(
    app: &TestApp,
    method: Method,
    path: &str,
    tag: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.request(method, path, "alice").header("if-match", tag);
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

async fn every_single_task_response_carries_its_version_as_etag(app: TestApp) {
    let created = app.try_create("alice", json!({"title": "T"})).await;
    assert_eq!(etag(&created), r#""1""#);
    let task = json_with_status(created, 201, "create").await;
    assert_eq!(task["version"], 1);
    let id = id_of(&task);

    let read = app.get_task("alice", id).await;
    assert_eq!(etag(&read), r#""1""#);
    let put = app.update_task("alice", id, json!({"title": "U"})).await;
    assert_eq!(etag(&put), r#""2""#);
    assert_eq!(json_with_status(put, 200, "put").await["version"], 2);
    let patch = app.complete_task("alice", id, None).await;
    assert_eq!(etag(&patch), r#""3""#);
    assert_eq!(json_with_status(patch, 200, "patch").await["version"], 3);
    // A failed write does not move the version.
    assert_problem(app.update_task("alice", id, json!({})).await, 422).await;
    assert_eq!(app.task("alice", id).await["version"], 3);
}

async fn if_match_guards_every_write(app: TestApp) {
    let task = app
        .create_task("alice", json!({"title": "T", "description": "D"}))
        .await;
    let id = id_of(&task);
    let path = format!("/api/tasks/{id}");
    let complete = format!("/api/tasks/{id}/complete");

    // Stale tags, weak tags and tags that are not ours: 412, nothing changes.
    for tag in [r#""7""#, r#"W/"1""#, "1", r#""2", "3""#] {
        let put = send_if_match(&app, Method::PUT, &path, tag, Some(json!({"title": "X"})));
        assert_problem(put.await, 412).await;
        let patch = send_if_match(&app, Method::PATCH, &complete, tag, None);
        assert_problem(patch.await, 412).await;
        let delete = send_if_match(&app, Method::DELETE, &path, tag, None);
        assert_problem(delete.await, 412).await;
    }
    assert_eq!(app.task("alice", id).await, task, "nothing changed");

    // The current tag, in a list or alone, and `*` succeed.
    let put = send_if_match(
        &app,
        Method::PUT,
        &path,
        r#""9", "1""#,
        Some(json!({"title": "A"})),
    );
    assert_eq!(json_with_status(put.await, 200, "put").await["title"], "A");
    let patch = send_if_match(&app, Method::PATCH, &complete, r#""2""#, None);
    assert_eq!(
        json_with_status(patch.await, 200, "patch").await["completed"],
        true
    );
    let put = send_if_match(&app, Method::PUT, &path, "*", Some(json!({"title": "B"})));
    assert_eq!(json_with_status(put.await, 200, "put").await["version"], 4);
    let delete = send_if_match(&app, Method::DELETE, &path, r#""3""#, None);
    assert_problem(delete.await, 412).await;
    let delete = send_if_match(&app, Method::DELETE, &path, r#""4""#, None);
    assert_eq!(delete.await.status(), 204);

    // A missing task is 404 whatever the tag, `*` included.
    for tag in ["*", r#""4""#] {
        let put = send_if_match(&app, Method::PUT, &path, tag, Some(json!({"title": "C"})));
        assert_problem(put.await, 404).await;
    }
    // Another user's task is as missing as a deleted one.
    let bobs = app.create_task("bob", json!({"title": "bob's"})).await;
    let bobs_path = format!("/api/tasks/{}", id_of(&bobs));
    let put = send_if_match(
        &app,
        Method::PUT,
        &bobs_path,
        r#""1""#,
        Some(json!({"title": "x"})),
    );
    assert_problem(put.await, 404).await;
}

async fn if_none_match_answers_304_without_a_body(app: TestApp) {
    let id = id_of(&app.create_task("alice", json!({"title": "T"})).await);
    let path = format!("/api/tasks/{id}");
    let get = |tag: &'static str| {
        app.request(Method::GET, &path, "alice")
            .header("if-none-match", tag)
            .send()
    };
    for tag in [r#""1""#, r#"W/"1""#, r#""5", "1""#, "*"] {
        let response = get(tag).await.unwrap();
        assert_eq!(response.status(), 304, "{tag}");
        assert_eq!(etag(&response), r#""1""#);
        assert!(response.bytes().await.unwrap().is_empty());
    }
    app.updated("alice", id, json!({"title": "U"})).await;
    let response = get(r#""1""#).await.unwrap();
    assert_eq!(response.status(), 200, "a changed task is sent again");
    assert_eq!(etag(&response), r#""2""#);
    assert_eq!(response.json::<Value>().await.unwrap()["title"], "U");
}

async fn of_fifty_concurrent_conditional_updates_exactly_one_wins(app: TestApp) {
    let id = id_of(&app.create_task("alice", json!({"title": "start"})).await);
    let url = app.url(&format!("/api/tasks/{id}"));
    let token = app.token("alice");
    let mut writers = JoinSet::new();
    for writer in 0..50 {
        let request = app
            .client
            .put(&url)
            .bearer_auth(&token)
            .header("if-match", r#""1""#)
            .json(&json!({ "title": format!("edit {writer}") }));
        writers.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let mut statuses = BTreeMap::new();
    let mut winners = Vec::new();
    for (status, body) in writers.join_all().await {
        *statuses.entry(status).or_insert(0) += 1;
        if status == 200 {
            winners.push(body);
        }
    }
    assert_eq!(statuses, BTreeMap::from([(200, 1), (412, 49)]));
    let stored = app.task("alice", id).await;
    assert_eq!(stored, winners[0], "the stored task is the winner's");
    assert_eq!(stored["version"], 2);
}

/// Status, `Location`, `ETag` and body of a create.
async fn answer(response: Response) -> (u16, String, String, String) {
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    let (status, location, tag) = (
        response.status().as_u16(),
        header("location"),
        header("etag"),
    );
    (status, location, tag, response.text().await.unwrap())
}

async fn a_retried_create_gets_the_first_response_and_creates_nothing(app: TestApp) {
    let body = json!({"title": "Buy milk", "description": "Oat"});
    let first = answer(app.create_with_key("alice", "key-1", &body).await).await;
    assert_eq!(first.0, 201);
    // The task changes after the first answer; a retry still gets that answer.
    let task: Value = serde_json::from_str(&first.3).unwrap();
    app.updated("alice", id_of(&task), json!({"title": "Changed"}))
        .await;
    for _ in 0..3 {
        let retry = answer(app.create_with_key("alice", "key-1", &body).await).await;
        assert_eq!(retry, first);
    }
    assert_eq!(app.count_rows("tasks").await, 1);
    // Without a key, or with another one, the same body creates again.
    app.create_task("alice", body.clone()).await;
    let other = app.create_with_key("alice", "key-2", &body).await;
    assert_eq!(other.status(), 201);
    assert_eq!(app.count_rows("tasks").await, 3);
}

async fn idempotency_keys_are_per_user_and_per_request(app: TestApp) {
    let body = json!({"title": "A"});
    let alices = json_with_status(
        app.create_with_key("alice", "shared", &body).await,
        201,
        "alice",
    )
    .await;
    // Another user's identical key is their own.
    let bobs = json_with_status(
        app.create_with_key("bob", "shared", &body).await,
        201,
        "bob",
    )
    .await;
    assert_ne!(alices["id"], bobs["id"]);
    assert_eq!(bobs["user_id"], "bob");

    // The same key with another body is refused, and creates nothing.
    let reused = app
        .create_with_key("alice", "shared", &json!({"title": "B"}))
        .await;
    let problem = assert_problem(reused, 422).await;
    assert_eq!(error_fields(&problem), vec!["Idempotency-Key"]);
    // Malformed keys are refused before anything happens.
    for key in ["", &"k".repeat(256), "with space"] {
        let response = app.create_with_key("alice", key, &body).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), vec!["Idempotency-Key"], "{key:?}");
    }
    assert_eq!(app.count_rows("tasks").await, 2);
}

async fn twenty_concurrent_retries_leave_one_task(app: TestApp) {
    let url = app.url("/api/tasks");
    let token = app.token("alice");
    let mut retries = JoinSet::new();
    for _ in 0..20 {
        let request = app
            .client
            .post(&url)
            .bearer_auth(&token)
            .header("idempotency-key", "flaky-train")
            .json(&json!({"title": "once"}));
        retries.spawn(async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        });
    }
    let answers = retries.join_all().await;
    assert!(
        answers.iter().all(|(status, _)| *status == 201),
        "{answers:?}"
    );
    assert!(
        answers.iter().all(|answer| answer.1 == answers[0].1),
        "one answer"
    );
    assert_eq!(app.count_rows("tasks").await, 1);
}

async fn expired_idempotency_keys_are_purged(app: TestApp) {
    let body = json!({"title": "A"});
    json_with_status(
        app.create_with_key("alice", "old", &body).await,
        201,
        "first",
    )
    .await;
    // Age the key past its 24 hours.
    let backend = app.db.get_database_backend();
    let aged = chrono::Utc::now() - chrono::TimeDelta::hours(25);
    app.db
        .execute_raw(sea_orm::Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => "UPDATE idempotency_keys SET created_at = $1",
                _ => "UPDATE idempotency_keys SET created_at = ?",
            },
            [aged.into()],
        ))
        .await
        .unwrap();
    // The sweeper purges it; the old key then names a new request.
    json_with_status(app.create_with_key("bob", "other", &body).await, 201, "bob").await;
    api::sweeper::sweep(&app.db).await;
    assert_eq!(app.count_rows("idempotency_keys").await, 1);
    let again = app
        .create_with_key("alice", "old", &json!({"title": "B"}))
        .await;
    assert_eq!(json_with_status(again, 201, "reused").await["title"], "B");
    assert_eq!(app.count_rows("tasks").await, 3);
}

async fn two_instances_on_one_database_agree(app: TestApp) {
    let first = app.address.clone();
    let second = app.start_another_instance().await;
    let on = |address: &str, method: Method, path: &str| {
        app.client
            .request(method, format!("{address}{path}"))
            .bearer_auth(app.token("alice"))
    };

    let created = on(&first, Method::POST, "/api/tasks")
        .header("idempotency-key", "k")
        .json(&json!({"title": "made on one"}))
        .send()
        .await
        .unwrap();
    let created = json_with_status(created, 201, "create on the first").await;
    let path = format!("/api/tasks/{}", id_of(&created));

    let updated = on(&second, Method::PUT, &path)
        .header("if-match", r#""1""#)
        .json(&json!({"title": "changed on two"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(updated, 200, "update on the second").await["version"],
        2
    );

    let stale = on(&first, Method::PUT, &path)
        .header("if-match", r#""1""#)
        .json(&json!({"title": "stale on one"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;

    let retried = on(&second, Method::POST, "/api/tasks")
        .header("idempotency-key", "k")
        .json(&json!({"title": "made on one"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_with_status(retried, 201, "retry on the second").await,
        created
    );
    assert_eq!(app.count_rows("tasks").await, 1, "no second task");

    let deleted = on(&second, Method::DELETE, &path)
        .header("if-match", r#""2""#)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = on(&first, Method::GET, &path).send().await.unwrap();
    assert_problem(gone, 404).await;
}
