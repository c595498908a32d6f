//! Browsers at the configured origins may call the API and read its headers.

use libtest_mimic::Trial;
use reqwest::{Method, Response};
use serde_json::json;

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            configured_origin_is_allowed_and_sees_paging_headers,
            same_origin_requests_are_not_refused,
        ],
        crate::standalone![an_empty_origin_list_lets_no_origin_in],
    ])
}

/// `POST /api/tasks` as a browser at `origin` sends it.
async fn create_from(app: &TestApp, origin: &str, title: &str) -> Response {
    app.request(Method::POST, "/api/tasks", "alice")
        .header("origin", origin)
        .json(&json!({ "title": title }))
        .send()
        .await
        .expect("request")
}

/// Swagger UI at `/docs` posts from the service's own origin.
async fn same_origin_requests_are_not_refused(app: TestApp) {
    let response = create_from(&app, &app.address, "from /docs").await;
    assert_eq!(response.status(), 201);
    // An origin that is neither the service's own nor configured is refused.
    let foreign = create_from(&app, "https://evil.example", "from elsewhere").await;
    assert_problem(foreign, 403).await;
    assert_eq!(app.count_rows("tasks").await, 1);
}

async fn configured_origin_is_allowed_and_sees_paging_headers(app: TestApp) {
    let preflight = app
        .client
        .request(Method::OPTIONS, app.url("/api/tasks"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    // A browser resuming an event stream sends `Last-Event-ID`.
    let resume = app
        .client
        .request(Method::OPTIONS, app.url("/api/events"))
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "GET")
        .header(
            "access-control-request-headers",
            "authorization, last-event-id",
        )
        .send()
        .await
        .unwrap();
    assert!(resume.status().is_success(), "{}", resume.status());

    let response = app
        .request(Method::GET, "/api/tasks", "alice")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let exposed = response.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        exposed.contains("x-total-count") && exposed.contains("location"),
        "{exposed}"
    );

    // Error responses carry CORS headers too, so the frontend can read them.
    let unauthorized = app
        .client
        .get(app.url("/api/tasks"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert!(
        unauthorized
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_problem(unauthorized, 401).await;
}

/// `CORS_ORIGINS=","` once meant "every origin"; an empty list means none.
async fn an_empty_origin_list_lets_no_origin_in() {
    let app = spawn_app_with(Backend::Sqlite, |settings| settings.cors_origins.clear()).await;
    let foreign = create_from(&app, "https://evil.example", "from elsewhere").await;
    assert_problem(foreign, 403).await;
    assert_eq!(app.count_rows("tasks").await, 0);
}
