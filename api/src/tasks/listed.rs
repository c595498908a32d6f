//! A page of tasks read straight into the wire type: the list statement
//! names its columns in [`COLUMNS`] order and each row is decoded by
//! position with the driver's own decoders. Reading by name through the
//! ORM looked every column up by name and, for each empty one, formatted
//! an error message only to drop it: that was most of what the list's
//! new columns cost per request (BENCHMARKS.md, "Organizing").

use entity::task;
use sea_orm::{DbErr, QueryResult};

use super::due::{DueDate, DueTime, Zone};
use super::priority::Priority;
use super::reminder_offsets::ReminderOffsets;
use super::tag_names::TagSet;
use super::task::Task;
use crate::http::timestamp::Timestamp;

/// The task columns a listed task is read from, in the order decoded.
pub const COLUMNS: [task::Column; 17] = [
    task::Column::Id,
    task::Column::UserId,
    task::Column::Title,
    task::Column::Description,
    task::Column::Completed,
    task::Column::CreatedAt,
    task::Column::UpdatedAt,
    task::Column::Version,
    task::Column::Priority,
    task::Column::Tags,
    task::Column::DueDate,
    task::Column::DueTime,
    task::Column::TimeZone,
    task::Column::DueAt,
    task::Column::Recurrence,
    task::Column::Reminders,
    task::Column::CompletedAt,
];

/// Decodes one backend's row, the task's columns from `first` on: `None`
/// for the row of an empty page (its task columns all NULL).
macro_rules! decode {
    ($row:expr, $first:expr) => {{
        use sea_orm::sqlx::Row;
        let row = $row;
        let at = |i: usize| $first + i;
        let id: Option<i64> = row.try_get(at(0))?;
        match id {
            None => None,
            Some(id) => Some(Task {
                id,
                user_id: row.try_get(at(1))?,
                title: row.try_get(at(2))?,
                description: row.try_get::<Option<String>, _>(at(3))?.into(),
                completed: row.try_get(at(4))?,
                created_at: Timestamp(row.try_get(at(5))?),
                updated_at: Timestamp(row.try_get(at(6))?),
                version: row.try_get(at(7))?,
                priority: Priority::from_rank(row.try_get(at(8))?),
                tags: TagSet::split(row.try_get::<&str, _>(at(9))?),
                due_date: row
                    .try_get::<Option<chrono::NaiveDate>, _>(at(10))?
                    .map(DueDate)
                    .into(),
                due_time: row
                    .try_get::<Option<chrono::NaiveTime>, _>(at(11))?
                    .map(DueTime)
                    .into(),
                time_zone: Zone::stored(row.try_get::<&str, _>(at(12))?),
                due_at: row
                    .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(at(13))?
                    .map(Timestamp)
                    .into(),
                recurrence: row.try_get::<Option<String>, _>(at(14))?.into(),
                reminders: ReminderOffsets::stored(row.try_get::<&str, _>(at(15))?),
                completed_at: row
                    .try_get::<Option<chrono::DateTime<chrono::Utc>>, _>(at(16))?
                    .map(Timestamp)
                    .into(),
            }),
        }
    }};
}

/// The task in `row` from column `first` on, if the row has one.
pub fn task_at(row: &QueryResult, first: usize) -> Result<Option<Task>, DbErr> {
    let decoded: Result<Option<Task>, sea_orm::sqlx::Error> = (|| {
        if let Some(row) = row.try_as_pg_row() {
            return Ok(decode!(row, first));
        }
        if let Some(row) = row.try_as_sqlite_row() {
            return Ok(decode!(row, first));
        }
        Err(sea_orm::sqlx::Error::Protocol(
            "a row of an unsupported database".into(),
        ))
    })();
    decoded.map_err(|err| DbErr::Query(sea_orm::RuntimeErr::SqlxError(err.into())))
}
