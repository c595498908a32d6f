//! A bearer token verified once per request. Middleware that must know the
//! caller before the route runs (the rate limit) verifies the token here;
//! `BearerAuth` then reuses the outcome, identity or refusal, instead of
//! verifying it again.

use std::sync::Arc;

use poem::Request;
use poem::web::headers::authorization::Bearer;
use poem::web::headers::{Authorization, HeaderMapExt};

use super::claims::Identity;
use super::error::TokenError;
use super::verifier::TokenVerifier;

/// The request's token and what verifying it gave, kept in the request's data.
#[derive(Clone)]
struct VerifiedBearer {
    token: String,
    outcome: Result<Identity, TokenError>,
}

/// Verifies the request's bearer token, if it has one, and remembers the
/// identity for `BearerAuth` (and for the next middleware that asks). `None` when there is no token, it is not
/// valid, or no verifier is installed; the route reports why, if it needs one.
pub async fn verify_and_remember(req: &mut Request) -> Option<Identity> {
    // Read the header as poem-openapi's `Bearer` does, so both see one token.
    let token = req
        .headers()
        .typed_get::<Authorization<Bearer>>()?
        .token()
        .to_owned();
    if let Some(outcome) = remembered(req, &token) {
        return outcome.ok();
    }
    let verifier = req.data::<Arc<TokenVerifier>>()?.clone();
    let outcome = verifier.verify(&token).await;
    req.set_data(VerifiedBearer {
        token,
        outcome: outcome.clone(),
    });
    outcome.ok()
}

/// What verifying exactly `token` gave earlier in this request, if it was.
pub(super) fn remembered(req: &Request, token: &str) -> Option<Result<Identity, TokenError>> {
    req.data::<VerifiedBearer>()
        .filter(|verified| verified.token == token)
        .map(|verified| verified.outcome.clone())
}
