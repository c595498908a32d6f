//! `POST /api/batch`: operations in order, `ref`s, atomic or each alone,
//! results exactly as the single requests answer, `Idempotency-Key` for the
//! whole batch, quotas and the rate limit counting each operation.

use api::configuration::Quota;
use libtest_mimic::Trial;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::harness::Fixture;
use crate::helpers::{
    Backend, TestApp, assert_problem, error_fields, id_of, json_with_status, spawn_app_with,
};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            every_kind_of_operation_applies_in_order_with_refs,
            an_atomic_batch_that_fails_stores_nothing,
            a_non_atomic_batch_applies_each_operation_alone,
            each_result_is_what_the_single_request_answers,
            a_malformed_batch_is_422_before_anything_is_applied,
            a_keyed_batch_is_applied_once,
            each_changed_task_shows_once_in_the_change_feed,
            batch_creates_count_toward_the_task_quota,
            creates_share_their_tags_and_a_dropped_tag_is_made_again,
        ],
        crate::sqlite_only![a_batch_may_carry_100_operations_at_every_limit],
        crate::standalone![the_rate_limit_counts_each_operation],
    ])
}

async fn batch(app: &TestApp, sub: &str, body: Value) -> Response {
    app.send(Method::POST, "/api/batch", sub, Some(&body)).await
}

async fn results(app: &TestApp, sub: &str, body: Value) -> Vec<Value> {
    let answer = json_with_status(batch(app, sub, body).await, 200, "a batch").await;
    answer["results"].as_array().expect("results").clone()
}

fn statuses(results: &[Value]) -> Vec<u64> {
    results
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect()
}

