//! Settings read from the environment (and `.env`, loaded by the binary):
//! plain values only, secrets in types that never print them. What the
//! application makes at run time (clocks, metric handles) is handed to
//! what needs it by `startup`, never carried here.
//!
//! By concern: `server_limits` (connections and requests), `auth` (token
//! verification), `events` (live sync), `quotas` (what a user may store,
//! and the sweeper), `rate_limit` (`RATE_LIMIT`), `database_url` (where the
//! data is); `parse` reads one variable, `checks` refuses unsafe
//! combinations.

use std::net::{IpAddr, SocketAddr};

use secrecy::SecretString;
use url::Url;

mod auth;
mod checks;
mod database_url;
mod events;
mod parse;
mod quotas;
mod rate_limit;
mod server_limits;

pub use auth::{AuthSettings, MIN_SECRET_BYTES};
pub use database_url::{DEFAULT_DATABASE_URL, DatabaseUrl, is_sqlite_file, redact};
pub use events::EventSettings;
pub use quotas::{Quotas, SweeperSettings};
pub use rate_limit::Quota;
pub use server_limits::ServerLimits;

use database_url::creating_sqlite_file;
use parse::{duration_or, parse_bool, parse_optional, parse_or, positive};

#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: DatabaseUrl,
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
            database_url: DatabaseUrl::new(
                var("DATABASE_URL")
                    .map(|url| creating_sqlite_file(url.trim()))
                    .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            ),
            database_max_connections: positive(
                "DATABASE_MAX_CONNECTIONS",
                var("DATABASE_MAX_CONNECTIONS"),
            )?,
            host: parse_or("HOST", var("HOST"), IpAddr::from([127, 0, 0, 1]))?,
            port: parse_or("PORT", var("PORT"), 8000)?,
            auth: AuthSettings {
                secret: var("BETTER_AUTH_SECRET").map(SecretString::from),
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
                listen_database_url: var("LISTEN_DATABASE_URL").map(DatabaseUrl::new),
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
}

/// Settings read from `vars` alone, for the tests of every concern.
#[cfg(test)]
fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let vars: std::collections::HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|name| vars.get(name).cloned())
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;

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
    fn cors_origins_are_split_and_trimmed() {
        let s = settings(&[("CORS_ORIGINS", "http://a.test, https://b.test/ ,")]).unwrap();
        assert_eq!(s.cors_origins, vec!["http://a.test", "https://b.test"]);
    }

    #[test]
    fn secrets_never_print() {
        let s = settings(&[
            ("BETTER_AUTH_SECRET", "a-secret-nobody-may-read"),
            ("DATABASE_URL", "postgres://app:hunter2@db.test/todo"),
            ("LISTEN_DATABASE_URL", "postgres://app:hunter3@db.test/todo"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        for secret in ["a-secret-nobody-may-read", "hunter2", "hunter3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
