//! The `users` row: recorded and refreshed from the token by writes, never
//! by reads; erased with everything the user owns by `DELETE /api/me`.

use api::auth::{TokenRequest, mint_hs256};
use libtest_mimic::Trial;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, id_of, json_with_status};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([crate::both_backends![
        every_kind_of_write_brings_a_changed_profile_into_the_row,
        reads_and_failed_writes_leave_the_row_alone,
        a_claim_the_token_leaves_out_keeps_the_stored_value,
        erasing_removes_the_callers_tasks_keys_and_row_and_nothing_else,
        erasing_is_idempotent_and_needs_a_token,
        each_write_takes_the_next_change_number_and_a_failed_one_none,
    ]])
}

type Row = Option<(Option<String>, Option<String>)>;

fn profile(email: &str, name: &str) -> Row {
    Some((Some(email.to_owned()), Some(name.to_owned())))
}

/// A token for `sub` carrying `email` and `name` where given.
fn token(app: &TestApp, sub: &str, email: Option<&str>, name: Option<&str>) -> String {
    mint_hs256(
        &app.secret,
        &TokenRequest {
            email: email.map(str::to_owned),
            name: name.map(str::to_owned),
            ..TokenRequest::for_user(sub)
        },
    )
}

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Response {
    app.send_with_token(method, path, token, body.as_ref())
        .await
}

async fn create(app: &TestApp, token: &str, title: &str) -> Value {
    let response = send(
        app,
        token,
        Method::POST,
        "/api/tasks",
        Some(json!({"title": title})),
    )
    .await;
    json_with_status(response, 201, "creating a task").await
}

async fn every_kind_of_write_brings_a_changed_profile_into_the_row(app: TestApp) {
    let first = token(&app, "ada", Some("ada@example.com"), Some("Ada"));
    let id = id_of(&create(&app, &first, "one").await);
    assert_eq!(app.user_row("ada").await, profile("ada@example.com", "Ada"));

    let path = format!("/api/tasks/{id}");
    let writes: [(&str, Method, String, Option<Value>, u16); 4] = [
        (
            "update",
            Method::PUT,
            path.clone(),
            Some(json!({"title": "two"})),
            200,
        ),
        (
            "complete",
            Method::PATCH,
            format!("{path}/complete"),
            None,
            200,
        ),
        (
            "create",
            Method::POST,
            "/api/tasks".into(),
            Some(json!({"title": "three"})),
            201,
        ),
        ("delete", Method::DELETE, path, None, 204),
    ];
    for (n, (what, method, path, body, status)) in writes.into_iter().enumerate() {
        let email = format!("ada+{n}@example.com");
        let name = format!("Ada {n}");
        let changed = token(&app, "ada", Some(&email), Some(&name));
        let response = send(&app, &changed, method, &path, body).await;
        assert_eq!(response.status(), status, "{what}");
        assert_eq!(
            app.user_row("ada").await,
            profile(&email, &name),
            "after {what}"
        );
    }
}

async fn reads_and_failed_writes_leave_the_row_alone(app: TestApp) {
    let first = token(&app, "ada", Some("ada@example.com"), Some("Ada"));
    let id = id_of(&create(&app, &first, "one").await);
    let changed = token(&app, "ada", Some("lovelace@example.com"), Some("Countess"));
    let path = format!("/api/tasks/{id}");

    for read in [path.as_str(), "/api/tasks", "/api/tasks?q=one"] {
        let response = send(&app, &changed, Method::GET, read, None).await;
        assert_eq!(response.status(), 200, "GET {read}");
    }
    // `/api/me` answers from the token, not from the row.
    assert_eq!(
        app.me_with_token(&changed).await,
        json!({"id": "ada", "email": "lovelace@example.com", "name": "Countess"})
    );

    let missing = format!("/api/tasks/{}", id + 1000);
    let stale = app
        .client
        .put(app.url(&path))
        .bearer_auth(&changed)
        .header("if-match", "\"7\"")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_problem(stale, 412).await;
    let failed = [
        (
            Method::PUT,
            missing.clone(),
            Some(json!({"title": "x"})),
            404,
        ),
        (Method::PATCH, format!("{missing}/complete"), None, 404),
        (Method::DELETE, missing, None, 404),
        (Method::PUT, path, Some(json!({})), 422),
        (
            Method::POST,
            "/api/tasks".into(),
            Some(json!({"title": " "})),
            422,
        ),
    ];
    for (method, path, body, status) in failed {
        let response = send(&app, &changed, method.clone(), &path, body).await;
        assert_problem(response, status).await;
        assert_eq!(
            app.user_row("ada").await,
            profile("ada@example.com", "Ada"),
            "after {method} {path}"
        );
    }
    // A user who only reads, or only fails, has no row at all.
    let reader = token(&app, "reader", Some("r@example.com"), None);
    send(&app, &reader, Method::GET, "/api/tasks", None).await;
    let response = send(&app, &reader, Method::DELETE, "/api/tasks/1", None).await;
    assert_problem(response, 404).await;
    assert_eq!(app.user_row("reader").await, None);
}

