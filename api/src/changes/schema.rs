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

/// One page of the caller's changes.
#[derive(Debug, Clone, Object, serde::Serialize)]
pub struct ChangesPage {
    /// Tasks created or changed after the cursor, each once, in its latest
    /// state; without `since`, the caller's current tasks.
    pub tasks: Vec<Task>,
    /// Tasks deleted after the cursor.
    pub deleted: Vec<DeletedTask>,
    /// Where this page ends: pass it as `since` next time (or as
    /// `Last-Event-ID` to `GET /api/events`). Opaque.
    pub cursor: String,
    /// Whether more changes remain after `cursor`: ask again at once.
    pub has_more: bool,
}

/// An event's `data`: the task (event `upsert`) or the deletion (event
/// `delete`). Each event's `id` is the cursor just after it.
#[derive(Debug, Clone, Union)]
pub enum TaskEvent {
    Upsert(Task),
    Delete(DeletedTask),
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
            cursor: "AAAAAAAAAAAAAAAAAAAAAA".into(),
            has_more: true,
        };
        assert_eq!(
            serde_json::to_value(&page).unwrap(),
            page.to_json().unwrap()
        );
    }
}
