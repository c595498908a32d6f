//! `GET /api/tasks`: its query parameters, their limits, and the validated
//! [`ListQuery`] the repository runs.

use std::num::IntErrorKind;

use poem_openapi::Enum;
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON};
use serde_json::Value;

use chrono::{DateTime, Utc};

use super::priority::{PRIORITY_WORDS, Priority};
use super::tag_names::{parse_tag, tag_key, tag_schema};
use super::text_fields::Search;
use crate::change_log::Position;
use crate::http::error::ApiError;
use crate::http::lenient::Lenient;
use crate::http::problem::FieldError;
use crate::http::scalar_type::scalar_type;
use crate::http::text::Text;

pub const DEFAULT_LIMIT: u64 = 100;
pub const MAX_LIMIT: u64 = 500;

/// Which tasks `GET /api/tasks` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum StatusFilter {
    #[default]
    All,
    Pending,
    Completed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortKey {
    #[default]
    CreatedAt,
    UpdatedAt,
    Title,
    /// Tasks without a due date last, in both orders.
    DueAt,
    /// `desc`: high first.
    Priority,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// A validated list request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub status: StatusFilter,
    pub sort: SortKey,
    pub order: SortOrder,
    /// Text to find; `None` when absent or empty.
    pub text: Option<String>,
    /// Any of these priorities; empty: any.
    pub priorities: Vec<Priority>,
    /// Keys of tags a task must all carry.
    pub tags: Vec<String>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
    pub overdue: Option<bool>,
    pub has_due: Option<bool>,
    pub limit: u64,
    pub offset: u64,
}

impl ListQuery {
    /// The `ETag` of this query's answer for `user_id` at `position`: a
    /// digest of the user, where their change feed stands (any write of
    /// theirs moves it) and the query itself. So it changes whenever the
    /// answer may have, can be checked without running the query, and
    /// says nothing of the user or their tasks.
    ///
    /// `overdue` also depends on the clock: such a query's tag is checked
    /// against the page it read (`clock`: the ids and versions it holds,
    /// and the total), never without reading it.
    pub fn etag(&self, user_id: &str, position: &Position, clock: Option<String>) -> String {
        use sha2::{Digest, Sha256};
        let mut digest = Sha256::new();
        // Length-prefixed text, so no two inputs run together the same way.
        let mut text = |text: &str| {
            digest.update((text.len() as u64).to_be_bytes());
            digest.update(text.as_bytes());
        };
        text(LIST_ETAG_FORMAT);
        text(user_id);
        text(&format!("{}:{}", position.epoch, position.head));
        text(&format!(
            "{:?}:{:?}:{:?}:{}:{}:{:?}:{:?}:{:?}:{:?}:{:?}",
            self.status,
            self.sort,
            self.order,
            self.limit,
            self.offset,
            self.priorities,
            self.due_before,
            self.due_after,
            self.overdue,
            self.has_due,
        ));
        text(self.text.as_deref().unwrap_or("\0none"));
        for tag in &self.tags {
            text(tag);
        }
        if let Some(clock) = clock {
            text(&clock);
        }
        let digest = digest.finalize();
        let hex: String = digest[..16]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("\"l-{hex}\"")
    }
}

/// Changed whenever a list's rendering changes, so tags made before no
/// longer match.
const LIST_ETAG_FORMAT: &str = "tasks-list-2";

/// The parameters as parsed, each possibly bad.
pub struct ListParams {
    pub status: Lenient<StatusFilter>,
    pub sort: Lenient<SortKey>,
    pub order: Lenient<SortOrder>,
    pub q: Option<Lenient<Text<Search>>>,
    pub priority: Option<Lenient<PriorityFilter>>,
    pub tag: Vec<TagParam>,
    pub due_before: Option<Lenient<Instant>>,
    pub due_after: Option<Lenient<Instant>>,
    pub overdue: Option<Lenient<Flag>>,
    pub has_due: Option<Lenient<Flag>>,
    pub limit: Lenient<PageLimit>,
    pub offset: Lenient<PageOffset>,
}

impl ListParams {
    /// The query, or one 422 naming every bad parameter.
    pub fn validate(self) -> Result<ListQuery, ApiError> {
        let mut errors = Vec::new();
        let status = self.status.check("status", &mut errors);
        let sort = self.sort.check("sort", &mut errors);
        let order = self.order.check("order", &mut errors);
        let text = self.q.and_then(|q| q.check("q", &mut errors));
        let priorities = self
            .priority
            .and_then(|p| p.check("priority", &mut errors))
            .map(|p| p.0)
            .unwrap_or_default();
        let mut tags = Vec::new();
        for TagParam(tag) in &self.tag {
            match parse_tag(tag) {
                Ok(tag) => tags.push(tag_key(&tag)),
                Err(why) => errors.push(FieldError::new("tag", why)),
            }
        }
        tags.sort();
        tags.dedup();
        let due_before = self
            .due_before
            .and_then(|at| at.check("due_before", &mut errors));
        let due_after = self
            .due_after
            .and_then(|at| at.check("due_after", &mut errors));
        let overdue = self.overdue.and_then(|f| f.check("overdue", &mut errors));
        let has_due = self.has_due.and_then(|f| f.check("has_due", &mut errors));
        let limit = self.limit.check("limit", &mut errors);
        let offset = self.offset.check("offset", &mut errors);
        let (Some(status), Some(sort), Some(order), Some(limit), Some(offset), true) =
            (status, sort, order, limit, offset, errors.is_empty())
        else {
            return Err(ApiError::Validation(errors));
        };
        Ok(ListQuery {
            status,
            sort,
            order,
            text: text.map(Text::into_string).filter(|text| !text.is_empty()),
            priorities,
            tags,
            due_before: due_before.map(|at| at.0),
            due_after: due_after.map(|at| at.0),
            overdue: overdue.map(|f| f.0),
            has_due: has_due.map(|f| f.0),
            limit: limit.0,
            // Past i64::MAX no database has rows; clamp instead of overflowing SQL.
            offset: offset.0.min(i64::MAX as u64),
        })
    }
}

