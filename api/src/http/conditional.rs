//! Conditional requests (RFC 9110 §13) over versioned resources: a task's
//! strong `ETag` is its version in quotes, so `If-Match` reduces to
//! comparing versions, which the repository does in the same SQL statement
//! as the write. (A list's `ETag` is made in `tasks::list_query`.)

use poem_openapi::registry::MetaSchema;
use poem_openapi::types::{ParseFromParameter, ParseResult};

use super::scalar_type::scalar_type;

/// The `ETag` of a resource at `version`.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// What an `If-Match` header asks for; documented as a plain string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version (the resource must exist).
    Any,
    /// One of these versions. Weak and malformed tags never match, so this
    /// may be empty, and then nothing matches.
    OneOf(Vec<i32>),
}

impl IfMatch {
    pub fn parse(header: &str) -> Self {
        let header = header.trim();
        if header == "*" {
            return Self::Any;
        }
        // If-Match uses the strong comparison: weak tags never match.
        Self::OneOf(
            tags(header)
                .filter(|tag| !tag.starts_with("W/"))
                .filter_map(version_of)
                .collect(),
        )
    }
}

scalar_type!(IfMatch, "if_match", MetaSchema::new("string"));

impl ParseFromParameter for IfMatch {
    /// Never fails: a tag this service did not make simply never matches.
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self::parse(value))
    }
}

/// Whether an `If-None-Match` header matches the current `etag`, so a `GET`
/// can answer 304. The weak comparison applies: `W/"3"` matches `"3"`.
pub fn none_match(header: Option<&str>, etag: &str) -> bool {
    let Some(header) = header.map(str::trim) else {
        return false;
    };
    header == "*"
        || tags(header)
            .map(|tag| tag.strip_prefix("W/").unwrap_or(tag))
            .any(|tag| tag == etag)
}

fn tags(header: &str) -> impl Iterator<Item = &str> {
    header
        .split(',')
        .map(str::trim)
        .filter(|tag| !tag.is_empty())
}

/// The version a strong tag `"N"` names.
fn version_of(tag: &str) -> Option<i32> {
    tag.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_star_or_strong_tags() {
        assert_eq!(IfMatch::parse(" * "), IfMatch::Any);
        assert_eq!(
            IfMatch::parse(r#""3", W/"4" ,"5", bogus, "x""#),
            IfMatch::OneOf(vec![3, 5])
        );
        assert_eq!(IfMatch::parse("3"), IfMatch::OneOf(vec![]));
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match(Some(r#""2", W/"3""#), &etag(3)));
        assert!(none_match(Some("*"), &etag(1)));
        assert!(!none_match(Some(r#""2""#), &etag(3)));
        assert!(!none_match(None, &etag(3)));
        assert!(none_match(Some(r#""l-ab""#), r#""l-ab""#));
        assert_eq!(etag(7), r#""7""#);
    }
}
