//! The request bodies of the task routes and how each is read. Every bad
//! field is reported at once; the limits come from [`super::text_fields`].

use poem_openapi::Object;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{Example, MaybeUndefined};
use serde_json::Value;

use super::due::{DueDate, DueTime, Zone};
use super::priority::Priority;
use super::recurrence::Recurrence;
use super::reminder_offsets::ReminderOffsets;
use super::tag_names::TagSet;
use super::text_fields::{Description, Title};
use crate::http::json_body::{FromJsonBody, ObjectReader};
use crate::http::problem::FieldError;
use crate::http::text::Text;

/// `POST /api/tasks`. Server-owned fields (`id`, `user_id`, timestamps) and
/// unknown fields are ignored.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct CreateTask {
    /// Trimmed; 1 to 200 characters.
    pub title: Text<Title>,
    /// At most 1000 characters.
    #[oai(nullable)]
    pub description: Option<Text<Description>>,
    /// Defaults to `false`.
    #[oai(default)]
    pub completed: bool,
    /// Defaults to `none`.
    #[oai(default)]
    pub priority: Priority,
    /// 0 to 20 tags; each trimmed, 1 to 40 characters, no control
    /// characters and no comma; duplicates (ignoring case) collapse.
    #[oai(default)]
    pub tags: TagSet,
    /// `YYYY-MM-DD`.
    #[oai(nullable)]
    pub due_date: Option<DueDate>,
    /// `HH:MM`, 24-hour; only with `due_date`.
    #[oai(nullable)]
    pub due_time: Option<DueTime>,
    /// The IANA zone the due date and time are meant in; defaults to `UTC`.
    #[oai(default = "utc")]
    pub time_zone: Zone,
    /// Repeats the task (an RFC 5545 `RRULE` value); needs `due_date`.
    #[oai(nullable)]
    pub recurrence: Option<Recurrence>,
    /// Minutes before the due time at which to remind (0 to 40320, at
    /// most 5, distinct); needs `due_time`.
    #[oai(default)]
    pub reminders: ReminderOffsets,
}

fn utc() -> Zone {
    Zone::UTC
}

impl Example for CreateTask {
    fn example() -> Self {
        Self {
            title: example_text("Buy milk"),
            description: Some(example_text("Oat, 2 litres")),
            completed: false,
            priority: Priority::High,
            tags: TagSet::sorted(vec!["errands".to_owned()]),
            due_date: DueDate::parse("2026-12-24").ok(),
            due_time: DueTime::parse("18:00").ok(),
            time_zone: Zone::parse("Europe/Berlin").unwrap_or(Zone::UTC),
            recurrence: None,
            reminders: ReminderOffsets::parse(&[Value::from(30)]).unwrap_or_default(),
        }
    }
}

/// What a task's schedule is, as it would be after a write: the fields
/// the rules between them read.
pub struct Schedule<'a> {
    pub date: Option<&'a DueDate>,
    pub time: Option<&'a DueTime>,
    pub recurring: bool,
    pub reminders: &'a ReminderOffsets,
}

/// A due time and a recurrence need a due date, reminders a due time:
/// the rules on a task as it would be after a write, naming each
/// dependent field at fault.
pub fn check_schedule(schedule: Schedule<'_>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if schedule.date.is_none() && schedule.time.is_some() {
        errors.push(FieldError::new(
            "due_time",
            "needs a due_date; clear it (null) together with the date",
        ));
    }
    if schedule.date.is_none() && schedule.recurring {
        errors.push(FieldError::new(
            "recurrence",
            "needs a due_date, where the series starts; clear it (null) together with the date",
        ));
    }
    if schedule.time.is_none() && !schedule.reminders.is_empty() {
        errors.push(FieldError::new(
            "reminders",
            "need a due_time to count back from; clear them ([]) together with the time",
        ));
    }
    errors
}

impl FromJsonBody for CreateTask {
    type Schema = Self;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let title = reader.required("title", "must be a string, not null");
        let description = reader.nullable("description").take();
        let completed = reader
            .optional("completed", "must be true or false; omit it for false")
            .unwrap_or(false);
        let priority = reader
            .optional("priority", "cannot be null; send \"none\"")
            .unwrap_or_default();
        let tags = reader
            .optional("tags", "cannot be null; send []")
            .unwrap_or_default();
        let due_date = reader.nullable("due_date").take();
        let due_time = reader.nullable("due_time").take();
        let time_zone = reader
            .optional("time_zone", "cannot be null; send \"UTC\"")
            .unwrap_or(Zone::UTC);
        let recurrence: Option<Recurrence> = reader.nullable("recurrence").take();
        let reminders: ReminderOffsets = reader
            .optional("reminders", "cannot be null; send []")
            .unwrap_or_default();
        // Only between fields that were themselves valid.
        if reader.is_valid() {
            for error in check_schedule(Schedule {
                date: due_date.as_ref(),
                time: due_time.as_ref(),
                recurring: recurrence.is_some(),
                reminders: &reminders,
            }) {
                reader.reject(&error.field, error.message);
            }
        }
        reader.finish(title.map(|title| CreateTask {
            title,
            description,
            completed,
            priority,
            tags,
            due_date,
            due_time,
            time_zone,
            recurrence,
            reminders,
        }))
    }
}

