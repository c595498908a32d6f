//! Times on the wire: RFC 3339, UTC, microseconds, always with a `Z`
//! (`2026-11-21T09:30:00.123456Z`). poem-openapi's own `DateTime<Utc>` writes
//! `+00:00`, which the contract does not allow.

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};

use super::scalar_type::scalar_type;
use serde_json::Value;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub DateTime<Utc>);

/// The current time at the precision both databases store, so what a write
/// returns is exactly what a later read returns.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

impl Timestamp {
    /// As the API writes it.
    pub fn written(self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        Self(time)
    }
}

scalar_type!(
    Timestamp,
    "string_date-time",
    MetaSchema {
        format: Some("date-time"),
        example: Some(Value::String("2026-11-21T09:30:00.123456Z".into())),
        ..MetaSchema::new("string")
    }
);

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(
            self.0.to_rfc3339_opts(SecondsFormat::Micros, true),
        ))
    }
}

/// The same text as [`ToJSON`] writes, for bodies rendered with serde.
impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Not `format("…")`: that parses its pattern on every call, which a
        // CPU profile of the list showed.
        serializer.serialize_str(&self.0.to_rfc3339_opts(SecondsFormat::Micros, true))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value {
            Some(Value::String(text)) => DateTime::parse_from_rfc3339(&text)
                .map(|time| Self(time.with_timezone(&Utc)))
                .map_err(ParseError::custom),
            other => Err(ParseError::expected_type(other.unwrap_or_default())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn always_utc_with_z_and_microseconds() {
        let time = DateTime::parse_from_rfc3339("2026-11-21T10:30:00.5+01:00").unwrap();
        let json = Timestamp(time.with_timezone(&Utc)).to_json().unwrap();
        assert_eq!(json, Value::String("2026-11-21T09:30:00.500000Z".into()));
    }

    #[test]
    fn serde_writes_what_to_json_writes() {
        for text in [
            "2026-11-21T09:30:00.123456Z",
            "2026-11-21T09:30:00Z",
            "1999-01-02T03:04:05.000001+02:00",
        ] {
            let time = Timestamp(
                DateTime::parse_from_rfc3339(text)
                    .unwrap()
                    .with_timezone(&Utc),
            );
            assert_eq!(serde_json::to_value(time).unwrap(), time.to_json().unwrap());
        }
    }
}
