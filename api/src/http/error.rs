//! [`ApiError`]: every error the service answers with, and the one table
//! that gives each its status, its detail and its description in the
//! OpenAPI document. [`into_problem_response`] is the one place where any
//! error, ours or the framework's, becomes a response: framework errors are
//! first named as an [`ApiError`], so their status and wording come from
//! the same table.

use const_format::concatcp;
use poem::Response;
use poem::error::ResponseError;
use poem::http::{StatusCode, header};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use super::limits::{MAX_BODY_KIB, MAX_HEAD_BYTES};
use super::problem::{FieldError, Problem};

/// What a request can fail with, whether a handler or the framework found
/// the problem. Each variant maps to one status here and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization: Bearer` header at all.
    #[error("missing bearer token: send `Authorization: Bearer <JWT>`")]
    MissingToken,
    /// The token is not acceptable; the message says why.
    #[error("{0}")]
    Unauthorized(String),
    /// No such task for this caller (whether or not another user has it).
    #[error("task not found")]
    TaskNotFound,
    /// No task of the caller's carries the tag.
    #[error("tag not found: no task of yours carries it")]
    TagNotFound,
    #[error("no such route")]
    NoSuchRoute,
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// The body is over the route's limit, in KiB: [`MAX_BODY_KIB`] but
    /// for a batch.
    #[error("the request body is over {0} KiB")]
    BodyTooLarge(usize),
    #[error("the request body must be `application/json`")]
    NotJson,
    /// One bad query or path parameter, found while parsing it.
    #[error("invalid parameter `{}`", .0.field)]
    InvalidParameter(FieldError),
    #[error("the request is invalid: see `errors`")]
    Validation(Vec<FieldError>),
    /// In a batch applied operation by operation, the `ref` an operation
    /// names belongs to a create (`operations[index]`) that failed.
    #[error("the task this operation names was to be created by operations[{0}], which failed")]
    FailedDependency(usize),
    /// An atomic batch stored nothing: its operation `index` failed with
    /// `error`, whose status the batch answers with.
    #[error("operations[{index}]: {error}")]
    InOperation { index: usize, error: Box<ApiError> },
    /// `If-Match` names no current version of the task.
    #[error("the task has changed since the version `If-Match` names; read it again")]
    PreconditionFailed,
    /// A change-feed cursor that expired or was never issued to the caller.
    #[error(
        "the cursor has expired or was never issued; drop the local copy and read the feed again without `since`"
    )]
    CursorExpired,
    /// The caller already holds `EVENT_STREAMS_PER_USER` event streams.
    #[error("too many open event streams: at most {limit} per user; close one first")]
    TooManyStreams { limit: usize },
    /// The client's address already holds `MAX_CONNECTIONS_PER_CLIENT`
    /// open connections: the answer on the one over it, which then closes.
    #[error("too many open connections from this address: at most {limit}; close one first")]
    TooManyConnectionsFromClient { limit: usize },
    /// The instance already serves `MAX_CONNECTIONS` connections in full:
    /// the answer on one over it, which then closes.
    #[error("the service has too many open connections; try again shortly")]
    TooManyConnections,
    /// A create while the caller holds `MAX_TASKS_PER_USER` tasks.
    #[error(
        "you already hold {limit} tasks, the most one user may hold (MAX_TASKS_PER_USER); delete some first"
    )]
    TaskQuotaExceeded { limit: u64 },
    /// A keyed create while the caller holds the most live idempotency
    /// keys; sent with `Retry-After` (until the oldest expires) and the
    /// `RateLimit-*` headers.
    #[error(
        "you hold {limit} idempotency keys from the last 24 hours, the most one user may; retry in {retry_after_secs} s"
    )]
    TooManyIdempotencyKeys {
        limit: u64,
        retry_after_secs: u64,
        /// Until every key held now has expired.
        reset_secs: u64,
    },
    #[error("the request head is over {} KiB", MAX_HEAD_BYTES / 1024)]
    HeadTooLarge,
    /// Over the rate limit (`RATE_LIMIT`); sent with `Retry-After`.
    #[error("too many requests: retry in {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    /// The caller's requests already hold their share of the database pool
    /// and this one waited its turn in vain.
    #[error("your other requests are still using your share of the database; try again shortly")]
    ShareInUse,
    /// The database cannot store the write: its disk is full, or it is
    /// read-only.
    #[error(
        "the database cannot store this write now (its disk is full or it is read-only); nothing was stored, and earlier writes are intact; try again later"
    )]
    InsufficientStorage,
    /// The request ran past `REQUEST_TIMEOUT`.
    #[error("the request did not finish within {}; try again shortly", humantime::format_duration(*.0))]
    TimedOut(std::time::Duration),
    #[error("internal server error")]
    Internal,
    /// Any other client error the framework raised (a CORS refusal, say),
    /// with its own message.
    #[error("{1}")]
    Other(StatusCode, String),
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn problem(&self) -> Problem {
        let problem = Problem::new(self.status(), self.to_string());
        match self {
            Self::InOperation { index, error } => {
                let at = format!("operations[{index}]");
                let errors = match &**error {
                    Self::Validation(errors) => errors
                        .iter()
                        .map(|e| match e.field.as_str() {
                            "body" => FieldError::new(format!("{at}.task"), &e.message),
                            field => FieldError::new(format!("{at}.task.{field}"), &e.message),
                        })
                        .collect(),
                    other => vec![FieldError::new(at, other.to_string())],
                };
                problem.with_errors(errors)
            }
            Self::Validation(errors) => problem.with_errors(errors.clone()),
            Self::InvalidParameter(error) => problem.with_errors(vec![error.clone()]),
            _ => problem,
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::MissingToken | Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TaskNotFound | Self::TagNotFound | Self::NoSuchRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::InvalidParameter(_) | Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TaskQuotaExceeded { .. } => StatusCode::FORBIDDEN,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::FailedDependency(_) => StatusCode::FAILED_DEPENDENCY,
            Self::InOperation { error, .. } => error.status(),
            Self::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::CursorExpired => StatusCode::GONE,
            Self::TooManyRequests { .. }
            | Self::TooManyStreams { .. }
            | Self::TooManyConnectionsFromClient { .. }
            | Self::TooManyConnections
            | Self::TooManyIdempotencyKeys { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::TimedOut(_) | Self::ShareInUse => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Other(status, _) => *status,
        }
    }

    fn as_response(&self) -> Response {
        let mut response = self.problem().into_response();
        let headers = response.headers_mut();
        match self {
            Self::TooManyRequests { retry_after_secs } => {
                headers.insert(header::RETRY_AFTER, (*retry_after_secs).into());
            }
            Self::TooManyStreams { limit } => {
                // A place frees up when a stream closes, which no one can
                // predict: a short wait, and the quota in the usual headers.
                for (name, value) in [
                    (header::RETRY_AFTER.as_str(), PLACE_RETRY_AFTER_SECS),
                    ("ratelimit-limit", *limit as u64),
                    ("ratelimit-remaining", 0),
                    ("ratelimit-reset", PLACE_RETRY_AFTER_SECS),
                ] {
                    headers.insert(header::HeaderName::from_static(name), value.into());
                }
            }
            Self::TooManyConnectionsFromClient { .. } | Self::TooManyConnections => {
                headers.insert(header::RETRY_AFTER, PLACE_RETRY_AFTER_SECS.into());
                // The server closes the connection after this answer.
                headers.insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
            Self::TooManyIdempotencyKeys {
                limit,
                retry_after_secs,
                reset_secs,
            } => {
                for (name, value) in [
                    (header::RETRY_AFTER.as_str(), *retry_after_secs),
                    ("ratelimit-limit", *limit),
                    ("ratelimit-remaining", 0),
                    ("ratelimit-reset", *reset_secs),
                ] {
                    headers.insert(header::HeaderName::from_static(name), value.into());
                }
            }
            _ => {}
        }
        response
    }
}

/// How long a client refused another event stream or connection should
/// wait: a place frees up when one closes, which no one can predict.
const PLACE_RETRY_AFTER_SECS: u64 = 5;

/// How the OpenAPI document describes each error status an operation can
/// answer with.
pub fn documented(status: u16) -> &'static str {
    match status {
        401 => "Missing, malformed, expired or otherwise unacceptable bearer token",
        403 => {
            "The caller already holds `MAX_TASKS_PER_USER` tasks, the number `detail` names; nothing was stored"
        }
        404 => "No such task for this caller",
        413 => concatcp!("Request body over ", MAX_BODY_KIB, " KiB"),
        410 => {
            "The cursor has expired (older than 30 days) or was never issued to the caller: reload without `since`"
        }
        412 => "`If-Match` names a version that is no longer current; nothing was changed",
        415 => "Request body is not `application/json`",
        424 => {
            "In a batch with `\"atomic\": false`, the operation names the `ref` of a create that failed"
        }
        422 => "Invalid input; `errors` names each bad field",
        429 => {
            "Over the rate limit, where the deployment sets one (`RATE_LIMIT`); retry after `Retry-After` seconds"
        }
        503 => {
            "The database is unreachable, or busy beyond the caller's share of it; retry after `Retry-After` seconds"
        }
        507 => {
            "The database cannot store the write (its disk is full or it is read-only): nothing was stored; retry later"
        }
        _ => "Error",
    }
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        ApiError::invalid("title", "must not be blank").problem()
    }
}

