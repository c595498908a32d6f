//! Probes for orchestrators: liveness needs nothing, readiness needs the database.

use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::DatabaseConnection;

use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::Readiness;
use crate::http::error::ApiError;
use crate::openapi::ApiTags;

pub struct HealthApi;

/// Whether `path` is one of the probes. They are never rate limited and stay
/// reachable over the connection caps: a refused probe would have an
/// orchestrator restart a healthy instance.
pub fn is_probe(path: &str) -> bool {
    path.starts_with("/health/")
}

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
    /// The database answers.
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
    ) -> Result<ReadinessResponse, OperationError<Readiness>> {
        match db.ping().await {
            Ok(()) => Ok(ReadinessResponse::Ready(Json(HealthStatus {
                status: "ready".into(),
            }))),
            Err(err) => {
                crate::metrics::count_database_error(&err);
                tracing::warn!(error = %err, "readiness check failed");
                Err(ApiError::Unavailable.into())
            }
        }
    }
}
