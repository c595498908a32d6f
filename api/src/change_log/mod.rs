//! The change log: each user's writes, numbered in the order they commit,
//! and the wake-up their open streams get. The resources write through it
//! (`tasks`, `me`'s erasure, the sweeper) and read it (`changes`); it knows
//! none of them.
//!
//! Every write of a user takes their `users` row first ([`owner`]): the row
//! is the per-user write lock, and it hands out the next change number,
//! which the write stamps on the task it writes, or on the tombstone a
//! deletion leaves ([`tombstones`]). So one user's changes commit in number
//! order, and "everything after number N" is a complete answer however many
//! connections or instances write: a cursor ([`cursor`]) is that number
//! (with the user's epoch), checked against where the user's feed stands
//! ([`position`]).
//!
//! Every write transaction begins and commits through [`write`](mod@write): begun
//! timed, committed with an announcement that wakes the writer's streams in
//! [`hub::ChangeHub`], which PostgreSQL's `LISTEN/NOTIFY` feeds across
//! instances (sent by [`announcer`], heard by [`listener`]) and SQLite's
//! writes feed in process.

pub mod announcer;
pub mod cursor;
pub mod hub;
pub mod listener;
pub mod owner;
pub mod position;
pub mod tombstones;
pub mod write;

pub use cursor::{Cursor, START};
pub use hub::{ChangeHub, Pushed, Subscription};
pub use owner::{
    Taken, count_tasks, forget, lock_owners, record_change, record_more_changes, take_changes,
    take_for_erasure, unfinished_erasures, visible,
};
pub use position::Position;
pub use tombstones::{
    delete_some_tombstones, purge_expired_tombstones, purge_past, record_deletion,
};
pub use write::{Write, announced, begin, commit, commit_pushing, commit_scheduling};
