//! Token verification. Each key is bound to its own algorithm: the header's
//! `alg` only picks which key to try, and `none` is never accepted.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

use super::claims::{Claims, Identity};
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

pub struct TokenVerifier {
    shared_secret: Option<SharedSecret>,
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
        Self { shared_secret }
    }

    pub async fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        // An unknown `alg` (including `none`) fails to parse here.
        let header = decode_header(token).map_err(|_| TokenError::Malformed)?;
        let claims = match (header.alg, &self.shared_secret) {
            (Algorithm::HS256, Some(shared)) => {
                decode::<Claims>(token, &shared.key, &shared.validation)?.claims
            }
            (alg, _) => return Err(TokenError::AlgorithmNotAllowed(format!("{alg:?}"))),
        };
        claims.into_identity().ok_or(TokenError::NoSubject)
    }
}

/// The checks every accepted token passes, whatever signed it.
fn validation(algorithm: Algorithm, issuer: Option<&str>, audience: Option<&str>) -> Validation {
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
