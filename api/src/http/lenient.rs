//! Query parameters that report every bad value at once.
//!
//! poem-openapi stops at the first parameter it cannot parse. `Lenient<T>`
//! instead keeps a bad value as its error message, so the handler can name
//! every bad parameter in one 422, while the document still shows `T`'s
//! real schema (its enum, range or length).

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::problem::FieldError;

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
