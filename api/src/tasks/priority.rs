//! A task's priority: a word on the wire, a number in the database.

use poem_openapi::Enum;
use serde_json::Value;

use crate::http::json_body::FromJsonField;

/// How important a task is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Enum, serde::Serialize)]
#[oai(rename_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl Priority {
    const ALL: [Priority; 4] = [Self::None, Self::Low, Self::Medium, Self::High];

    /// The stored number: higher is more important, so `sort=priority`
    /// orders by it.
    pub fn rank(self) -> i16 {
        self as i16
    }

    /// The priority stored as `rank`; an unknown number (never written)
    /// reads as none.
    pub fn from_rank(rank: i16) -> Self {
        Self::ALL
            .into_iter()
            .find(|p| p.rank() == rank)
            .unwrap_or_default()
    }

    pub fn parse(word: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.word() == word)
    }

    pub fn word(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }
}

pub const PRIORITY_WORDS: &str = "none, low, medium, high";

impl FromJsonField for Priority {
    fn from_json_field(value: Value) -> Result<Self, String> {
        value
            .as_str()
            .and_then(Self::parse)
            .ok_or_else(|| format!("must be one of: {PRIORITY_WORDS}"))
    }
}

#[cfg(test)]
mod tests {
    use super::Priority;

    #[test]
    fn ranks_order_by_importance_and_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), p);
            assert_eq!(Priority::parse(p.word()), Some(p));
        }
        assert!(Priority::High.rank() > Priority::Medium.rank());
        assert!(Priority::Low.rank() > Priority::None.rank());
        assert_eq!(Priority::parse("HIGH"), None);
    }
}
