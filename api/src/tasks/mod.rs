//! `/api/tasks`: the caller's tasks.
//!
//! `routes` holds the handlers; `task` the response type; `bodies` and
//! `list_query` the inputs and their validation, with the text limits in
//! `text_fields`; `repository` every SQL statement on tasks.

mod bodies;
mod list_query;
mod repository;
mod routes;
mod task;
mod text_fields;

pub use routes::TasksApi;
