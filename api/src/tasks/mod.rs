//! `/api/tasks`: the caller's tasks.
//!
//! `routes` holds the handlers; `task` the response type; `bodies` and
//! `list_query` the inputs and their validation, with the text limits in
//! `text_fields`, the tag rules in `tag_names`, priorities in `priority`
//! due dates in `due`, series in `recurrence` and reminder offsets in
//! `reminder_offsets`; `repository` every SQL statement on tasks, and
//! `tag_store` every one on the tags they carry.

mod bodies;
mod due;
mod list_query;
mod listed;
#[cfg(test)]
mod plans;
mod priority;
mod recurrence;
mod reminder_offsets;
pub(crate) mod repository;
mod routes;
mod tag_names;
mod tag_store;
mod task;
mod text_fields;

pub(crate) use bodies::{CreateTask, SetCompletion, UpdateTask};
pub(crate) use list_query::{ListParams, PageLimit, TagParam, default_limit};
pub use routes::TasksApi;
pub(crate) use routes::written;
pub(crate) use tag_names::TagName;
pub(crate) use tag_store::{CreateRun, TagCount};
pub(crate) use task::Task;
