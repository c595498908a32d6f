//! What every pooled connection goes through as it is handed out and given
//! back.
//!
//! - **Bounded statements.** No statement outlives its request by much, so
//!   a query a client no longer waits for does not keep the database busy.
//!   On SQLite a progress handler interrupts the statement once the
//!   request's deadline ([`crate::deadline`]) has passed, set each time the
//!   request takes a connection (no round trip: SQLite is in the process).
//!   On PostgreSQL every statement is limited to `REQUEST_TIMEOUT` by
//!   `statement_timeout`, set once per connection: a request's statements
//!   start after the request did, so the server stops one that has run that
//!   long within moments of the request's own deadline, and no extra round
//!   trip is paid per request. Outside a request (an event stream's later
//!   reads, background work) PostgreSQL's limit still holds, SQLite's none.
//! - **Never back inside a transaction.** A connection whose `COMMIT` or
//!   `ROLLBACK` failed (a full disk, a read-only file) still counts itself
//!   inside the transaction; handed out again, its next `BEGIN` would open a
//!   savepoint of that transaction and its "commit" only release it, so
//!   writes would be acknowledged that are never stored. Such a connection
//!   is closed instead, and the pool opens a fresh one.

use std::time::Duration;

use sea_orm::sqlx::pool::PoolOptions;
use sea_orm::sqlx::postgres::Postgres;
use sea_orm::sqlx::sqlite::{Sqlite, SqliteConnection};
use sea_orm::sqlx::{Connection, Error, Executor};
use tokio::time::Instant;

use crate::deadline;

/// How many SQLite virtual-machine steps run between two looks at the
/// clock: tens of microseconds of work, so the check costs next to nothing
/// and a statement overruns its deadline by no more than that.
const SQLITE_STEPS_PER_CHECK: i32 = 4096;

/// SQLite's pool: each new connection bounded as it opens (an idle one is
/// bounded by [`bound_sqlite`] as it is handed out), and never given back
/// inside a transaction.
pub fn sqlite(pool: PoolOptions<Sqlite>) -> PoolOptions<Sqlite> {
    pool.after_connect(|conn, _| {
        Box::pin(async move {
            bound_sqlite(conn).await?;
            Ok(())
        })
    })
    .after_release(|conn, _| Box::pin(async move { Ok(outside_transaction(conn, "SQLite")) }))
}

/// PostgreSQL's pool: each connection's statements limited to
/// `statement_timeout` once, as it opens (a simple-protocol `SET`, which
/// prepares nothing a pooler would have to track), and never given back
/// inside a transaction.
pub fn postgres(pool: PoolOptions<Postgres>, statement_timeout: Duration) -> PoolOptions<Postgres> {
    let set = format!(
        "SET statement_timeout = {}",
        statement_timeout.as_millis().clamp(1, i32::MAX as u128)
    );
    pool.after_connect(move |conn, _| {
        let set = set.clone();
        Box::pin(async move {
            conn.execute(sea_orm::sqlx::AssertSqlSafe(set)).await?;
            Ok(())
        })
    })
    .after_release(|conn, _| Box::pin(async move { Ok(outside_transaction(conn, "PostgreSQL")) }))
}

/// Interrupts the connection's statements once the current request's
/// deadline has passed; none without a request. Run as a connection is
/// handed out; always hands it out.
pub async fn bound_sqlite(conn: &mut SqliteConnection) -> Result<bool, Error> {
    let mut handle = conn.lock_handle().await?;
    match deadline::current() {
        Some(deadline) => {
            // `false` interrupts the statement (SQLITE_INTERRUPT).
            handle.set_progress_handler(SQLITE_STEPS_PER_CHECK, move || Instant::now() < deadline);
        }
        None => handle.remove_progress_handler(),
    }
    Ok(true)
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
