//! Probes for orchestrators: liveness needs nothing, readiness needs a
//! database that answers and can store writes.

use std::sync::Arc;

use poem::http::Method;
use poem::web::Data;
use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::DatabaseConnection;

use crate::database::storage::{self, WriteOutcomes};
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::Readiness;
use crate::http::error::ApiError;
use crate::route_table::ApiTags;

pub struct HealthApi;

#[derive(Debug, Object)]
pub struct HealthStatus {
    /// `ok` or `ready`.
    pub status: String,
}

#[derive(ApiResponse)]
pub enum LivenessResponse {
    /// The process is running.
    #[oai(status = 200)]
    Alive(Json<HealthStatus>),
}

#[derive(ApiResponse)]
pub enum ReadinessResponse {
    /// The database answers and can store writes.
    #[oai(status = 200)]
    Ready(Json<HealthStatus>),
}

#[OpenApi(tag = "ApiTags::Health")]
impl HealthApi {
    /// Liveness
    #[oai(path = "/health/live", method = "get", operation_id = "getLiveness")]
    async fn live(&self) -> LivenessResponse {
        LivenessResponse::Alive(Json(HealthStatus {
            status: "ok".into(),
        }))
    }

    /// Readiness
    #[oai(path = "/health/ready", method = "get", operation_id = "getReadiness")]
    async fn ready(
        &self,
        db: Data<&DatabaseConnection>,
        writes: Data<&Arc<WriteOutcomes>>,
    ) -> Result<ReadinessResponse, OperationError<Readiness>> {
        match storage::probe(&db).await {
            Ok(None) if writes.recently_refused() => {
                tracing::warn!("not ready: a write was refused for want of space just now");
                Err(ApiError::Unavailable.into())
            }
            Ok(None) => Ok(ReadinessResponse::Ready(Json(HealthStatus {
                status: "ready".into(),
            }))),
            Ok(Some(why)) => {
                tracing::warn!(%why, "not ready: the database cannot store writes");
                Err(ApiError::Unavailable.into())
            }
            Err(err) => {
                crate::database::errors::count(&err);
                tracing::warn!(error = %err, "readiness check failed");
                Err(ApiError::Unavailable.into())
            }
        }
    }
}

/// Middleware: notes in `outcomes` whether each write (a request with a
/// method that changes something) was stored or refused for want of space,
/// for readiness.
pub async fn note_write_outcomes<E: Endpoint>(
    outcomes: Arc<WriteOutcomes>,
    next: E,
    req: Request,
) -> poem::Result<Response> {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let result = next.call(req).await.map(IntoResponse::into_response);
    if write {
        let status = match &result {
            Ok(response) => response.status(),
            Err(err) => err.status(),
        };
        if status == poem::http::StatusCode::INSUFFICIENT_STORAGE {
            outcomes.refused();
        } else if status.is_success() {
            outcomes.stored();
        }
    }
    result
}
