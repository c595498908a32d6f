//! When a task is due: a date, an optional time of day and the IANA zone
//! they are meant in, and the instant they name (`due_at`), by the IANA
//! database (chrono-tz), never by hand-written offsets.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use serde_json::Value;

use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};

use crate::http::json_body::FromJsonField;
use crate::http::scalar_type::scalar_type;

/// The latest due date accepted: its day must end before year 10000.
const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 30).expect("a valid date");

/// `YYYY-MM-DD`, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueDate(pub NaiveDate);

/// `HH:MM`, 24-hour, exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueTime(pub NaiveTime);

/// An IANA zone name, spelled as the database spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(pub Tz);

impl DueDate {
    /// As the API writes it. Written out: chrono's `format` parses its
    /// pattern on every call.
    pub fn written(self) -> String {
        format!(
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let wrong = || "must be a date as YYYY-MM-DD, from 0001-01-01 to 9999-12-30".to_owned();
        let shaped = text.len() == 10
            && text.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !shaped {
            return Err(wrong());
        }
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(date) if date.year() >= 1 && date <= LAST_DATE => Ok(Self(date)),
            _ => Err(wrong()),
        }
    }
}

impl DueTime {
    pub fn parse(text: &str) -> Result<Self, String> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 5
            && bytes[2] == b':'
            && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit());
        let time = shaped
            .then(|| NaiveTime::parse_from_str(text, "%H:%M").ok())
            .flatten();
        time.map(Self)
            .ok_or_else(|| "must be a time of day as HH:MM (24-hour)".to_owned())
    }

    /// As the API writes it.
    pub fn format(time: NaiveTime) -> String {
        format!("{:02}:{:02}", time.hour(), time.minute())
    }
}

impl Zone {
    pub const UTC: Zone = Zone(Tz::UTC);

    pub fn parse(name: &str) -> Result<Self, String> {
        name.parse::<Tz>().map(Self).map_err(|_| {
            "must be a time zone of the IANA database, such as Europe/Berlin".to_owned()
        })
    }

    /// The zone stored as `name`; one no longer known (never written) reads
    /// as UTC.
    pub fn stored(name: &str) -> Self {
        Self::parse(name).unwrap_or(Self::UTC)
    }

    pub fn name(self) -> &'static str {
        self.0.name()
    }
}

/// The instant a task is due: `date` at `time` in `zone`, or, without a
/// time, the end of that day there (the next local midnight). A local time
/// that does not exist (a daylight-saving gap) moves forward by the gap; one
/// that happens twice takes the first.
pub fn due_at(date: NaiveDate, time: Option<NaiveTime>, zone: Zone) -> DateTime<Utc> {
    let local = match time {
        Some(time) => date.and_time(time),
        None => (date + Duration::days(1)).and_time(NaiveTime::MIN),
    };
    instant(local, zone.0)
}

fn instant(local: NaiveDateTime, zone: Tz) -> DateTime<Utc> {
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => at.to_utc(),
        LocalResult::Ambiguous(first, _) => first.to_utc(),
        // In a gap: read the wall-clock time with the offset in force just
        // before the gap, which lands as far past the gap's end as the
        // time was past its start.
        LocalResult::None => {
            let before = (1..=24 * 60)
                .map(|minutes| local - Duration::minutes(minutes))
                .find_map(|earlier| zone.from_local_datetime(&earlier).earliest());
            match before {
                Some(earlier) => {
                    let offset = chrono::Offset::fix(earlier.offset());
                    (local - Duration::seconds(i64::from(offset.local_minus_utc()))).and_utc()
                }
                None => local.and_utc(),
            }
        }
    }
}

impl FromJsonField for DueDate {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(&text),
            _ => Err("must be a date as YYYY-MM-DD".to_owned()),
        }
    }
}

impl FromJsonField for DueTime {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(&text),
            _ => Err("must be a time of day as HH:MM (24-hour)".to_owned()),
        }
    }
}

impl FromJsonField for Zone {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(&text),
            _ => Err("must be a time zone name, such as Europe/Berlin".to_owned()),
        }
    }
}

