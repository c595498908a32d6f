//! What the change feed and the event stream send, as the document
//! describes it. Rendered with serde like every response (`RenderedJson`);
//! the tests keep that identical to the `ToJSON` output documented.

use poem_openapi::{Object, Union};

use crate::http::timestamp::Timestamp;
use crate::tasks::Task;

/// A deleted task, as the feed reports it.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct DeletedTask {
    /// The deleted task's id.
    pub id: i64,
    pub deleted_at: Timestamp,
}

impl From<entity::task_tombstone::Model> for DeletedTask {
    fn from(row: entity::task_tombstone::Model) -> Self {
        Self {
            id: row.id,
            deleted_at: row.deleted_at.into(),
        }
    }
}

/// A reminder as it was recorded: its event's data and its entry in the
/// change feed.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ReminderEvent {
    /// The task reminded of.
    pub task_id: i64,
    /// The task's title when the reminder was recorded.
    pub title: String,
    /// When the occurrence reminded of is due.
    pub due_at: Timestamp,
    /// The reminder's time: `due_at` less the task's minutes.
    pub remind_at: Timestamp,
    /// Recorded more than 60 s after `remind_at`: no instance of the
    /// service ran at its time.
    pub late: bool,
}

impl From<entity::reminder::Model> for ReminderEvent {
    fn from(row: entity::reminder::Model) -> Self {
        Self {
            task_id: row.task_id,
            title: row.title.unwrap_or_default(),
            due_at: row.due_at.into(),
            remind_at: row.remind_at.into(),
            late: row.late,
        }
    }
}

/// One page of the caller's changes.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ChangesPage {
    /// Tasks created or changed after the cursor, each once, in its latest
    /// state; without `since`, the caller's current tasks.
    pub tasks: Vec<Task>,
    /// Tasks deleted after the cursor.
    pub deleted: Vec<DeletedTask>,
    /// Reminders recorded after the cursor (none without `since`).
    pub reminders: Vec<ReminderEvent>,
    /// Where this page ends: pass it as `since` next time (or as
    /// `Last-Event-ID` to `GET /api/events`). Opaque.
    pub cursor: String,
    /// Whether more changes remain after `cursor`: ask again at once.
    pub has_more: bool,
}

/// An event's `data`: the task (event `upsert`), the deletion (event
/// `delete`) or the reminder (event `reminder`). Each event's `id` is the
/// cursor just after it.
#[derive(Debug, Clone, Union)]
pub enum TaskEvent {
    Upsert(Task),
    Delete(DeletedTask),
    Reminder(ReminderEvent),
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::{Example, ToJSON};

    use super::*;

    #[test]
    fn serde_renders_what_the_document_describes() {
        let page = ChangesPage {
            tasks: vec![Task::example()],
            deleted: vec![DeletedTask {
                id: 7,
                deleted_at: chrono::Utc::now().into(),
            }],
            reminders: vec![ReminderEvent {
                task_id: 42,
                title: "Buy milk".into(),
                due_at: chrono::Utc::now().into(),
                remind_at: chrono::Utc::now().into(),
                late: false,
            }],
            cursor: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            has_more: true,
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            page.to_json().unwrap()
        );
    }
}
