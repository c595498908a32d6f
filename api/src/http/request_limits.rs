//! Limits on one request: the size of its head, and how long it may run.

use std::sync::Arc;
use std::time::Duration;

use poem::error::ResponseError;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::ApiError;
use super::limits::MAX_HEAD_BYTES;
use crate::route_table::is_probe;

/// Middleware: a 431 problem for a head over [`MAX_HEAD_BYTES`], before
/// anything else reads it.
pub async fn limit_head_size<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if head_size(&req) > MAX_HEAD_BYTES {
        return Err(ApiError::HeadTooLarge.into());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The head's size as HTTP/1.1 would send it; measured in place, as this
/// runs on every request.
fn head_size(req: &Request) -> usize {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |scheme| scheme.len() + 3)
        + uri
            .authority()
            .map_or(0, |authority| authority.as_str().len())
        + uri.path_and_query().map_or(1, |path| path.as_str().len());
    let request_line = req.method().as_str().len() + target + 12;
    let headers: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    request_line + headers + 2
}

/// Marks a request that came on a connection over a cap (`server`): it is
/// answered with this refusal, unless it is a probe.
#[derive(Clone)]
pub struct OverConnectionCap(pub Arc<ApiError>);

/// Middleware: a request on a connection over a cap gets its 429 here,
/// inside the request id, logging, metrics and CORS layers, so a browser
/// can read it and a log names it like any other answer; the probes go
/// on. Nothing below it (the token, the database) is reached.
pub async fn refuse_over_cap<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if let Some(OverConnectionCap(refusal)) = req.extensions().get::<OverConnectionCap>()
        && !is_probe(req.uri().path())
    {
        return Ok(refusal.as_response());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// Middleware: a 503 problem for a request still running after `limit`;
/// the handler is dropped, so an open transaction rolls back, and the
/// database stops its statement at the same deadline ([`crate::deadline`]).
pub async fn within<E: Endpoint>(limit: Duration, next: E, req: Request) -> poem::Result<Response> {
    let deadline = tokio::time::Instant::now() + limit;
    let work = crate::deadline::scope(deadline, next.call(req));
    match tokio::time::timeout_at(deadline, work).await {
        Ok(response) => response.map(IntoResponse::into_response),
        Err(_) => {
            tracing::warn!(limit = %humantime::format_duration(limit), "request timed out");
            Err(ApiError::TimedOut(limit).into())
        }
    }
}
