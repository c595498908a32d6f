//! Recurring series: the contract's subset of RFC 5545 `RRULE`, read
//! strictly and answered in canonical form, and a series' next occurrence,
//! expanded by the `rrule` crate rather than by date arithmetic of our own.
//!
//! A series is expanded in floating local time from its anchor (the due
//! date and time the task had when the rule was set), so "every day at
//! 09:00" stays at 09:00 on the wall clock across daylight-saving changes;
//! each occurrence's instant is then read in the task's zone by
//! [`due::due_at`](super::due::due_at), gaps and repeats included.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};
use serde_json::Value;

use super::due::{self, Zone};
use crate::http::json_body::FromJsonField;
use crate::http::scalar_type::scalar_type;

/// The longest rule text read: far more than any rule of the subset needs.
pub const MAX_RULE_CHARS: usize = 500;
/// `INTERVAL`'s largest value.
const MAX_INTERVAL: u16 = 999;
/// Occurrences expanded at most while looking for the next one: a rule
/// that matches no day this far out (`BYMONTHDAY=31;INTERVAL=12` from
/// April) has no next occurrence.
const MAX_EXPANDED: usize = 100_000;

/// A rule of the subset, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recurrence {
    freq: Frequency,
    interval: u16,
    by_day: Vec<(Option<i8>, Weekday)>,
    by_month_day: Vec<i8>,
    end: End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frequency {
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Never,
    Count(u32),
    /// The last day, inclusive, in the task's zone.
    UntilDate(NaiveDate),
    /// The last instant, inclusive.
    UntilInstant(DateTime<Utc>),
}

const WEEKDAYS: [(&str, Weekday); 7] = [
    ("MO", Weekday::Mon),
    ("TU", Weekday::Tue),
    ("WE", Weekday::Wed),
    ("TH", Weekday::Thu),
    ("FR", Weekday::Fri),
    ("SA", Weekday::Sat),
    ("SU", Weekday::Sun),
];

