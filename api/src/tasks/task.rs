//! The task as clients see it.

use poem_openapi::Object;
use poem_openapi::types::Example;

use super::due::{DueDate, DueTime, Zone};
use super::priority::Priority;
use super::reminder_offsets::ReminderOffsets;
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
    /// The series' rule, an RFC 5545 `RRULE` value in canonical form;
    /// null for a one-off task. Completing a recurring task moves it to
    /// its next occurrence.
    pub recurrence: Nullable<String>,
    /// Minutes before `due_at` at which the owner is reminded, ascending.
    pub reminders: ReminderOffsets,
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
            recurrence: row.recurrence.into(),
            reminders: ReminderOffsets::stored(&row.reminders),
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
            recurrence: Some("FREQ=WEEKLY;BYDAY=SU".to_owned()).into(),
            reminders: ReminderOffsets::parse(&[0.into(), 30.into()]).expect("a valid example"),
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
        task.recurrence = None.into();
        task.reminders = Default::default();
        task.completed_at = Some(task.created_at).into();
        assert_eq!(
            serde_json::to_value(&task).unwrap(),
            task.to_json().unwrap()
        );
    }
}

/// A page of tasks as JSON text: byte for byte what serde writes for
/// `Vec<Task>`, but faster, which is most of a list's cost (BENCHMARKS.md,
/// "Organizing"): the keys go out as they are (they need no escaping),
/// strings are escaped only where they have something to escape, and
/// nothing is built twice.
pub fn render_list(tasks: &[Task]) -> String {
    let mut out = String::with_capacity(64 + tasks.len() * 384);
    out.push('[');
    for (i, task) in tasks.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        task.write_json(&mut out);
    }
    out.push(']');
    out
}

impl Task {
    /// Appends the task as serde writes it, in the fields' order.
    fn write_json(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = write!(out, "{{\"id\":{},\"user_id\":", self.id);
        push_json_str(out, &self.user_id);
        out.push_str(",\"title\":");
        push_json_str(out, &self.title);
        out.push_str(",\"description\":");
        match &self.description.0 {
            Some(text) => push_json_str(out, text),
            None => out.push_str("null"),
        }
        out.push_str(if self.completed {
            ",\"completed\":true,\"created_at\":\""
        } else {
            ",\"completed\":false,\"created_at\":\""
        });
        out.push_str(&self.created_at.written());
        out.push_str("\",\"updated_at\":\"");
        out.push_str(&self.updated_at.written());
        let _ = write!(
            out,
            "\",\"version\":{},\"priority\":\"{}\",\"tags\":[",
            self.version,
            self.priority.word()
        );
        for (i, tag) in self.tags.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_str(out, tag);
        }
        out.push_str("],\"due_date\":");
        match &self.due_date.0 {
            Some(date) => {
                let _ = write!(out, "\"{}\"", date.written());
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"due_time\":");
        match &self.due_time.0 {
            Some(time) => {
                let _ = write!(out, "\"{}\"", DueTime::format(time.0));
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"time_zone\":");
        push_json_str(out, self.time_zone.name());
        push_json_instant(out, ",\"due_at\":", self.due_at.0.as_ref());
        out.push_str(",\"recurrence\":");
        match &self.recurrence.0 {
            Some(rule) => push_json_str(out, rule),
            None => out.push_str("null"),
        }
        out.push_str(",\"reminders\":[");
        for (i, minutes) in self.reminders.minutes().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{minutes}");
        }
        out.push(']');
        push_json_instant(out, ",\"completed_at\":", self.completed_at.0.as_ref());
        out.push('}');
    }
}

/// `key` and the instant `at` (or null).
fn push_json_instant(out: &mut String, key: &str, at: Option<&Timestamp>) {
    out.push_str(key);
    match at {
        Some(at) => {
            out.push('"');
            out.push_str(&at.written());
            out.push('"');
        }
        None => out.push_str("null"),
    }
}

/// `text` as a JSON string, escaped exactly as serde_json escapes it.
fn push_json_str(out: &mut String, text: &str) {
    use std::fmt::Write;
    out.push('"');
    let needs_escape = |c: char| c == '"' || c == '\\' || c < ' ';
    if !text.contains(needs_escape) {
        out.push_str(text);
    } else {
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c < ' ' => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod rendering_tests {
    use poem_openapi::types::Example;

    use super::{Task, render_list};
    use crate::http::timestamp::Timestamp;

    #[test]
    fn a_rendered_list_is_byte_for_byte_what_serde_writes() {
        let full = Task::example();
        let mut bare = Task::example();
        bare.id = 7;
        bare.title =
            "quote \" backslash \\ tab \t nl \n bell \u{7} del \u{7f} é 😀 </script>".into();
        bare.description = None.into();
        bare.tags = vec!["a\"b".into(), "ü".into()];
        bare.due_date = None.into();
        bare.due_time = None.into();
        bare.due_at = None.into();
        bare.recurrence = Some("FREQ=MONTHLY;BYDAY=-1FR".to_owned()).into();
        bare.reminders = Default::default();
        bare.completed = true;
        bare.completed_at = Some(Timestamp(chrono::DateTime::UNIX_EPOCH)).into();
        for tasks in [vec![], vec![full.clone()], vec![full, bare]] {
            assert_eq!(render_list(&tasks), serde_json::to_string(&tasks).unwrap());
        }
    }
}
