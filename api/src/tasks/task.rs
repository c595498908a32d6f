//! The task as clients see it.

use poem_openapi::Object;
use poem_openapi::types::Example;

use crate::http::nullable::Nullable;
use crate::http::timestamp::Timestamp;

// Responses render a task with serde straight to text (`RenderedJson`), in
// the field order below; the test at the end keeps that identical to the
// `ToJSON` output the document describes.
/// A task, owned by the user whose token created it.
#[derive(Debug, Clone, Object, serde::Serialize)]
#[oai(example)]
pub struct Task {
    /// Assigned by the server.
    #[oai(read_only)]
    pub id: i64,
    /// The owner: the token's `sub`.
    #[oai(read_only)]
    pub user_id: String,
    pub title: String,
    pub description: Nullable<String>,
    pub completed: bool,
    #[oai(read_only)]
    pub created_at: Timestamp,
    /// Set by the server on every change.
    #[oai(read_only)]
    pub updated_at: Timestamp,
    /// 1 on create, one more on every change. The task's `ETag` is this
    /// number in quotes; send it back in `If-Match` to update safely.
    #[oai(read_only)]
    pub version: i32,
}

impl From<entity::task::Model> for Task {
    fn from(row: entity::task::Model) -> Self {
        Self {
            id: row.id,
            user_id: row.user_id,
            title: row.title,
            description: row.description.into(),
            completed: row.completed,
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
            version: row.version,
        }
    }
}

impl Example for Task {
    fn example() -> Self {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T09:30:00.123456Z")
            .expect("valid example time")
            .to_utc();
        Self {
            id: 42,
            user_id: "hS7tY2pQ9wXk3LmN".into(),
            title: "Buy milk".into(),
            description: Some("Oat, 2 litres".to_owned()).into(),
            completed: false,
            created_at: at.into(),
            updated_at: at.into(),
            version: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::{Example, ToJSON};

    use super::Task;

    #[test]
    fn serde_renders_what_the_document_describes() {
        let mut task = Task::example();
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            task.to_json().unwrap()
        );
        task.description = None.into();
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            task.to_json().unwrap()
        );
    }
}
