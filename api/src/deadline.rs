//! The running request's deadline, where the database layer can see it, so
//! a statement stops when its request does instead of working on for a
//! client that has already been answered with a 503.
//!
//! Set by the request-timeout middleware, read when a request takes a
//! database connection. Imports nothing of the crate: both sides depend on
//! it, not on each other.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `work` with `deadline` as the current request's deadline.
pub async fn scope<F: Future>(deadline: Instant, work: F) -> F::Output {
    DEADLINE.scope(deadline, work).await
}

/// The current request's deadline; `None` outside a request (an event
/// stream's later reads, start-up, background work).
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The time left until the current request's deadline, if any.
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}
