//! What every pooled connection goes through as it is handed out and given
//! back.
//!
//! - **Bounded statements.** A request's statements stop at its deadline
//!   ([`crate::deadline`]), so a query a client no longer waits for does not
//!   keep the database busy: on PostgreSQL through `statement_timeout`, set
//!   to the time the request has left each time it takes a connection; on
//!   SQLite through a progress handler that interrupts the statement once
//!   the deadline has passed. Outside a request (an event stream's later
//!   reads, background work) PostgreSQL statements get the whole
//!   `REQUEST_TIMEOUT`, SQLite's none.
//! - **Never back inside a transaction.** A connection whose `COMMIT` or
//!   `ROLLBACK` failed (a full disk, a read-only file) still counts itself
//!   inside the transaction; handed out again, its next `BEGIN` would open a
//!   savepoint of that transaction and its "commit" only release it, so
//!   writes would be acknowledged that are never stored. Such a connection
//!   is closed instead, and the pool opens a fresh one.

use std::time::Duration;

use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::postgres::{PgConnection, Postgres};
use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnection};
use sea_orm::sqlx::{Connection, Error, Executor};
use tokio::time::Instant;

use crate::deadline;

/// How many SQLite virtual-machine steps run between two looks at the
/// clock: tens of microseconds of work, so the check costs next to nothing
/// and a statement overruns its deadline by no more than that.
const SQLITE_STEPS_PER_CHECK: i32 = 4096;

pub fn sqlite(pool: PoolOptions<Sqlite>) -> PoolOptions<Sqlite> {
    pool.after_connect(|conn, _| Box::pin(bound_sqlite(conn)))
        .before_acquire(|conn, _| {
            Box::pin(async move {
                bound_sqlite(conn).await?;
                Ok(true)
            })
        })
        .after_release(|conn, _| Box::pin(async move { Ok(outside_transaction(conn, "SQLite")) }))
}

pub fn postgres(pool: PoolOptions<Postgres>, statement_timeout: Duration) -> PoolOptions<Postgres> {
    pool.after_connect(move |conn, _| Box::pin(bound_postgres(conn, statement_timeout)))
        .before_acquire(move |conn, _| {
            Box::pin(async move {
                bound_postgres(conn, statement_timeout).await?;
                Ok(true)
            })
        })
        .after_release(|conn, _| {
            Box::pin(async move { Ok(outside_transaction(conn, "PostgreSQL")) })
        })
}

/// Interrupts the connection's statements once the current request's
/// deadline has passed; none without a request.
async fn bound_sqlite(conn: &mut SqliteConnection) -> Result<(), Error> {
    let mut handle = conn.lock_handle().await?;
    match deadline::current() {
        Some(deadline) => {
            // `false` interrupts the statement (SQLITE_INTERRUPT).
            handle.set_progress_handler(SQLITE_STEPS_PER_CHECK, move || Instant::now() < deadline);
        }
        None => handle.remove_progress_handler(),
    }
    Ok(())
}

/// Sets `statement_timeout` to the time the current request has left, or
/// to `default` without one. A simple-protocol statement, so it prepares
/// nothing a pooler would have to track.
async fn bound_postgres(conn: &mut PgConnection, default: Duration) -> Result<(), Error> {
    let limit = deadline::remaining().unwrap_or(default);
    // Zero would turn the timeout off: a request out of time gets 1 ms.
    let millis = limit.as_millis().clamp(1, i32::MAX as u128);
    conn.execute(sea_orm::sqlx::AssertSqlSafe(format!(
        "SET statement_timeout = {millis}"
    )))
    .await?;
    Ok(())
}

/// `true` for a connection fit to hand out again.
fn outside_transaction<C: Connection>(conn: &C, backend: &str) -> bool {
    let clean = !conn.is_in_transaction();
    if !clean {
        tracing::warn!(
            "closing a {backend} connection left inside a transaction (a failed COMMIT or ROLLBACK)"
        );
    }
    clean
}
