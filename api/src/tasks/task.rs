//! The task as clients see it.

use poem_openapi::Object;
use poem_openapi::types::Example;

use super::due::{DueDate, DueTime, Zone};
use super::priority::Priority;
use super::tag_names::TagSet;
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
    pub priority: Priority,
    /// Sorted case-insensitively, each spelled as the caller's tag list
    /// spells it.
    pub tags: Vec<String>,
    /// The day the task is due, in `time_zone`.
    pub due_date: Nullable<DueDate>,
    /// The time of day it is due, in `time_zone`; null: some time that day.
    pub due_time: Nullable<DueTime>,
    /// The IANA zone the due date and time are meant in.
    pub time_zone: Zone,
    /// The instant the task is due: the due date at the due time in the
    /// zone, or without a time the end of that day there.
    #[oai(read_only)]
    pub due_at: Nullable<Timestamp>,
    /// When the task was last completed.
    #[oai(read_only)]
    pub completed_at: Nullable<Timestamp>,
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
            priority: Priority::from_rank(row.priority),
            tags: TagSet::split(&row.tags),
            due_date: row.due_date.map(DueDate).into(),
            due_time: row.due_time.map(DueTime).into(),
            time_zone: Zone::stored(&row.time_zone),
            due_at: row.due_at.map(Timestamp).into(),
            completed_at: row.completed_at.map(Timestamp).into(),
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
            priority: Priority::High,
            tags: vec!["errands".to_owned(), "home".to_owned()],
            due_date: Some(DueDate(
                chrono::NaiveDate::from_ymd_opt(2026, 11, 22).expect("valid example date"),
            ))
            .into(),
            due_time: Some(DueTime(
                chrono::NaiveTime::from_hms_opt(18, 0, 0).expect("valid example time"),
            ))
            .into(),
            time_zone: Zone::parse("Europe/Berlin").expect("a known zone"),
            due_at: Some(Timestamp(
                chrono::DateTime::parse_from_rfc3339("2026-11-22T17:00:00Z")
                    .expect("valid example time")
                    .to_utc(),
            ))
            .into(),
            completed_at: None.into(),
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
        task.due_date = None.into();
        task.due_time = None.into();
        task.due_at = None.into();
        task.completed_at = Some(task.created_at).into();
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            task.to_json().unwrap()
        );
    }
}
