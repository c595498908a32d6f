//! Bad input gets a clear problem+json error and changes nothing.

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, id_of};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        title_rules_are_enforced,
        description_rules_are_enforced,
        every_bad_field_is_reported_at_once,
        completed_must_be_a_boolean_on_create,
        malformed_or_non_object_json_is_422,
        non_json_body_is_415,
        body_over_64_kib_is_413,
        bad_query_values_are_422,
        every_bad_query_parameter_is_reported_at_once,
        non_integer_id_is_422_on_every_route,
        unknown_routes_and_methods_get_problem_json,
        failed_update_leaves_the_task_unchanged,
    ]
}

/// `POST /api/tasks` as alice with `body`: the problem, asserting a 422.
async fn refused_create(app: &TestApp, body: Value) -> Value {
    assert_problem(app.try_create("alice", body).await, 422).await
}

async fn title_rules_are_enforced(app: TestApp) {
    let bad_titles = [
        json!(""),
        json!("   \t\n"),
        json!("a".repeat(201)),
        json!("é".repeat(201)),
        json!("nul\u{0}inside"),
        json!(42),
        json!(null),
    ];
    for title in bad_titles {
        let problem = refused_create(&app, json!({ "title": title })).await;
        assert_eq!(error_fields(&problem), vec!["title"], "{title}");
    }
    let missing = refused_create(&app, json!({"description": "d"})).await;
    assert_eq!(error_fields(&missing), vec!["title"]);

    // Limits count Unicode scalar values, after trimming.
    let two_hundred = "é".repeat(200);
    let task = app
        .create_task("alice", json!({ "title": format!("  {two_hundred}  ") }))
        .await;
    assert_eq!(task["title"], two_hundred);
    let emoji = "🦀".repeat(200);
    app.create_task("alice", json!({ "title": emoji })).await;
    assert_eq!(app.count_rows("tasks").await, 2);
}

async fn description_rules_are_enforced(app: TestApp) {
    for description in [json!("d".repeat(1001)), json!("a\u{0}b"), json!(true)] {
        let problem = refused_create(&app, json!({"title": "t", "description": description})).await;
        assert_eq!(error_fields(&problem), vec!["description"]);
    }
    let task = app
        .create_task(
            "alice",
            json!({"title": "t", "description": "ü".repeat(1000)}),
        )
        .await;
    assert_eq!(task["description"].as_str().unwrap().chars().count(), 1000);
}

async fn completed_must_be_a_boolean_on_create(app: TestApp) {
    for completed in [json!(null), json!("true"), json!(1)] {
        let problem = refused_create(&app, json!({"title": "t", "completed": completed})).await;
        assert_eq!(error_fields(&problem), vec!["completed"], "{completed}");
    }
    assert_eq!(app.count_rows("tasks").await, 0);
}

async fn every_bad_field_is_reported_at_once(app: TestApp) {
    let problem = refused_create(
        &app,
        json!({"title": "", "description": "x".repeat(1001), "completed": "no"}),
    )
    .await;
    let mut fields = error_fields(&problem);
    fields.sort();
    assert_eq!(fields, vec!["completed", "description", "title"]);
    for error in problem["errors"].as_array().unwrap() {
        assert!(!error["message"].as_str().unwrap().is_empty());
    }
    assert_eq!(app.count_rows("tasks").await, 0);
}

async fn malformed_or_non_object_json_is_422(app: TestApp) {
    for body in [
        "{\"title\": ",
        "not json",
        "[1, 2]",
        "\"title\"",
        "null",
        "42",
    ] {
        let response = app
            .send_raw(
                Method::POST,
                "/api/tasks",
                "alice",
                "application/json",
                body,
            )
            .await;
        assert_problem(response, 422).await;
    }
    // No body at all: the required title is missing.
    let response = app.send(Method::POST, "/api/tasks", "alice", None).await;
    assert_problem(response, 422).await;
    assert_eq!(app.count_rows("tasks").await, 0);
}

