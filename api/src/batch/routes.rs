//! The batch route: reads the batch, charges the rate limit for each of its
//! operations, and applies it, at most once per `Idempotency-Key`.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Header;
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::DatabaseConnection;

use super::apply::{self, render};
use super::bodies::Batch;
use super::schema::BatchResults;
use crate::auth::BearerAuth;
use crate::change_log::ChangeHub;
use crate::configuration::Quotas;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::Batching;
use crate::http::error::ApiError;
use crate::http::idempotency::IdempotencyKey;
use crate::http::json_body::JsonBody;
use crate::http::rendered_json::RenderedJson;
use crate::http::request_cost::RequestCost;
use crate::idempotent::{Keyed, Operation};
use crate::route_table::ApiTags;

pub struct BatchApi;

#[derive(ApiResponse)]
pub enum BatchResponse {
    /// One result per operation, in order (or, for a retry with the same
    /// `Idempotency-Key`, the answer the first request got).
    #[oai(status = 200)]
    Ok(RenderedJson<BatchResults>),
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl BatchApi {
    /// Apply several writes at once
    ///
    /// 1 to 100 operations (`create`, `update`, `complete`, `delete`),
    /// applied in order; a `ref` given to a create names its task in later
    /// operations; `if_match` takes what the `If-Match` header takes. Each
    /// result is what the single request would have answered. With
    /// `"atomic": true` (the default) every operation applies or none
    /// does: when one fails, the answer is its status and problem, whose
    /// `errors` name `operations[i]`. With `"atomic": false`, each applies
    /// or fails alone (a `ref` of a create that failed is a 424 result).
    /// A malformed batch is a 422 before anything is applied.
    /// `Idempotency-Key` works as for `POST /api/tasks`, for the whole
    /// batch. The rate limit counts the batch as its number of operations;
    /// the body may be up to 3 MiB, of at most 16,384 JSON values.
    #[oai(path = "/api/batch", method = "post", operation_id = "applyBatch")]
    #[allow(clippy::too_many_arguments)]
    async fn apply_batch(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        quotas: Data<&Quotas>,
        cost: Data<&RequestCost>,
        /// 1 to 255 visible ASCII characters naming this batch, so that a
        /// retry applies nothing twice.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<IdempotencyKey>>,
        body: JsonBody<Batch>,
    ) -> Result<BatchResponse, OperationError<Batching>> {
        let batch = body.0;
        cost.total(u32::try_from(batch.operations.len()).unwrap_or(u32::MAX))?;
        let Some(key) = idempotency_key.0 else {
            let results = apply::apply(&db, &hub, &auth.0, &quotas, batch)
                .await?
                .map_err(ApiError::from)?;
            return Ok(BatchResponse::Ok(render(&results)));
        };
        let keyed = Keyed::new(Operation::Batch, key, &batch.canonical);
        let once = apply::apply_once(&db, &hub, &auth.0, &quotas, batch, &keyed).await?;
        Ok(BatchResponse::Ok(once.into_answer()?))
    }
}