impl Recurrence {
    /// Reads a rule: parts separated by `;`, names case-insensitive, each
    /// at most once; anything outside the subset is refused, saying why.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.chars().count() > MAX_RULE_CHARS {
            return Err(format!("must be at most {MAX_RULE_CHARS} characters"));
        }
        if text
            .get(..6)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("RRULE:"))
        {
            return Err("must be the rule's value, without the `RRULE:` prefix".to_owned());
        }
        let mut freq = None;
        let mut interval = None;
        let mut by_day = None;
        let mut by_month_day = None;
        let mut count = None;
        let mut until = None;
        for part in text.split(';') {
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("`{part}` is not a NAME=VALUE part"));
            };
            let name = name.to_ascii_uppercase();
            let value = value.to_ascii_uppercase();
            let fresh = match name.as_str() {
                "FREQ" => freq.replace(parse_frequency(&value)?).is_none(),
                "INTERVAL" => interval.replace(parse_interval(&value)?).is_none(),
                "BYDAY" => by_day.replace(parse_by_day(&value)?).is_none(),
                "BYMONTHDAY" => by_month_day.replace(parse_by_month_day(&value)?).is_none(),
                "COUNT" => count.replace(parse_count(&value)?).is_none(),
                "UNTIL" => until.replace(parse_until(&value)?).is_none(),
                _ => {
                    return Err(format!(
                        "`{name}` is not supported: use FREQ, INTERVAL, BYDAY, BYMONTHDAY, \
                         COUNT or UNTIL"
                    ));
                }
            };
            if !fresh {
                return Err(format!("`{name}` is given twice"));
            }
        }
        let freq = freq.ok_or("needs FREQ (DAILY, WEEKLY, MONTHLY or YEARLY)")?;
        let by_day: Vec<(Option<i8>, Weekday)> = by_day.unwrap_or_default();
        let by_month_day: Vec<i8> = by_month_day.unwrap_or_default();
        let ordinals = by_day.iter().filter(|(n, _)| n.is_some()).count();
        match freq {
            Frequency::Monthly if ordinals < by_day.len() => {
                return Err("BYDAY with MONTHLY needs an ordinal on each day (1MO, -1FR)".into());
            }
            Frequency::Daily | Frequency::Weekly if ordinals > 0 => {
                return Err("BYDAY ordinals (1MO, -1FR) go only with MONTHLY".into());
            }
            Frequency::Yearly if !by_day.is_empty() => {
                return Err("BYDAY goes only with DAILY, WEEKLY or MONTHLY".into());
            }
            _ => {}
        }
        if freq != Frequency::Monthly && !by_month_day.is_empty() {
            return Err("BYMONTHDAY goes only with MONTHLY".into());
        }
        let end = match (count, until) {
            (Some(_), Some(_)) => return Err("COUNT and UNTIL cannot both be given".into()),
            (Some(count), None) => End::Count(count),
            (None, Some(until)) => until,
            (None, None) => End::Never,
        };
        let rule = Self {
            freq,
            interval: interval.unwrap_or(1),
            by_day,
            by_month_day,
            end,
        };
        // What the expanding crate would refuse is refused now, not when
        // the task is completed.
        rule.occurrences(epoch())
            .map_err(|why| format!("cannot be expanded: {why}"))?;
        Ok(rule)
    }

    /// The canonical form: upper case, parts in the order FREQ, INTERVAL,
    /// BYDAY, BYMONTHDAY, COUNT, UNTIL, with `INTERVAL=1` left out.
    pub fn canonical(&self) -> String {
        let mut parts = vec![format!(
            "FREQ={}",
            match self.freq {
                Frequency::Daily => "DAILY",
                Frequency::Weekly => "WEEKLY",
                Frequency::Monthly => "MONTHLY",
                Frequency::Yearly => "YEARLY",
            }
        )];
        if self.interval != 1 {
            parts.push(format!("INTERVAL={}", self.interval));
        }
        if !self.by_day.is_empty() {
            let days: Vec<String> = self
                .by_day
                .iter()
                .map(|(n, day)| {
                    let name = WEEKDAYS
                        .iter()
                        .find(|(_, d)| d == day)
                        .map_or("MO", |(name, _)| name);
                    match n {
                        Some(n) => format!("{n}{name}"),
                        None => name.to_string(),
                    }
                })
                .collect();
            parts.push(format!("BYDAY={}", days.join(",")));
        }
        if !self.by_month_day.is_empty() {
            let days: Vec<String> = self.by_month_day.iter().map(i8::to_string).collect();
            parts.push(format!("BYMONTHDAY={}", days.join(",")));
        }
        match self.end {
            End::Never => {}
            End::Count(count) => parts.push(format!("COUNT={count}")),
            End::UntilDate(date) => parts.push(format!("UNTIL={}", date.format("%Y%m%d"))),
            End::UntilInstant(at) => parts.push(format!("UNTIL={}", at.format("%Y%m%dT%H%M%SZ"))),
        }
        parts.join(";")
    }

    /// The day of the series' next occurrence after the one due on
    /// `current`: the series starts at `anchor` (at `time`, or the start of
    /// the day for an all-day task) and is read in `zone`. `None` when the
    /// series has ended (`COUNT` or `UNTIL` reached) or never matches again.
    pub fn next_after(
        &self,
        anchor: NaiveDate,
        time: Option<NaiveTime>,
        zone: Zone,
        current: NaiveDate,
    ) -> Option<NaiveDate> {
        let time = time.unwrap_or(NaiveTime::MIN);
        let set = self.occurrences(anchor.and_time(time)).ok()?;
        let next = set
            .into_iter()
            .take(MAX_EXPANDED)
            .map(|at| at.naive_local().date())
            .find(|&date| date > current)?;
        let within = match self.end {
            End::UntilDate(last) => next <= last,
            End::UntilInstant(last) => due::due_at(next, Some(time), zone) <= last,
            End::Never | End::Count(_) => true,
        };
        within.then_some(next)
    }

    /// The series from `start`, in floating time (the crate's UTC stands
    /// for the task's wall clock). `UNTIL` is applied by [`Self::next_after`]
    /// in the task's zone, so the crate is not told it.
    fn occurrences(&self, start: NaiveDateTime) -> Result<rrule::RRuleSet, rrule::RRuleError> {
        use rrule::{Frequency as F, NWeekday, RRule, Tz};
        let mut rule = RRule::new(match self.freq {
            Frequency::Daily => F::Daily,
            Frequency::Weekly => F::Weekly,
            Frequency::Monthly => F::Monthly,
            Frequency::Yearly => F::Yearly,
        })
        .interval(self.interval);
        if !self.by_day.is_empty() {
            rule = rule.by_weekday(
                self.by_day
                    .iter()
                    .map(|&(n, day)| NWeekday::new(n.map(i16::from), day))
                    .collect(),
            );
        }
        if !self.by_month_day.is_empty() {
            rule = rule.by_month_day(self.by_month_day.clone());
        }
        if let End::Count(count) = self.end {
            rule = rule.count(count);
        }
        rule.build(start.and_utc().with_timezone(&Tz::UTC))
    }
}

