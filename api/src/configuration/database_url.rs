//! Database URLs: where the data is, and a password that never prints.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

/// Where a fresh checkout keeps its data when nothing else is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://todo.db?mode=rwc";

/// A database URL, which may carry a password: `Debug` shows it with the
/// password replaced ([`redact`]); [`ExposeSecret`] gives the URL itself,
/// for connecting.
#[derive(Clone)]
pub struct DatabaseUrl(SecretString);

impl DatabaseUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(SecretString::from(url.into()))
    }

    /// The URL without its password, for logs and error messages.
    pub fn redacted(&self) -> String {
        redact(self.expose_secret())
    }
}

impl ExposeSecret<str> for DatabaseUrl {
    fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl")
            .field(&self.redacted())
            .finish()
    }
}

impl From<&str> for DatabaseUrl {
    fn from(url: &str) -> Self {
        Self::new(url)
    }
}

impl From<String> for DatabaseUrl {
    fn from(url: String) -> Self {
        Self::new(url)
    }
}

impl PartialEq<&str> for DatabaseUrl {
    fn eq(&self, other: &&str) -> bool {
        self.expose_secret() == *other
    }
}

/// The URL without its password, for error messages.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}

/// A SQLite database kept in a file (not `sqlite::memory:`).
pub fn is_sqlite_file(database_url: &str) -> bool {
    database_url.starts_with("sqlite:") && !database_url.contains(":memory:")
}

/// SQLite refuses to open a missing file unless asked to create it; a
/// fresh checkout should not need to know that.
pub(super) fn creating_sqlite_file(url: &str) -> String {
    if !is_sqlite_file(url) || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

#[cfg(test)]
mod tests {
    use crate::configuration::settings;

    #[test]
    fn sqlite_files_are_created_unless_a_mode_is_given() {
        let url = |raw| settings(&[("DATABASE_URL", raw)]).unwrap().database_url;
        assert_eq!(url("sqlite://data.db"), "sqlite://data.db?mode=rwc");
        assert_eq!(
            url("sqlite://data.db?cache=shared"),
            "sqlite://data.db?cache=shared&mode=rwc"
        );
        assert_eq!(url("sqlite://data.db?mode=ro"), "sqlite://data.db?mode=ro");
        assert_eq!(url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(url("postgres://u@h/db"), "postgres://u@h/db");
    }
}

#[cfg(test)]
mod redaction {
    use super::DatabaseUrl;

    #[test]
    fn a_password_never_prints() {
        let url = DatabaseUrl::new("postgres://app:hunter2@db.test/todo");
        let shown = format!("{url:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app:***@db.test"), "{shown}");
    }
}
