//! Token verification. Each key is bound to its own algorithm: the header's
//! `alg` only picks which key to try, and `none` is never accepted.

use secrecy::ExposeSecret;

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::claims::{Claims, Identity};
use super::error::TokenError;
use super::key_set::{KeySet, KeySetHandles};
use super::rules::{issued_in_future, token_rules};
use crate::configuration::AuthSettings;

/// HS256 with `BETTER_AUTH_SECRET`.
struct SharedSecret {
    key: DecodingKey,
    validation: Validation,
}

/// Verifies bearer tokens against whatever the deployment configured: the
/// shared secret (HS256), Better Auth's key set (EdDSA, ES256, ES384, RS*,
/// PS*), or both.
pub struct TokenVerifier {
    shared_secret: Option<SharedSecret>,
    key_set: Option<KeySet>,
}

impl TokenVerifier {
    /// A verifier for what `settings` trust; a key set's cache runs on
    /// `handles`.
    pub fn new(settings: &AuthSettings, handles: KeySetHandles) -> Self {
        let shared_secret = settings.secret.as_ref().map(|secret| SharedSecret {
            key: DecodingKey::from_secret(secret.expose_secret().as_bytes()),
            validation: token_rules(
                Algorithm::HS256,
                settings.issuer.as_deref(),
                settings.audience.as_deref(),
            ),
        });
        let key_set = KeySet::from_settings(settings, handles);
        Self {
            shared_secret,
            key_set,
        }
    }

    /// What this verifier accepts, for the start-up log.
    pub fn describe(&self) -> String {
        let mut accepted = Vec::new();
        if self.shared_secret.is_some() {
            accepted.push("HS256 tokens signed with BETTER_AUTH_SECRET".to_owned());
        }
        if let Some(key_set) = &self.key_set {
            accepted.push(format!(
                "tokens signed by the key set at {} (fetched on first use)",
                key_set.url()
            ));
        }
        accepted.join("; ")
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        // An unknown `alg` (including `none`) fails to parse here. `jku`,
        // `jwk` and `x5u` are never read: keys come only from configuration.
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let not_allowed = || TokenError::AlgorithmNotAllowed(format!("{:?}", header.alg));
        let claims = match header.alg {
            Algorithm::HS256 => {
                let shared = self.shared_secret.as_ref().ok_or_else(not_allowed)?;
                decode::<Claims>(token, &shared.key, &shared.validation)?.claims
            }
            Algorithm::HS384 | Algorithm::HS512 => return Err(not_allowed()),
            algorithm => {
                let key_set = self.key_set.as_ref().ok_or_else(not_allowed)?;
                let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
                let key = key_set.key_for(kid, algorithm).await?;
                decode::<Claims>(token, &key.key, &key.validation)?.claims
            }
        };
        let issued_at = claims.issued_at()?;
        if issued_in_future(issued_at) {
            return Err(TokenError::IssuedInFuture);
        }
        claims.into_identity().ok_or(TokenError::NoSubject)
    }
}
