//! The database connection pool: how it is opened and tuned for each backend.

use std::time::Duration;

use anyhow::Context;
use sea_orm::sqlx::sqlite::SqliteJournalMode;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::configuration::{is_sqlite_file, redact};

mod connection_hooks;
pub mod errors;
pub mod instance_lock;
mod migrations;
pub mod storage;
pub mod transaction_pooling;
pub mod write_turns;

pub use instance_lock::InstanceLock;
pub use migrations::migrate;

/// The longest a request waits for a database connection; the contract
/// promises a 503 within a second while the database is away.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(500);

/// How long a SQLite statement waits for another connection's write lock
/// before it gives up (a 503): under the second the contract allows, where
/// SQLite's own default would hold the request for five.
pub const SQLITE_LOCK_WAIT: Duration = Duration::from_millis(750);

/// The pool SQLite gets unless told otherwise: a few readers at once
/// beside its one writer.
const SQLITE_POOL_SIZE: u32 = 4;

/// The pool PostgreSQL gets unless told otherwise (sqlx's default).
const POSTGRES_POOL_SIZE: u32 = 10;

/// How a pool is sized and bounded.
#[derive(Clone, Copy, Debug)]
pub struct PoolSettings {
    /// `DATABASE_MAX_CONNECTIONS`, where given.
    pub max_connections: Option<u32>,
    /// The longest any statement may run (`REQUEST_TIMEOUT`); inside a
    /// request, the time left until its deadline is used instead.
    pub statement_timeout: Duration,
    /// How long a connection may sit idle in the pool before it is closed;
    /// the driver's default (ten minutes) when none.
    pub idle_timeout: Option<Duration>,
}

impl PoolSettings {
    /// The connections the pool for `database_url` opens at most.
    pub fn pool_size(&self, database_url: &str) -> u32 {
        let default = if is_sqlite_file(database_url) {
            SQLITE_POOL_SIZE
        } else if database_url.starts_with("sqlite:") {
            // Each connection to an in-memory database is a database of its own.
            1
        } else {
            POSTGRES_POOL_SIZE
        };
        self.max_connections.unwrap_or(default)
    }
}

/// Opens a pool with the default bounds, for `api check`.
pub async fn connect(database_url: &str) -> anyhow::Result<DatabaseConnection> {
    let settings = PoolSettings {
        max_connections: None,
        statement_timeout: Duration::from_secs(30),
        idle_timeout: None,
    };
    connect_with(database_url, settings).await
}

/// Opens the pool `serve` and the tests use. PostgreSQL pools are refused
/// when they go through a pooler that loses prepared statements
/// ([`transaction_pooling`]). Every connection goes through
/// [`connection_hooks`]: its statements stop at the request's deadline, and
/// it never returns to the pool inside a transaction.
pub async fn connect_with(
    database_url: &str,
    settings: PoolSettings,
) -> anyhow::Result<DatabaseConnection> {
    let db = open_pool(database_url, settings).await?;
    if db.get_database_backend() == DbBackend::Postgres {
        transaction_pooling::check(db.get_postgres_connection_pool()).await?;
    }
    Ok(db)
}

/// [`connect_with`] without the pooler check: for a further pool on a
/// `database_url` whose first pool [`connect_with`] has already checked.
pub async fn open_pool(
    database_url: &str,
    settings: PoolSettings,
) -> anyhow::Result<DatabaseConnection> {
    let statement_timeout = settings.statement_timeout;
    // A file opened read-only cannot be switched to a write-ahead log; it
    // is served as it is, and reported unable to store writes.
    let read_only = url::Url::parse(database_url).is_ok_and(|url| {
        url.query_pairs()
            .any(|(name, value)| name == "mode" && value == "ro")
    });
    let mut options = ConnectOptions::new(database_url);
    // Fail fast with a 503 when the database is down instead of queueing
    // requests: the pool retries a refused connection until this timeout,
    // so it bounds how long any request waits for the database. The pool
    // reconnects by itself when the database returns.
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false)
        // Pinged only when it may be dead ([`connection_hooks`]).
        .test_before_acquire(false)
        // SQLite: with a write-ahead log, readers no longer wait for writers.
        .map_sqlx_sqlite_opts(move |sqlite| {
            let sqlite = sqlite.busy_timeout(SQLITE_LOCK_WAIT);
            if read_only {
                sqlite
            } else {
                sqlite.journal_mode(SqliteJournalMode::Wal)
            }
        })
        .map_sqlx_sqlite_before_acquire(|conn, meta| {
            Box::pin(connection_hooks::check_sqlite(conn, meta))
        })
        .map_sqlx_postgres_before_acquire(|conn, meta| {
            Box::pin(connection_hooks::check_postgres(conn, meta))
        })
        .map_sqlx_sqlite_pool_opts(connection_hooks::sqlite)
        .map_sqlx_postgres_pool_opts(move |pool| {
            connection_hooks::postgres(pool, statement_timeout)
        })
        // SeaORM opens one SQLite connection unless told otherwise, which
        // queues every read behind every other; WAL lets a few run at once.
        .max_connections(settings.pool_size(database_url));
    if let Some(idle) = settings.idle_timeout {
        options.idle_timeout(idle);
    }
    // sqlx asks for `extra_float_digits` at connection start, a parameter
    // PgBouncer refuses unless configured to ignore it; no column is a float.
    options.map_sqlx_postgres_opts(|postgres| postgres.extra_float_digits(None));
    Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(database_url)))
}
