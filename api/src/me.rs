//! `/api/me`: who the token says the caller is.

use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};

use crate::auth::BearerAuth;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::Authenticated;
use crate::http::nullable::Nullable;
use crate::openapi::ApiTags;

pub struct MeApi;

/// The caller, from the token's claims.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Me {
    /// The token's `sub`.
    pub id: String,
    pub email: Nullable<String>,
    pub name: Nullable<String>,
}

impl Example for Me {
    fn example() -> Self {
        Self {
            id: "hS7tY2pQ9wXk3LmN".into(),
            email: Some("ada@example.com".to_owned()).into(),
            name: Some("Ada Lovelace".to_owned()).into(),
        }
    }
}

#[OpenApi(tag = "ApiTags::Me")]
impl MeApi {
    /// Who am I
    ///
    /// The caller as the token names them. Reading this never writes anything.
    #[oai(path = "/api/me", method = "get", operation_id = "getMe")]
    async fn get_me(&self, auth: BearerAuth) -> Result<Json<Me>, OperationError<Authenticated>> {
        let identity = auth.0;
        Ok(Json(Me {
            id: identity.user_id,
            email: identity.email.into(),
            name: identity.name.into(),
        }))
    }
}