pub fn default_limit() -> Lenient<PageLimit> {
    Lenient::valid(PageLimit(DEFAULT_LIMIT))
}

/// `limit`: the page size, 1 to [`MAX_LIMIT`].
pub struct PageLimit(pub u64);

/// `offset`: how many matches to skip, 0 or more.
#[derive(Default)]
pub struct PageOffset(pub u64);

scalar_type!(
    PageLimit,
    "page_limit",
    MetaSchema {
        format: Some("uint64"),
        minimum: Some(1.0),
        maximum: Some(MAX_LIMIT as f64),
        ..MetaSchema::new("integer")
    }
);

scalar_type!(
    PageOffset,
    "page_offset",
    MetaSchema {
        format: Some("uint64"),
        minimum: Some(0.0),
        ..MetaSchema::new("integer")
    }
);

impl ParseFromParameter for PageLimit {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse::<u64>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(Self(limit)),
            _ => Err(ParseError::custom(format!(
                "must be an integer from 1 to {MAX_LIMIT}"
            ))),
        }
    }
}

impl ToJSON for PageLimit {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

impl ParseFromParameter for PageOffset {
    /// Any integer of 0 or more: one past every row (even past `u64`) is
    /// simply an empty page.
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value.parse() {
            Ok(offset) => Ok(Self(offset)),
            Err(err) if *err.kind() == IntErrorKind::PosOverflow => Ok(Self(u64::MAX)),
            Err(_) => Err(ParseError::custom("must be an integer of 0 or more")),
        }
    }
}

impl ToJSON for PageOffset {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

/// `priority`: comma-separated levels, each at most once.
pub struct PriorityFilter(pub Vec<Priority>);

scalar_type!(
    PriorityFilter,
    "priority_filter",
    MetaSchema {
        pattern: Some("^(none|low|medium|high)(,(none|low|medium|high))*$".to_owned()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for PriorityFilter {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        let mut levels = Vec::new();
        for word in value.split(',') {
            let Some(level) = Priority::parse(word) else {
                return Err(ParseError::custom(format!(
                    "must be levels separated by commas, each one of: {PRIORITY_WORDS}"
                )));
            };
            if !levels.contains(&level) {
                levels.push(level);
            }
        }
        levels.sort();
        Ok(Self(levels))
    }
}

impl ToJSON for PriorityFilter {
    fn to_json(&self) -> Option<Value> {
        let words: Vec<&str> = self.0.iter().map(|p| p.word()).collect();
        Some(Value::String(words.join(",")))
    }
}

/// `due_before`, `due_after`: an RFC 3339 date-time with any offset.
pub struct Instant(pub DateTime<Utc>);

scalar_type!(
    Instant,
    "instant",
    MetaSchema {
        format: Some("date-time"),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for Instant {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        use chrono::Datelike;
        match DateTime::parse_from_rfc3339(value).map(|at| at.to_utc()) {
            // Within the years a due date can have, so every database
            // stores the bound as it compares it.
            Ok(at) if (1..=9999).contains(&at.year()) => Ok(Self(at)),
            _ => Err(ParseError::custom(
                "must be an RFC 3339 date-time with an offset, such as 2026-12-24T18:00:00Z, \
                 in the years 0001 to 9999",
            )),
        }
    }
}

impl ToJSON for Instant {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.to_rfc3339()))
    }
}

/// `overdue`, `has_due`: `true` or `false`, exactly.
pub struct Flag(pub bool);

scalar_type!(Flag, "flag", MetaSchema::new("boolean"));

impl ParseFromParameter for Flag {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match value {
            "true" => Ok(Self(true)),
            "false" => Ok(Self(false)),
            _ => Err(ParseError::custom("must be true or false")),
        }
    }
}

impl ToJSON for Flag {
    fn to_json(&self) -> Option<Value> {
        Some(Value::Bool(self.0))
    }
}

/// One `tag` value as sent; checked by the tag rules in
/// [`ListParams::validate`], so every bad one is reported with the rest.
pub struct TagParam(pub String);

scalar_type!(TagParam, "tag_name", tag_schema());

impl ParseFromParameter for TagParam {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(value.to_owned()))
    }
}

impl ToJSON for TagParam {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}