/// The wire form of each: its schema for the document, its JSON both ways.
macro_rules! wire_text {
    ($ty:ty, $name:expr, $schema:expr, $render:expr) => {
        scalar_type!($ty, $name, $schema);

        impl ToJSON for $ty {
            fn to_json(&self) -> Option<Value> {
                Some(Value::String($render(self)))
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&$render(self))
            }
        }

        impl ParseFromJSON for $ty {
            fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
                Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
            }
        }
    };
}

wire_text!(
    DueDate,
    "due_date",
    MetaSchema {
        format: Some("date"),
        example: Some(Value::String("2026-12-24".into())),
        ..MetaSchema::new("string")
    },
    // Written out: chrono's `format` parses its pattern on every call.
    |date: &DueDate| format!(
        "{:04}-{:02}-{:02}",
        date.0.year(),
        date.0.month(),
        date.0.day()
    )
);

wire_text!(
    DueTime,
    "due_time",
    MetaSchema {
        pattern: Some("^([01][0-9]|2[0-3]):[0-5][0-9]$".to_owned()),
        example: Some(Value::String("09:30".into())),
        ..MetaSchema::new("string")
    },
    |time: &DueTime| DueTime::format(time.0)
);

wire_text!(
    Zone,
    "time_zone",
    MetaSchema {
        example: Some(Value::String("Europe/Berlin".into())),
        min_length: Some(1),
        ..MetaSchema::new("string")
    },
    |zone: &Zone| zone.name().to_owned()
);

#[cfg(test)]
mod tests {
    use super::*;

    fn at(date: &str, time: Option<&str>, zone: &str) -> String {
        let date = DueDate::parse(date).unwrap().0;
        let time = time.map(|t| DueTime::parse(t).unwrap().0);
        due_at(date, time, Zone::parse(zone).unwrap())
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }

    #[test]
    fn a_time_is_read_in_the_zone_and_a_date_alone_ends_at_the_next_midnight() {
        assert_eq!(
            at("2026-07-01", Some("09:30"), "Europe/Berlin"),
            "2026-07-01T07:30:00Z"
        );
        assert_eq!(
            at("2026-01-01", Some("09:30"), "Europe/Berlin"),
            "2026-01-01T08:30:00Z"
        );
        assert_eq!(at("2026-07-01", None, "UTC"), "2026-07-02T00:00:00Z");
        assert_eq!(
            at("2026-07-01", None, "America/New_York"),
            "2026-07-02T04:00:00Z"
        );
        // Links of the database are zones too.
        assert_eq!(
            at("2026-07-01", Some("12:00"), "US/Eastern"),
            "2026-07-01T16:00:00Z"
        );
        assert_eq!(
            at("2026-07-01", Some("12:00"), "Etc/GMT+2"),
            "2026-07-01T14:00:00Z"
        );
    }

    #[test]
    fn a_time_in_a_gap_moves_forward_by_the_gap_and_a_repeated_one_takes_the_first() {
        // Berlin skips 02:00–03:00 on 2026-03-29: 02:30 is 03:30 CEST.
        assert_eq!(
            at("2026-03-29", Some("02:30"), "Europe/Berlin"),
            "2026-03-29T01:30:00Z"
        );
        // and repeats 02:00–03:00 on 2026-10-25: the first 02:30 is CEST.
        assert_eq!(
            at("2026-10-25", Some("02:30"), "Europe/Berlin"),
            "2026-10-25T00:30:00Z"
        );
        // Santiago skips 00:00–01:00 on 2026-09-06: the day before ends at
        // the first instant after the gap (01:00 local, UTC-3).
        assert_eq!(
            at("2026-09-05", None, "America/Santiago"),
            "2026-09-06T04:00:00Z"
        );
    }

    #[test]
    fn only_the_exact_shapes_parse() {
        for bad in [
            "2026-1-05",
            "2026-02-30",
            "26-01-05",
            "2026-01-05T00:00",
            "10000-01-01",
            "0000-01-01",
            "9999-12-31",
        ] {
            assert!(DueDate::parse(bad).is_err(), "{bad}");
        }
        for bad in ["9:30", "24:00", "09:60", "09:30:00", "0930"] {
            assert!(DueTime::parse(bad).is_err(), "{bad}");
        }
        assert!(Zone::parse("europe/berlin").is_err());
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert_eq!(Zone::parse("UTC").unwrap(), Zone::UTC);
    }
}
