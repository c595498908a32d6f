//! The database connection pool: how it is opened and tuned for each backend.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbBackend};

use crate::configuration::is_sqlite_file;

mod migrations;
pub mod transaction_pooling;

pub use migrations::migrate;

/// The longest a request waits for a database connection; the contract
/// promises a 503 within a second while the database is away.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(500);

/// Opens the pool; `serve` and the tests share this, so both see the same
/// timeouts and SQLite tuning.
pub async fn connect(database_url: &str) -> anyhow::Result<DatabaseConnection> {
    connect_with_pool_size(database_url, None).await
}

/// [`connect`], with at most `max_connections` connections in the pool
/// (`DATABASE_MAX_CONNECTIONS`) where given. PostgreSQL pools are refused
/// when they go through a pooler that loses prepared statements
/// ([`transaction_pooling`]).
pub async fn connect_with_pool_size(
    database_url: &str,
    max_connections: Option<u32>,
) -> anyhow::Result<DatabaseConnection> {
    let mut options = ConnectOptions::new(database_url);
    // Fail fast with a 503 when the database is down instead of queueing
    // requests: the pool retries a refused connection until this timeout,
    // so it bounds how long any request waits for the database. The pool
    // reconnects by itself when the database returns.
    options
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false)
        // SQLite: with a write-ahead log, readers no longer wait for writers.
        .map_sqlx_sqlite_opts(|sqlite| {
            sqlite.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
        });
    if is_sqlite_file(database_url) {
        // SeaORM opens one SQLite connection unless told otherwise, which
        // queues every read behind every other; WAL lets a few run at once.
        options.max_connections(4);
    }
    if let Some(max_connections) = max_connections {
        options.max_connections(max_connections);
    }
    // sqlx asks for `extra_float_digits` at connection start, a parameter
    // PgBouncer refuses unless configured to ignore it; no column is a float.
    options.map_sqlx_postgres_opts(|postgres| postgres.extra_float_digits(None));
    let db = Database::connect(options)
        .await
        .with_context(|| format!("connecting to {}", redact(database_url)))?;
    if db.get_database_backend() == DbBackend::Postgres {
        transaction_pooling::check(db.get_postgres_connection_pool()).await?;
    }
    Ok(db)
}

/// The URL without its password, for error messages.
pub fn redact(database_url: &str) -> String {
    match url::Url::parse(database_url) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        _ => database_url.to_owned(),
    }
}
