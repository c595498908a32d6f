//! The query parameters of `GET /api/tasks`.
//!
//! Each one parses leniently, keeping a bad value as an error, so a single
//! 422 names every bad parameter (poem-openapi would stop at the first). The
//! document still shows each parameter's real schema: its enum, range or
//! length.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::model::text_problem;
use crate::problem::FieldError;
use crate::scalar_type::scalar_type;

pub const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 500;
const SEARCH_MAX_CHARS: usize = 200;

/// A parameter value, or why it is invalid.
pub struct Lenient<T>(Result<T, String>);

impl<T> Lenient<T> {
    pub fn valid(value: T) -> Self {
        Self(Ok(value))
    }

    /// The value, or `None` after recording why parameter `name` is bad.
    pub fn check(self, name: &str, errors: &mut Vec<FieldError>) -> Option<T> {
        self.0
            .map_err(|message| errors.push(FieldError::new(name, message)))
            .ok()
    }
}

impl<T: Default> Default for Lenient<T> {
    fn default() -> Self {
        Self::valid(T::default())
    }
}

impl<T: Type> Type for Lenient<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().ok().and_then(Type::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        match &self.0 {
            Ok(value) => value.raw_element_iter(),
            Err(_) => Box::new(std::iter::empty()),
        }
    }
}

impl<T: ParseFromParameter> ParseFromParameter for Lenient<T> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(T::parse_from_parameter(value).map_err(explain::<T>)))
    }
}

/// A message for the client: the allowed values of an enum, else the reason
/// without poem-openapi's `failed to parse "<type>"` prefix.
fn explain<T: Type>(err: ParseError<T>) -> String {
    let mut registry = Registry::new();
    T::register(&mut registry);
    let allowed: Vec<&str> = registry
        .schemas
        .get(T::name().as_ref())
        .map(|schema| schema.enum_items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !allowed.is_empty() {
        return format!("must be one of: {}", allowed.join(", "));
    }
    let message = err.into_message();
    match message.split_once("\": ") {
        Some((_, reason)) => reason.to_owned(),
        None => message,
    }
}

impl<T: ToJSON> ToJSON for Lenient<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.as_ref().ok().and_then(ToJSON::to_json)
    }
}

/// `limit`: the page size, 1 to 500.
pub struct PageLimit(pub u64);

/// `offset`: how many matches to skip, 0 or more.
#[derive(Default)]
pub struct PageOffset(pub u64);

/// `q`: text to find, at most 200 characters, without NUL.
pub struct SearchText(pub String);

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

scalar_type!(
    SearchText,
    "search_text",
    MetaSchema {
        max_length: Some(SEARCH_MAX_CHARS),
        ..MetaSchema::new("string")
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
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        value
            .parse()
            .map(Self)
            .map_err(|_| ParseError::custom("must be an integer of 0 or more"))
    }
}

impl ToJSON for PageOffset {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0))
    }
}

impl ParseFromParameter for SearchText {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        match text_problem(value, SEARCH_MAX_CHARS) {
            Some(problem) => Err(ParseError::custom(problem)),
            None => Ok(Self(value.to_owned())),
        }
    }
}

impl ToJSON for SearchText {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}
