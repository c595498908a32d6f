//! How tokens are verified: the shared secret, Better Auth's key set, and
//! the claims they must carry.

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// `BETTER_AUTH_SECRET`: verifies (and, for `api token`, signs) HS256 tokens.
    pub secret: Option<SecretString>,
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
        }
    }
}

/// The shortest `BETTER_AUTH_SECRET` production accepts: 256 bits, what an
/// HS256 key needs to be as strong as its hash.
pub const MIN_SECRET_BYTES: usize = 32;

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

#[cfg(test)]
mod tests {
    use crate::configuration::settings;

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
}
