//! Settings read from the environment (and `.env`, loaded by the binary).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use url::Url;

use crate::auth::Clock;
use crate::http::rate_limit::Quota;
use crate::metrics::KeySetFetches;

/// Where a fresh checkout keeps its data when nothing else is configured.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://todo.db?mode=rwc";

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: the most connections this instance opens
    /// (default 10 on PostgreSQL, 4 on SQLite).
    pub database_max_connections: Option<u32>,
    pub host: IpAddr,
    pub port: u16,
    pub auth: AuthSettings,
    pub cors_origins: Vec<String>,
    pub auto_migrate: bool,
    /// `APP_ENV=production`: refuse to start without real auth configuration.
    pub production: bool,
    pub limits: ServerLimits,
    /// `METRICS_ADDR`: where `GET /metrics` listens, apart from the API; off when unset.
    pub metrics_addr: Option<SocketAddr>,
    /// `RATE_LIMIT`: requests per caller and period; `None` is no limit.
    pub rate_limit: Option<Quota>,
    pub events: EventSettings,
    pub quotas: Quotas,
    pub sweeper: SweeperSettings,
}

/// What one user may hold, so no one account can fill the database.
#[derive(Clone, Copy, Debug)]
pub struct Quotas {
    /// `MAX_TASKS_PER_USER`: tasks one user may hold; a create beyond is a 403.
    pub tasks_per_user: u64,
    /// Live (unexpired) idempotency keys one user may hold; a keyed create
    /// beyond is a 429 until the oldest expires. Each key keeps a copy of
    /// a request and its response (up to 64 KiB each), so the bound caps
    /// what one user's retries can store at about 1000 × 128 KiB, while a
    /// client that keys each create still makes 1000 a day, far more than
    /// an interactive user does. Not read from the environment: tests lower it.
    pub idempotency_keys_per_user: u64,
}

impl Default for Quotas {
    fn default() -> Self {
        Self {
            tasks_per_user: 10_000,
            idempotency_keys_per_user: 1000,
        }
    }
}

/// The background sweeper ([`crate::sweeper`]).
#[derive(Clone, Copy, Debug)]
pub struct SweeperSettings {
    /// How often it looks for expired tombstones and idempotency keys. Not
    /// read from the environment: tests shorten it.
    pub interval: Duration,
}

impl Default for SweeperSettings {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(60),
        }
    }
}

/// `GET /api/events`.
#[derive(Clone, Debug)]
pub struct EventSettings {
    /// `EVENT_KEEP_ALIVE`: how often an idle stream sends a comment line
    /// (and reads the feed again, whatever became of a notification).
    pub keep_alive: Duration,
    /// `EVENT_STREAMS_PER_USER`: open streams one user may hold on one
    /// instance.
    pub streams_per_user: usize,
    /// `LISTEN_DATABASE_URL`: where the PostgreSQL listener connects, where
    /// `DATABASE_URL` goes through a transaction-mode pooler (which cannot
    /// hold a `LISTEN`); `DATABASE_URL` when unset.
    pub listen_database_url: Option<String>,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            keep_alive: Duration::from_secs(15),
            streams_per_user: 10,
            listen_database_url: None,
        }
    }
}

