//! What a client sees when the service itself fails.
//!
//! Needs the `test-routes` feature of the `api` crate (turned on for tests by
//! the `api` dev-dependency on itself), which adds `GET /test/panic`.

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub fn tests() -> Vec<Trial> {
    crate::sqlite_only![a_panicking_handler_is_a_bare_problem_json_500]
}

async fn a_panicking_handler_is_a_bare_problem_json_500(app: TestApp) {
    let response = app.send(Method::GET, "/test/panic", "alice", None).await;
    assert_eq!(response.status(), 500, "GET /test/panic");
    let content_type = response.headers().get("content-type").cloned();
    assert_eq!(
        content_type.as_ref().map(|value| value.to_str().unwrap()),
        Some("application/problem+json")
    );
    let text = response.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    // Exactly these members: nothing of the panic reaches the client.
    assert_eq!(
        body,
        json!({
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "internal server error",
        })
    );
    assert!(!text.to_lowercase().contains("panic"), "{text}");

    assert_eq!(
        app.live().await.status(),
        200,
        "the service still answers after a panic"
    );
}
