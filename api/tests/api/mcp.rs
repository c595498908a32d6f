//! `POST /mcp` spoken to by the official Rust SDK's client, as an assistant
//! would: the tools act with the caller's identity, as the routes do, and
//! the REST API sees exactly what they did.

use std::collections::BTreeSet;

use api::configuration::Quota;
use libtest_mimic::Trial;
use reqwest::Method;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Map, Value, json};

use crate::helpers::{Backend, TestApp, id_of, json_with_status, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            the_tools_are_listed_with_the_routes_schemas,
            each_tool_does_what_its_route_does_as_the_caller,
            bad_arguments_and_other_users_tasks_are_tool_errors_that_store_nothing,
            without_a_valid_token_the_answer_names_the_resource_metadata,
        ],
        crate::standalone![
            the_rate_limit_counts_tool_calls_too,
            tool_calls_are_measured_as_requests_to_mcp,
        ],
    ])
}

type Client = RunningService<RoleClient, ()>;

/// An MCP client session for `sub`, with their bearer token.
async fn client(app: &TestApp, sub: &str) -> Client {
    let config =
        StreamableHttpClientTransportConfig::with_uri(app.url("/mcp")).auth_header(app.token(sub));
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve(transport).await.expect("the MCP handshake")
}

async fn call(client: &Client, tool: &str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|err| panic!("calling {tool}: {err}"))
}

/// The structured result of a call that must succeed.
async fn ok(client: &Client, tool: &str, arguments: Value) -> Value {
    let result = call(client, tool, arguments.clone()).await;
    assert_ne!(
        result.is_error,
        Some(true),
        "{tool} {arguments}: {result:?}"
    );
    assert_eq!(result.content.len(), 1, "one line of text");
    result.structured_content.expect("a structured result")
}

/// The text of a call that must fail as a tool error.
async fn refused(client: &Client, tool: &str, arguments: Value) -> String {
    let result = call(client, tool, arguments.clone()).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{tool} {arguments}: {result:?}"
    );
    serde_json::to_value(&result.content).unwrap()[0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn schema_property<'a>(schema: &'a Map<String, Value>, name: &str) -> &'a Value {
    &schema["properties"][name]
}

async fn the_tools_are_listed_with_the_routes_schemas(app: TestApp) {
    let client = client(&app, "alice").await;
    let tools = client.list_all_tools().await.unwrap();
    let names: BTreeSet<&str> = tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "add_task",
            "list_tasks",
            "get_task",
            "update_task",
            "complete_task",
            "delete_task",
            "list_tags"
        ])
    );
    let tool = |name: &str| tools.iter().find(|tool| tool.name == name).unwrap();
    // The routes' limits, from the same types.
    let add = &tool("add_task").input_schema;
    assert_eq!(schema_property(add, "title")["maxLength"], 200);
    assert_eq!(schema_property(add, "tags")["maxItems"], 20);
    assert_eq!(
        schema_property(add, "priority")["enum"],
        json!(["none", "low", "medium", "high"])
    );
    assert_eq!(
        schema_property(add, "due_date")["type"],
        json!(["string", "null"])
    );
    assert_eq!(add["required"], json!(["title"]));
    let list = &tool("list_tasks").input_schema;
    let sorts = schema_property(list, "sort")["enum"].as_array().unwrap();
    assert!(sorts.contains(&json!("due_at")) && sorts.contains(&json!("priority")));
    assert_eq!(schema_property(list, "limit")["maximum"], 500.0);
    for name in ["update_task", "complete_task", "get_task", "delete_task"] {
        let required = tool(name).input_schema["required"]
            .as_array()
            .unwrap()
            .clone();
        assert!(required.contains(&json!("id")), "{name}");
    }
    let output = tool("get_task")
        .output_schema
        .clone()
        .expect("an output schema");
    assert!(output["properties"]["due_at"].is_object());
    client.cancel().await.ok();
}

