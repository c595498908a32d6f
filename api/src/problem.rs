//! Every error leaves the service as an RFC 9457 `application/problem+json`
//! body. [`ApiError`] is what handlers return; [`into_problem_response`] is
//! the one place where any error, ours or the framework's, becomes a response.

use std::marker::PhantomData;

use poem::http::{StatusCode, header};
use poem::{Response, error::ResponseError};
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::registry::{
    MetaHeader, MetaMediaType, MetaResponse, MetaResponses, MetaSchema, MetaSchemaRef, Registry,
};
use poem_openapi::types::{ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Problem", example)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` means "see `status`".
    #[oai(rename = "type")]
    pub kind: String,
    /// A short summary: the HTTP reason phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, in plain words.
    pub detail: String,
    /// Each invalid field (422 only).
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<FieldError>>,
}

impl poem_openapi::types::Example for Problem {
    fn example() -> Self {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the request is invalid: see `errors`",
        )
        .with_errors(vec![FieldError::new("title", "must not be blank")])
    }
}

/// One invalid input, named by its field (body) or parameter (query, path).
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            errors: None,
        }
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = Some(errors);
        self
    }

    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = self.to_json().unwrap_or_default().to_string();
        let mut response = Response::builder()
            .status(status)
            .content_type(PROBLEM_CONTENT_TYPE)
            .body(body);
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, "Bearer".parse().unwrap());
        }
        response
    }
}

/// What a handler can fail with. Each variant maps to one status code here
/// and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The token is missing or not acceptable; the message says why.
    #[error("{0}")]
    Unauthorized(String),
    /// No such task for this caller (whether or not another user has it).
    #[error("task not found")]
    TaskNotFound,
    #[error("the request is invalid: see `errors`")]
    Validation(Vec<FieldError>),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("internal server error")]
    Internal,
}

impl ApiError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    fn problem(&self) -> Problem {
        let problem = Problem::new(self.status(), self.to_string());
        match self {
            Self::Validation(errors) => problem.with_errors(errors.clone()),
            _ => problem,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// Connection trouble is a 503 the client may retry; anything else is a
    /// bug, logged here and reported without detail.
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::{DbErr, RuntimeErr};
        let unreachable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(sqlx))
            | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
                matches!(
                    **sqlx,
                    sea_orm::sqlx::Error::Io(_)
                        | sea_orm::sqlx::Error::PoolTimedOut
                        | sea_orm::sqlx::Error::PoolClosed
                        | sea_orm::sqlx::Error::Tls(_)
                        | sea_orm::sqlx::Error::Protocol(_)
                )
            }
            _ => false,
        };
        if unreachable {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable
        } else {
            tracing::error!(error = %err, "database error");
            Self::Internal
        }
    }
}

impl ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TaskNotFound => StatusCode::NOT_FOUND,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn as_response(&self) -> Response {
        self.problem().into_response()
    }
}

/// The error statuses one kind of operation can answer with, for the
/// OpenAPI document. Statuses produced outside the handlers (401 from the
/// bearer check, 413 and 415 from the body reader, 422 from parameter
/// parsing) count too, because clients see them all.
pub trait ErrorStatuses: Send + Sync + 'static {
    const STATUSES: &'static [u16];
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
        MetaResponses {
            responses: S::STATUSES
                .iter()
                .map(|&status| problem_response(status))
                .collect(),
        }
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

fn problem_response(status: u16) -> MetaResponse {
    let description = match status {
        401 => "Missing, malformed, expired or otherwise unacceptable bearer token",
        404 => "No such task for this caller",
        413 => "Request body over 64 KiB",
        415 => "Request body is not `application/json`",
        422 => "Invalid input; `errors` names each bad field",
        503 => "The database is unreachable; retry later",
        _ => "Error",
    };
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
    if status == 401 {
        response.headers.push(MetaHeader {
            name: "WWW-Authenticate".to_owned(),
            description: Some("Always `Bearer` (RFC 6750)".to_owned()),
            required: true,
            deprecated: false,
            schema: MetaSchemaRef::Inline(Box::new(MetaSchema::new("string"))),
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
    /// Reads or deletes one task by id.
    pub struct OneTask;
    /// Creates a task from a body.
    pub struct Creating;
    /// Changes one task by id, from a body.
    pub struct ChangingOneTask;

    impl ErrorStatuses for Authenticated {
        const STATUSES: &'static [u16] = &[401];
    }
    impl ErrorStatuses for Listing {
        const STATUSES: &'static [u16] = &[401, 422, 503];
    }
    impl ErrorStatuses for OneTask {
        const STATUSES: &'static [u16] = &[401, 404, 422, 503];
    }
    impl ErrorStatuses for Creating {
        const STATUSES: &'static [u16] = &[401, 413, 415, 422, 503];
    }
    impl ErrorStatuses for ChangingOneTask {
        const STATUSES: &'static [u16] = &[401, 404, 413, 415, 422, 503];
    }
}

/// Turns any error that reached the edge of the service into problem+json.
pub async fn into_problem_response(err: poem::Error) -> Response {
    if let Some(api_error) = err.downcast_ref::<ApiError>() {
        return api_error.as_response();
    }
    let problem = if let Some(param) = err.downcast_ref::<ParseParamError>() {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid parameter `{}`", param.name),
        )
        .with_errors(vec![FieldError::new(param.name, param.reason.clone())])
    } else if err.is::<ParsePathError>() {
        // poem-openapi reports path parameters by an internal placeholder
        // name; the only path parameter of this API is a task's `id`.
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid parameter `id`")
            .with_errors(vec![FieldError::new("id", "must be a 64-bit integer")])
    } else if let Some(payload) = err.downcast_ref::<ParseRequestPayloadError>() {
        Problem::new(StatusCode::UNPROCESSABLE_ENTITY, payload.reason.clone())
            .with_errors(vec![FieldError::new("body", payload.reason.clone())])
    } else if err.is::<ContentTypeError>() {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be `application/json`",
        )
    } else if err.is::<AuthorizationError>() {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "missing bearer token: send `Authorization: Bearer <JWT>`",
        )
    } else {
        let status = err.status();
        let detail = match status {
            StatusCode::NOT_FOUND => "no such route".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
            StatusCode::PAYLOAD_TOO_LARGE => "the request body is over 64 KiB".to_owned(),
            status if status.is_server_error() => {
                tracing::error!(error = %err, "unhandled error");
                "internal server error".to_owned()
            }
            _ => err.to_string(),
        };
        Problem::new(status, detail)
    };
    problem.into_response()
}