/// A start the crate accepts for the check at parse time.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .expect("a valid date")
        .and_time(NaiveTime::MIN)
}

fn parse_frequency(value: &str) -> Result<Frequency, String> {
    match value {
        "DAILY" => Ok(Frequency::Daily),
        "WEEKLY" => Ok(Frequency::Weekly),
        "MONTHLY" => Ok(Frequency::Monthly),
        "YEARLY" => Ok(Frequency::Yearly),
        _ => Err("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY".into()),
    }
}

/// Digits only: no sign, no space.
fn digits<T: std::str::FromStr>(value: &str) -> Option<T> {
    let plain = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    plain.then(|| value.parse().ok()).flatten()
}

fn parse_interval(value: &str) -> Result<u16, String> {
    digits(value)
        .filter(|n| (1..=MAX_INTERVAL).contains(n))
        .ok_or_else(|| format!("INTERVAL must be 1 to {MAX_INTERVAL}"))
}

fn parse_count(value: &str) -> Result<u32, String> {
    digits(value)
        .filter(|&n: &u32| n >= 1)
        .ok_or_else(|| "COUNT must be a whole number, 1 or more".into())
}

fn parse_until(value: &str) -> Result<End, String> {
    let wrong = || "UNTIL must be a date (20271231) or a UTC date-time (20271231T235959Z)".into();
    match value.len() {
        8 if digits::<u32>(value).is_some() => NaiveDate::parse_from_str(value, "%Y%m%d")
            .map(End::UntilDate)
            .map_err(|_| wrong()),
        16 if value.ends_with('Z') => NaiveDateTime::parse_from_str(value, "%Y%m%dT%H%M%SZ")
            .map(|at| End::UntilInstant(at.and_utc()))
            .map_err(|_| wrong()),
        _ => Err(wrong()),
    }
}

fn parse_by_day(value: &str) -> Result<Vec<(Option<i8>, Weekday)>, String> {
    let wrong = |day: &str| {
        format!("BYDAY `{day}` must be MO…SU, with an ordinal 1 to 5 or -1 to -5 for MONTHLY")
    };
    let mut days = Vec::new();
    for day in value.split(',') {
        if day.len() < 2 || !day.is_char_boundary(day.len() - 2) {
            return Err(wrong(day));
        }
        let (ordinal, name) = day.split_at(day.len() - 2);
        let weekday = WEEKDAYS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, d)| d)
            .ok_or_else(|| wrong(day))?;
        let ordinal = match ordinal {
            "" => None,
            signed => {
                let (negative, magnitude) = match signed.as_bytes()[0] {
                    b'-' => (true, &signed[1..]),
                    b'+' => (false, &signed[1..]),
                    _ => (false, signed),
                };
                let n: i8 = digits(magnitude)
                    .filter(|n| (1..=5).contains(n))
                    .ok_or_else(|| wrong(day))?;
                Some(if negative { -n } else { n })
            }
        };
        if days.contains(&(ordinal, weekday)) {
            return Err(format!("BYDAY names `{day}` twice"));
        }
        days.push((ordinal, weekday));
    }
    Ok(days)
}

