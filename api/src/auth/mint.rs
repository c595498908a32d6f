//! Minting HS256 tokens for local development and testing (`api token`).

use chrono::{Duration, Utc};
use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

/// What to put in a minted token.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub sub: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub lifetime: Duration,
}

impl TokenRequest {
    pub fn for_user(sub: impl Into<String>) -> Self {
        Self {
            sub: sub.into(),
            email: None,
            name: None,
            issuer: None,
            audience: None,
            lifetime: Duration::hours(1),
        }
    }
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    iat: i64,
    exp: i64,
}

/// Signs `request` with the shared secret, exactly as the service verifies it.
pub fn mint_hs256(secret: &str, request: &TokenRequest) -> String {
    let now = Utc::now();
    let claims = MintedClaims {
        sub: &request.sub,
        email: request.email.as_deref(),
        name: request.name.as_deref(),
        iss: request.issuer.as_deref(),
        aud: request.audience.as_deref(),
        iat: now.timestamp(),
        exp: (now + request.lifetime).timestamp(),
    };
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing with an in-memory key cannot fail")
}
