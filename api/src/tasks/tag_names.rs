//! The rules for tag names, and a task's set of tags as sent.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON};
use serde_json::Value;

use crate::http::json_body::FromJsonField;
use crate::http::scalar_type::scalar_type;

/// At most this many tags per task, counted after duplicates collapse.
pub const MAX_TAGS_PER_TASK: usize = 20;
/// A tag's length, in Unicode scalar values.
pub const MAX_TAG_CHARS: usize = 40;

/// One tag name: trimmed, 1 to [`MAX_TAG_CHARS`] characters, no control
/// character and no comma.
pub fn parse_tag(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    let chars = trimmed.chars().count();
    if chars == 0 || chars > MAX_TAG_CHARS {
        return Err(format!(
            "must be 1 to {MAX_TAG_CHARS} characters after trimming"
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("must not hold control characters".to_owned());
    }
    if trimmed.contains(',') {
        return Err("must not hold a comma".to_owned());
    }
    Ok(trimmed.to_owned())
}

/// The key two spellings of one tag share.
pub fn tag_key(name: &str) -> String {
    entity::task::fold_case(name)
}

/// A task's tags as sent: each valid, duplicates (ignoring case) collapsed
/// to their first spelling, at most [`MAX_TAGS_PER_TASK`], sorted
/// case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet(Vec<String>);

impl TagSet {
    pub fn parse(names: &[Value]) -> Result<Self, String> {
        let mut set: Vec<String> = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let Value::String(name) = name else {
                return Err(format!("tag {} must be a string", i + 1));
            };
            let name = parse_tag(name).map_err(|why| format!("tag {}: {why}", i + 1))?;
            if !set.iter().any(|kept| tag_key(kept) == tag_key(&name)) {
                set.push(name);
            }
        }
        if set.len() > MAX_TAGS_PER_TASK {
            return Err(format!(
                "at most {MAX_TAGS_PER_TASK} different tags per task"
            ));
        }
        Ok(Self::sorted(set))
    }

    /// `names` sorted case-insensitively (then by spelling, so the order
    /// is total).
    pub fn sorted(mut names: Vec<String>) -> Self {
        names.sort_by_cached_key(|name| (tag_key(name), name.clone()));
        Self(names)
    }

    /// The copy a task row keeps: names joined by commas.
    pub fn joined(&self) -> String {
        self.0.join(",")
    }

    /// The names of a task row's copy.
    pub fn split(stored: &str) -> Vec<String> {
        stored
            .split(',')
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }
}

impl FromJsonField for TagSet {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::Array(names) => Self::parse(&names),
            _ => Err("must be an array of tag names".to_owned()),
        }
    }
}

/// A tag name's schema: what [`parse_tag`] accepts, as far as a schema can
/// say it.
pub fn tag_schema() -> MetaSchema {
    MetaSchema {
        min_length: Some(1),
        max_length: Some(MAX_TAG_CHARS),
        pattern: Some("^[^,\\u0000-\\u001f\\u007f-\\u009f]*$".to_owned()),
        ..MetaSchema::new("string")
    }
}

/// One tag name, as a body field: checked by [`parse_tag`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName(pub String);

scalar_type!(TagName, "tag_name", tag_schema());

impl FromJsonField for TagName {
    fn from_json_field(value: Value) -> Result<Self, String> {
        match value {
            Value::String(text) => parse_tag(&text).map(Self),
            _ => Err("must be a string".to_owned()),
        }
    }
}

impl ToJSON for TagName {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

impl ParseFromJSON for TagName {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

scalar_type!(
    TagSet,
    "tag_set",
    MetaSchema {
        items: Some(Box::new(MetaSchemaRef::Inline(Box::new(tag_schema())))),
        max_items: Some(MAX_TAGS_PER_TASK),
        example: Some(serde_json::json!(["errands", "home"])),
        ..MetaSchema::new("array")
    }
);

impl ToJSON for TagSet {
    fn to_json(&self) -> Option<Value> {
        Some(Value::from(self.0.clone()))
    }
}

impl ParseFromJSON for TagSet {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Self::from_json_field(value.unwrap_or_default()).map_err(ParseError::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Vec<String>, String> {
        TagSet::from_json_field(value).map(|set| set.names().to_vec())
    }

    #[test]
    fn tags_are_trimmed_collapsed_to_the_first_spelling_and_sorted_ignoring_case() {
        assert_eq!(
            parse(json!([" work ", "Home", "WORK", "errands"])).unwrap(),
            ["errands", "Home", "work"]
        );
        assert_eq!(parse(json!([])).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn bad_tags_are_refused() {
        for bad in [
            json!(["a,b"]),
            json!(["  "]),
            json!(["a\u{7}"]),
            json!([1]),
            json!("a"),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
        assert!(parse(json!(["é".repeat(40)])).is_ok());
        assert!(parse(json!(["é".repeat(41)])).is_err());
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        let mut same = twenty.clone();
        same.push("T0".into());
        assert!(
            parse(json!(same)).is_ok(),
            "the limit counts after collapsing"
        );
        let mut more = twenty;
        more.push("t20".into());
        assert!(parse(json!(more)).is_err());
    }
}