/// Turns any error that reached the edge of the service into problem+json.
pub async fn into_problem_response(err: poem::Error) -> Response {
    match err.downcast_ref::<ApiError>() {
        Some(api_error) => api_error.as_response(),
        None => name_framework_error(&err).as_response(),
    }
}

/// The [`ApiError`] a framework error stands for.
fn name_framework_error(err: &poem::Error) -> ApiError {
    if let Some(param) = err.downcast_ref::<ParseParamError>() {
        return ApiError::InvalidParameter(FieldError::new(param.name, param.reason.clone()));
    }
    if err.is::<ParsePathError>() {
        // poem-openapi reports path parameters by an internal placeholder
        // name; the only path parameter of this API is a task's `id`.
        return ApiError::InvalidParameter(FieldError::new("id", "must be a 64-bit integer"));
    }
    if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        return ApiError::invalid("body", payload.reason.clone());
    }
    if err.is::<ContentTypeError>() {
        return ApiError::NotJson;
    }
    if err.is::<AuthorizationError>() {
        return ApiError::MissingToken;
    }
    match err.status() {
        StatusCode::NOT_FOUND => ApiError::NoSuchRoute,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::BodyTooLarge(MAX_BODY_KIB),
        status if status.is_server_error() => {
            tracing::error!(error = %err, "unhandled error");
            ApiError::Internal
        }
        status => ApiError::Other(status, err.to_string()),
    }
}
