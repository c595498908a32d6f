//! Which error statuses each operation documents.
//!
//! Handlers fail with one [`ApiError`]; wrapping it in `OperationError<S>`
//! only changes what the OpenAPI document lists for the operation, so each
//! one shows exactly the statuses it can answer with, and generated clients
//! get precise error types.

use std::marker::PhantomData;

use poem_openapi::ApiResponse;
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::Type;

use super::error::{ApiError, documented};
use super::problem::{PROBLEM_CONTENT_TYPE, Problem};

/// The error statuses one kind of operation can answer with, for the
/// OpenAPI document. Statuses produced outside the handlers (401 from the
/// bearer check, 413 and 415 from the body reader, 422 from parameter
/// parsing) count too, because clients see them all.
pub trait ErrorStatuses: Send + Sync + 'static {
    const STATUSES: &'static [u16];
    /// Whether the rate limit applies, adding 429 to `STATUSES`. Listed
    /// whether or not a deployment sets a limit, so the document is the
    /// same everywhere.
    const RATE_LIMITED: bool = true;

    /// How the document describes `status` for this kind of operation.
    fn describe(status: u16) -> &'static str {
        documented(status)
    }
}

/// An [`ApiError`] from an operation that documents the statuses `S` lists.
pub struct OperationError<S> {
    error: ApiError,
    statuses: PhantomData<S>,
}

impl<S> From<ApiError> for OperationError<S> {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            statuses: PhantomData,
        }
    }
}

impl<S> From<sea_orm::DbErr> for OperationError<S> {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::from(err).into()
    }
}

impl<S> From<OperationError<S>> for poem::Error {
    fn from(err: OperationError<S>) -> Self {
        err.error.into()
    }
}

impl<S: ErrorStatuses> ApiResponse for OperationError<S> {
    fn meta() -> MetaResponses {
        let mut statuses = S::STATUSES.to_vec();
        if S::RATE_LIMITED {
            statuses.push(429);
            statuses.sort_unstable();
        }
        MetaResponses {
            responses: statuses
                .into_iter()
                .map(|status| problem_response(status, S::describe(status)))
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn problem_response(status: u16, description: &'static str) -> MetaResponse {
    let mut response = MetaResponse {
        description,
        status: Some(status),
        status_range: None,
        content: vec![MetaMediaType {
            content_type: PROBLEM_CONTENT_TYPE,
            schema: Problem::schema_ref(),
        }],
        headers: vec![],
    };
    let header = |name: &str, description: &str, ty: &'static str| MetaHeader {
        name: name.to_owned(),
        description: Some(description.to_owned()),
        required: true,
        deprecated: false,
        schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new(ty))),
    };
    if status == 401 {
        let challenge = header("WWW-Authenticate", "Always `Bearer` (RFC 6750)", "string");
        response.headers.push(challenge);
    }
    if status == 429 {
        response.headers.extend([
            header(
                "Retry-After",
                "Seconds until the next request is allowed",
                "integer",
            ),
            header("RateLimit-Limit", "Requests allowed per period", "integer"),
            header(
                "RateLimit-Remaining",
                "Requests left now: always 0 here",
                "integer",
            ),
            header(
                "RateLimit-Reset",
                "Seconds until the whole quota is available again",
                "integer",
            ),
        ]);
    }
    if status == 503 {
        response.headers.push(MetaHeader {
            name: "Retry-After".to_owned(),
            description: Some("Seconds to wait before retrying".to_owned()),
            required: true,
            deprecated: false,
            schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format(
                "integer", "int32",
            ))),
        });
    }
    response
}

/// The statuses of each kind of operation.
pub mod statuses {
    use super::ErrorStatuses;

