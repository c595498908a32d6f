//! The claims the service reads from a verified token.

use serde::Deserialize;
use serde_json::Value;

/// The caller, as a verified token names them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The token's `sub`: Better Auth's user id.
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
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
}

impl Claims {
    /// `None` when `sub` is missing, not a string, or blank.
    pub(super) fn into_identity(self) -> Option<Identity> {
        let text = |value: Value| match value {
            Value::String(text) if !text.trim().is_empty() => Some(text),
            _ => None,
        };
        Some(Identity {
            user_id: text(self.sub)?,
            email: text(self.email),
            name: text(self.name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity(json: &str) -> Option<Identity> {
        serde_json::from_str::<Claims>(json)
            .unwrap()
            .into_identity()
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
    fn email_and_name_are_optional() {
        let id = identity(r#"{"sub": "u1", "email": "a@b.test", "name": null}"#).unwrap();
        assert_eq!(id.email.as_deref(), Some("a@b.test"));
        assert_eq!(id.name, None);
    }
}
