//! Who is calling: the bearer token, verified, is the only source of identity.

mod claims;
mod clock;
mod error;
mod inspect;
mod key_set;
mod mint;
mod rules;
mod verified;
mod verifier;

pub use claims::Identity;
pub use clock::Clock;
pub use error::TokenError;
pub use inspect::{KeySetContents, inspect_key_set};
pub use key_set::KeySetHandles;
pub use mint::{TokenRequest, mint_hs256};
pub use verified::verify_and_remember;
pub use verifier::TokenVerifier;

use std::sync::Arc;

use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::Bearer;

use crate::http::error::ApiError;

/// `Authorization: Bearer <JWT>`: a Better Auth token (key set) or an HS256
/// token signed with `BETTER_AUTH_SECRET`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "authenticate")]
pub struct BearerAuth(pub Identity);

async fn authenticate(req: &Request, bearer: Bearer) -> poem::Result<Identity> {
    check(req, &bearer.token).await.map_err(Into::into)
}

/// The caller of a route outside the document (`/mcp`), found as
/// [`BearerAuth`] finds them: the same verifier, the same refusals.
pub async fn identify(req: &Request) -> Result<Identity, ApiError> {
    use poem::web::headers::authorization::Bearer as BearerHeader;
    use poem::web::headers::{Authorization, HeaderMapExt};
    let Some(header) = req.headers().typed_get::<Authorization<BearerHeader>>() else {
        crate::metrics::count_token_rejection("missing");
        return Err(ApiError::MissingToken);
    };
    check(req, header.token()).await
}

async fn check(req: &Request, token: &str) -> Result<Identity, ApiError> {
    let outcome = match verified::remembered(req, token) {
        Some(outcome) => outcome,
        None => {
            let verifier = req
                .data::<Arc<TokenVerifier>>()
                .expect("the token verifier is installed on every route");
            verifier.verify(token).await
        }
    };
    outcome.map_err(|err| {
        tracing::debug!(reason = %err, "token rejected");
        crate::metrics::count_token_rejection(err.reason());
        ApiError::Unauthorized(err.to_string())
    })
}
