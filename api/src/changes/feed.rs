//! One page of a change feed, merged from changed tasks and tombstones.

use entity::{reminder, task, task_tombstone};
use sea_orm::{DatabaseConnection, DbErr};

use super::repository::{ChangeKinds, Changed, changed_between};
use crate::change_log::Position;

/// One change: a task in its latest state, a deletion, or a reminder
/// recorded.
pub enum Change {
    Upsert(task::Model),
    Delete(task_tombstone::Model),
    Reminder(reminder::Model),
}

impl Change {
    pub fn seq(&self) -> i64 {
        match self {
            Self::Upsert(task) => task.change_seq,
            Self::Delete(tombstone) => tombstone.change_seq,
            // Only recorded reminders are read.
            Self::Reminder(reminder) => reminder.change_seq.unwrap_or_default(),
        }
    }
}

pub struct Page {
    /// Oldest first; each task at most once.
    pub changes: Vec<Change>,
    /// The change number the next page starts after.
    pub last_seq: i64,
    pub has_more: bool,
}

/// Up to `limit` of `user_id`'s changes after change `after`, read no
/// further than `position.head` (see [`changed_between`] for why that
/// bound makes the page complete), with the kinds `kinds` asks for beside
/// tasks. Tombstones only for a client that has seen something: a
/// client that has seen nothing has nothing to delete.
pub async fn read(
    db: &DatabaseConnection,
    user_id: &str,
    position: &Position,
    after: i64,
    limit: u64,
    kinds: ChangeKinds,
) -> Result<Page, DbErr> {
    let changed = changed_between(db, user_id, after, position.head, limit, kinds).await?;
    Ok(page(changed, position.head, limit as usize))
}

/// The first `limit` changes of `changed`, which was read up to `through`.
/// When nothing more remains, the page ends at `through` itself, so the
/// next read starts there even if the last changes read moved on since.
fn page(changed: Changed, through: i64, limit: usize) -> Page {
    let mut changes: Vec<Change> = changed
        .tasks
        .into_iter()
        .map(Change::Upsert)
        .chain(changed.deleted.into_iter().map(Change::Delete))
        .chain(changed.reminders.into_iter().map(Change::Reminder))
        .collect();
    changes.sort_unstable_by_key(Change::seq);
    let has_more = changes.len() > limit;
    changes.truncate(limit);
    let last_seq = match changes.last() {
        Some(last) if has_more => last.seq(),
        _ => through,
    };
    Page {
        changes,
        last_seq,
        has_more,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(id: i64, seq: i64) -> task::Model {
        let now = chrono::Utc::now();
        task::Model {
            id,
            user_id: "u".into(),
            title: "t".into(),
            description: None,
            completed: false,
            created_at: now,
            updated_at: now,
            version: 1,
            title_key: "t".into(),
            description_key: None,
            change_seq: seq,
            priority: 0,
            tags: String::new(),
            due_date: None,
            due_time: None,
            time_zone: "UTC".into(),
            due_at: None,
            completed_at: None,
            recurrence: None,
            series_start: None,
            reminders: String::new(),
        }
    }

    fn tombstone(id: i64, seq: i64) -> task_tombstone::Model {
        task_tombstone::Model {
            id,
            user_id: "u".into(),
            change_seq: seq,
            deleted_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn changes_merge_in_number_order_and_a_full_page_says_more_remain() {
        let changed = || Changed {
            tasks: vec![task(1, 2), task(2, 5)],
            deleted: vec![tombstone(3, 3), tombstone(4, 6)],
            reminders: Vec::new(),
        };
        let full = page(changed(), 9, 3);
        let seqs: Vec<i64> = full.changes.iter().map(Change::seq).collect();
        assert_eq!(seqs, [2, 3, 5]);
        assert!(full.has_more);
        assert_eq!(full.last_seq, 5);

        let all = page(changed(), 9, 10);
        assert_eq!(all.changes.len(), 4);
        assert!(!all.has_more);
        assert_eq!(all.last_seq, 9, "a last page ends where the read ended");
    }
}
