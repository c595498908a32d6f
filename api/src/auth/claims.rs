//! The claims the service reads from a verified token.

use serde::Deserialize;
use serde_json::Value;

use super::error::TokenError;

/// The caller, as a verified token names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`: Better Auth's user id.
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    /// When the token expires (`exp`, seconds since the epoch; jsonwebtoken
    /// has checked it is there and in the future): an event stream ends then.
    pub expires_at: i64,
}

/// Only what identity needs; `exp`, `nbf`, `iss` and `aud` are checked by
/// jsonwebtoken before this is read. Fields are loosely typed so that a
/// token with, say, `"name": null` still verifies.
#[derive(Debug, Deserialize)]
pub(super) struct Claims {
    #[serde(default)]
    sub: Value,
    #[serde(default)]
    email: Value,
    #[serde(default)]
    name: Value,
    #[serde(default)]
    iat: Value,
    #[serde(default)]
    exp: Value,
}

/// The longest `sub` taken as a user id.
pub const MAX_SUBJECT_CHARS: usize = 255;

impl Claims {
    /// When the token says it was issued: `Ok(None)` without an `iat`,
    /// malformed for an `iat` that is not a number (RFC 7519 makes it a
    /// NumericDate): taken as absent, it would skip the future-`iat` check.
    pub(super) fn issued_at(&self) -> Result<Option<i64>, TokenError> {
        match &self.iat {
            Value::Null => Ok(None),
            Value::Number(at) => Ok(at.as_i64().or_else(|| at.as_f64().map(|at| at as i64))),
            _ => Err(TokenError::Malformed),
        }
    }

    /// `None` unless `sub` is a usable user id: a string of 1 to 255
    /// characters with no control characters and no surrounding whitespace.
    /// Anything looser would let one person appear as several users (`"a"`,
    /// `" a"`), or fail to store (PostgreSQL refuses NUL). `email` and
    /// `name` that could not be stored either are treated as absent.
    pub(super) fn into_identity(self) -> Option<Identity> {
        let Value::String(user_id) = self.sub else {
            return None;
        };
        let length = user_id.chars().count();
        if length == 0
            || length > MAX_SUBJECT_CHARS
            || user_id.chars().any(char::is_control)
            || user_id.trim() != user_id
        {
            return None;
        }
        let text = |value: Value| match value {
            Value::String(text) if !text.trim().is_empty() && !text.contains('\0') => Some(text),
            _ => None,
        };
        Some(Identity {
            user_id,
            email: text(self.email),
            name: text(self.name),
            expires_at: self
                .exp
                .as_i64()
                .or_else(|| self.exp.as_f64().map(|at| at as i64))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The identity in `json`'s claims, with an `exp` added (jsonwebtoken
    /// requires one before these are read).
    fn identity(json: &str) -> Option<Identity> {
        let mut claims: Value = serde_json::from_str(json).unwrap();
        claims["exp"] = 2_000_000_000.into();
        serde_json::from_value::<Claims>(claims)
            .unwrap()
            .into_identity()
    }

    #[test]
    fn iat_must_be_a_number_when_present() {
        let issued_at = |json: &str| serde_json::from_str::<Claims>(json).unwrap().issued_at();
        assert_eq!(issued_at(r#"{}"#), Ok(None));
        assert_eq!(issued_at(r#"{"iat": 1700000000}"#), Ok(Some(1_700_000_000)));
        assert_eq!(
            issued_at(r#"{"iat": 1700000000.5}"#),
            Ok(Some(1_700_000_000))
        );
        for bad in [r#""9999999999""#, "true", "[1]", r#"{"at": 1}"#] {
            assert_eq!(
                issued_at(&format!(r#"{{"iat": {bad}}}"#)),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn expiry_is_kept_for_streams() {
        assert_eq!(
            identity(r#"{"sub": "u1"}"#).unwrap().expires_at,
            2_000_000_000
        );
    }

    #[test]
    fn sub_must_be_a_non_blank_string() {
        assert_eq!(identity(r#"{"sub": "u1"}"#).unwrap().user_id, "u1");
        assert!(identity(r#"{}"#).is_none());
        assert!(identity(r#"{"sub": ""}"#).is_none());
        assert!(identity(r#"{"sub": "  "}"#).is_none());
        assert!(identity(r#"{"sub": 42}"#).is_none());
        assert!(identity(r#"{"sub": null}"#).is_none());
    }

    #[test]
    fn sub_has_no_control_characters_or_surrounding_whitespace() {
        for sub in [
            r#""a\u0000b""#,
            r#""a\nb""#,
            r#""a\u007fb""#,
            r#"" a""#,
            r#""a ""#,
            r#""\ta""#,
        ] {
            assert!(identity(&format!(r#"{{"sub": {sub}}}"#)).is_none(), "{sub}");
        }
        assert!(
            identity(r#"{"sub": "a b"}"#).is_some(),
            "inner spaces are fine"
        );
    }

    #[test]
    fn sub_is_at_most_255_characters() {
        let sub = |n: usize| format!(r#"{{"sub": "{}"}}"#, "é".repeat(n));
        assert!(identity(&sub(255)).is_some());
        assert!(identity(&sub(256)).is_none());
    }

    #[test]
    fn unstorable_email_and_name_are_dropped() {
        let id = identity(r#"{"sub": "u1", "email": "a\u0000@b.test", "name": "Ada"}"#).unwrap();
        assert_eq!(id.email, None);
        assert_eq!(id.name.as_deref(), Some("Ada"));
    }

    #[test]
    fn email_and_name_are_optional() {
        let id = identity(r#"{"sub": "u1", "email": "a@b.test", "name": null}"#).unwrap();
        assert_eq!(id.email.as_deref(), Some("a@b.test"));
        assert_eq!(id.name, None);
    }
}
