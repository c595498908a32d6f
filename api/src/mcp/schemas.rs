//! The tools' JSON Schemas, from the same poem-openapi types the routes'
//! document is generated from: each schema with the schemas it refers to
//! written in place, since a tool's schema stands alone.

use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaParamIn, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde_json::{Map, Value, json};

/// The schema of `T`, every `$ref` replaced by what it names.
pub fn of<T: Type>() -> Map<String, Value> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let schema = match T::schema_ref() {
        MetaSchemaRef::Reference(name) => registry
            .schemas
            .get(name.as_str())
            .map(|schema| serde_json::to_value(schema).unwrap_or_default())
            .unwrap_or_default(),
        MetaSchemaRef::Inline(schema) => serde_json::to_value(&*schema).unwrap_or_default(),
    };
    match inline(schema, &registry) {
        Value::Object(mut schema) => {
            // A type's own description speaks of the route; the tool has
            // its own.
            schema.remove("description");
            schema
        }
        _ => Map::new(),
    }
}

/// An object schema of the query parameters of `Api`'s operation
/// `operation_id`, each with its schema and description as the document
/// has them: a tool that takes what a route's query string takes.
pub fn query_of<Api: OpenApi>(operation_id: &str) -> Map<String, Value> {
    let mut registry = Registry::new();
    Api::register(&mut registry);
    let params = Api::meta()
        .into_iter()
        .flat_map(|api| api.paths)
        .flat_map(|path| path.operations)
        .find(|operation| operation.operation_id == Some(operation_id))
        .map(|operation| operation.params)
        .unwrap_or_default();
    let mut properties = Map::new();
    for param in params {
        if param.in_type != MetaParamIn::Query {
            continue;
        }
        let mut schema = match param.schema {
            MetaSchemaRef::Inline(schema) => serde_json::to_value(&*schema).unwrap_or_default(),
            MetaSchemaRef::Reference(name) => json!({ "$ref": name }),
        };
        if let (Some(description), Value::Object(object)) = (param.description, &mut schema) {
            object.insert("description".into(), json!(description));
        }
        properties.insert(param.name, inline(schema, &registry));
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    schema
}

/// `schema` with each `{"$ref": "#/components/schemas/X"}` replaced by X.
fn inline(schema: Value, registry: &Registry) -> Value {
    match schema {
        Value::Object(mut object) => {
            if let Some(Value::String(reference)) = object.get("$ref") {
                let name = reference.rsplit('/').next().unwrap_or_default();
                if let Some(target) = registry.schemas.get(name) {
                    object.remove("$ref");
                    let target = inline(serde_json::to_value(target).unwrap_or_default(), registry);
                    if let Value::Object(target) = target {
                        for (key, value) in target {
                            object.entry(key).or_insert(value);
                        }
                    }
                }
            }
            // `allOf` of one schema (poem-openapi's way of adding a
            // description to a reference) is that schema.
            if let Some(Value::Array(parts)) = object.remove("allOf") {
                for part in parts {
                    if let Value::Object(part) = inline(part, registry) {
                        for (key, value) in part {
                            object.entry(key).or_insert(value);
                        }
                    }
                }
            }
            json_schema(&mut object);
            Value::Object(
                object
                    .into_iter()
                    .map(|(key, value)| (key, inline(value, registry)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|v| inline(v, registry)).collect())
        }
        other => other,
    }
}

/// OpenAPI 3.0's words for what JSON Schema (which tool schemas are) says
/// otherwise: `nullable` becomes a `null` type, `example` an `examples`
/// list.
fn json_schema(object: &mut Map<String, Value>) {
    // OpenAPI's integer and number formats are no JSON Schema formats.
    if let Some(Value::String(format)) = object.get("format")
        && matches!(
            format.as_str(),
            "int32" | "int64" | "uint32" | "uint64" | "float" | "double"
        )
    {
        object.remove("format");
    }
    if object.remove("nullable") == Some(Value::Bool(true))
        && let Some(Value::String(kind)) = object.get("type").cloned()
    {
        object.insert("type".into(), json!([kind, "null"]));
    }
    if let Some(example) = object.remove("example") {
        object.insert("examples".into(), json!([example]));
    }
}

/// An object schema of `properties`, `required` ones listed.
pub fn object(
    properties: Vec<(&str, Map<String, Value>)>,
    required: &[&str],
) -> Map<String, Value> {
    let properties: Map<String, Value> = properties
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), Value::Object(schema)))
        .collect();
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    schema
}

/// `schema` with a description.
pub fn described(mut schema: Map<String, Value>, description: &str) -> Map<String, Value> {
    schema.insert("description".into(), json!(description));
    schema
}

/// `base` (an object schema) with `properties` added in front, and
/// `required` added to its required ones.
pub fn with_properties(
    base: Map<String, Value>,
    properties: Vec<(&str, Map<String, Value>)>,
    required: &[&str],
) -> Map<String, Value> {
    let mut schema = base;
    let mut merged: Map<String, Value> = properties
        .into_iter()
        .map(|(name, schema)| (name.to_owned(), Value::Object(schema)))
        .collect();
    if let Some(Value::Object(existing)) = schema.remove("properties") {
        merged.extend(existing);
    }
    schema.insert("properties".into(), Value::Object(merged));
    let mut names: Vec<Value> = required.iter().map(|name| json!(name)).collect();
    if let Some(Value::Array(existing)) = schema.remove("required") {
        names.extend(existing);
    }
    if !names.is_empty() {
        schema.insert("required".into(), Value::Array(names));
    }
    // An `anyOf` of single required fields (an update needs one) would
    // now leave out `id`; the rule is checked as the route checks it.
    schema.remove("anyOf");
    schema
}