/// `PUT /api/tasks/{id}`: each field present replaces the stored value,
/// absent fields are kept, `"description": null` clears the description.
/// At least one field is required.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct UpdateTask {
    /// Trimmed; 1 to 200 characters. Cannot be null.
    #[oai(skip_serializing_if_is_none)]
    pub title: Option<Text<Title>>,
    /// At most 1000 characters; `null` clears it.
    #[oai(nullable)]
    pub description: MaybeUndefined<Text<Description>>,
    /// Cannot be null.
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
    /// Cannot be null; `none` clears it.
    #[oai(skip_serializing_if_is_none)]
    pub priority: Option<Priority>,
    /// Replaces the whole set; cannot be null (`[]` clears it).
    #[oai(skip_serializing_if_is_none)]
    pub tags: Option<TagSet>,
    /// `null` clears it (clear `due_time` with it).
    #[oai(nullable)]
    pub due_date: MaybeUndefined<DueDate>,
    /// `null`: some time that day.
    #[oai(nullable)]
    pub due_time: MaybeUndefined<DueTime>,
    /// Cannot be null; `UTC` is the default.
    #[oai(skip_serializing_if_is_none)]
    pub time_zone: Option<Zone>,
    /// `null` ends the series; a new or changed rule starts it again from
    /// the due date.
    #[oai(nullable)]
    pub recurrence: MaybeUndefined<Recurrence>,
    /// Replaces the reminders; cannot be null (`[]` clears them).
    #[oai(skip_serializing_if_is_none)]
    pub reminders: Option<ReminderOffsets>,
}

impl Example for UpdateTask {
    fn example() -> Self {
        Self {
            title: Some(example_text("Buy oat milk")),
            description: MaybeUndefined::Null,
            completed: None,
            priority: Some(Priority::Medium),
            tags: None,
            due_date: MaybeUndefined::Undefined,
            due_time: MaybeUndefined::Undefined,
            time_zone: None,
            recurrence: MaybeUndefined::Undefined,
            reminders: None,
        }
    }
}

impl FromJsonBody for UpdateTask {
    type Schema = Self;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let update = UpdateTask {
            title: reader.optional("title", "cannot be null"),
            description: reader.nullable("description"),
            completed: reader.optional("completed", "cannot be null"),
            priority: reader.optional("priority", "cannot be null; send \"none\""),
            tags: reader.optional("tags", "cannot be null; send []"),
            due_date: reader.nullable("due_date"),
            due_time: reader.nullable("due_time"),
            time_zone: reader.optional("time_zone", "cannot be null; send \"UTC\""),
            recurrence: reader.nullable("recurrence"),
            reminders: reader.optional("reminders", "cannot be null; send []"),
        };
        if reader.is_valid() && update.changes_nothing() {
            reader.reject(
                "body",
                "send at least one of `title`, `description`, `completed`, `priority`, \
                 `tags`, `due_date`, `due_time`, `time_zone`, `recurrence`, `reminders`",
            );
        }
        reader.finish(Some(update))
    }

    /// At least one of the fields: `{}`, or only unknown fields, changes
    /// nothing and is a 422. Each alternative repeats its field's schema,
    /// so generated clients keep the field's type.
    fn refine_schema(schema: &mut MetaSchema) {
        schema.any_of = schema
            .properties
            .iter()
            .map(|&(field, ref property)| {
                MetaSchemaRef::Inline(Box::new(MetaSchema {
                    required: vec![field],
                    properties: vec![(field, property.clone())],
                    ..MetaSchema::new("object")
                }))
            })
            .collect();
    }
}

impl UpdateTask {
    fn changes_nothing(&self) -> bool {
        self.title.is_none()
            && self.description.is_undefined()
            && self.completed.is_none()
            && self.priority.is_none()
            && self.tags.is_none()
            && self.due_date.is_undefined()
            && self.due_time.is_undefined()
            && self.time_zone.is_none()
            && self.recurrence.is_undefined()
            && self.reminders.is_none()
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
        let completed = reader.optional("completed", "must be true or false; omit it to toggle");
        reader.finish(Some(SetCompletion { completed }))
    }
}

fn example_text<R: crate::http::text::TextRule>(text: &str) -> Text<R> {
    Text::parse(text.to_owned()).expect("examples follow the rules")
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
        assert_eq!(task.title.into_string(), "é");
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
        let update = UpdateTask::from_json(Some(json!({"description": null}))).unwrap();
        assert!(update.description.is_null());
        assert!(update.title.is_none());
        assert!(UpdateTask::from_json(Some(json!({"title": null}))).is_err());
        assert!(UpdateTask::from_json(Some(json!({}))).is_err());
        assert!(UpdateTask::from_json(Some(json!({"id": 3}))).is_err());
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