async fn every_kind_of_operation_applies_in_order_with_refs(app: TestApp) {
    let old = app.create_task("alice", json!({"title": "old"})).await;
    let results = results(
        &app,
        "alice",
        json!({"operations": [
            {"op": "create", "ref": "milk", "task": {"title": "Buy milk", "tags": ["errands"]}},
            {"op": "update", "ref": "milk", "task": {"priority": "high"}},
            {"op": "complete", "ref": "milk"},
            {"op": "delete", "id": id_of(&old), "if_match": "\"1\""},
            {"op": "create", "task": {"title": "Call mum", "completed": true}},
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), [201, 200, 200, 204, 201]);
    let milk = &results[2]["task"];
    assert_eq!(
        milk["id"], results[0]["task"]["id"],
        "the ref names the create"
    );
    assert_eq!(milk["version"], 3);
    assert_eq!(milk["priority"], "high");
    assert_eq!(milk["completed"], true);
    assert!(milk["completed_at"].is_string());
    assert!(results[3].get("task").is_none() && results[3].get("problem").is_none());
    assert_eq!(app.get_task("alice", id_of(&old)).await.status(), 404);
    assert_eq!(&app.task("alice", id_of(milk)).await, milk);
    let (tasks, total) = app.list("alice", "").await;
    assert_eq!(total, 2);
    assert_eq!(tasks[0]["title"], "Call mum");
    assert_eq!(tasks[0]["completed"], true);
}

async fn an_atomic_batch_that_fails_stores_nothing(app: TestApp) {
    let bobs = app.create_task("bob", json!({"title": "bob's"})).await;
    let mine = app.create_task("alice", json!({"title": "mine"})).await;
    let seq = app.change_seq("alice").await;
    let tasks_before = app.count_rows("tasks").await;

    // Another user's task is not found, and stays as it was.
    let response = batch(
        &app,
        "alice",
        json!({"operations": [
            {"op": "create", "task": {"title": "new"}},
            {"op": "update", "id": id_of(&mine), "task": {"title": "changed"}},
            {"op": "delete", "id": id_of(&bobs)},
        ]}),
    )
    .await;
    let problem = assert_problem(response, 404).await;
    assert_eq!(error_fields(&problem), ["operations[2]"]);
    assert_eq!(app.task("bob", id_of(&bobs)).await, bobs);

    // A stale `if_match` is the batch's 412.
    let response = batch(
        &app,
        "alice",
        json!({"operations": [
            {"op": "complete", "id": id_of(&mine), "if_match": "\"7\""},
        ], "atomic": true}),
    )
    .await;
    let problem = assert_problem(response, 412).await;
    assert_eq!(error_fields(&problem), ["operations[0]"]);

    // An operation's invalid task is named inside it.
    let response = batch(
        &app,
        "alice",
        json!({"operations": [
            {"op": "update", "id": id_of(&mine), "task": {"title": "fine"}},
            {"op": "create", "task": {"title": " ", "priority": "urgent"}},
        ]}),
    )
    .await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(
        error_fields(&problem),
        ["operations[1].task.title", "operations[1].task.priority"]
    );

    assert_eq!(app.count_rows("tasks").await, tasks_before);
    assert_eq!(app.task("alice", id_of(&mine)).await, mine);
    assert_eq!(app.change_seq("alice").await, seq, "no change number taken");
}

async fn a_non_atomic_batch_applies_each_operation_alone(app: TestApp) {
    let bobs = app.create_task("bob", json!({"title": "bob's"})).await;
    let mine = app
        .create_task("alice", json!({"title": "mine", "tags": ["home"]}))
        .await;
    let results = results(
        &app,
        "alice",
        json!({"atomic": false, "operations": [
            {"op": "create", "ref": "a", "task": {"title": "kept"}},
            {"op": "create", "ref": "b", "task": {"title": ""}},
            {"op": "complete", "ref": "b"},
            {"op": "update", "id": id_of(&mine), "task": {"tags": ["work"]}, "if_match": "\"9\""},
            {"op": "delete", "id": id_of(&bobs)},
            {"op": "update", "ref": "a", "task": {"description": "still applied"}},
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), [201, 422, 424, 412, 404, 200]);
    assert_eq!(error_fields(&results[1]["problem"]), ["title"]);
    let failed = &results[2]["problem"];
    assert_eq!(failed["status"], 424);
    assert!(
        failed["detail"].as_str().unwrap().contains("operations[1]"),
        "{failed}"
    );
    assert_eq!(results[5]["task"]["description"], "still applied");

    // The refused update left the task and its tags as they were, even
    // though its tags would have been written before the version check.
    assert_eq!(app.task("alice", id_of(&mine)).await, mine);
    let tags = app.send(Method::GET, "/api/tags", "alice", None).await;
    let tags = json_with_status(tags, 200, "tags").await;
    assert_eq!(tags, json!([{"name": "home", "tasks": 1, "pending": 1}]));
    assert_eq!(app.task("bob", id_of(&bobs)).await, bobs);
    let (_, total) = app.list("alice", "").await;
    assert_eq!(total, 2);
}

/// A non-atomic batch's results hold exactly the bodies the single
/// requests answer, success and problem alike.
async fn each_result_is_what_the_single_request_answers(app: TestApp) {
    let task = app.create_task("alice", json!({"title": "t"})).await;
    let id = id_of(&task);
    let stale = app
        .request(Method::PUT, &format!("/api/tasks/{id}"), "alice")
        .header("if-match", "\"5\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    let stale = assert_problem(stale, 412).await;
    let invalid = app
        .update_task("alice", id, json!({"due_time": "25:00"}))
        .await;
    let invalid = assert_problem(invalid, 422).await;
    let missing = assert_problem(app.delete_task("alice", 999_999).await, 404).await;

    let results = results(
        &app,
        "alice",
        json!({"atomic": false, "operations": [
            {"op": "update", "id": id, "task": {"title": "x"}, "if_match": "\"5\""},
            {"op": "update", "id": id, "task": {"due_time": "25:00"}},
            {"op": "delete", "id": 999_999},
            {"op": "complete", "id": id, "completed": true},
        ]}),
    )
    .await;
    assert_eq!(results[0]["problem"], stale);
    assert_eq!(results[1]["problem"], invalid);
    assert_eq!(results[2]["problem"], missing);
    assert_eq!(results[3]["task"], app.task("alice", id).await);
}

async fn a_malformed_batch_is_422_before_anything_is_applied(app: TestApp) {
    let create = json!({"op": "create", "task": {"title": "never"}});
    let cases = [
        (json!({}), vec!["operations"]),
        (json!({"operations": []}), vec!["operations"]),
        (json!({"operations": "create"}), vec!["operations"]),
        (
            json!({"operations": vec![create.clone(); 101]}),
            vec!["operations"],
        ),
        (
            json!({"operations": [create.clone(), {"op": "archive", "id": 1}]}),
            vec!["operations[1].op"],
        ),
        (
            json!({"operations": [create.clone(), {"op": "complete", "ref": "later"}, {"op": "create", "ref": "later", "task": {"title": "x"}}]}),
            vec!["operations[1].ref"],
        ),
        (
            json!({"operations": [
                {"op": "create", "ref": "x", "task": {"title": "a"}},
                {"op": "create", "ref": "x", "task": {"title": "b"}},
            ]}),
            vec!["operations[1].ref"],
        ),
        (
            json!({"operations": [create.clone(), {"op": "delete", "id": 1, "ref": "x"}]}),
            vec!["operations[1]"],
        ),
        (
            json!({"operations": [create.clone(), {"op": "delete"}]}),
            vec!["operations[1]"],
        ),
        (
            json!({"operations": [create.clone()], "atomic": "yes"}),
            vec!["atomic"],
        ),
    ];
    for (body, fields) in cases {
        let response = batch(&app, "alice", body.clone()).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert_eq!(app.count_rows("tasks").await, 0);
    assert_eq!(
        app.change_seq("alice").await,
        None,
        "not even the user was recorded"
    );
}

async fn a_keyed_batch_is_applied_once(app: TestApp) {
    let body = json!({"atomic": false, "operations": [
        {"op": "create", "ref": "a", "task": {"title": "once"}},
        {"op": "complete", "ref": "a"},
    ]});
    let send = |key: &'static str, body: Value| {
        let request = app
            .request(Method::POST, "/api/batch", "alice")
            .header("idempotency-key", key)
            .json(&body);
        async move { request.send().await.unwrap() }
    };
    let first = send("offline-1", body.clone()).await;
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    // The same body, spaced and ordered otherwise, is the same request.
    let reordered = r#"{ "operations": [ {"task": {"title": "once"}, "ref": "a", "op": "create"},
        {"ref": "a", "op": "complete"} ], "atomic": false }"#;
    let retry = app
        .request(Method::POST, "/api/batch", "alice")
        .header("idempotency-key", "offline-1")
        .header("content-type", "application/json")
        .body(reordered)
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.text().await.unwrap(), first, "replayed byte for byte");
    let (tasks, total) = app.list("alice", "").await;
    assert_eq!(total, 1);
    assert_eq!(tasks[0]["version"], 2);

    let other = send(
        "offline-1",
        json!({"operations": [{"op": "create", "task": {"title": "x"}}]}),
    )
    .await;
    assert_eq!(
        error_fields(&assert_problem(other, 422).await),
        ["Idempotency-Key"]
    );
    // A key is scoped to its route: a create with it is another request.
    let create = app
        .create_with_key("alice", "offline-1", &json!({"title": "once"}))
        .await;
    assert_eq!(
        error_fields(&assert_problem(create, 422).await),
        ["Idempotency-Key"]
    );
    assert_eq!(app.list("alice", "").await.1, 1);

    // A failed atomic batch is not remembered: its key stays free, so a
    // retry runs it again.
    let missing = json!({"operations": [{"op": "delete", "id": 424_242}]});
    assert_eq!(send("offline-2", missing.clone()).await.status(), 404);
    assert_eq!(app.count_rows("idempotency_keys").await, 1);
}

async fn each_changed_task_shows_once_in_the_change_feed(app: TestApp) {
    let snapshot = json_with_status(app.feed("alice", "").await, 200, "feed").await;
    let cursor = snapshot["cursor"].as_str().unwrap().to_owned();
    let gone = app.create_task("alice", json!({"title": "gone"})).await;
    let results = results(
        &app,
        "alice",
        json!({"operations": [
            {"op": "create", "ref": "a", "task": {"title": "a"}},
            {"op": "update", "ref": "a", "task": {"title": "a2"}},
            {"op": "complete", "ref": "a"},
            {"op": "delete", "id": id_of(&gone)},
        ]}),
    )
    .await;
    let feed = app.feed("alice", &format!("since={cursor}")).await;
    let feed = json_with_status(feed, 200, "feed").await;
    let tasks = feed["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{feed}");
    assert_eq!(tasks[0], results[2]["task"]);
    assert_eq!(feed["deleted"].as_array().unwrap().len(), 1);
    assert_eq!(feed["deleted"][0]["id"], id_of(&gone));
}

/// Creates resolve each tag once per batch; a deletion that drops the
/// last carrier of a tag in between must not leave a later create linked
/// to the dropped row.
async fn creates_share_their_tags_and_a_dropped_tag_is_made_again(app: TestApp) {
    let results = results(
        &app,
        "alice",
        json!({"operations": [
            {"op": "create", "ref": "a", "task": {"title": "a", "tags": ["Home", "x"]}},
            {"op": "create", "task": {"title": "b", "tags": ["home"]}},
            {"op": "delete", "ref": "a"},
            {"op": "create", "task": {"title": "c", "tags": ["X", "home"]}},
        ]}),
    )
    .await;
    assert_eq!(statuses(&results), [201, 201, 204, 201]);
    assert_eq!(
        results[1]["task"]["tags"],
        json!(["Home"]),
        "the first spelling"
    );
    assert_eq!(
        results[3]["task"]["tags"],
        json!(["Home", "X"]),
        "X made again"
    );
    let tags = app.send(Method::GET, "/api/tags", "alice", None).await;
    let tags = json_with_status(tags, 200, "tags").await;
    assert_eq!(
        tags,
        json!([
            {"name": "Home", "tasks": 2, "pending": 2},
            {"name": "X", "tasks": 1, "pending": 1},
        ])
    );
    let (tasks, _) = app.list("alice", "tag=x").await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["title"], "c");
}

struct Limited(TestApp);

impl Fixture for Limited {
    async fn start(backend: Backend) -> Self {
        Self(spawn_app_with(backend, |settings| settings.quotas.tasks_per_user = 3).await)
    }
}

async fn batch_creates_count_toward_the_task_quota(Limited(app): Limited) {
    app.create_task("alice", json!({"title": "1"})).await;
    let creates = |n: usize| vec![json!({"op": "create", "task": {"title": "more"}}); n];
    let response = batch(&app, "alice", json!({ "operations": creates(3) })).await;
    let problem = assert_problem(response, 403).await;
    assert_eq!(error_fields(&problem), ["operations[2]"]);
    assert_eq!(app.list("alice", "").await.1, 1);

    // A deletion in the batch makes room for a later create.
    let (tasks, _) = app.list("alice", "").await;
    let mut operations = creates(2);
    operations.push(json!({"op": "delete", "id": id_of(&tasks[0])}));
    operations.extend(creates(2));
    let results = results(
        &app,
        "alice",
        json!({"atomic": false, "operations": operations}),
    )
    .await;
    assert_eq!(statuses(&results), [201, 201, 204, 201, 403]);
    assert_eq!(app.list("alice", "").await.1, 3);
}

/// The largest valid operation: every field at its limit, every character
/// the longest to escape in JSON (outside the Basic Multilingual Plane).
fn largest_operation() -> Value {
    let wide = |n: usize| "😀".repeat(n);
    json!({"op": "create", "ref": wide(64), "task": {
        "title": wide(200),
        "description": wide(1000),
        "tags": (0..20).map(|n| format!("{n:02}{}", wide(38))).collect::<Vec<_>>(),
        "priority": "medium",
        "completed": false,
        "due_date": "2026-12-24",
        "due_time": "18:00",
        "time_zone": "America/Argentina/ComodRivadavia",
    }})
}

/// Every non-ASCII character as a `\u` escape, as a client may write it.
fn escaped(value: &Value) -> String {
    value
        .to_string()
        .encode_utf16()
        .fold(String::new(), |mut text, unit| {
            match char::from_u32(u32::from(unit)) {
                Some(c) if c.is_ascii() => text.push(c),
                _ => text.push_str(&format!("\\u{unit:04x}")),
            }
            text
        })
}

async fn a_batch_may_carry_100_operations_at_every_limit(app: TestApp) {
    let operations: Vec<Value> = (0..100)
        .map(|n| {
            let mut operation = largest_operation();
            operation["ref"] = json!(format!("{n}{}", "😀".repeat(60)));
            operation
        })
        .collect();
    let body = escaped(&json!({ "operations": operations }));
    assert!(body.len() > 2 * 1024 * 1024, "{} bytes", body.len());
    let response = app
        .send_raw(
            Method::POST,
            "/api/batch",
            "alice",
            "application/json",
            &body,
        )
        .await;
    let answer = json_with_status(response, 200, "the largest batch").await;
    assert_eq!(answer["results"].as_array().unwrap().len(), 100);

    let over = format!("{body}{}", " ".repeat(3 * 1024 * 1024 - body.len() + 1));
    let response = app
        .send_raw(
            Method::POST,
            "/api/batch",
            "alice",
            "application/json",
            &over,
        )
        .await;
    let problem = assert_problem(response, 413).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("3072 KiB"),
        "{problem}"
    );
    // A body within the size limit made of tiny values (each parsed value
    // takes up to 16 times its text) is refused before it is parsed.
    let mut junk =
        r#"{"operations": [{"op": "create", "task": {"title": "t"}}], "junk": [0"#.to_owned();
    junk.push_str(&",0".repeat(1024 * 1024));
    junk.push_str("]}");
    let response = app
        .send_raw(
            Method::POST,
            "/api/batch",
            "alice",
            "application/json",
            &junk,
        )
        .await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(error_fields(&problem), ["body"]);
    // Other routes keep their own limit.
    let create = format!("{{\"title\": \"t\"}}{}", " ".repeat(64 * 1024));
    let response = app
        .send_raw(
            Method::POST,
            "/api/tasks",
            "alice",
            "application/json",
            &create,
        )
        .await;
    assert_problem(response, 413).await;
}

async fn the_rate_limit_counts_each_operation() {
    let quota: Quota = "10/min".parse().unwrap();
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.rate_limit = Some(quota)
    })
    .await;
    let creates =
        |n: usize| json!({"operations": vec![json!({"op": "create", "task": {"title": "t"}}); n]});
    let response = batch(&app, "alice", creates(8)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["ratelimit-remaining"], "2");
    let response = batch(&app, "alice", creates(3)).await;
    let refused = response.headers().clone();
    assert_problem(response, 429).await;
    assert!(refused.contains_key("retry-after"));
    assert_eq!(refused["ratelimit-remaining"], "0");
    assert_eq!(
        app.list("alice", "").await.1,
        8,
        "the refused batch stored nothing"
    );
}
