//! Cross-origin access for the browser frontend.

use poem::http::{StatusCode, header};
use poem::middleware::Cors;
use poem::{Endpoint, IntoResponse, Request, Response};

/// Lets the configured origins call the API, send the conditional and
/// idempotency headers, and read the paging, location, version, request id
/// and rate limit headers. `*` lets every origin in; an empty list lets none
/// in (poem's `Cors` would read an empty list as "any origin").
pub fn cors(origins: &[String]) -> Cors {
    let cors = if origins.iter().any(|origin| origin == "*") {
        Cors::new()
    } else if origins.is_empty() {
        Cors::new().allow_origins_fn(|_| false)
    } else {
        Cors::new().allow_origins(origins.iter().map(String::as_str))
    };
    cors.allow_methods(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
        .allow_headers([
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "idempotency-key",
            "x-request-id",
            // An event stream's resumption point.
            "last-event-id",
        ])
        .expose_headers(["x-total-count", "location", "etag", "x-request-id"])
        .expose_headers([
            "retry-after",
            "ratelimit-limit",
            "ratelimit-remaining",
            "ratelimit-reset",
        ])
        .max_age(600)
}

/// What the start-up log says CORS lets in, so a frontend on another port
/// than the one configured is a line in the log, not a silent refusal.
pub fn describe(origins: &[String]) -> String {
    if origins.iter().any(|origin| origin == "*") {
        "CORS allows every origin (CORS_ORIGINS=*)".to_owned()
    } else if origins.is_empty() {
        "CORS allows no origin: browsers on other origins are refused; set CORS_ORIGINS to \
         the frontend's origin, such as http://localhost:3000"
            .to_owned()
    } else {
        format!(
            "CORS allows {} (CORS_ORIGINS); a frontend on any other origin is refused",
            origins.join(", ")
        )
    }
}

/// Middleware around [`cors`]: logs each request it refuses with the
/// origin it came from, so a misconfigured frontend shows in the log.
pub async fn log_refused_origins<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let origin = req.headers().get(header::ORIGIN).cloned();
    let result = next.call(req).await.map(IntoResponse::into_response);
    let refused = match &result {
        Ok(response) => response.status() == StatusCode::FORBIDDEN,
        Err(err) => err.status() == StatusCode::FORBIDDEN,
    };
    if let (true, Some(origin)) = (refused, origin) {
        tracing::warn!(
            origin = %String::from_utf8_lossy(origin.as_bytes()),
            "refused a cross-origin request: its origin is not in CORS_ORIGINS"
        );
    }
    result
}

/// Browsers send `Origin` on same-origin POSTs too (Swagger UI at `/docs`
/// does). Those are not cross-origin, so the CORS check, which refuses any
/// origin not configured, must not see them.
pub async fn skip_for_same_origin<E: Endpoint>(
    next: E,
    mut req: Request,
) -> poem::Result<E::Output> {
    if is_same_origin(&req) {
        req.headers_mut().remove(header::ORIGIN);
    }
    next.call(req).await
}

fn is_same_origin(req: &Request) -> bool {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let (Some(origin), Some(host)) = (header(header::ORIGIN), header(header::HOST)) else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
}