async fn each_tool_does_what_its_route_does_as_the_caller(app: TestApp) {
    let client = client(&app, "alice").await;
    let added = ok(
        &client,
        "add_task",
        json!({"title": "Call mum", "priority": "high", "tags": ["family"],
               "due_date": "2026-12-24", "due_time": "18:00", "time_zone": "Europe/Berlin"}),
    )
    .await;
    let id = id_of(&added);
    assert_eq!(
        app.task("alice", id).await,
        added,
        "as the route answers it"
    );
    assert_eq!(added["due_at"], "2026-12-24T17:00:00.000000Z");
    ok(&client, "add_task", json!({"title": "Water plants"})).await;

    let listed = ok(
        &client,
        "list_tasks",
        json!({"tag": ["family"], "priority": "high,medium", "sort": "due_at", "order": "asc"}),
    )
    .await;
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["tasks"], json!([added]));
    let everything = ok(&client, "list_tasks", json!({"limit": 1})).await;
    assert_eq!(everything["total"], 2);
    assert_eq!(everything["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(ok(&client, "get_task", json!({"id": id})).await, added);

    let updated = ok(
        &client,
        "update_task",
        json!({"id": id, "title": "Call mum and dad", "tags": ["family", "phone"]}),
    )
    .await;
    assert_eq!(updated["version"], 2);
    assert_eq!(app.task("alice", id).await, updated);
    let completed = ok(&client, "complete_task", json!({"id": id})).await;
    assert_eq!(completed["completed"], true, "no `completed` toggles");
    assert!(completed["completed_at"].is_string());
    let reopened = ok(
        &client,
        "complete_task",
        json!({"id": id, "completed": false}),
    )
    .await;
    assert_eq!(reopened["completed"], false);
    let tags = ok(&client, "list_tags", json!({})).await;
    assert_eq!(
        tags,
        json!({"tags": [
            {"name": "family", "tasks": 1, "pending": 1},
            {"name": "phone", "tasks": 1, "pending": 1},
        ]})
    );
    // Each write is a change like any other: the feed has the latest.
    let feed = json_with_status(app.feed("alice", "").await, 200, "feed").await;
    assert!(feed["tasks"].as_array().unwrap().contains(&reopened));

    let deleted = ok(&client, "delete_task", json!({"id": id})).await;
    assert_eq!(deleted, json!({"id": id, "deleted": true}));
    assert_eq!(app.get_task("alice", id).await.status(), 404);
    client.cancel().await.ok();
}

async fn bad_arguments_and_other_users_tasks_are_tool_errors_that_store_nothing(app: TestApp) {
    let bobs = app
        .create_task("bob", json!({"title": "bob's", "tags": ["private"]}))
        .await;
    let bob_id = id_of(&bobs);
    let client = client(&app, "alice").await;

    let text = refused(
        &client,
        "add_task",
        json!({"title": "", "priority": "urgent"}),
    )
    .await;
    assert!(
        text.contains("title") && text.contains("priority"),
        "{text}"
    );
    let text = refused(
        &client,
        "add_task",
        json!({"title": "t", "due_time": "09:00"}),
    )
    .await;
    assert!(text.contains("due_time"), "{text}");
    let text = refused(
        &client,
        "list_tasks",
        json!({"sort": "importance", "limit": 0}),
    )
    .await;
    assert!(text.contains("sort") && text.contains("limit"), "{text}");
    let text = refused(&client, "get_task", json!({})).await;
    assert!(text.contains("id"), "{text}");
    for (tool, arguments) in [
        ("get_task", json!({"id": bob_id})),
        ("update_task", json!({"id": bob_id, "title": "mine now"})),
        ("complete_task", json!({"id": bob_id})),
        ("delete_task", json!({"id": bob_id})),
    ] {
        let text = refused(&client, tool, arguments).await;
        assert!(text.contains("task not found"), "{tool}: {text}");
    }
    assert_eq!(app.task("bob", bob_id).await, bobs, "bob's task untouched");
    let listed = ok(&client, "list_tasks", json!({})).await;
    assert_eq!(listed, json!({"tasks": [], "total": 0}));
    assert_eq!(
        ok(&client, "list_tags", json!({})).await,
        json!({"tags": []})
    );
    assert_eq!(
        app.count_rows("tasks").await,
        1,
        "nothing stored by a refusal"
    );

    // An unknown tool is the one protocol error.
    let unknown = client
        .call_tool(CallToolRequestParams::new("drop_database"))
        .await;
    assert!(unknown.is_err());
    client.cancel().await.ok();
}

async fn without_a_valid_token_the_answer_names_the_resource_metadata(app: TestApp) {
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"}}});
    for token in [None, Some("not-a-token")] {
        let mut request = app
            .client
            .post(app.url("/mcp"))
            .header("accept", "application/json, text/event-stream")
            .json(&initialize);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        let error = match token {
            Some(_) => "error=\"invalid_token\", ",
            None => "",
        };
        let expected = format!(
            "Bearer {error}resource_metadata=\"{}\"",
            app.url("/.well-known/oauth-protected-resource")
        );
        assert_eq!(challenge, expected);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
    }
    // At the root, as the challenge names it, and at the resource's own
    // path (RFC 9728, section 3.1).
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let metadata = app.client.get(app.url(path)).send().await.unwrap();
        let metadata = json_with_status(metadata, 200, "the resource metadata").await;
        assert_eq!(metadata["resource"], app.url("/mcp"));
        assert_eq!(metadata["bearer_methods_supported"], json!(["header"]));
        assert!(
            metadata.get("authorization_servers").is_none(),
            "no BETTER_AUTH_URL here"
        );
    }
    // Only POST is served.
    let get = app.send(Method::GET, "/mcp", "alice", None).await;
    assert_eq!(get.status(), 405);
    assert_eq!(get.headers()["allow"], "POST");
}

async fn the_rate_limit_counts_tool_calls_too() {
    let quota: Quota = "3/min".parse().unwrap();
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.rate_limit = Some(quota);
        settings.auth.better_auth_url = Some("http://auth.example/api/auth".parse().unwrap());
    })
    .await;
    let metadata = app
        .client
        .get(app.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap();
    let metadata: Value = metadata.json().await.unwrap();
    assert_eq!(
        metadata["authorization_servers"],
        json!(["http://auth.example/api/auth"])
    );
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(app.url("/mcp"))
            .auth_header(app.token("alice")),
    );
    // The handshake is two requests (initialize, initialized), the list a
    // third: the next call is over the quota.
    let client = ().serve(transport).await.expect("the handshake");
    client.list_all_tools().await.unwrap();
    let over = client
        .call_tool(CallToolRequestParams::new("list_tags"))
        .await;
    assert!(over.is_err(), "{over:?}");
    let rest = app.send(Method::GET, "/api/tasks", "alice", None).await;
    assert_eq!(rest.status(), 429, "the same budget as the REST API");
    client.cancel().await.ok();
}

async fn tool_calls_are_measured_as_requests_to_mcp() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let client = client(&app, "alice").await;
    ok(&client, "add_task", json!({"title": "measured"})).await;
    client.cancel().await.ok();
    let address = app.metrics_address.clone().expect("metrics are on");
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.lines()
            .any(|line| line.starts_with("http_requests_total") && line.contains("route=\"/mcp\"")),
        "{text}"
    );
    // The tool's write reports to the request, though the SDK runs it on
    // a task of its own.
    assert!(
        text.lines().any(
            |line| line.starts_with("db_write_transaction_seconds_count")
                && line.contains("kind=\"task\"")
                && !line.ends_with(" 0")
        ),
        "{text}"
    );
}
