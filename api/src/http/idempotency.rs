//! The `Idempotency-Key` request header: 1 to 255 visible ASCII
//! characters, naming one logical request so that its retries are answered
//! from the first one's response instead of being run again. Its documented
//! schema and its parser share the limits below.

use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromParameter, ParseResult, ToJSON};
use serde_json::Value;

use super::scalar_type::scalar_type;

pub const HEADER: &str = "Idempotency-Key";
const MAX_LEN: usize = 255;
/// Visible ASCII: `!` to `~`.
const PATTERN: &str = "^[!-~]+$";

#[derive(Debug)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

scalar_type!(
    IdempotencyKey,
    "idempotency_key",
    MetaSchema {
        min_length: Some(1),
        max_length: Some(MAX_LEN),
        pattern: Some(PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

impl ParseFromParameter for IdempotencyKey {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        let visible_ascii = value.bytes().all(|byte| byte.is_ascii_graphic());
        if value.is_empty() || value.len() > MAX_LEN || !visible_ascii {
            return Err(ParseError::custom(format!(
                "must be 1 to {MAX_LEN} visible ASCII characters"
            )));
        }
        Ok(Self(value.to_owned()))
    }
}

impl ToJSON for IdempotencyKey {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_short_visible_ascii() {
        let key = IdempotencyKey::parse_from_parameter("retry-7f3a:1").unwrap();
        assert_eq!(key.as_str(), "retry-7f3a:1");
        assert!(IdempotencyKey::parse_from_parameter(&"k".repeat(255)).is_ok());
        for bad in ["", "has space", "tab\t", "é", &"k".repeat(256)] {
            assert!(
                IdempotencyKey::parse_from_parameter(bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
