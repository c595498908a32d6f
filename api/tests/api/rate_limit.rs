//! `RATE_LIMIT`: per token `sub`, else per client address; 429 with
//! `Retry-After` and `RateLimit-*`; off by default; probes never limited.

use std::process::Command;

use api::auth::{TokenRequest, mint_hs256};
use api::configuration::Quota;
use libtest_mimic::Trial;
use reqwest::{Method, Response};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, json_with_status, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::sqlite_only![the_limit_is_off_by_default],
        crate::standalone![
            each_user_has_a_quota_of_their_own,
            requests_without_a_valid_token_count_against_the_address,
            a_refusal_is_problem_json_with_retry_after_and_ratelimit_headers,
            probes_are_never_limited,
            the_document_is_the_same_with_a_limit,
            a_bad_rate_limit_refuses_to_start_naming_the_variable,
        ],
    ])
}

/// The service with `RATE_LIMIT` set to `limit`.
async fn limited_app(limit: &str) -> TestApp {
    let quota: Quota = limit.parse().expect("a valid quota");
    spawn_app_with(Backend::Sqlite, |settings| {
        settings.rate_limit = Some(quota)
    })
    .await
}

/// A `RateLimit-*` (or any) header as a number.
fn number(response: &Response, name: &str) -> u64 {
    let value = response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("{name} is sent: {:?}", response.headers()));
    value
        .to_str()
        .unwrap()
        .parse()
        .expect("a number of seconds")
}

async fn the_limit_is_off_by_default(app: TestApp) {
    for _ in 0..30 {
        let response = app.send(Method::GET, "/api/me", "alice", None).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("ratelimit-limit").is_none());
    }
    for _ in 0..30 {
        assert_eq!(app.get_anonymously("/api/tasks").await.status(), 401);
    }
}

async fn each_user_has_a_quota_of_their_own() {
    let app = limited_app("3/min").await;
    app.create_task("alice", json!({"title": "one"})).await;
    for expected in [1, 0] {
        let response = app.send(Method::GET, "/api/me", "alice", None).await;
        assert_eq!(number(&response, "ratelimit-limit"), 3);
        assert_eq!(number(&response, "ratelimit-remaining"), expected);
        assert!((1..=60).contains(&number(&response, "ratelimit-reset")));
        let me = json_with_status(response, 200, "GET /api/me").await;
        assert_eq!(me["id"], "alice", "the verified identity is alice's");
    }

    // Another token for the same user does not start a new quota.
    let another_token = mint_hs256(
        &app.secret,
        &TokenRequest {
            email: Some("alice@example.com".into()),
            ..TokenRequest::for_user("alice")
        },
    );
    assert_ne!(another_token, app.token("alice"));
    assert_problem(app.get_with_token("/api/tasks", &another_token).await, 429).await;

    // Bob is counted apart, sees only his own tasks, and is not limited.
    let (tasks, total) = app.list("bob", "").await;
    assert_eq!((tasks.len(), total), (0, 0));
    assert_eq!(app.me("bob").await["id"], "bob");
    // Nor are anonymous requests from the same address.
    assert_eq!(app.get_anonymously("/api/me").await.status(), 401);
}

async fn requests_without_a_valid_token_count_against_the_address() {
    let app = limited_app("3/min").await;
    for expected in [2, 1] {
        let response = app.get_anonymously("/api/tasks").await;
        assert_eq!(number(&response, "ratelimit-remaining"), expected);
        assert_problem(response, 401).await;
    }
    // A token that does not verify counts against the address too.
    let forged = app.get_with_token("/api/me", "not.a.token").await;
    assert_eq!(number(&forged, "ratelimit-remaining"), 0);
    assert_problem(forged, 401).await;
    assert_problem(app.get_anonymously("/api/tasks").await, 429).await;
    assert_problem(app.get_with_token("/api/me", "not.a.token").await, 429).await;
    assert_problem(app.get_anonymously("/openapi.json").await, 429).await;

    // A user with a valid token from the same address is counted apart.
    assert_eq!(app.me("carol").await["id"], "carol");
}

async fn a_refusal_is_problem_json_with_retry_after_and_ratelimit_headers() {
    let app = limited_app("2/h").await;
    for _ in 0..2 {
        app.create_task("alice", json!({"title": "allowed"})).await;
    }
    let refused = app.try_create("alice", json!({"title": "refused"})).await;
    // 2 per hour: the next one in 30 minutes, the whole quota in an hour.
    let retry_after = number(&refused, "retry-after");
    assert!((1795..=1800).contains(&retry_after), "{retry_after}");
    assert_eq!(number(&refused, "ratelimit-limit"), 2);
    assert_eq!(number(&refused, "ratelimit-remaining"), 0);
    let reset = number(&refused, "ratelimit-reset");
    assert!((3595..=3600).contains(&reset), "{reset}");
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["title"], "Too Many Requests");
    assert!(
        problem["detail"].as_str().unwrap().contains("retry"),
        "{problem}"
    );
    assert_eq!(
        app.count_rows("tasks").await,
        2,
        "the refused create did nothing"
    );

    // A browser frontend may read the headers.
    let response = app
        .request(Method::GET, "/api/me", "alice")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "retry-after",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

async fn probes_are_never_limited() {
    let app = limited_app("1/h").await;
    for _ in 0..10 {
        for response in [app.live().await, app.ready().await] {
            assert_eq!(response.status(), 200);
            assert!(response.headers().get("ratelimit-limit").is_none());
        }
    }
    // Nor do probes use up the address's quota.
    let response = app.get_anonymously("/api/tasks").await;
    assert_eq!(number(&response, "ratelimit-remaining"), 0);
    assert_eq!(response.status(), 401);
}

async fn the_document_is_the_same_with_a_limit() {
    let app = limited_app("100/s").await;
    let response = app.get_anonymously("/openapi.json").await;
    let served = response.text().await.unwrap();
    assert!(
        served == include_str!("../../../openapi.json"),
        "the document does not depend on RATE_LIMIT"
    );
    let doc: Value = serde_json::from_str(&served).unwrap();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let limited = &operation["responses"]["429"];
            if !path.starts_with("/api/") {
                assert!(limited.is_null(), "{method} {path}: probes are not limited");
                continue;
            }
            assert!(
                limited["content"].get("application/problem+json").is_some(),
                "{method} {path} documents 429 as problem+json"
            );
            let headers: Vec<String> = limited["headers"]
                .as_object()
                .unwrap_or_else(|| panic!("{method} {path}: 429 has headers"))
                .keys()
                .map(|name| name.to_ascii_lowercase())
                .collect();
            for name in [
                "retry-after",
                "ratelimit-limit",
                "ratelimit-remaining",
                "ratelimit-reset",
            ] {
                assert!(headers.iter().any(|h| h == name), "{method} {path}: {name}");
            }
        }
    }
}

async fn a_bad_rate_limit_refuses_to_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["600/day", "0/min", "lots"] {
        let output = Command::new(env!("CARGO_BIN_EXE_api"))
            .current_dir(dir.path())
            .env_clear()
            .env("RATE_LIMIT", bad)
            .env("PORT", "0")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("RATE_LIMIT"), "{bad}: {stderr}");
    }
    assert!(
        !dir.path().join("todo.db").exists(),
        "refuses before touching the database"
    );
}
