//! The task as clients see it, the request bodies, and their validation.

use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{Enum, Object};
use serde_json::Value;

use crate::json_body::{FieldValue, FromJsonBody, ObjectReader};
use crate::nullable::Nullable;
use crate::problem::FieldError;
use crate::timestamp::Timestamp;

pub const TITLE_MAX_CHARS: usize = 200;
pub const DESCRIPTION_MAX_CHARS: usize = 1000;

/// A task, owned by the user whose token created it.
#[derive(Debug, Clone, Object)]
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
        }
    }
}

/// `POST /api/tasks`. Server-owned fields (`id`, `user_id`, timestamps) and
/// unknown fields are ignored.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CreateTask {
    /// Trimmed; 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: String,
    /// At most 1000 characters.
    #[oai(validator(max_length = 1000), nullable)]
    pub description: Option<String>,
    /// Defaults to `false`.
    #[oai(default)]
    pub completed: bool,
}

impl Example for CreateTask {
    fn example() -> Self {
        Self {
            title: "Buy milk".into(),
            description: Some("Oat, 2 litres".into()),
            completed: false,
        }
    }
}

impl FromJsonBody for CreateTask {
    type Schema = Self;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let title = match reader.string("title") {
            FieldValue::Present(title) => check_title(&mut reader, title),
            FieldValue::Null => {
                reader.reject("title", "must be a string, not null");
                None
            }
            FieldValue::Invalid => None,
            FieldValue::Absent => {
                reader.reject("title", "is required");
                None
            }
        };
        let description = match reader.string("description") {
            FieldValue::Present(text) => check_description(&mut reader, text),
            FieldValue::Null | FieldValue::Absent | FieldValue::Invalid => None,
        };
        let completed = match reader.boolean("completed") {
            FieldValue::Present(flag) => flag,
            FieldValue::Null => {
                reader.reject("completed", "must be true or false; omit it for false");
                false
            }
            FieldValue::Absent | FieldValue::Invalid => false,
        };
        let task = CreateTask {
            title: title.unwrap_or_default(),
            description,
            completed,
        };
        reader.finish(task)
    }
}

/// `PUT /api/tasks/{id}`: each field present replaces the stored value,
/// absent fields are kept, `"description": null` clears the description.
/// At least one field is required.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UpdateTask {
    /// Trimmed; 1 to 200 characters. Cannot be null.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub title: Option<String>,
    /// At most 1000 characters; `null` clears it.
    #[oai(validator(max_length = 1000), nullable)]
    pub description: MaybeUndefined<String>,
    pub completed: Option<bool>,
}

impl Example for UpdateTask {
    fn example() -> Self {
        Self {
            title: Some("Buy oat milk".into()),
            description: MaybeUndefined::Null,
            completed: None,
        }
    }
}

/// A validated partial update: `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub completed: Option<bool>,
}

impl FromJsonBody for TaskChanges {
    type Schema = UpdateTask;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let mut changes = TaskChanges::default();
        match reader.string("title") {
            FieldValue::Present(title) => changes.title = check_title(&mut reader, title),
            FieldValue::Null => reader.reject("title", "cannot be null"),
            FieldValue::Absent | FieldValue::Invalid => {}
        }
        match reader.string("description") {
            FieldValue::Present(text) => {
                changes.description = check_description(&mut reader, text).map(Some)
            }
            FieldValue::Null => changes.description = Some(None),
            FieldValue::Absent | FieldValue::Invalid => {}
        }
        match reader.boolean("completed") {
            FieldValue::Present(flag) => changes.completed = Some(flag),
            FieldValue::Null => reader.reject("completed", "cannot be null"),
            FieldValue::Absent | FieldValue::Invalid => {}
        }
        let nothing_sent = reader.errors.is_empty()
            && changes.title.is_none()
            && changes.description.is_none()
            && changes.completed.is_none();
        if nothing_sent {
            reader.reject(
                "body",
                "send at least one of `title`, `description`, `completed`",
            );
        }
        reader.finish(changes)
    }
}

