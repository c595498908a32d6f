//! Reminders: the instants at which a task's owner is reminded of it,
//! stored as rows of `reminders` while they are to come, and recorded
//! exactly once, as a change of the owner's, when they come due, however
//! many instances run.
//!
//! The tasks resource schedules them in the write that changes a task
//! ([`store::schedule`], [`store::cancel`]); the [`scheduler`] (one per
//! instance) sleeps until the next one, records what came due
//! ([`store::record_due`]) and goes back to sleep. The change feed reads
//! the records (`changes`).

pub mod scheduler;
pub mod store;
