//! HTTP rules the fuzzer (`.ci/fuzz.sh`) holds the service to: `Allow` on
//! every 405 (the Swagger UI and the document included), request headers
//! that cannot be read refused rather than ignored, a head limited by its
//! size and not its number of headers, a path `id` that is not UTF-8 a 422,
//! any offset of 0 or more accepted, and the update body's "at least one
//! field" and the text fields' "no NUL" stated in the document.

use api::http::text::NO_NUL_PATTERN;
use libtest_mimic::Trial;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, id_of};
use crate::openapi::served_document;

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::sqlite_only![
            a_405_names_the_methods_the_document_lists,
            the_docs_and_the_document_answer_get_and_head_only,
            a_head_is_limited_by_its_size_not_its_number_of_headers,
            a_path_id_that_is_not_utf8_is_a_422_naming_it,
            headers_that_cannot_be_read_are_refused_not_ignored,
            the_update_body_documents_at_least_one_field,
            text_documents_that_nul_is_refused,
        ],
        crate::both_backends![any_offset_of_zero_or_more_is_a_page],
    ])
}

async fn a_405_names_the_methods_the_document_lists(app: TestApp) {
    let doc = served_document(&app).await;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        let mut methods: Vec<String> = operations
            .as_object()
            .unwrap()
            .keys()
            .map(|method| method.to_uppercase())
            .collect();
        if methods.contains(&"GET".to_owned()) {
            methods.push("HEAD".to_owned());
        }
        methods.sort();
        let concrete = path.replace("{id}", "1");
        let response = app
            .request(Method::TRACE, &concrete, "alice")
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get("allow")
            .unwrap_or_else(|| panic!("TRACE {concrete}: 405 without Allow"))
            .to_str()
            .unwrap()
            .to_owned();
        assert_problem(response, 405).await;
        assert_eq!(allow, methods.join(", "), "TRACE {concrete}");
    }
    let response = app
        .request(Method::PATCH, "/api/tasks/1", "alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["allow"], "DELETE, GET, HEAD, PUT");
}

async fn the_docs_and_the_document_answer_get_and_head_only(app: TestApp) {
    for path in ["/docs", "/openapi.json"] {
        assert_eq!(app.get_anonymously(path).await.status(), 200, "GET {path}");
        let head = app.client.head(app.url(path)).send().await.unwrap();
        assert_eq!(head.status(), 200, "HEAD {path}");
        for method in [Method::TRACE, Method::DELETE, Method::POST, Method::PUT] {
            let response = app
                .client
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
            let allow = response.headers().get("allow").cloned();
            assert_problem(response, 405).await;
            assert_eq!(
                allow.as_ref().map(|v| v.to_str().unwrap()),
                Some("GET, HEAD"),
                "{method} {path}"
            );
        }
    }
}

