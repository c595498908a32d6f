//! `POST /api/batch`: several task writes in one request, in order, all or
//! nothing by default; what an offline client sends when it reconnects.
//!
//! `bodies` reads the request (the batch's shape whole, each operation's
//! task by the single route's rules), `schema` has its wire types for the
//! document, `apply` runs it in one transaction through the task
//! repository's writes, and `routes` holds the handler.

mod apply;
mod bodies;
mod routes;
mod schema;

pub use routes::BatchApi;