/// How much the server lets one client hold, so slow or idle clients cannot
/// starve the rest.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// `HEADER_READ_TIMEOUT`: the longest an HTTP/1 client may take to send
    /// a request head, counted from the connection (or the previous
    /// response); a keep-alive connection waiting for its next request is
    /// closed after it too.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT`: a connection with no bytes either way for this long
    /// is closed (HTTP/2 included).
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: open connections served in full; beyond this a
    /// connection is served only the probes (anything else is a 429).
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_CLIENT`: open connections (event streams
    /// included) served in full from one client address; beyond this, as
    /// beyond `MAX_CONNECTIONS`.
    pub max_connections_per_client: usize,
    /// `HTTP2_MAX_STREAMS`: concurrent requests on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// `REQUEST_TIMEOUT`: the longest a request may run before a 503.
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_client: 64,
            http2_max_streams: 100,
            request_timeout: Duration::from_secs(30),
        }
    }
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
    /// Where the key set counts its fetches (the application's metrics).
    pub key_set_fetches: KeySetFetches,
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
            key_set_fetches: KeySetFetches::default(),
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
    #[error("{name} is refused with APP_ENV=production: {reason}")]
    UnsafeInProduction { name: &'static str, reason: String },
    #[error(
        "HOST={0} is not a loopback address: without BETTER_AUTH_SECRET or BETTER_AUTH_URL the service runs in local-development mode, whose logged demo token would open it to anyone who can reach it; set HOST=127.0.0.1 or configure auth"
    )]
    LocalDevelopmentOffLoopback(IpAddr),
}

/// The shortest `BETTER_AUTH_SECRET` production accepts: 256 bits, what an
/// HS256 key needs to be as strong as its hash.
pub const MIN_SECRET_BYTES: usize = 32;

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
            database_max_connections: positive(
                "DATABASE_MAX_CONNECTIONS",
                var("DATABASE_MAX_CONNECTIONS"),
            )?,
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
            limits: ServerLimits::from_lookup(&var)?,
            metrics_addr: parse_optional("METRICS_ADDR", var("METRICS_ADDR"))?,
            rate_limit: var("RATE_LIMIT")
                .map(|raw| raw.parse())
                .transpose()
                .map_err(|reason| ConfigError::Invalid {
                    name: "RATE_LIMIT",
                    reason,
                })?,
            events: EventSettings {
                keep_alive: duration_or(
                    "EVENT_KEEP_ALIVE",
                    var("EVENT_KEEP_ALIVE"),
                    EventSettings::default().keep_alive,
                )?,
                streams_per_user: positive(
                    "EVENT_STREAMS_PER_USER",
                    var("EVENT_STREAMS_PER_USER"),
                )?
                .map_or(EventSettings::default().streams_per_user, |n| n as usize),
                listen_database_url: var("LISTEN_DATABASE_URL"),
            },
            quotas: Quotas {
                tasks_per_user: positive("MAX_TASKS_PER_USER", var("MAX_TASKS_PER_USER"))?
                    .map_or(Quotas::default().tasks_per_user, u64::from),
                ..Quotas::default()
            },
            sweeper: SweeperSettings::default(),
        };
        settings.check()?;
        Ok(settings)
    }

    /// Refuses what would start but be unsafe: a public service anyone can
    /// get a token for, weak production secrets, a key set fetched over
    /// plain HTTP, or CORS open to every origin.
    pub fn check(&self) -> Result<(), ConfigError> {
        if !self.auth.is_configured() && !self.host.is_loopback() {
            return Err(ConfigError::LocalDevelopmentOffLoopback(self.host));
        }
        if self.events.keep_alive.is_zero() || self.events.keep_alive >= self.limits.idle_timeout {
            return Err(ConfigError::Invalid {
                name: "EVENT_KEEP_ALIVE",
                reason: format!(
                    "it must be above zero and shorter than IDLE_TIMEOUT ({}), or idle event streams are closed",
                    humantime::format_duration(self.limits.idle_timeout)
                ),
            });
        }
        if !self.production {
            return Ok(());
        }
        let unsafe_setting = |name, reason: &str| {
            Err(ConfigError::UnsafeInProduction {
                name,
                reason: reason.to_owned(),
            })
        };
        if !self.auth.is_configured() {
            return Err(ConfigError::MissingAuthInProduction);
        }
        if let Some(secret) = &self.auth.secret
            && secret.len() < MIN_SECRET_BYTES
        {
            return unsafe_setting(
                "BETTER_AUTH_SECRET",
                &format!(
                    "it is {} bytes; use at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 32`)",
                    secret.len()
                ),
            );
        }
        if let Some(url) = self.auth.key_set_url()
            && url.scheme() != "https"
            && !is_loopback(&url)
        {
            let name = if self.auth.jwks_url.is_some() {
                "JWKS_URL"
            } else {
                "BETTER_AUTH_URL"
            };
            return unsafe_setting(
                name,
                &format!("the key set at {url} must be fetched over https (loopback aside)"),
            );
        }
        if self.cors_origins.is_empty() {
            return unsafe_setting("CORS_ORIGINS", "it names no origin");
        }
        if self.cors_origins.iter().any(|origin| origin == "*") {
            return unsafe_setting(
                "CORS_ORIGINS",
                "`*` lets every website call the API; list the frontend's origins",
            );
        }
        Ok(())
    }
}

