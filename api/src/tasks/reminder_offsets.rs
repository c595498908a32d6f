//! A task's `reminders`: the minutes before its due time at which to remind
//! the owner, and the instants they name for one occurrence.

use chrono::{DateTime, Duration, Utc};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};
use serde_json::Value;

use crate::http::json_body::FromJsonField;
use crate::http::scalar_type::scalar_type;

/// At most this many reminders per task.
pub const MAX_REMINDERS: usize = 5;
/// The earliest reminder: four weeks before the due time, in minutes.
pub const MAX_MINUTES_BEFORE: i32 = 40_320;

/// Distinct minute offsets, sorted ascending.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReminderOffsets(Vec<i32>);

impl ReminderOffsets {
    pub fn parse(values: &[Value]) -> Result<Self, String> {
        if values.len() > MAX_REMINDERS {
            return Err(format!("at most {MAX_REMINDERS} reminders per task"));
        }
        let mut minutes = Vec::with_capacity(values.len());
        for (i, value) in values.iter().enumerate() {
            let minute = value
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .filter(|n| (0..=MAX_MINUTES_BEFORE).contains(n))
                .ok_or_else(|| {
                    format!(
                        "reminder {} must be a whole number of minutes, 0 to {MAX_MINUTES_BEFORE}",
                        i + 1
                    )
                })?;
            if minutes.contains(&minute) {
                return Err(format!("reminder {} repeats {minute}", i + 1));
            }
            minutes.push(minute);
        }
        minutes.sort_unstable();
        Ok(Self(minutes))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn minutes(&self) -> &[i32] {
        &self.0
    }

    /// The copy a task row keeps: the minutes joined by commas.
    pub fn joined(&self) -> String {
        let minutes: Vec<String> = self.0.iter().map(i32::to_string).collect();
        minutes.join(",")
    }

    /// The offsets a task row keeps (written only by [`Self::joined`]).
    pub fn stored(text: &str) -> Self {
        Self(
            text.split(',')
                .filter_map(|minute| minute.parse().ok())
                .collect(),
        )
    }

    /// For an occurrence due at `due_at`: each reminder's instant, with its
    /// offset, latest first.
    pub fn instants(&self, due_at: DateTime<Utc>) -> impl Iterator<Item = DateTime<Utc>> + '_ {
        self.0
            .iter()
            .map(move |&minutes| due_at - Duration::minutes(i64::from(minutes)))
    }
}

impl FromJsonField for ReminderOffsets {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::Array(values) => Self::parse(&values),
            _ => Err("must be an array of minutes before the due time, such as [0, 15]".into()),
        }
    }
}

scalar_type!(
    ReminderOffsets,
    "reminders",
    MetaSchema {
        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(MetaSchema {
            format: Some("int32"),
            minimum: Some(0.0),
            maximum: Some(f64::from(MAX_MINUTES_BEFORE)),
            ..MetaSchema::new("integer")
        })))),
        max_items: Some(MAX_REMINDERS),
        unique_items: Some(true),
        example: Some(serde_json::json!([0, 30])),
        ..MetaSchema::new("array")
    }
);

impl ToJSON for ReminderOffsets {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0.clone()))
    }
}

impl serde::Serialize for ReminderOffsets {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl ParseFromJSON for ReminderOffsets {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn offsets_are_sorted_and_refused_out_of_range_repeated_or_too_many() {
        let parsed = ReminderOffsets::from_json_field(json!([60, 0, 15])).unwrap();
        assert_eq!(parsed.minutes(), [0, 15, 60]);
        assert_eq!(ReminderOffsets::stored(&parsed.joined()), parsed);
        assert_eq!(ReminderOffsets::stored(""), ReminderOffsets::default());
        for bad in [
            json!([-1]),
            json!([40_321]),
            json!([1.5]),
            json!(["5"]),
            json!([5, 5]),
            json!([1, 2, 3, 4, 5, 6]),
            json!(5),
        ] {
            assert!(
                ReminderOffsets::from_json_field(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
