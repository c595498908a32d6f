//! The served document matches the committed one and describes every route.

use libtest_mimic::Trial;
use serde_json::Value;

use crate::helpers::{TestApp, json_with_status};

pub fn tests() -> Vec<Trial> {
    crate::sqlite_only![
        committed_openapi_json_is_what_the_service_serves,
        every_operation_is_documented_for_client_generators,
        swagger_ui_is_served_self_contained,
    ]
}

/// `GET /openapi.json`, asserting 200: the document.
pub async fn served_document(app: &TestApp) -> Value {
    let response = app.get_anonymously("/openapi.json").await;
    json_with_status(response, 200, "GET /openapi.json").await
}

async fn committed_openapi_json_is_what_the_service_serves(app: TestApp) {
    let response = app.get_anonymously("/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served = response.text().await.unwrap();
    let committed = include_str!("../../../openapi.json");
    assert!(
        served == committed,
        "openapi.json is stale: regenerate it with `cargo run -q -p api -- openapi > openapi.json`"
    );
}

async fn every_operation_is_documented_for_client_generators(app: TestApp) {
    let doc = served_document(&app).await;
    // Each operation documents exactly the statuses it can answer with.
    let expected: [(&str, &str, &str, &[&str]); 9] = [
        (
            "/api/tasks",
            "get",
            "listTasks",
            &["200", "304", "401", "422", "429", "503"],
        ),
        (
            "/api/tasks/changes",
            "get",
            "listTaskChanges",
            &["200", "401", "410", "422", "429", "503"],
        ),
        (
            "/api/events",
            "get",
            "streamTaskEvents",
            &["200", "401", "410", "429", "503"],
        ),
        (
            "/api/tasks",
            "post",
            "createTask",
            &[
                "201", "401", "403", "413", "415", "422", "429", "503", "507",
            ],
        ),
        (
            "/api/tasks/{id}",
            "get",
            "getTask",
            &["200", "304", "401", "404", "422", "429", "503"],
        ),
        (
            "/api/tasks/{id}",
            "put",
            "updateTask",
            &[
                "200", "401", "404", "412", "413", "415", "422", "429", "503", "507",
            ],
        ),
        (
            "/api/tasks/{id}",
            "delete",
            "deleteTask",
            &["204", "401", "404", "412", "422", "429", "503", "507"],
        ),
        (
            "/api/tasks/{id}/complete",
            "patch",
            "setTaskCompletion",
            &[
                "200", "401", "404", "412", "413", "415", "422", "429", "503", "507",
            ],
        ),
        ("/api/me", "get", "getMe", &["200", "401", "429"]),
    ];
    for (path, method, operation_id, statuses) in expected {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["operationId"], operation_id, "{method} {path}");
        assert!(
            operation["summary"].is_string(),
            "{operation_id} has a summary"
        );
        assert!(
            !operation["security"].as_array().unwrap().is_empty(),
            "{operation_id} is secured"
        );
        let responses = operation["responses"].as_object().unwrap();
        let mut documented: Vec<&str> = responses.keys().map(String::as_str).collect();
        documented.sort();
        assert_eq!(documented, statuses, "{operation_id}");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    response["content"]
                        .get("application/problem+json")
                        .is_some(),
                    "{operation_id} documents {status} as problem+json"
                );
            }
        }
        let challenge = responses["401"]["headers"].as_object().unwrap();
        assert!(
            challenge
                .keys()
                .any(|h| h.eq_ignore_ascii_case("www-authenticate"))
        );
    }
    // Versions and conditional requests are visible to the typed client.
    let task = &doc["components"]["schemas"]["Task"];
    assert_eq!(task["properties"]["version"]["type"], "integer");
    assert!(
        task["required"]
            .as_array()
            .unwrap()
            .contains(&"version".into())
    );
    let header_params = |path: &str, method: &str| -> Vec<String> {
        doc["paths"][path][method]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "header")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let one = "/api/tasks/{id}";
    let complete = "/api/tasks/{id}/complete";
    assert_eq!(header_params(one, "get"), ["If-None-Match"]);
    for (path, method) in [(one, "put"), (one, "delete"), (complete, "patch")] {
        assert_eq!(header_params(path, method), ["If-Match"], "{method} {path}");
    }
    assert_eq!(header_params("/api/tasks", "post"), ["Idempotency-Key"]);
    for (path, method, status) in [
        ("/api/tasks", "post", "201"),
        (one, "get", "200"),
        (one, "get", "304"),
        (one, "put", "200"),
        (complete, "patch", "200"),
    ] {
        let headers = doc["paths"][path][method]["responses"][status]["headers"]
            .as_object()
            .unwrap();
        let has_etag = headers.keys().any(|h| h.eq_ignore_ascii_case("etag"));
        assert!(has_etag, "{method} {path} {status} declares ETag");
    }
    let schemes = &doc["components"]["securitySchemes"];
    let bearer = schemes.as_object().unwrap().values().next().unwrap();
    assert_eq!(bearer["scheme"], "bearer");
    assert_eq!(bearer["bearerFormat"], "JWT");

    // Always-present nullable fields are required, so clients type them `T | null`.
    for (schema, field) in [("Task", "description"), ("Me", "email"), ("Me", "name")] {
        let schema = &doc["components"]["schemas"][schema];
        assert!(
            schema["required"]
                .as_array()
                .unwrap()
                .contains(&field.into()),
            "{field}"
        );
        assert_eq!(schema["properties"][field]["nullable"], true, "{field}");
    }

    let task = &doc["components"]["schemas"]["CreateTask"]["properties"];
    assert_eq!(task["title"]["maxLength"], 200);
    assert_eq!(task["description"]["maxLength"], 1000);
    let list = &doc["paths"]["/api/tasks"]["get"];
    let limit = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["maximum"], 500.0);
    // Header names are case-insensitive; poem-openapi writes them upper-case.
    let headers = list["responses"]["200"]["headers"].as_object().unwrap();
    assert!(
        headers
            .keys()
            .any(|h| h.eq_ignore_ascii_case("x-total-count"))
    );
    let created = doc["paths"]["/api/tasks"]["post"]["responses"]["201"]["headers"]
        .as_object()
        .unwrap();
    assert!(created.keys().any(|h| h.eq_ignore_ascii_case("location")));
}

async fn swagger_ui_is_served_self_contained(app: TestApp) {
    let response = app.get_anonymously("/docs").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("SwaggerUIBundle"));
    assert!(!html.contains("<script src=\"http"), "no external scripts");
    assert!(
        html.contains(r#"<link rel="icon" href="data:,">"#),
        "no favicon request"
    );
}