/// A URL whose host is this machine.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl ServerLimits {
    fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let positive = |name: &'static str, value: usize| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".to_owned(),
                })
            } else {
                Ok(value)
            }
        };
        Ok(Self {
            header_read_timeout: duration_or(
                "HEADER_READ_TIMEOUT",
                var("HEADER_READ_TIMEOUT"),
                defaults.header_read_timeout,
            )?,
            idle_timeout: duration_or("IDLE_TIMEOUT", var("IDLE_TIMEOUT"), defaults.idle_timeout)?,
            max_connections: positive(
                "MAX_CONNECTIONS",
                parse_or(
                    "MAX_CONNECTIONS",
                    var("MAX_CONNECTIONS"),
                    defaults.max_connections,
                )?,
            )?,
            max_connections_per_client: positive(
                "MAX_CONNECTIONS_PER_CLIENT",
                parse_or(
                    "MAX_CONNECTIONS_PER_CLIENT",
                    var("MAX_CONNECTIONS_PER_CLIENT"),
                    defaults.max_connections_per_client,
                )?,
            )?,
            http2_max_streams: positive(
                "HTTP2_MAX_STREAMS",
                parse_or(
                    "HTTP2_MAX_STREAMS",
                    var("HTTP2_MAX_STREAMS"),
                    defaults.http2_max_streams,
                )? as usize,
            )? as u32,
            request_timeout: duration_or(
                "REQUEST_TIMEOUT",
                var("REQUEST_TIMEOUT"),
                defaults.request_timeout,
            )?,
        })
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
    Ok(parse_optional(name, raw)?.unwrap_or(default))
}

fn parse_optional<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<String>,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    raw.map(|raw| {
        raw.trim()
            .parse()
            .map_err(|err: T::Err| ConfigError::Invalid {
                name,
                reason: err.to_string(),
            })
    })
    .transpose()
}

/// A duration such as `30s`, `500ms` or `2m`; a bare number is seconds.
fn duration_or(
    name: &'static str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let raw = raw.trim();
    let duration = match raw.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(raw).map_err(|err| ConfigError::Invalid {
            name,
            reason: format!("{err}; write e.g. 30s, 500ms or 2m"),
        })?,
    };
    if duration.is_zero() {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be longer than zero".to_owned(),
        });
    }
    Ok(duration)
}

