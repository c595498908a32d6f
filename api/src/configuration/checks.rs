//! What would start but be unsafe: refused at start, naming the variable.

use secrecy::ExposeSecret;
use url::Url;

use super::auth::MIN_SECRET_BYTES;
use super::{ConfigError, Settings};

impl Settings {
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
            && secret.expose_secret().len() < MIN_SECRET_BYTES
        {
            return unsafe_setting(
                "BETTER_AUTH_SECRET",
                &format!(
                    "it is {} bytes; use at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 32`)",
                    secret.expose_secret().len()
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

#[cfg(test)]
mod tests {
    use crate::configuration::{ConfigError, Settings, settings};

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
}
