//! The checks every accepted token passes, whatever key signed it.

use jsonwebtoken::{Algorithm, Validation};

/// The clock skew allowed on `exp`, `nbf` and `iat`.
pub const LEEWAY_SECONDS: u64 = 60;

/// How to verify a token signed with `algorithm`, expecting `issuer` and
/// `audience` where they are given.
pub fn token_rules(
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

/// An `iat` later than now (plus the leeway) names a token that cannot have
/// been issued yet: a forged or badly clocked issuer. jsonwebtoken does not
/// check `iat`, so this does.
pub fn issued_in_future(issued_at: Option<i64>) -> bool {
    let latest = chrono::Utc::now().timestamp() + LEEWAY_SECONDS as i64;
    issued_at.is_some_and(|at| at > latest)
}
