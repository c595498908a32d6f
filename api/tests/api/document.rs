//! The served OpenAPI document and the request parsers agree: every
//! constraint the document states about an input is enforced, with a 422
//! that names that input.
//!
//! The bad values come from the document itself, so a constraint added to
//! the document but not to the parser (or the other way round, for the
//! parser's refusals the document promises) shows up here.

use std::collections::BTreeMap;

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, error_fields, id_of};
use crate::openapi::served_document;

pub fn tests() -> Vec<Trial> {
    crate::sqlite_only![every_documented_input_constraint_is_enforced]
}

type Schema = Map<String, Value>;

/// The tag the target task carries, for `{name}`.
const TARGET_TAG: &str = "target";

/// The schema with every `$ref` and `allOf` merged in. (`anyOf` is read
/// only where a body says which of its fields it needs at least one of.)
fn resolve(doc: &Value, schema: &Value) -> Schema {
    for unsupported in ["oneOf", "not"] {
        assert!(
            schema.get(unsupported).is_none(),
            "`{unsupported}` in {schema}: teach this test about it"
        );
    }
    let mut merged = Schema::new();
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let pointer = reference.strip_prefix('#').expect("a local $ref");
        let target = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("{reference} resolves"));
        merged.extend(resolve(doc, target));
    }
    for part in schema
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        merged.extend(resolve(doc, part));
    }
    for (key, value) in schema.as_object().expect("a schema is an object") {
        if key != "$ref" && key != "allOf" {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

fn number(schema: &Schema, keyword: &str) -> Option<i64> {
    // The document writes bounds as floats (`500.0`).
    schema
        .get(keyword)
        .and_then(Value::as_f64)
        .map(|value| value as i64)
}

fn kind(schema: &Schema) -> &str {
    schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("a schema without a `type`: {schema:?}"))
}

/// A value the schema accepts: its default, its first enum value, or the
/// smallest value within its bounds.
fn valid(schema: &Schema) -> Value {
    if let Some(default) = schema.get("default") {
        return default.clone();
    }
    if let Some(first) = schema.get("enum").and_then(|values| values.get(0)) {
        return first.clone();
    }
    // A formatted or patterned string (a date, a zone) says what it takes.
    if let Some(example) = schema.get("example") {
        return example.clone();
    }
    // Formats and patterns without an example (query parameters go
    // without, so Swagger UI does not fill them in).
    match (
        schema.get("format").and_then(Value::as_str),
        schema.get("pattern").and_then(Value::as_str),
    ) {
        (Some("date-time"), _) => return json!("2026-12-24T18:00:00Z"),
        (Some("date"), _) => return json!("2026-12-24"),
        (_, Some(pattern)) if pattern.contains("none|low|medium|high") => return json!("high"),
        _ => {}
    }
    match kind(schema) {
        "array" => json!([]),
        "string" => {
            let length = number(schema, "minLength").unwrap_or(0).max(1);
            json!("x".repeat(length as usize))
        }
        "boolean" => json!(true),
        "integer" => json!(number(schema, "minimum").unwrap_or(1)),
        other => panic!("no valid value for a `{other}`: teach this test about it"),
    }
}

/// Values the schema forbids, each with the keyword that forbids it
/// (`nullable` for a `null` where the schema does not say it may be null).
/// `textual` inputs (query and path parameters) cannot have a wrong type
/// when the schema says `string`, nor be `null`: all their values are text.
fn violations(schema: &Schema, textual: bool) -> Vec<(&'static str, Option<Value>)> {
    let mut bad = Vec::new();
    match kind(schema) {
        "string" if !textual => bad.push(("type", json!(42))),
        "string" => {}
        "boolean" => bad.push(("type", json!("yes"))),
        "integer" => bad.push(("type", json!("ten"))),
        "array" if !textual => bad.push(("type", json!(42))),
        "array" => {}
        other => panic!("a `{other}` input: teach this test about it"),
    }
    if let Some(max) = number(schema, "maxItems") {
        let distinct: Vec<String> = (0..=max).map(|i| format!("x{i}")).collect();
        bad.push(("maxItems", json!(distinct)));
    }
    if let Some("date" | "date-time") = schema.get("format").and_then(Value::as_str) {
        bad.push(("format", json!("not-a-date")));
    }
    if !textual && schema.get("nullable") != Some(&json!(true)) {
        bad.push(("nullable", Value::Null));
    }
    if let Some(max) = number(schema, "maxLength") {
        bad.push(("maxLength", json!("x".repeat(max as usize + 1))));
    }
    if let Some(min) = number(schema, "minLength").filter(|min| *min >= 1) {
        bad.push(("minLength", json!("x".repeat(min as usize - 1))));
    }
    if let Some(max) = number(schema, "maximum") {
        bad.push(("maximum", json!(max + 1)));
    }
    if let Some(min) = number(schema, "minimum") {
        bad.push(("minimum", json!(min - 1)));
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let joined: Vec<String> = values.iter().map(as_text).collect();
        let outside = json!(format!("not-{}", joined.join("-")));
        assert!(!values.contains(&outside));
        bad.push(("enum", outside));
    }
    // One past the largest value the integer format holds.
    let past_format = match schema.get("format").and_then(Value::as_str) {
        Some("int32") => Some(json!(i64::from(i32::MAX) + 1)),
        Some("int64") => Some(json!(i64::MAX as u64 + 1)),
        Some("uint32") => Some(json!(u64::from(u32::MAX) + 1)),
        _ => None,
    };
    bad.extend(past_format.map(|value| ("format", value)));
    bad.into_iter()
        .map(|(keyword, value)| (keyword, Some(value)))
        .collect()
}

/// A value for a failure message: long strings are cut short.
fn describe(value: &Value) -> String {
    match value.as_str() {
        Some(text) if text.chars().count() > 20 => {
            let start: String = text.chars().take(8).collect();
            format!("\"{start}…\" ({} characters)", text.chars().count())
        }
        _ => value.to_string(),
    }
}

/// A value as it is written in a query string or a path.
fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Place {
    Path,
    Query,
    Header,
    Body,
}

/// One input of an operation: a parameter, or a property of its JSON body.
struct Input {
    place: Place,
    name: String,
    schema: Schema,
    required: bool,
}

impl Input {
    /// What may be sent for it that it refuses: `None` for leaving it out.
    fn refused(&self) -> Vec<(&'static str, Option<Value>)> {
        let mut refused = violations(&self.schema, self.place != Place::Body);
        if self.required && self.place != Place::Path {
            refused.push(("required", None));
        }
        refused
    }
}

/// One documented operation.
struct Operation {
    method: Method,
    /// As documented, with `{name}` placeholders.
    path: String,
    inputs: Vec<Input>,
    has_body: bool,
    /// Body fields of which at least one must be sent (its `anyOf`).
    at_least_one: Vec<String>,
}

/// The inputs of one request.
#[derive(Clone, Default)]
struct Request {
    path: BTreeMap<String, String>,
    query: BTreeMap<String, String>,
    headers: BTreeMap<String, String>,
    body: Option<Map<String, Value>>,
}

impl Request {
    /// Sets `input` to `value`, or leaves it out.
    fn set(&mut self, input: &Input, value: Option<Value>) {
        let name = input.name.clone();
        match (input.place, value) {
            (Place::Path, value) => {
                let value = value.expect("a path parameter is always present");
                self.path.insert(name, as_text(&value));
            }
            (Place::Query, Some(Value::Array(items))) if items.is_empty() => {
                self.query.remove(&name);
            }
            (Place::Query, Some(value)) => {
                self.query.insert(name, as_text(&value));
            }
            (Place::Query, None) => {
                self.query.remove(&name);
            }
            (Place::Header, Some(value)) => {
                self.headers.insert(name, as_text(&value));
            }
            (Place::Header, None) => {
                self.headers.remove(&name);
            }
            (Place::Body, value) => {
                let body = self.body.get_or_insert_default();
                match value {
                    Some(value) => body.insert(name, value),
                    None => body.remove(&name),
                };
            }
        }
    }

    async fn send(&self, app: &TestApp, operation: &Operation) -> reqwest::Response {
        let mut path = operation.path.clone();
        for (name, value) in &self.path {
            path = path.replace(&format!("{{{name}}}"), value);
        }
        if !self.query.is_empty() {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            query.extend_pairs(&self.query);
            path = format!("{path}?{}", query.finish());
        }
        let mut request = app.request(operation.method.clone(), &path, "alice");
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        if let Some(body) = &self.body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }
}

impl Operation {
    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Every input valid, with `task_id` for `{id}`.
    fn valid_request(&self, task_id: i64) -> Request {
        let mut request = Request {
            body: self.has_body.then(Map::new),
            ..Request::default()
        };
        for input in &self.inputs {
            // Optional headers change what a request means (`If-Match`,
            // `Idempotency-Key`): the valid request goes without them.
            if input.place == Place::Header && !input.required {
                continue;
            }
            // A cursor is valid only as the service issued it: the valid
            // request starts the feed from the beginning instead.
            if input.name == "since" {
                continue;
            }
            let value = match (input.place, input.name.as_str()) {
                (Place::Path, "id") => json!(task_id),
                (Place::Path, "name") => json!(TARGET_TAG),
                (Place::Path, other) => panic!("teach this test about `{{{other}}}`"),
                _ => valid(&input.schema),
            };
            request.set(input, Some(value));
        }
        request
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn operations(doc: &Value) -> Vec<Operation> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let shared = item.get("parameters").and_then(Value::as_array);
        for (method, operation) in item.as_object().unwrap() {
            if !METHODS.contains(&method.as_str()) {
                continue;
            }
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let mut inputs = Vec::new();
            let own = operation.get("parameters").and_then(Value::as_array);
            for parameter in shared.into_iter().chain(own).flatten() {
                let place = match parameter["in"].as_str() {
                    Some("path") => Place::Path,
                    Some("query") => Place::Query,
                    Some("header") => Place::Header,
                    other => panic!("a parameter in {other:?}: teach this test about it"),
                };
                inputs.push(Input {
                    place,
                    name: parameter["name"].as_str().unwrap().to_owned(),
                    schema: resolve(doc, &parameter["schema"]),
                    required: parameter["required"] == true,
                });
            }
            let body = operation.get("requestBody");
            let mut at_least_one = Vec::new();
            if let Some(body) = body {
                let content = body["content"].as_object().expect("request content");
                let types: Vec<&String> = content.keys().collect();
                assert_eq!(types, ["application/json"], "{method} {path}");
                let schema = resolve(doc, &content["application/json"]["schema"]);
                let required = schema
                    .get("required")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for (name, property) in schema
                    .get("properties")
                    .and_then(Value::as_object)
                    .expect("properties")
                {
                    let mut property = resolve(doc, property);
                    // A list of objects (a batch's operations) takes its
                    // valid value from the body's example.
                    if let Some(example) = schema.get("example").and_then(|e| e.get(name)) {
                        property.entry("example").or_insert(example.clone());
                    }
                    inputs.push(Input {
                        place: Place::Body,
                        name: name.clone(),
                        schema: property,
                        required: required.contains(&json!(name)),
                    });
                }
                for alternative in schema
                    .get("anyOf")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let needs = alternative["required"].as_array().map(Vec::as_slice);
                    let Some([Value::String(field)]) = needs else {
                        panic!(
                            "an `anyOf` other than one required field each: teach this test about it"
                        );
                    };
                    at_least_one.push(field.clone());
                }
            }
            operations.push(Operation {
                method,
                path: path.clone(),
                inputs,
                has_body: body.is_some(),
                at_least_one,
            });
        }
    }
    operations
}

