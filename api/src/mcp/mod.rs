//! `POST /mcp`: the Model Context Protocol for AI assistants, acting with
//! the caller's own token. The protocol is the official SDK's (`rmcp`,
//! Streamable HTTP, stateless, JSON answers); the tools are the task routes
//! again, reading their arguments with the routes' own body and parameter
//! readers and answering what the routes answer, so every rule and limit
//! has one home.
//!
//! `endpoint` mounts the SDK's service in poem behind the token check (a
//! 401 names the resource metadata, RFC 9728, served by `metadata`);
//! `tools` lists the tools and runs them; `schemas` turns the routes'
//! OpenAPI types into the tools' JSON Schemas.

mod endpoint;
mod metadata;
mod schemas;
mod tools;

pub use endpoint::mcp_endpoint;
pub use metadata::protected_resource_metadata;