fn parse_by_month_day(value: &str) -> Result<Vec<i8>, String> {
    let mut days = Vec::new();
    for day in value.split(',') {
        let (negative, magnitude) = match day.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, day.strip_prefix('+').unwrap_or(day)),
        };
        let n: i8 = digits(magnitude)
            .filter(|n| (1..=31).contains(n))
            .ok_or_else(|| format!("BYMONTHDAY `{day}` must be 1 to 31 or -1 to -31"))?;
        let n = if negative { -n } else { n };
        if days.contains(&n) {
            return Err(format!("BYMONTHDAY names `{day}` twice"));
        }
        days.push(n);
    }
    Ok(days)
}

impl FromJsonField for Recurrence {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => Self::parse(&text),
            _ => Err("must be an RRULE value such as FREQ=WEEKLY;BYDAY=MO,WE".into()),
        }
    }
}

scalar_type!(
    Recurrence,
    "recurrence",
    MetaSchema {
        description: Some(
            "An RFC 5545 RRULE value (no `RRULE:` prefix): FREQ (DAILY, WEEKLY, MONTHLY, \
             YEARLY), INTERVAL (1 to 999), BYDAY (MO…SU; with an ordinal such as 1MO or -1FR \
             for MONTHLY), BYMONTHDAY (MONTHLY), COUNT or UNTIL. Answered in canonical form."
        ),
        max_length: Some(MAX_RULE_CHARS),
        min_length: Some(1),
        example: Some(Value::String("FREQ=WEEKLY;BYDAY=MO,WE".into())),
        ..MetaSchema::new("string")
    }
);

impl ToJSON for Recurrence {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.canonical()))
    }
}

impl ParseFromJSON for Recurrence {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canonical(text: &str) -> String {
        Recurrence::parse(text).unwrap().canonical()
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn next(rule: &str, anchor: &str, current: &str) -> Option<String> {
        Recurrence::parse(rule)
            .unwrap()
            .next_after(
                date(anchor),
                NaiveTime::from_hms_opt(9, 0, 0),
                Zone::parse("Europe/Berlin").unwrap(),
                date(current),
            )
            .map(|d| d.to_string())
    }

    #[test]
    fn rules_are_answered_in_canonical_form() {
        assert_eq!(
            canonical("freq=weekly;byday=mo,we"),
            "FREQ=WEEKLY;BYDAY=MO,WE"
        );
        assert_eq!(
            canonical("COUNT=3;INTERVAL=2;FREQ=DAILY"),
            "FREQ=DAILY;INTERVAL=2;COUNT=3"
        );
        assert_eq!(canonical("FREQ=DAILY;INTERVAL=1"), "FREQ=DAILY");
        assert_eq!(
            canonical("UNTIL=20271231;BYMONTHDAY=1,-1;BYDAY=+1MO,-1fr;FREQ=MONTHLY"),
            "FREQ=MONTHLY;BYDAY=1MO,-1FR;BYMONTHDAY=1,-1;UNTIL=20271231"
        );
        assert_eq!(
            canonical("FREQ=YEARLY;UNTIL=20271231T235959z"),
            "FREQ=YEARLY;UNTIL=20271231T235959Z"
        );
    }

