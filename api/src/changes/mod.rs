//! Live sync: the change feed (`GET /api/tasks/changes`) and the event
//! stream (`GET /api/events`).
//!
//! Every write of a user takes the next number of that user's changes,
//! under the lock of their `users` row ([`crate::me::repository`]), and
//! stamps it on the task it writes, or on the tombstone a deletion leaves.
//! So one user's changes commit in number order, and "everything after
//! number N" is a complete answer however many connections or instances
//! write: a cursor is that number (with the user's epoch), and the feed
//! never skips a change.
//!
//! Streams are woken by [`hub::ChangeHub`], which PostgreSQL's
//! `LISTEN/NOTIFY` feeds across instances ([`listener`]) and SQLite's
//! writes feed in process; on a wake-up each stream reads the feed after
//! its own cursor.

mod cursor;
mod feed;
pub mod hub;
pub mod listener;
pub mod repository;
mod routes;
mod schema;
mod stream;

pub use routes::ChangesApi;
