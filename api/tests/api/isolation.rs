//! A user never sees, changes or learns about another user's tasks.

use libtest_mimic::Trial;
use serde_json::json;

use crate::helpers::{TestApp, assert_problem, id_of};

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
    let id = id_of(&alices);
    let missing = id + 1000;

    let theirs = app.on_every_task_route("bob", id).await;
    let absent = app.on_every_task_route("bob", missing).await;
    for ((what, theirs), (_, absent)) in theirs.into_iter().zip(absent) {
        let theirs = assert_problem(theirs, 404).await;
        let absent = assert_problem(absent, 404).await;
        assert_eq!(theirs, absent, "{what} reveals nothing");
        let text = theirs.to_string();
        assert!(
            !text.contains("secret") && !text.contains("alice"),
            "{text}"
        );
    }

    let stored = app.task("alice", id).await;
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
