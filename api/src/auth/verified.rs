//! A bearer token verified once per request. Middleware that must know the
//! caller before the route runs (the rate limit) verifies the token here;
//! `BearerAuth` then reuses that identity instead of verifying it again.

use std::sync::Arc;

use poem::Request;
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};

use super::claims::Identity;
use super::verifier::TokenVerifier;

/// The request's token and who it names, kept in the request's data.
#[derive(Clone)]
struct VerifiedBearer {
    token: String,
    identity: Identity,
}

/// Verifies the request's bearer token, if it has one, and remembers the
/// identity for `BearerAuth`. `None` when there is no token, it is not
/// valid, or no verifier is installed; the route reports why, if it needs one.
pub async fn verify_and_remember(req: &mut Request) -> Option<Identity> {
    // Read the header as poem-openapi's `Bearer` does, so both see one token.
    let token = req
        .headers()
        .typed_get::<Authorization<Bearer>>()?
        .token()
        .to_owned();
    let verifier = req.data::<Arc<TokenVerifier>>()?.clone();
    let identity = verifier.verify(&token).await.ok()?;
    req.set_data(VerifiedBearer {
        token,
        identity: identity.clone(),
    });
    Some(identity)
}

/// The identity verified earlier in this request for exactly `token`.
pub(super) fn remembered(req: &Request, token: &str) -> Option<Identity> {
    req.data::<VerifiedBearer>()
        .filter(|verified| verified.token == token)
        .map(|verified| verified.identity.clone())
}
