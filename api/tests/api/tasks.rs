//! Create, read, update, complete and delete.

use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, id_of};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        create_returns_the_task_with_location,
        create_ignores_server_owned_and_unknown_fields,
        get_returns_the_stored_task,
        get_unknown_task_is_404,
        put_replaces_present_fields_and_keeps_absent_ones,
        put_null_description_clears_it,
        put_empty_object_is_422_and_changes_nothing,
        patch_sets_or_toggles_completion,
        patch_with_null_completed_is_422,
        delete_removes_the_task,
        user_row_is_written_on_first_create_only,
    ]
}

fn is_utc_z_timestamp(value: &Value) -> bool {
    let text = value.as_str().unwrap_or_default();
    text.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

async fn create_returns_the_task_with_location(app: TestApp) {
    let response = app
        .try_create(
            "alice",
            json!({"title": "  Buy milk  ", "description": "Oat"}),
        )
        .await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let task: Value = response.json().await.unwrap();
    assert_eq!(location, format!("/api/tasks/{}", task["id"]));
    assert!(task["id"].is_i64());
    assert_eq!(task["user_id"], "alice");
    assert_eq!(task["title"], "Buy milk", "title is trimmed");
    assert_eq!(task["description"], "Oat");
    assert_eq!(task["completed"], false, "completed defaults to false");
    assert!(is_utc_z_timestamp(&task["created_at"]), "{task}");
    assert_eq!(task["created_at"], task["updated_at"]);

    let without_description = app.create_task("alice", json!({"title": "x"})).await;
    assert_eq!(without_description["description"], Value::Null);
    let done = app
        .create_task("alice", json!({"title": "y", "completed": true}))
        .await;
    assert_eq!(done["completed"], true);
}

async fn create_ignores_server_owned_and_unknown_fields(app: TestApp) {
    let task = app
        .create_task(
            "alice",
            json!({
                "title": "t",
                "id": 999_999,
                "user_id": "mallory",
                "created_at": "2000-01-01T00:00:00Z",
                "updated_at": "2000-01-01T00:00:00Z",
                "colour": "red",
            }),
        )
        .await;
    assert_ne!(task["id"], 999_999);
    assert_eq!(task["user_id"], "alice");
    assert_ne!(task["created_at"], "2000-01-01T00:00:00Z");
    assert!(task.get("colour").is_none());
    let response = app.get_task("mallory", id_of(&task)).await;
    assert_eq!(response.status(), 404, "mallory does not own it");
}

async fn get_returns_the_stored_task(app: TestApp) {
    let created = app
        .create_task("alice", json!({"title": "Read", "description": "a book"}))
        .await;
    let response = app.get_task("alice", id_of(&created)).await;
    assert_eq!(response.status(), 200);
    // One user's data: not for shared caches, not for content sniffing.
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let fetched: Value = response.json().await.unwrap();
    assert_eq!(fetched, created);
}

async fn get_unknown_task_is_404(app: TestApp) {
    let problem = assert_problem(app.get_task("alice", 424242).await, 404).await;
    assert_eq!(problem["title"], "Not Found");
}

async fn put_replaces_present_fields_and_keeps_absent_ones(app: TestApp) {
    let created = app
        .create_task("alice", json!({"title": "Old", "description": "keep me"}))
        .await;
    let id = id_of(&created);
    let updated = app
        .updated(
            "alice",
            id,
            json!({"title": "  New  ", "completed": true, "user_id": "bob"}),
        )
        .await;
    assert_eq!(updated["title"], "New");
    assert_eq!(updated["completed"], true);
    assert_eq!(updated["description"], "keep me");
    assert_eq!(updated["user_id"], "alice");
    assert_eq!(updated["created_at"], created["created_at"]);
    assert!(
        updated["updated_at"].as_str() > created["updated_at"].as_str(),
        "updated_at moves forward: {updated}"
    );
    assert_eq!(app.task("alice", id).await, updated);
}

async fn put_null_description_clears_it(app: TestApp) {
    let created = app
        .create_task("alice", json!({"title": "T", "description": "D"}))
        .await;
    let updated = app
        .updated("alice", id_of(&created), json!({"description": null}))
        .await;
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["title"], "T");
}

async fn put_empty_object_is_422_and_changes_nothing(app: TestApp) {
    let created = app.create_task("alice", json!({"title": "T"})).await;
    let id = id_of(&created);
    for body in [
        json!({}),
        json!({"id": 5, "unknown": 1}),
        json!({"title": null}),
    ] {
        let problem = assert_problem(app.update_task("alice", id, body).await, 422).await;
        assert!(!error_fields(&problem).is_empty(), "{problem}");
    }
    assert_eq!(app.task("alice", id).await, created);
}

async fn patch_sets_or_toggles_completion(app: TestApp) {
    let id = id_of(&app.create_task("alice", json!({"title": "T"})).await);
    // (body, completed afterwards): no body or `{}` toggles; a value sets,
    // and setting the same value twice is idempotent.
    let steps = [
        (None, true),
        (Some(json!({})), false),
        (Some(json!({"completed": true})), true),
        (Some(json!({"completed": true})), true),
        (Some(json!({"completed": false})), false),
    ];
    for (body, expected) in steps {
        let task = app.completed("alice", id, body.clone()).await;
        assert_eq!(task["completed"], expected, "after {body:?}");
    }
}

async fn patch_with_null_completed_is_422(app: TestApp) {
    let created = app.create_task("alice", json!({"title": "T"})).await;
    let id = id_of(&created);
    for body in [
        json!({"completed": null}),
        json!({"completed": "yes"}),
        json!([true]),
    ] {
        assert_problem(app.complete_task("alice", id, Some(body)).await, 422).await;
    }
    assert_eq!(
        app.task("alice", id).await,
        created,
        "a failed request changes nothing"
    );
}

async fn delete_removes_the_task(app: TestApp) {
    let id = id_of(&app.create_task("alice", json!({"title": "T"})).await);
    let response = app.delete_task("alice", id).await;
    assert_eq!(response.status(), 204);
    assert!(
        response.bytes().await.unwrap().is_empty(),
        "204 has no body"
    );
    assert_problem(app.get_task("alice", id).await, 404).await;
    assert_problem(app.delete_task("alice", id).await, 404).await;
}

async fn user_row_is_written_on_first_create_only(app: TestApp) {
    // Reads never write.
    app.list("alice", "").await;
    app.me("alice").await;
    assert_eq!(app.count_rows("users").await, 0);

    app.create_task("alice", json!({"title": "1"})).await;
    app.create_task("alice", json!({"title": "2"})).await;
    assert_eq!(app.count_rows("users").await, 1);
    app.create_task("bob", json!({"title": "3"})).await;
    assert_eq!(app.count_rows("users").await, 2);
}
