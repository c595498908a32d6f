//! One writer at a time per SQLite file, in the order they arrive.
//!
//! SQLite has one write lock per file, and a writer that finds it taken
//! polls for it (its busy handler sleeps and retries), so under a steady
//! stream of short writes, say the sweeper's batches beside an erasure's
//! steps, an unlucky request can miss every gap and give up. A SQLite file
//! serves one instance ([`super::instance_lock`]), so its writers can queue
//! in the process instead: each takes its turn here, first come first
//! served, before it begins, and holds it until it commits or rolls back.
//! PostgreSQL locks rows, not the database, and needs none of this.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use sea_orm::{ConnAcquireErr, DatabaseConnection, DbBackend, DbErr};
use tokio::sync::OwnedMutexGuard;

use super::SQLITE_LOCK_WAIT;

/// A writer's turn: the file is its own until this is dropped.
pub type Turn = OwnedMutexGuard<()>;

/// The queue of each SQLite file this process writes to.
static QUEUES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(Mutex::default);

/// Waits for the writer's turn on `db` (at most as long as SQLite itself
/// would wait for its lock: then the database is busy, a 503); `None` where
/// no turn is needed (PostgreSQL, an in-memory database).
pub async fn take(db: &DatabaseConnection) -> Result<Option<Turn>, DbErr> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(None);
    }
    let file = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    if file.as_os_str().is_empty() || file.as_os_str() == ":memory:" {
        return Ok(None);
    }
    let queue = {
        let mut queues = QUEUES.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(queues.entry(file).or_default())
    };
    match tokio::time::timeout(SQLITE_LOCK_WAIT, queue.lock_owned()).await {
        Ok(turn) => Ok(Some(turn)),
        // Mapped like a pool that gave no connection in time: a 503.
        Err(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)),
    }
}
