//! `X-Request-Id`: the client's own id when it is safe to echo and log,
//! else a new one, so a log line and a response can always be matched up.

use poem::Request;

pub const HEADER: &str = "x-request-id";

/// The longest client-chosen id kept.
pub const MAX_LENGTH: usize = 128;

/// The id of `req`: its `X-Request-Id` when that is 1 to 128 characters of
/// `[A-Za-z0-9._:-]` (nothing that could forge a log line or a header),
/// else a fresh UUID.
pub fn request_id(req: &Request) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_acceptable(id))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

fn is_acceptable(id: &str) -> bool {
    (1..=MAX_LENGTH).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"._:-".contains(&byte))
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn only_short_plain_ids_are_kept() {
        assert!(is_acceptable("req-1.2:3_X"));
        assert!(is_acceptable(&"a".repeat(128)));
        assert!(!is_acceptable(&"a".repeat(129)));
        assert!(!is_acceptable(""));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("a\nb"));
        assert!(!is_acceptable("ä"));
        assert!(!is_acceptable("a/b"));
    }
}
