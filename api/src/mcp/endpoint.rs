//! The SDK's Streamable HTTP service as a poem endpoint, behind the same
//! token check as `/api`: the caller's identity travels to the tools in the
//! request's extensions.

use std::sync::Arc;

use poem::endpoint::{BoxEndpoint, TowerCompatExt};
use poem::error::ResponseError;
use poem::http::{HeaderValue, header};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use sea_orm::DatabaseConnection;

use super::metadata::metadata_url;
use super::tools::{CallScope, TaskTools};
use crate::change_log::ChangeHub;
use crate::configuration::Quotas;
use crate::http::limits::MAX_BODY_KIB;

/// `POST /mcp`.
pub struct McpEndpoint {
    service: BoxEndpoint<'static, Response>,
}

/// The endpoint, its tools working on `db` and announcing to `hub`.
pub fn mcp_endpoint(db: DatabaseConnection, hub: Arc<ChangeHub>, quotas: Quotas) -> McpEndpoint {
    let tools = TaskTools { db, hub, quotas };
    let config = StreamableHttpServerConfig::default()
        // Stateless, with plain JSON answers: any instance answers any
        // call, and nothing is kept between requests.
        .with_legacy_session_mode(false)
        .with_json_response(true)
        // The bearer token, not the `Host` or `Origin` header, is what keeps
        // other sites out (and CORS, as for `/api`); a deployment's host
        // names are its own.
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(MAX_BODY_KIB * 1024);
    let service = StreamableHttpService::new(
        move || Ok(tools.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    McpEndpoint {
        service: service.compat().boxed(),
    }
}

impl Endpoint for McpEndpoint {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        match crate::auth::identify(&req).await {
            Ok(identity) => {
                req.extensions_mut().insert(identity);
                req.extensions_mut().insert(CallScope::current());
                self.service.call(req).await
            }
            // The challenge names where an MCP client learns how to get a
            // token (RFC 9728).
            Err(err) => {
                let mut response = err.as_response();
                // A token sent and refused is `invalid_token` (RFC 6750).
                let error = match err {
                    crate::http::error::ApiError::Unauthorized(_) => "error=\"invalid_token\", ",
                    _ => "",
                };
                let challenge =
                    format!("Bearer {error}resource_metadata=\"{}\"", metadata_url(&req));
                if let Ok(value) = HeaderValue::from_str(&challenge) {
                    response
                        .headers_mut()
                        .insert(header::WWW_AUTHENTICATE, value);
                }
                Ok(response.into_response())
            }
        }
    }
}
