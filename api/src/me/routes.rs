//! The `/api/me` handlers.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::DatabaseConnection;

use super::repository;
use crate::auth::BearerAuth;
use crate::change_log::ChangeHub;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::{Authenticated, Erasing};
use crate::http::error::ApiError;
use crate::http::nullable::Nullable;
use crate::route_table::ApiTags;

pub struct MeApi;

#[derive(ApiResponse)]
pub enum DeleteMeResponse {
    /// Everything the service kept about the caller is gone (or there was
    /// nothing).
    #[oai(status = 204)]
    Erased,
}

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
    /// Erase my account
    ///
    /// Deletes the caller's tasks, remembered idempotency keys and user row.
    /// A large account goes in steps, each a short transaction; the answer
    /// comes once all of it is gone, and from the first step the caller's
    /// change-feed cursors are refused and their event streams end.
    /// Idempotent: a second call, or a call from a user who never wrote
    /// anything, is also a 204, and one cut short is finished by the next.
    /// Meant for the frontend's
    /// account deletion (Better Auth's `user.deleteUser`), called with the
    /// user's token before Better Auth deletes the user. A later write with
    /// a valid token records the user afresh.
    #[oai(path = "/api/me", method = "delete", operation_id = "deleteMe")]
    async fn delete_me(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
    ) -> Result<DeleteMeResponse, OperationError<Erasing>> {
        // In a task of its own, so an erasure the client stops waiting for
        // (a lost connection, REQUEST_TIMEOUT) still runs to the end.
        let (db, hub, user_id) = (db.clone(), Arc::clone(&hub), auth.0.user_id);
        let erasure = tokio::spawn(crate::metrics::in_current_scope(async move {
            repository::erase(&db, &hub, &user_id).await
        }));
        erasure.await.map_err(|_| ApiError::Internal)??;
        Ok(DeleteMeResponse::Erased)
    }
}