    #[test]
    fn anything_outside_the_subset_is_refused() {
        for bad in [
            "",
            "RRULE:FREQ=DAILY",
            "FREQ=HOURLY",
            "FREQ=DAILY;FREQ=DAILY",
            "FREQ=DAILY;WKST=MO",
            "FREQ=MONTHLY;BYSETPOS=1",
            "FREQ=DAILY;INTERVAL=0",
            "FREQ=DAILY;INTERVAL=1000",
            "FREQ=DAILY;INTERVAL=+2",
            "FREQ=DAILY;COUNT=0",
            "FREQ=DAILY;COUNT=2;UNTIL=20271231",
            "FREQ=DAILY;UNTIL=2027-12-31",
            "FREQ=DAILY;UNTIL=20271231T235959",
            "FREQ=WEEKLY;BYDAY=1MO",
            "FREQ=MONTHLY;BYDAY=MO",
            "FREQ=MONTHLY;BYDAY=6MO",
            "FREQ=YEARLY;BYDAY=MO",
            "FREQ=WEEKLY;BYMONTHDAY=1",
            "FREQ=MONTHLY;BYMONTHDAY=0",
            "FREQ=MONTHLY;BYMONTHDAY=32",
            "FREQ=WEEKLY;BYDAY=MO,MO",
            "FREQ=WEEKLY;BYDAY=XX",
            "FREQ=WEEKLY;BYDAY=",
            "FREQ=DAILY;",
            "INTERVAL=2",
            "\u{7}7\u{cc}\u{91}",
            "é;FREQ=DAILY",
            "FREQ=DAILY;BYDAY=é",
        ] {
            assert!(Recurrence::parse(bad).is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn the_next_occurrence_follows_the_rule_from_the_anchor() {
        assert_eq!(
            next("FREQ=DAILY", "2026-12-06", "2026-12-06").as_deref(),
            Some("2026-12-07")
        );
        // 2026-12-07 is a Monday.
        assert_eq!(
            next("FREQ=WEEKLY;BYDAY=MO,WE", "2026-12-07", "2026-12-07").as_deref(),
            Some("2026-12-09")
        );
        assert_eq!(
            next("FREQ=MONTHLY;BYDAY=-1FR", "2026-12-25", "2026-12-25").as_deref(),
            Some("2027-01-29")
        );
        assert_eq!(
            next("FREQ=MONTHLY;BYMONTHDAY=-1", "2026-01-31", "2026-01-31").as_deref(),
            Some("2026-02-28")
        );
        assert_eq!(
            next("FREQ=YEARLY", "2024-02-29", "2024-02-29").as_deref(),
            Some("2028-02-29")
        );
    }

    #[test]
    fn count_and_until_end_the_series() {
        assert_eq!(
            next("FREQ=DAILY;COUNT=3", "2026-12-06", "2026-12-07").as_deref(),
            Some("2026-12-08")
        );
        assert_eq!(next("FREQ=DAILY;COUNT=3", "2026-12-06", "2026-12-08"), None);
        assert_eq!(
            next("FREQ=DAILY;UNTIL=20261208", "2026-12-06", "2026-12-07").as_deref(),
            Some("2026-12-08")
        );
        assert_eq!(
            next("FREQ=DAILY;UNTIL=20261208", "2026-12-06", "2026-12-08"),
            None
        );
        // 09:00 in Berlin is 08:00Z: an UNTIL of 07:59Z that day excludes it.
        assert_eq!(
            next(
                "FREQ=DAILY;UNTIL=20261208T075900Z",
                "2026-12-06",
                "2026-12-07"
            ),
            None
        );
        assert_eq!(
            next(
                "FREQ=DAILY;UNTIL=20261208T080000Z",
                "2026-12-06",
                "2026-12-07"
            )
            .as_deref(),
            Some("2026-12-08")
        );
    }

    #[test]
    fn a_rule_that_never_matches_again_has_no_next_occurrence() {
        assert_eq!(
            next(
                "FREQ=MONTHLY;INTERVAL=12;BYMONTHDAY=31",
                "2026-04-30",
                "2026-04-30"
            ),
            None
        );
    }
}
