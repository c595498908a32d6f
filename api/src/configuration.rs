//! Settings read from the environment (and `.env`, loaded by the binary).

use std::net::IpAddr;
use std::time::Duration;

use url::Url;

use crate::auth::Clock;
use crate::http::rate_limit::Quota;

/// Where a fresh checkout keeps its data when nothing else is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://todo.db?mode=rwc";

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub host: IpAddr,
    pub port: u16,
    pub auth: AuthSettings,
    pub cors_origins: Vec<String>,
    pub auto_migrate: bool,
    /// `APP_ENV=production`: refuse to start without real auth configuration.
    pub production: bool,
    /// `RATE_LIMIT`: requests per caller and period; `None` is no limit.
    pub rate_limit: Option<Quota>,
}

#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `BETTER_AUTH_SECRET`: verifies (and, for `api token`, signs) HS256 tokens.
    pub secret: Option<String>,
    /// `BETTER_AUTH_URL`: the Better Auth deployment whose key set is trusted.
    pub better_auth_url: Option<Url>,
    /// `JWKS_URL`: the key set, where it is not `{BETTER_AUTH_URL}/api/auth/jwks`.
    pub jwks_url: Option<Url>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// The least time between two fetches of the key set, so tokens naming
    /// unknown `kid`s cannot make the service hammer Better Auth.
    pub key_set_min_refresh: Duration,
    /// How long fetched keys are trusted before the key set is fetched again,
    /// so a key removed from Better Auth stops verifying tokens.
    pub key_set_max_age: Duration,
    /// The key-set cache's time source; tests move it forward.
    pub clock: Clock,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            secret: None,
            better_auth_url: None,
            jwks_url: None,
            issuer: None,
            audience: None,
            key_set_min_refresh: Duration::from_secs(5),
            key_set_max_age: Duration::from_secs(10 * 60),
            clock: Clock::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is not valid: {reason}")]
    Invalid { name: &'static str, reason: String },
    #[error(
        "APP_ENV=production needs BETTER_AUTH_SECRET or BETTER_AUTH_URL (or JWKS_URL) to verify tokens"
    )]
    MissingAuthInProduction,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`; blank values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let url = |name: &'static str| {
            var(name)
                .map(|raw| {
                    Url::parse(raw.trim()).map_err(|err| ConfigError::Invalid {
                        name,
                        reason: err.to_string(),
                    })
                })
                .transpose()
        };
        let settings = Settings {
            database_url: var("DATABASE_URL")
                .map(|url| creating_sqlite_file(url.trim()))
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            host: parse_or("HOST", var("HOST"), IpAddr::from([127, 0, 0, 1]))?,
            port: parse_or("PORT", var("PORT"), 8000)?,
            auth: AuthSettings {
                secret: var("BETTER_AUTH_SECRET"),
                better_auth_url: url("BETTER_AUTH_URL")?,
                jwks_url: url("JWKS_URL")?,
                issuer: var("JWT_ISSUER"),
                audience: var("JWT_AUDIENCE"),
                ..AuthSettings::default()
            },
            cors_origins: var("CORS_ORIGINS")
                .unwrap_or_else(|| "http://localhost:3000".to_owned())
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_owned())
                .filter(|origin| !origin.is_empty())
                .collect(),
            auto_migrate: parse_bool("AUTO_MIGRATE", var("AUTO_MIGRATE"), true)?,
            production: var("APP_ENV").is_some_and(|env| env.eq_ignore_ascii_case("production")),
            rate_limit: var("RATE_LIMIT")
                .map(|raw| raw.parse())
                .transpose()
                .map_err(|reason| ConfigError::Invalid {
                    name: "RATE_LIMIT",
                    reason,
                })?,
        };
        if settings.production && !settings.auth.is_configured() {
            return Err(ConfigError::MissingAuthInProduction);
        }
        Ok(settings)
    }
}

impl AuthSettings {
    pub fn is_configured(&self) -> bool {
        self.secret.is_some() || self.key_set_url().is_some()
    }

    /// The JWKS location: `JWKS_URL`, else Better Auth's default path.
    pub fn key_set_url(&self) -> Option<Url> {
        self.jwks_url.clone().or_else(|| {
            let base = self.better_auth_url.as_ref()?;
            let mut url = base.clone();
            url.set_path(&format!(
                "{}/api/auth/jwks",
                base.path().trim_end_matches('/')
            ));
            url.set_query(None);
            url.set_fragment(None);
            Some(url)
        })
    }

    /// Better Auth sets `iss` and `aud` to the origin of its base URL.
    pub fn better_auth_origin(&self) -> Option<String> {
        self.better_auth_url
            .as_ref()
            .map(|url| url.origin().ascii_serialization())
    }
}

/// A SQLite database kept in a file (not `sqlite::memory:`).
pub fn is_sqlite_file(database_url: &str) -> bool {
    database_url.starts_with("sqlite:") && !database_url.contains(":memory:")
}

/// SQLite refuses to open a missing file unless asked to create it; a
/// fresh checkout should not need to know that.
fn creating_sqlite_file(url: &str) -> String {
    if !is_sqlite_file(url) || url.contains("mode=") {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}mode=rwc")
}

fn parse_or<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .trim()
            .parse()
            .map_err(|err: T::Err| ConfigError::Invalid {
                name,
                reason: err.to_string(),
            }),
    }
}

fn parse_bool(name: &'static str, raw: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
    {
        None => Ok(default),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("expected true or false, got {value:?}"),
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(s.host.to_string(), "127.0.0.1");
        assert_eq!(s.port, 8000);
        assert_eq!(s.cors_origins, vec!["http://localhost:3000"]);
        assert!(s.auto_migrate);
        assert!(!s.auth.is_configured());
        assert_eq!(s.rate_limit, None);
    }

    #[test]
    fn production_without_auth_is_refused_naming_the_variable() {
        let err = settings(&[("APP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().contains("BETTER_AUTH_SECRET"), "{err}");
        assert!(settings(&[("APP_ENV", "production"), ("BETTER_AUTH_SECRET", "s")]).is_ok());
    }

    #[test]
    fn key_set_url_is_derived_from_the_base_url() {
        let s = settings(&[("BETTER_AUTH_URL", "http://localhost:3000")]).unwrap();
        assert_eq!(
            s.auth.key_set_url().unwrap().as_str(),
            "http://localhost:3000/api/auth/jwks"
        );
        let s = settings(&[("BETTER_AUTH_URL", "https://app.example.com/base/")]).unwrap();
        assert_eq!(
            s.auth.key_set_url().unwrap().as_str(),
            "https://app.example.com/base/api/auth/jwks"
        );
        assert_eq!(
            s.auth.better_auth_origin().as_deref(),
            Some("https://app.example.com")
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = settings(&[("PORT", "eighty")]).unwrap_err();
        assert!(err.to_string().contains("PORT"));
        let err = settings(&[("AUTO_MIGRATE", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("AUTO_MIGRATE"));
        let err = settings(&[("RATE_LIMIT", "600/day")]).unwrap_err();
        assert!(err.to_string().contains("RATE_LIMIT"), "{err}");
    }

    #[test]
    fn rate_limit_is_read_when_set() {
        let s = settings(&[("RATE_LIMIT", "600/min")]).unwrap();
        assert_eq!(
            s.rate_limit.map(|quota| quota.to_string()).as_deref(),
            Some("600/min")
        );
    }

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

    #[test]
    fn cors_origins_are_split_and_trimmed() {
        let s = settings(&[("CORS_ORIGINS", "http://a.test, https://b.test/ ,")]).unwrap();
        assert_eq!(s.cors_origins, vec!["http://a.test", "https://b.test"]);
    }
}
