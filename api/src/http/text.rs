//! Text inputs and the one rule they all follow: no NUL (PostgreSQL cannot
//! store it), a maximum length counted in characters (Unicode scalar
//! values, not bytes), and, where asked, trimmed and not blank.
//!
//! A field's limits are declared once, as a [`TextRule`]; `Text<Rule>` is
//! the wire type that both checks them and documents them (`maxLength`,
//! `minLength`, and a `pattern` refusing NUL), so the document and the
//! validation cannot drift apart.

use std::marker::PhantomData;

use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON};
use serde_json::Value;

use super::json_body::FromJsonField;
use super::scalar_type::scalar_type;

/// Any text without NUL, as a JSON Schema `pattern` (ECMA-262 syntax).
pub const NO_NUL_PATTERN: &str = r"^[^\x00]*$";

/// The limits of one text field.
pub trait TextRule: Send + Sync + 'static {
    /// The type's name for poem-openapi (the schema itself is inline).
    const NAME: &'static str;
    const MAX_CHARS: usize;
    /// Surrounding whitespace is removed before the checks.
    const TRIMMED: bool = false;
    /// Empty (after trimming) is refused.
    const NON_BLANK: bool = false;

    /// The text as stored, or what is wrong with it.
    fn check(text: String) -> Result<String, String> {
        let text = if Self::TRIMMED {
            text.trim().to_owned()
        } else {
            text
        };
        let chars = text.chars().count();
        if text.contains('\0') {
            Err("must not contain NUL characters".to_owned())
        } else if chars > Self::MAX_CHARS {
            Err(format!(
                "must be at most {} characters (got {chars})",
                Self::MAX_CHARS
            ))
        } else if Self::NON_BLANK && text.is_empty() {
            Err("must not be blank".to_owned())
        } else {
            Ok(text)
        }
    }
}

/// Text that passed rule `R`.
pub struct Text<R> {
    text: String,
    rule: PhantomData<R>,
}

impl<R: TextRule> Text<R> {
    pub fn parse(text: String) -> Result<Self, String> {
        R::check(text).map(|text| Self {
            text,
            rule: PhantomData,
        })
    }

    pub fn into_string(self) -> String {
        self.text
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<R> std::fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.text.fmt(f)
    }
}

impl<R> Clone for Text<R> {
    fn clone(&self) -> Self {
        Self {
            text: self.text.clone(),
            rule: PhantomData,
        }
    }
}

scalar_type!(
    impl<R: TextRule> Text<R>,
    R::NAME,
    MetaSchema {
        max_length: Some(R::MAX_CHARS),
        min_length: R::NON_BLANK.then_some(1),
        pattern: Some(NO_NUL_PATTERN.to_owned()),
        ..MetaSchema::new("string")
    }
);

impl<R: TextRule> ToJSON for Text<R> {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.text.clone()))
    }
}

impl<R: TextRule> FromJsonField for Text<R> {
    fn from_json_field(value: Value) -> Result<Self, String> {
        Self::parse(String::from_json_field(value)?)
    }
}

impl<R: TextRule> ParseFromJSON for Text<R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

impl<R: TextRule> ParseFromParameter for Text<R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Self::parse(value.to_owned()).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem_openapi::registry::MetaSchemaRef;
    use poem_openapi::types::Type;

    enum Name {}
    impl TextRule for Name {
        const NAME: &'static str = "name";
        const MAX_CHARS: usize = 3;
        const TRIMMED: bool = true;
        const NON_BLANK: bool = true;
    }

    enum Note {}
    impl TextRule for Note {
        const NAME: &'static str = "note";
        const MAX_CHARS: usize = 3;
    }

    #[test]
    fn trimmed_rules_count_characters_after_trimming() {
        assert_eq!(Name::check("  éé  ".into()).unwrap(), "éé");
        assert_eq!(Name::check("ééé".into()).unwrap(), "ééé");
        assert!(
            Name::check("éééé".into())
                .unwrap_err()
                .contains("at most 3")
        );
        assert_eq!(Name::check(" \t ".into()).unwrap_err(), "must not be blank");
    }

    #[test]
    fn nul_is_refused_everywhere_and_blank_only_where_asked() {
        assert!(Name::check("a\0".into()).unwrap_err().contains("NUL"));
        assert!(Note::check("a\0".into()).unwrap_err().contains("NUL"));
        assert_eq!(Note::check("  ".into()).unwrap(), "  ");
    }

    #[test]
    fn the_schema_carries_the_limits() {
        let MetaSchemaRef::Inline(schema) = Text::<Name>::schema_ref() else {
            panic!("inline schema")
        };
        assert_eq!((schema.max_length, schema.min_length), (Some(3), Some(1)));
        let MetaSchemaRef::Inline(schema) = Text::<Note>::schema_ref() else {
            panic!("inline schema")
        };
        assert_eq!((schema.max_length, schema.min_length), (Some(3), None));
        assert_eq!(schema.pattern.as_deref(), Some(NO_NUL_PATTERN));
    }
}
