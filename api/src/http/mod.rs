//! HTTP plumbing shared by every resource, and the wire types it speaks.
//!
//! Errors: `error` (what can go wrong, with its status and wording, and the
//! one mapping of any error to a response), `problem` (the RFC 9457 body),
//! `documented_errors` (which error statuses each operation lists).
//! Inputs: `json_body` (the body reader), `lenient` (query parameters), `query_encoding` (UTF-8 query strings),
//! `text` (the text rule), `idempotency` (the `Idempotency-Key` header),
//! `conditional` (`ETag`, `If-Match`, `If-None-Match`). Responses:
//! `rendered_json` (a body kept as sent, for replays). Wire types: `timestamp`, `nullable`, and the
//! `scalar_type!` macro behind them. `request_id` names each request;
//! `request_limits` bounds a request's head and running time (`limits` has
//! the sizes); `request_cost` lets a handler charge the rate limit for
//! the work a request carries; `cors` lets
//! the browser frontend in. `allow` names the methods of a path on a 405;
//! `unreadable_headers` refuses request headers the framework would
//! otherwise drop unread.

pub mod allow;
pub mod conditional;
pub mod cors;
pub mod documented_errors;
pub mod error;
pub mod idempotency;
pub mod json_body;
pub mod lenient;
pub mod limits;
pub mod nullable;
pub mod problem;
pub mod query_encoding;
pub mod rendered_json;
pub mod request_cost;
pub mod request_id;
pub mod request_limits;
pub(crate) mod scalar_type;
pub mod text;
pub mod timestamp;
pub mod unreadable_headers;
