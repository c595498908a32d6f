//! Every error leaves the service as an RFC 9457 `application/problem+json`
//! body. [`ApiError`] is what handlers fail with (wrapped, for the document,
//! in [`crate::operation_error::OperationError`]); [`into_problem_response`]
//! is the one place where any error, ours or the framework's, becomes a
//! response.

use poem::http::{StatusCode, header};
use poem::{Response, error::ResponseError};
use poem_openapi::Object;
use poem_openapi::error::{
    AuthorizationError, ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};
use poem_openapi::types::ToJSON;

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
        use sea_orm::sqlx::Error as Sqlx;
        use sea_orm::{DbErr, RuntimeErr};
        let unreachable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(sqlx))
            | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => match &**sqlx {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) => true,
                Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => db.code().is_some_and(|code| is_transient(&code)),
                _ => false,
            },
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

/// Database error codes worth retrying: SQLite busy or locked; PostgreSQL
/// connection exceptions (08), insufficient resources (53) and operator
/// intervention such as a shutdown (57).
fn is_transient(code: &str) -> bool {
    matches!(code, "5" | "6")
        || ["08", "53", "57"]
            .iter()
            .any(|class| code.starts_with(class))
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

#[cfg(test)]
mod tests {
    use super::is_transient;

    #[test]
    fn retryable_database_codes() {
        for code in ["5", "6", "08006", "53300", "57P01"] {
            assert!(is_transient(code), "{code}");
        }
        for code in ["19", "23505", "22021", "42P01"] {
            assert!(!is_transient(code), "{code}");
        }
    }
}
