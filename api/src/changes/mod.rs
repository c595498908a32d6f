//! Live sync: the change feed (`GET /api/tasks/changes`) and the event
//! stream (`GET /api/events`).
//!
//! Both read the change log ([`crate::change_log`]): every change of a
//! user is numbered, in commit order, so "everything after number N" is a
//! complete answer and the feed never skips a change. Streams are woken by
//! the change log's hub; on a wake-up each stream reads the feed after its
//! own cursor.

mod feed;
pub mod repository;
mod routes;
mod schema;
mod stream;

pub use routes::ChangesApi;
