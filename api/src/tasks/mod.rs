//! `/api/tasks`: the caller's tasks.
//!
//! `routes` holds the handlers; `task` the response type; `bodies` and
//! `list_query` the inputs and their validation, with the text limits in
//! `text_fields`; `repository` every SQL statement on tasks.

mod bodies;
mod list_query;
pub(crate) mod repository;
mod routes;
mod task;
mod text_fields;

pub(crate) use list_query::{PageLimit, default_limit};
pub use routes::TasksApi;
pub(crate) use task::Task;
