//! The route table: every documented operation's method, path template and
//! operation id, in one place, with the tags that group them. It imports
//! nothing of the crate, so anything may read it: the resources take their
//! tags from it, `startup` builds the `Allow` header and the UTF-8 path
//! check from it, and the metrics name routes by it. A test in `openapi.rs`
//! holds it equal to the generated document, so the two cannot drift.

use poem_openapi::Tags;

/// Groups of operations in the OpenAPI document and Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// The caller's tasks.
    Tasks,
    /// The tags on the caller's tasks.
    Tags,
    /// The caller's identity.
    Me,
    /// Liveness and readiness probes.
    Health,
}

/// One operation of the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The method, upper case.
    pub method: &'static str,
    /// The path template, `{name}` for a parameter, as the document has it.
    pub path: &'static str,
    /// The operation id, as the document has it.
    pub id: &'static str,
}

const fn operation(method: &'static str, path: &'static str, id: &'static str) -> Operation {
    Operation { method, path, id }
}

/// Every documented operation.
pub const OPERATIONS: [Operation; 16] = [
    operation("GET", "/api/tasks", "listTasks"),
    operation("POST", "/api/tasks", "createTask"),
    operation("GET", "/api/tasks/{id}", "getTask"),
    operation("PUT", "/api/tasks/{id}", "updateTask"),
    operation("DELETE", "/api/tasks/{id}", "deleteTask"),
    operation("PATCH", "/api/tasks/{id}/complete", "setTaskCompletion"),
    operation("POST", "/api/batch", "applyBatch"),
    operation("GET", "/api/tasks/changes", "listTaskChanges"),
    operation("GET", "/api/events", "streamTaskEvents"),
    operation("GET", "/api/tags", "listTags"),
    operation("PUT", "/api/tags/{name}", "renameTag"),
    operation("DELETE", "/api/tags/{name}", "deleteTag"),
    operation("GET", "/api/me", "getMe"),
    operation("DELETE", "/api/me", "deleteMe"),
    operation("GET", "/health/live", "getLiveness"),
    operation("GET", "/health/ready", "getReadiness"),
];

/// The routes served beside the document's own: Swagger UI, the document
/// itself, the Model Context Protocol endpoint and its resource metadata
/// (RFC 9728), as (method, path).
pub const UNDOCUMENTED: [(&str, &str); 5] = [
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("POST", "/mcp"),
    ("GET", "/.well-known/oauth-protected-resource"),
    ("GET", "/.well-known/oauth-protected-resource/mcp"),
];

/// Every documented path template, once each.
pub fn path_templates() -> impl Iterator<Item = &'static str> {
    OPERATIONS
        .iter()
        .enumerate()
        .filter(|(n, op)| !OPERATIONS[..*n].iter().any(|seen| seen.path == op.path))
        .map(|(_, op)| op.path)
}

/// Each operation's method and path template.
pub fn methods_and_paths() -> impl Iterator<Item = (&'static str, &'static str)> {
    OPERATIONS.iter().map(|op| (op.method, op.path))
}

/// Whether `path` is one of the probes. They are never rate limited and stay
/// reachable over the connection caps: a refused probe would have an
/// orchestrator restart a healthy instance.
pub fn is_probe(path: &str) -> bool {
    path.starts_with("/health/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_template_is_listed_once() {
        let templates: Vec<_> = path_templates().collect();
        assert_eq!(templates.len(), 11);
        assert_eq!(templates[0], "/api/tasks");
        assert_eq!(templates[1], "/api/tasks/{id}");
    }
}
