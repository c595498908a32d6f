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
//! - **Pinged when it may be dead.** A connection in steady use proves
//!   itself alive with every query, so it is handed out without a round
//!   trip. One idle for a second, or idle since any connection was found
//!   broken (the server restarted, or ended our sessions), is pinged first
//!   and replaced if it does not answer: after an outage the requests that
//!   follow get fresh connections instead of one 503 per dead one.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::sqlx::pool::PoolConnectionMetadata;
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

/// How long a pooled connection may sit idle before it is pinged as it is
/// handed out.
const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// When a connection was last found broken, in nanoseconds after
/// [`origin`] (0: never). Process-wide: a false alarm costs one ping.
static LAST_BROKEN_CONNECTION: AtomicU64 = AtomicU64::new(0);

fn origin() -> Instant {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    *ORIGIN.get_or_init(Instant::now)
}

/// Notes that a connection was found broken: every connection idle since
/// then is pinged before it is handed out again.
pub fn note_broken_connection() {
    let now = origin().elapsed().as_nanos().max(1);
    LAST_BROKEN_CONNECTION.fetch_max(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
}

/// `true` for a connection that may have died while it sat idle.
fn worth_pinging(meta: &PoolConnectionMetadata) -> bool {
    if meta.idle_for >= PING_IF_IDLE_FOR {
        return true;
    }
    let broken = LAST_BROKEN_CONNECTION.load(Ordering::Relaxed);
    let idle_since = origin().elapsed().saturating_sub(meta.idle_for).as_nanos();
    broken != 0 && idle_since <= u128::from(broken)
}

/// PostgreSQL, as a connection is handed out: pinged when it may be dead.
pub async fn check_postgres(
    conn: &mut PgConnection,
    meta: PoolConnectionMetadata,
) -> Result<bool, Error> {
    if worth_pinging(&meta) {
        conn.ping().await?;
    }
    Ok(true)
}

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

/// SQLite, as a connection is handed out: pinged when it may be dead, and
/// bounded by [`bound_sqlite`].
pub async fn check_sqlite(
    conn: &mut SqliteConnection,
    meta: PoolConnectionMetadata,
) -> Result<bool, Error> {
    if worth_pinging(&meta) {
        conn.ping().await?;
    }
    bound_sqlite(conn).await
}

/// Interrupts the connection's statements once the current request's
/// deadline has passed; none without a request. Always hands it out.
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
