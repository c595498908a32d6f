//! `GET /api/tasks`: its query parameters, their limits, and the validated
//! [`ListQuery`] the repository runs.

use std::num::IntErrorKind;

use poem_openapi::Enum;
use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON};
use serde_json::Value;

use super::text_fields::Search;
use crate::change_log::Position;
use crate::http::error::ApiError;
use crate::http::lenient::Lenient;
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
    pub limit: u64,
    pub offset: u64,
}

impl ListQuery {
    /// The `ETag` of this query's answer for `user_id` at `position`: a
    /// digest of the user, where their change feed stands (any write of
    /// theirs moves it) and the query itself. So it changes whenever the
    /// answer may have, can be checked without running the query, and
    /// says nothing of the user or their tasks.
    pub fn etag(&self, user_id: &str, position: &Position) -> String {
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
            "{:?}:{:?}:{:?}:{}:{}",
            self.status, self.sort, self.order, self.limit, self.offset
        ));
        text(self.text.as_deref().unwrap_or("\0none"));
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
const LIST_ETAG_FORMAT: &str = "tasks-list-1";

/// The parameters as parsed, each possibly bad.
pub struct ListParams {
    pub status: Lenient<StatusFilter>,
    pub sort: Lenient<SortKey>,
    pub order: Lenient<SortOrder>,
    pub q: Option<Lenient<Text<Search>>>,
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
