//! `GET /.well-known/oauth-protected-resource` (RFC 9728): what an MCP
//! client reads to learn which authorization server issues tokens for
//! `/mcp` (Better Auth, where `BETTER_AUTH_URL` is set).

use poem::web::Json;
use poem::{Endpoint, IntoResponse, Request, Response};
use serde_json::json;

/// The origin this request reached the service at: its `Host`, by the
/// scheme a proxy in front says it used (`X-Forwarded-Proto`), else http.
pub fn origin_of(req: &Request) -> String {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    let scheme = match header("x-forwarded-proto") {
        Some("https") => "https",
        _ => "http",
    };
    let host = header("host").unwrap_or("localhost");
    format!("{scheme}://{host}")
}

/// The metadata document's `resource_metadata` URL for this request.
pub fn metadata_url(req: &Request) -> String {
    format!("{}/.well-known/oauth-protected-resource", origin_of(req))
}

/// The endpoint, naming `authorization_server` (`BETTER_AUTH_URL`) where
/// there is one.
pub fn protected_resource_metadata(
    authorization_server: Option<String>,
) -> impl Endpoint<Output = Response> {
    poem::endpoint::make_sync(move |req: Request| {
        let mut metadata = json!({
            "resource": format!("{}/mcp", origin_of(&req)),
            "bearer_methods_supported": ["header"],
            "resource_name": "Todo API",
        });
        if let Some(server) = &authorization_server {
            metadata["authorization_servers"] = json!([server]);
        }
        Json(metadata).into_response()
    })
}