/// An optional count of at least 1.
fn positive(name: &'static str, raw: Option<String>) -> Result<Option<u32>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(0) => Err(ConfigError::Invalid {
                name,
                reason: "must be at least 1".to_owned(),
            }),
            Ok(count) => Ok(Some(count)),
            Err(err) => Err(ConfigError::Invalid {
                name,
                reason: err.to_string(),
            }),
        },
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
        assert_eq!(s.metrics_addr, None);
        assert_eq!(s.database_max_connections, None);
        let s = settings(&[("DATABASE_MAX_CONNECTIONS", " 25 ")]).unwrap();
        assert_eq!(s.database_max_connections, Some(25));
        assert_eq!(s.rate_limit, None);
        assert_eq!(s.quotas.tasks_per_user, 10_000);
    }

    #[test]
    fn the_task_quota_is_read_and_at_least_one() {
        let s = settings(&[("MAX_TASKS_PER_USER", "3")]).unwrap();
        assert_eq!(s.quotas.tasks_per_user, 3);
        for bad in ["0", "-1", "many"] {
            let err = settings(&[("MAX_TASKS_PER_USER", bad)]).unwrap_err();
            assert!(err.to_string().starts_with("MAX_TASKS_PER_USER"), "{err}");
        }
    }

    #[test]
    fn production_without_auth_is_refused_naming_the_variable() {
        let err = settings(&[("APP_ENV", "production")]).unwrap_err();
        assert!(err.to_string().contains("BETTER_AUTH_SECRET"), "{err}");
        assert!(production(&[]).is_ok());
    }

    const STRONG: &str = "0123456789abcdef0123456789abcdef";

    fn production(vars: &[(&'static str, &'static str)]) -> Result<Settings, ConfigError> {
        let mut all = vec![
            ("APP_ENV", "production"),
            ("BETTER_AUTH_SECRET", STRONG),
            ("CORS_ORIGINS", "https://app.example.com"),
        ];
        all.extend_from_slice(vars);
        settings(&all)
    }

    #[test]
    fn production_refuses_unsafe_settings_naming_the_variable() {
        assert!(production(&[]).is_ok());
        let refused = |vars: &[(&'static str, &'static str)], name: &str| {
            let err = production(vars).unwrap_err().to_string();
            assert!(err.starts_with(name), "{vars:?}: {err}");
        };
        refused(&[("BETTER_AUTH_SECRET", "a")], "BETTER_AUTH_SECRET");
        refused(
            &[("BETTER_AUTH_SECRET", &STRONG[1..])],
            "BETTER_AUTH_SECRET",
        );
        refused(&[("CORS_ORIGINS", ",")], "CORS_ORIGINS");
        refused(&[("CORS_ORIGINS", "*")], "CORS_ORIGINS");
        refused(&[("CORS_ORIGINS", "https://a.test,*")], "CORS_ORIGINS");
        refused(
            &[("BETTER_AUTH_URL", "http://auth.example.com")],
            "BETTER_AUTH_URL",
        );
        refused(&[("JWKS_URL", "http://auth.example.com/jwks")], "JWKS_URL");
        // Loopback key sets and https are fine.
        assert!(production(&[("BETTER_AUTH_URL", "http://localhost:3000")]).is_ok());
        assert!(production(&[("JWKS_URL", "http://127.0.0.1:3000/jwks")]).is_ok());
        assert!(production(&[("BETTER_AUTH_URL", "https://auth.example.com")]).is_ok());
    }

    #[test]
    fn local_development_mode_listens_on_loopback_only() {
        let err = settings(&[("HOST", "0.0.0.0")]).unwrap_err();
        assert!(err.to_string().starts_with("HOST=0.0.0.0"), "{err}");
        assert!(settings(&[("HOST", "::1")]).is_ok());
        assert!(settings(&[("HOST", "0.0.0.0"), ("BETTER_AUTH_SECRET", "s")]).is_ok());
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
        let err = settings(&[("METRICS_ADDR", "9000")]).unwrap_err();
        assert!(err.to_string().contains("METRICS_ADDR"));
        let s = settings(&[("METRICS_ADDR", "127.0.0.1:9000")]).unwrap();
        assert_eq!(
            s.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9000)))
        );
        for bad in ["0", "-1", "ten"] {
            let err = settings(&[("DATABASE_MAX_CONNECTIONS", bad)]).unwrap_err();
            assert!(
                err.to_string().contains("DATABASE_MAX_CONNECTIONS"),
                "{bad}: {err}"
            );
        }
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
    fn server_limits_read_durations_and_counts() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.limits.request_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.max_connections_per_client, 64);
        let s = settings(&[
            ("REQUEST_TIMEOUT", "1500ms"),
            ("HEADER_READ_TIMEOUT", "5"),
            ("IDLE_TIMEOUT", "2m"),
            ("MAX_CONNECTIONS", "10"),
            ("MAX_CONNECTIONS_PER_CLIENT", "3"),
        ])
        .unwrap();
        assert_eq!(s.limits.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(120));
        assert_eq!(s.limits.max_connections, 10);
        assert_eq!(s.limits.max_connections_per_client, 3);
        for (name, value) in [
            ("REQUEST_TIMEOUT", "soon"),
            ("REQUEST_TIMEOUT", "0s"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS_PER_CLIENT", "0"),
            ("MAX_CONNECTIONS_PER_CLIENT", "many"),
            ("HTTP2_MAX_STREAMS", "-1"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }

    #[test]
    fn cors_origins_are_split_and_trimmed() {
        let s = settings(&[("CORS_ORIGINS", "http://a.test, https://b.test/ ,")]).unwrap();
        assert_eq!(s.cors_origins, vec!["http://a.test", "https://b.test"]);
    }
}