    /// Reads the token only.
    pub struct Authenticated;
    /// Lists with query parameters.
    pub struct Listing;
    /// Reads one task by id.
    pub struct OneTask;
    /// Deletes one task by id, honouring `If-Match`.
    pub struct DeletingOneTask;
    /// Creates a task from a body.
    pub struct Creating;
    /// Changes one task by id, from a body, honouring `If-Match`.
    pub struct ChangingOneTask;
    /// The readiness probe: not ready is its only error.
    pub struct Readiness;
    /// Renames or deletes one of the caller's tags, by name.
    pub struct ChangingOneTag;
    /// Reads the change feed after a cursor.
    pub struct ReadingChanges;
    /// Opens an event stream after a cursor.
    pub struct Following;
    /// Erases the caller's data: the token and the database.
    pub struct Erasing;
    /// Applies a batch of writes.
    pub struct Batching;

    impl ErrorStatuses for Authenticated {
        const STATUSES: &'static [u16] = &[401];
    }
    impl ErrorStatuses for Listing {
        const STATUSES: &'static [u16] = &[401, 422, 503];
    }
    impl ErrorStatuses for OneTask {
        const STATUSES: &'static [u16] = &[401, 404, 422, 503];
    }
    impl ErrorStatuses for DeletingOneTask {
        const STATUSES: &'static [u16] = &[401, 404, 412, 422, 503, 507];
    }
    impl ErrorStatuses for Creating {
        const STATUSES: &'static [u16] = &[401, 403, 413, 415, 422, 503, 507];

        fn describe(status: u16) -> &'static str {
            match status {
                429 => {
                    "Too many `Idempotency-Key`s remembered for this user in the last 24 hours (nothing was stored), or over the rate limit; retry after `Retry-After` seconds"
                }
                _ => super::documented(status),
            }
        }
    }
    impl ErrorStatuses for ChangingOneTask {
        const STATUSES: &'static [u16] = &[401, 404, 412, 413, 415, 422, 503, 507];
    }
    impl ErrorStatuses for Batching {
        const STATUSES: &'static [u16] = &[401, 403, 404, 412, 413, 415, 422, 503, 507];

        fn describe(status: u16) -> &'static str {
            match status {
                403 | 404 | 412 => {
                    "In an atomic batch, the status of the operation that failed; `errors` names it (`operations[i]`), and nothing was stored"
                }
                413 => const_format::concatcp!(
                    "Request body over ",
                    crate::http::limits::MAX_BATCH_BODY_KIB,
                    " KiB, more than 100 operations with every field at its limit take"
                ),
                422 => {
                    "A malformed batch (nothing applied), or, in an atomic batch, an operation with invalid input; `errors` names `operations` or `operations[i]`"
                }
                429 => {
                    "Over the rate limit, which counts a batch as its number of operations, or too many `Idempotency-Key`s remembered; retry after `Retry-After` seconds"
                }
                _ => super::documented(status),
            }
        }
    }
    impl ErrorStatuses for ChangingOneTag {
        const STATUSES: &'static [u16] = &[401, 404, 413, 415, 422, 503, 507];

        fn describe(status: u16) -> &'static str {
            match status {
                404 => "No task of the caller's carries this tag",
                _ => super::documented(status),
            }
        }
    }
    impl ErrorStatuses for Erasing {
        const STATUSES: &'static [u16] = &[401, 503, 507];
    }
    impl ErrorStatuses for ReadingChanges {
        const STATUSES: &'static [u16] = &[401, 410, 422, 503];
    }
    impl ErrorStatuses for Following {
        const STATUSES: &'static [u16] = &[401, 410, 503];

        fn describe(status: u16) -> &'static str {
            match status {
                429 => {
                    "Too many open event streams for this user (`EVENT_STREAMS_PER_USER`), or over the rate limit; retry after `Retry-After` seconds"
                }
                _ => super::documented(status),
            }
        }
    }
    impl ErrorStatuses for Readiness {
        const STATUSES: &'static [u16] = &[503];
        /// Probes are never limited.
        const RATE_LIMITED: bool = false;

        fn describe(_status: u16) -> &'static str {
            "The database does not answer, or cannot store writes (its disk is full or it is read-only)."
        }
    }
}