async fn a_claim_the_token_leaves_out_keeps_the_stored_value(app: TestApp) {
    let full = token(&app, "ada", Some("ada@example.com"), Some("Ada"));
    let id = id_of(&create(&app, &full, "one").await);

    let bare = token(&app, "ada", None, None);
    let path = format!("/api/tasks/{id}");
    let response = send(
        &app,
        &bare,
        Method::PUT,
        &path,
        Some(json!({"title": "two"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.user_row("ada").await, profile("ada@example.com", "Ada"));

    let renamed = token(&app, "ada", None, Some("Augusta Ada"));
    let response = send(
        &app,
        &renamed,
        Method::PATCH,
        &format!("{path}/complete"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.user_row("ada").await,
        profile("ada@example.com", "Augusta Ada")
    );

    // A first write without claims records them as unknown.
    let anonymous = token(&app, "anon", None, None);
    create(&app, &anonymous, "one").await;
    assert_eq!(app.user_row("anon").await, Some((None, None)));
}

/// `sub`'s change number, as stored in their row.
async fn change_number(app: &TestApp, sub: &str) -> i64 {
    app.change_seq(sub).await.expect("the users row")
}

/// Every write takes the row (and its lock) for the next change number,
/// which the change feed counts in; a write that fails takes none. The
/// profile is rewritten only with what the token says.
async fn each_write_takes_the_next_change_number_and_a_failed_one_none(app: TestApp) {
    let same = token(&app, "ada", Some("ada@example.com"), Some("Ada"));
    let id = id_of(&create(&app, &same, "one").await);
    assert_eq!(change_number(&app, "ada").await, 1);

    let path = format!("/api/tasks/{id}");
    let response = send(
        &app,
        &same,
        Method::PUT,
        &path,
        Some(json!({"title": "two"})),
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(change_number(&app, "ada").await, 2);
    let missing = send(&app, &same, Method::DELETE, "/api/tasks/999999", None).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(change_number(&app, "ada").await, 2, "a 404 takes no number");
    create(&app, &same, "three").await;
    let bare = token(&app, "ada", None, None);
    let response = send(
        &app,
        &bare,
        Method::PATCH,
        &format!("{path}/complete"),
        None,
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(change_number(&app, "ada").await, 4);
    assert_eq!(app.user_row("ada").await, profile("ada@example.com", "Ada"));

    let changed = token(&app, "ada", Some("ada@example.com"), Some("Ada L."));
    let response = send(&app, &changed, Method::DELETE, &path, None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(change_number(&app, "ada").await, 5);
    assert_eq!(
        app.user_row("ada").await,
        profile("ada@example.com", "Ada L.")
    );
}

async fn post_with_key(app: &TestApp, sub: &str, key: &str, title: &str) -> Value {
    let response = app
        .request(Method::POST, "/api/tasks", sub)
        .header("idempotency-key", key)
        .json(&json!({"title": title}))
        .send()
        .await
        .unwrap();
    json_with_status(response, 201, "a keyed create").await
}

async fn count(app: &TestApp, table: &str, sub: &str) -> i64 {
    app.count_rows(&format!("{table} WHERE user_id = '{sub}'"))
        .await
}

async fn erasing_removes_the_callers_tasks_keys_and_row_and_nothing_else(app: TestApp) {
    let alices = post_with_key(&app, "alice", "same-key", "alice keyed").await;
    app.create_task("alice", json!({"title": "alice plain"}))
        .await;
    let bobs = post_with_key(&app, "bob", "same-key", "bob keyed").await;
    let bobs_other = app.create_task("bob", json!({"title": "bob plain"})).await;
    let bobs_row = app.user_row("bob").await;

    let response = app.delete_me("alice").await;
    assert_eq!(response.status(), 204);
    assert_eq!(response.text().await.unwrap(), "", "no body");

    assert_eq!(count(&app, "tasks", "alice").await, 0);
    assert_eq!(count(&app, "idempotency_keys", "alice").await, 0);
    assert_eq!(app.user_row("alice").await, None);
    assert_eq!(app.list("alice", "").await.1, 0);
    assert_problem(app.get_task("alice", id_of(&alices)).await, 404).await;

    // Bob's tasks, key and row are untouched.
    assert_eq!(app.task("bob", id_of(&bobs)).await, bobs);
    assert_eq!(app.task("bob", id_of(&bobs_other)).await, bobs_other);
    assert_eq!(app.list("bob", "").await.1, 2);
    assert_eq!(count(&app, "idempotency_keys", "bob").await, 1);
    assert_eq!(app.user_row("bob").await, bobs_row);
    let replayed = post_with_key(&app, "bob", "same-key", "bob keyed").await;
    assert_eq!(replayed, bobs, "bob's key still replays");

    // Alice's key is forgotten: the same request creates a new task, and
    // her first write records her afresh.
    let again = post_with_key(&app, "alice", "same-key", "alice keyed").await;
    assert_ne!(id_of(&again), id_of(&alices));
    assert!(app.user_row("alice").await.is_some());
}

async fn erasing_is_idempotent_and_needs_a_token(app: TestApp) {
    app.create_task("alice", json!({"title": "t"})).await;
    for attempt in ["first", "second"] {
        let response = app.delete_me("alice").await;
        assert_eq!(response.status(), 204, "{attempt} erasure");
    }
    // Someone who never wrote anything: nothing to erase, and nothing recorded.
    assert_eq!(app.delete_me("never-wrote").await.status(), 204);
    assert_eq!(app.user_row("never-wrote").await, None);

    app.create_task("bob", json!({"title": "t"})).await;
    let anonymous = app.client.delete(app.url("/api/me")).send().await.unwrap();
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_owned())
            .as_deref(),
        Some("Bearer")
    );
    assert_problem(anonymous, 401).await;
    let forged = mint_hs256("another-secret", &TokenRequest::for_user("bob"));
    let response = app
        .send_with_token(Method::DELETE, "/api/me", &forged, None)
        .await;
    assert_problem(response, 401).await;
    assert_eq!(app.list("bob", "").await.1, 1, "bob's data survives both");
    assert!(app.user_row("bob").await.is_some());
}
