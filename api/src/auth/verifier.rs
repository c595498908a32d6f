//! Token verification. Each key is bound to its own algorithm: the header's
//! `alg` only picks which key to try, and `none` is never accepted.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::claims::{Claims, Identity};
use super::key_set::KeySet;
use crate::configuration::AuthSettings;

/// The clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 60;

/// Why a token was refused. The message is safe to show the caller.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("tokens signed with {0} are not accepted")]
    AlgorithmNotAllowed(String),
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token's issuer is not accepted")]
    WrongIssuer,
    #[error("the token's audience is not accepted")]
    WrongAudience,
    #[error("the token has no `{0}` claim")]
    MissingClaim(String),
    #[error("the token has no usable `sub` claim")]
    NoSubject,
    #[error("the token's signing key is not in the trusted key set")]
    UnknownKey,
    #[error("the trusted key set cannot be fetched right now")]
    KeySetUnavailable,
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        match err.kind() {
            ErrorKind::InvalidSignature => Self::BadSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::WrongIssuer,
            ErrorKind::InvalidAudience => Self::WrongAudience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => Self::AlgorithmNotAllowed("this algorithm".into()),
            _ => Self::Malformed,
        }
    }
}

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
    pub fn new(settings: &AuthSettings) -> Self {
        let shared_secret = settings.secret.as_ref().map(|secret| SharedSecret {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation: validation(
                Algorithm::HS256,
                settings.issuer.as_deref(),
                settings.audience.as_deref(),
            ),
        });
        // Better Auth sets `iss` and `aud` to its origin; JWT_ISSUER and
        // JWT_AUDIENCE override that.
        let key_set = settings.key_set_url().map(|url| {
            let origin = settings.better_auth_origin();
            KeySet::new(
                url,
                settings.issuer.clone().or_else(|| origin.clone()),
                settings.audience.clone().or(origin),
                settings.key_set_min_refresh,
                settings.key_set_max_age,
            )
        });
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
        claims.into_identity().ok_or(TokenError::NoSubject)
    }
}

/// The checks every accepted token passes, whatever signed it.
pub(super) fn validation(
    algorithm: Algorithm,
    issuer: Option<&str>,
    audience: Option<&str>,
) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // A configured `iss`/`aud` must also be present: jsonwebtoken only
    // compares the claims a token carries unless they are listed here.
    let mut required = vec!["exp"];
    match issuer {
        Some(issuer) => {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        None => validation.iss = None,
    }
    match audience {
        Some(audience) => {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        None => validation.validate_aud = false,
    }
    validation.set_required_spec_claims(&required);
    validation
}
