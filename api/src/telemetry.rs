//! Logging: `RUST_LOG` filters, `LOG_FORMAT=json|pretty` picks the shape.

use std::time::Instant;

use poem::http::HeaderValue;
use poem::{Endpoint, IntoResponse, Request, Response};
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::http::request_id::{HEADER as REQUEST_ID_HEADER, request_id};

/// Installs the global subscriber. Safe to call more than once (tests do).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // A panic is logged like any error, in the panicking request's span
    // (so with its request id), instead of as raw text on stderr.
    std::panic::set_hook(Box::new(|panic| {
        tracing::error!(%panic, "panicked");
    }));
}

/// Gives each request its id and a span carrying it, so every log line of
/// the request (this one, a handler's error, a key-set fetch it started)
/// names it; logs one line per request (method, path, status, latency);
/// and returns the id in `X-Request-Id`. The query string and headers are
/// left out of the log, so a token never reaches it.
pub async fn trace_request<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    async move {
        let started = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let mut response = match next.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => err.into_response(),
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
        let status = response.status().as_u16();
        tracing::info!(%method, %path, status, latency_ms, "request");
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Ok(response)
    }
    .instrument(span)
    .await
}