async fn non_json_body_is_415(app: TestApp) {
    let id = id_of(&app.create_task("alice", json!({"title": "t"})).await);
    let attempts = [
        (Method::POST, "/api/tasks".to_owned()),
        (Method::PUT, format!("/api/tasks/{id}")),
        (Method::PATCH, format!("/api/tasks/{id}/complete")),
    ];
    for (method, path) in attempts {
        for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
            let body = r#"{"title": "x", "completed": true}"#;
            let response = app
                .send_raw(method.clone(), &path, "alice", content_type, body)
                .await;
            assert_problem(response, 415).await;
        }
    }
    assert_eq!(app.task("alice", id).await["completed"], false);
    assert_eq!(app.count_rows("tasks").await, 1);
}

async fn body_over_64_kib_is_413(app: TestApp) {
    let huge = json!({"title": "t", "description": "x".repeat(70 * 1024)});
    assert_problem(app.try_create("alice", huge).await, 413).await;
    // Just under the limit is parsed (and then refused for its length).
    let under = json!({"title": "t", "description": "x".repeat(60 * 1024)});
    refused_create(&app, under).await;
    assert_eq!(app.count_rows("tasks").await, 0);
}

async fn bad_query_values_are_422(app: TestApp) {
    let long_q = "q".repeat(201);
    let cases = [
        ("status=foo", "status"),
        ("status=", "status"),
        ("sort=importance", "sort"),
        ("order=up", "order"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("q=a%00b", "q"),
        (&format!("q={long_q}"), "q"),
        ("q=%FF", "q"),
        ("q=caf%C3", "q"),
    ];
    for (query, field) in cases {
        let problem = assert_problem(app.try_list("alice", query).await, 422).await;
        assert_eq!(error_fields(&problem), vec![field], "?{query}");
    }
    // The edges of the ranges are accepted.
    app.list("alice", "limit=1&offset=0").await;
    app.list("alice", "limit=500").await;
    app.list("alice", &format!("q={}", "q".repeat(200))).await;
}

async fn every_bad_query_parameter_is_reported_at_once(app: TestApp) {
    let query = "status=done&sort=importance&order=up&q=a%00b&limit=0&offset=-3";
    let problem = assert_problem(app.try_list("alice", query).await, 422).await;
    assert_eq!(
        error_fields(&problem),
        vec!["status", "sort", "order", "q", "limit", "offset"]
    );
    // Each message tells the client what would be accepted.
    assert_eq!(
        problem["errors"][0]["message"],
        "must be one of: all, pending, completed"
    );
    assert_eq!(
        problem["errors"][4]["message"],
        "must be an integer from 1 to 500"
    );
}

async fn non_integer_id_is_422_on_every_route(app: TestApp) {
    for id in ["abc", "1.5", "99999999999999999999"] {
        for (what, response) in app.on_every_task_route("alice", id).await {
            let problem = assert_problem(response, 422).await;
            assert_eq!(error_fields(&problem), vec!["id"], "{what} /api/tasks/{id}");
        }
    }
}

async fn unknown_routes_and_methods_get_problem_json(app: TestApp) {
    let response = app.send(Method::GET, "/api/nothing", "alice", None).await;
    assert_problem(response, 404).await;
    let response = app.send(Method::POST, "/api/me", "alice", None).await;
    assert_problem(response, 405).await;
}

async fn failed_update_leaves_the_task_unchanged(app: TestApp) {
    let created = app
        .create_task("alice", json!({"title": "T", "description": "D"}))
        .await;
    let id = id_of(&created);
    // One valid field and one invalid: nothing at all is applied.
    let body = json!({"completed": true, "title": "x".repeat(300)});
    assert_problem(app.update_task("alice", id, body).await, 422).await;
    assert_eq!(app.task("alice", id).await, created);
}