/// `count` headers `x-h-0…: <value>`.
fn headers(count: usize, value: &str) -> HeaderMap {
    (0..count)
        .map(|n| {
            (
                HeaderName::try_from(format!("x-h-{n}")).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect()
}

/// Within 16 KiB up to 256 header lines are served (the HTTP library's own
/// limit of 100 would answer a bare 431); over 16 KiB, a 431 problem.
async fn a_head_is_limited_by_its_size_not_its_number_of_headers(app: TestApp) {
    let send = |headers: HeaderMap| {
        app.request(Method::GET, "/api/tasks", "alice")
            .headers(headers)
            .send()
    };
    assert_eq!(send(headers(101, "v")).await.unwrap().status(), 200);
    // 250 lines of about 60 bytes: some 14.5 KiB.
    let value = "v".repeat(48);
    assert_eq!(send(headers(250, &value)).await.unwrap().status(), 200);
    // Some 17 and 30 KiB in fewer lines than the parser's bound.
    for (count, value) in [(250, "v".repeat(60)), (200, "v".repeat(140))] {
        let response = send(headers(count, &value)).await.unwrap();
        let problem = assert_problem(response, 431).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("16 KiB"),
            "{count} headers: {problem}"
        );
    }
}

/// The router cannot decode `%ff` and would answer a bare 400; a task id
/// that is not an integer is a 422 naming `id` (a path no route has is 404).
async fn a_path_id_that_is_not_utf8_is_a_422_naming_it(app: TestApp) {
    for (method, path) in [
        (Method::GET, "/api/tasks/%ff"),
        (Method::DELETE, "/api/tasks/%FF"),
        (Method::PATCH, "/api/tasks/%ff/complete"),
    ] {
        let response = app
            .request(method.clone(), path, "alice")
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["id"], "{method} {path}");
    }
    for path in ["/api/%ff", "/nowhere/%ff"] {
        let response = app
            .request(Method::GET, path, "alice")
            .send()
            .await
            .unwrap();
        assert_problem(response, 404).await;
    }
}

/// Latin-1 bytes: a valid header value, but not visible ASCII.
fn not_ascii() -> HeaderValue {
    HeaderValue::from_bytes(b"\"caf\xe9\"").unwrap()
}

async fn headers_that_cannot_be_read_are_refused_not_ignored(app: TestApp) {
    let task = app.create_task("alice", json!({"title": "kept"})).await;
    let path = format!("/api/tasks/{}", id_of(&task));

    // An unreadable `If-Match` must not let the write through.
    let response = app
        .request(Method::PUT, &path, "alice")
        .header("if-match", not_ascii())
        .json(&json!({"title": "overwritten"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_fields(&assert_problem(response, 422).await),
        ["If-Match"]
    );
    let response = app
        .request(Method::DELETE, &path, "alice")
        .header("if-match", not_ascii())
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_fields(&assert_problem(response, 422).await),
        ["If-Match"]
    );
    assert_eq!(app.task("alice", id_of(&task)).await, task, "unchanged");

    let response = app
        .request(Method::GET, &path, "alice")
        .header("if-none-match", not_ascii())
        .send()
        .await
        .unwrap();
    let fields = error_fields(&assert_problem(response, 422).await);
    assert_eq!(fields, ["If-None-Match"]);

    // Nor may an unreadable `Idempotency-Key` create a task unprotected.
    let response = app
        .request(Method::POST, "/api/tasks", "alice")
        .header("idempotency-key", not_ascii())
        .json(&json!({"title": "retried"}))
        .send()
        .await
        .unwrap();
    let fields = error_fields(&assert_problem(response, 422).await);
    assert_eq!(fields, ["Idempotency-Key"]);
    assert_eq!(app.count_rows("tasks").await, 1, "nothing created");
}

async fn any_offset_of_zero_or_more_is_a_page(app: TestApp) {
    app.create_task("alice", json!({"title": "one"})).await;
    for offset in [
        "18446744073709551615",
        "18446744073709551616",
        "1000000000000000000000000000000",
    ] {
        let (tasks, total) = app.list("alice", &format!("offset={offset}")).await;
        assert_eq!((tasks.len(), total), (0, 1), "offset={offset}");
    }
    for bad in ["-1", "1.5", "-18446744073709551616", "x"] {
        let problem =
            assert_problem(app.try_list("alice", &format!("offset={bad}")).await, 422).await;
        assert_eq!(error_fields(&problem), ["offset"], "offset={bad}");
    }
}

async fn the_update_body_documents_at_least_one_field(app: TestApp) {
    let doc = served_document(&app).await;
    let schema = &doc["components"]["schemas"]["UpdateTask"];
    let needed: Vec<&Value> = schema["anyOf"]
        .as_array()
        .expect("UpdateTask says it needs at least one field")
        .iter()
        .map(|alternative| &alternative["required"][0])
        .collect();
    assert_eq!(
        needed,
        [
            "title",
            "description",
            "completed",
            "priority",
            "tags",
            "due_date",
            "due_time",
            "time_zone",
            "recurrence",
            "reminders"
        ]
    );

    // What the schema now refuses, the service refuses: unknown fields alone
    // change nothing.
    let task = app.create_task("alice", json!({"title": "kept"})).await;
    for body in [json!({}), json!({"importance": 3, "user_id": "mallory"})] {
        let response = app.update_task("alice", id_of(&task), body.clone()).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["body"], "{body}");
    }
}

/// Every text input of the document says it refuses NUL, as the service does.
async fn text_documents_that_nul_is_refused(app: TestApp) {
    let doc = served_document(&app).await;
    let title = &doc["components"]["schemas"]["CreateTask"]["properties"]["title"];
    let description = &doc["components"]["schemas"]["UpdateTask"]["properties"]["description"];
    let q = doc["paths"]["/api/tasks"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "q")
        .map(|parameter| parameter["schema"].clone())
        .unwrap();
    for schema in [title, description, &q] {
        assert_eq!(schema["pattern"], NO_NUL_PATTERN, "{schema}");
    }

    let problem = assert_problem(app.try_list("alice", "q=a%00b").await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
    let response = app.try_create("alice", json!({"title": "a\u{0}b"})).await;
    assert_eq!(
        error_fields(&assert_problem(response, 422).await),
        ["title"]
    );
}
