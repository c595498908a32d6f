//! Logging: `RUST_LOG` filters, `LOG_FORMAT=json|pretty` picks the shape.

use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};
use tracing_subscriber::EnvFilter;

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
}

/// One line per request: method, path, status and latency. The query string
/// and headers are left out, so a token never reaches the log.
pub async fn log_request<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.call(req).await.map(IntoResponse::into_response);
    let status = match &response {
        Ok(response) => response.status(),
        Err(err) => err.status(),
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(%method, %path, status = status.as_u16(), latency_ms, "request");
    response
}
