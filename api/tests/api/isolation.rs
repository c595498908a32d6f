//! A user never sees, changes or learns about another user's tasks.

use reqwest::Method;
use serde_json::{Value, json};

use libtest_mimic::Trial;

use crate::helpers::{TestApp, assert_problem};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        another_users_task_is_indistinguishable_from_a_missing_one,
        lists_hold_only_the_callers_tasks,
    ]
}

async fn another_users_task_is_indistinguishable_from_a_missing_one(app: TestApp) {
    let alices = app
        .create_task(
            "alice",
            json!({"title": "private", "description": "secret"}),
        )
        .await;
    let id = alices["id"].as_i64().unwrap();
    let missing = id + 1000;

    let attempts = |id: i64| {
        vec![
            (Method::GET, format!("/api/tasks/{id}"), None),
            (
                Method::PUT,
                format!("/api/tasks/{id}"),
                Some(json!({"title": "pwned", "completed": true})),
            ),
            (Method::PATCH, format!("/api/tasks/{id}/complete"), None),
            (
                Method::PATCH,
                format!("/api/tasks/{id}/complete"),
                Some(json!({"completed": true})),
            ),
            (Method::DELETE, format!("/api/tasks/{id}"), None),
        ]
    };
    for ((method, path, body), (_, missing_path, _)) in
        attempts(id).into_iter().zip(attempts(missing))
    {
        let send = |path: String| {
            let mut request = app.request(method.clone(), &path, "bob");
            if let Some(body) = &body {
                request = request.json(body);
            }
            request.send()
        };
        let theirs = assert_problem(send(path.clone()).await.unwrap(), 404).await;
        let absent = assert_problem(send(missing_path).await.unwrap(), 404).await;
        assert_eq!(theirs, absent, "{method} {path} reveals nothing");
        let text = theirs.to_string();
        assert!(
            !text.contains("secret") && !text.contains("alice"),
            "{text}"
        );
    }

    let stored: Value = app.get_task("alice", id).await.json().await.unwrap();
    assert_eq!(stored, alices, "alice's task is unchanged");
}

async fn lists_hold_only_the_callers_tasks(app: TestApp) {
    app.create_task("alice", json!({"title": "alice 1"})).await;
    app.create_task("alice", json!({"title": "alice 2"})).await;
    app.create_task("bob", json!({"title": "bob 1"})).await;
    let (tasks, total) = app.list("bob", "").await;
    assert_eq!(total, 1);
    assert!(tasks.iter().all(|t| t["user_id"] == "bob"));
    let (tasks, total) = app.list("bob", "q=alice").await;
    assert_eq!((tasks.len(), total), (0, 0));
    let (_, total) = app.list("alice", "status=all").await;
    assert_eq!(total, 2);
    // A `user_id` in the query is never used.
    let (tasks, total) = app.list("bob", "user_id=alice").await;
    assert_eq!(total, 1);
    assert_eq!(tasks[0]["user_id"], "bob");
}