/// `Ok` when `response` is a 422 problem whose `errors` name just `field`.
async fn refused_for(response: reqwest::Response, field: &str) -> Result<(), String> {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    let text = response.text().await.unwrap_or_default();
    if status != 422 || content_type.as_deref() != Some("application/problem+json") {
        return Err(format!("answered {status} ({content_type:?}): {text}"));
    }
    let problem: Value = serde_json::from_str(&text).map_err(|err| format!("{err}: {text}"))?;
    let fields = error_fields(&problem);
    if fields != [field] {
        return Err(format!("named {fields:?}, not [{field:?}]: {text}"));
    }
    Ok(())
}

async fn every_documented_input_constraint_is_enforced(app: TestApp) {
    let doc = served_document(&app).await;
    let task_id = id_of(
        &app.create_task("alice", json!({"title": "target", "tags": [TARGET_TAG]}))
            .await,
    );
    let mut checked: BTreeMap<(Place, &str), usize> = BTreeMap::new();
    let mut mismatches = Vec::new();

    for operation in operations(&doc) {
        let label = operation.label();
        let valid = operation.valid_request(task_id);
        // The valid request is accepted, so that each refusal below is for
        // the one input made bad. (Not DELETE: the others need the task.)
        if operation.method != Method::DELETE {
            let response = valid.send(&app, &operation).await;
            let status = response.status();
            let streams = response.headers().get("content-type")
                == Some(&reqwest::header::HeaderValue::from_static(
                    "text/event-stream",
                ));
            // An event stream never ends: its status is the answer.
            let text = if streams {
                String::new()
            } else {
                response.text().await.unwrap_or_default()
            };
            assert!(status.is_success(), "{label}, all valid: {status} {text}");
        }
        for input in &operation.inputs {
            for (keyword, value) in input.refused() {
                let shown = value.as_ref().map_or("left out".to_owned(), describe);
                let mut request = valid.clone();
                request.set(input, value);
                let response = request.send(&app, &operation).await;
                *checked.entry((input.place, keyword)).or_default() += 1;
                if let Err(why) = refused_for(response, &input.name).await {
                    let name = &input.name;
                    mismatches.push(format!("{label}, {name} {shown} ({keyword}): {why}"));
                }
            }
        }
        if !operation.at_least_one.is_empty() {
            let mut request = valid.clone();
            for field in &operation.at_least_one {
                let input = operation.inputs.iter().find(|input| &input.name == field);
                request.set(input.expect("an `anyOf` field is a property"), None);
            }
            let response = request.send(&app, &operation).await;
            *checked.entry((Place::Body, "anyOf")).or_default() += 1;
            if let Err(why) = refused_for(response, "body").await {
                mismatches.push(format!(
                    "{label}, none of {:?} (anyOf): {why}",
                    operation.at_least_one
                ));
            }
        }
    }

    assert!(
        mismatches.is_empty(),
        "the document and the service disagree:\n{}",
        mismatches.join("\n")
    );
    // Not vacuous: every kind of constraint, and every place, was tried.
    for keyword in [
        "type",
        "nullable",
        "maxLength",
        "minLength",
        "maximum",
        "minimum",
        "enum",
        "format",
        "required",
    ] {
        let tried = checked.keys().any(|(_, k)| *k == keyword);
        assert!(tried, "no `{keyword}` case: {checked:?}");
    }
    for place in [Place::Path, Place::Query, Place::Header, Place::Body] {
        let tried = checked.keys().any(|(p, _)| *p == place);
        assert!(tried, "no {place:?} case: {checked:?}");
    }
}