/// `PATCH /api/tasks/{id}/complete`: `completed` sets the state; no body, or
/// `{}`, toggles it.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct SetCompletion {
    pub completed: Option<bool>,
}

impl Example for SetCompletion {
    fn example() -> Self {
        Self {
            completed: Some(true),
        }
    }
}

impl FromJsonBody for SetCompletion {
    type Schema = Self;
    const REQUIRED: bool = false;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let completed = match reader.boolean("completed") {
            FieldValue::Present(flag) => Some(flag),
            FieldValue::Null => {
                reader.reject("completed", "must be true or false; omit it to toggle");
                None
            }
            FieldValue::Absent | FieldValue::Invalid => None,
        };
        reader.finish(SetCompletion { completed })
    }
}

/// Which tasks `GET /api/tasks` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub sort: SortKey,
    pub order: SortOrder,
    pub text: Option<String>,
    pub limit: u64,
    pub offset: u64,
}

/// Why `text` cannot be stored in a field of at most `max_chars` characters
/// (Unicode scalar values), if it cannot. NUL is refused everywhere because
/// PostgreSQL cannot store it.
pub fn text_problem(text: &str, max_chars: usize) -> Option<String> {
    let chars = text.chars().count();
    if text.contains('\0') {
        Some("must not contain NUL characters".to_owned())
    } else if chars > max_chars {
        Some(format!(
            "must be at most {max_chars} characters (got {chars})"
        ))
    } else {
        None
    }
}

fn check_title(reader: &mut ObjectReader, title: String) -> Option<String> {
    let title = title.trim();
    match text_problem(title, TITLE_MAX_CHARS) {
        Some(problem) => reader.reject("title", problem),
        None if title.is_empty() => reader.reject("title", "must not be blank"),
        None => return Some(title.to_owned()),
    }
    None
}

fn check_description(reader: &mut ObjectReader, text: String) -> Option<String> {
    match text_problem(&text, DESCRIPTION_MAX_CHARS) {
        Some(problem) => reader.reject("description", problem),
        None => return Some(text),
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn create_trims_the_title_and_counts_characters_not_bytes() {
        let task = CreateTask::from_json(Some(json!({"title": "  é  "}))).unwrap();
        assert_eq!(task.title, "é");
        let long = "é".repeat(200);
        assert!(CreateTask::from_json(Some(json!({ "title": long }))).is_ok());
        let too_long = "é".repeat(201);
        assert!(CreateTask::from_json(Some(json!({ "title": too_long }))).is_err());
    }

    #[test]
    fn create_reports_every_bad_field() {
        let errors = CreateTask::from_json(Some(json!({
            "title": "   ",
            "description": "x".repeat(1001),
            "completed": "yes",
        })))
        .unwrap_err();
        assert_eq!(fields(errors), vec!["title", "description", "completed"]);
    }

    #[test]
    fn update_distinguishes_null_from_absent() {
        let changes = TaskChanges::from_json(Some(json!({"description": null}))).unwrap();
        assert_eq!(changes.description, Some(None));
        assert!(changes.title.is_none());
        assert!(TaskChanges::from_json(Some(json!({"title": null}))).is_err());
        assert!(TaskChanges::from_json(Some(json!({}))).is_err());
        assert!(TaskChanges::from_json(Some(json!({"id": 3}))).is_err());
    }

    #[test]
    fn completion_toggles_without_a_value_but_refuses_null() {
        assert_eq!(SetCompletion::from_json(None).unwrap().completed, None);
        assert_eq!(
            SetCompletion::from_json(Some(json!({}))).unwrap().completed,
            None
        );
        assert!(SetCompletion::from_json(Some(json!({"completed": null}))).is_err());
        assert!(SetCompletion::from_json(Some(json!([true]))).is_err());
    }
}
