//! One instance per SQLite file. Two processes on one file would each
//! think they are its only writer: their event streams would hear of the
//! other's writes only at the next periodic re-read, and their write locks
//! would contend unseen. So an instance holds an exclusive `flock` on the
//! database file for as long as it runs, and a second one refuses to start,
//! saying why. SQLite itself locks with `fcntl` record locks, which Linux
//! keeps apart from `flock`, so the two never interfere; the file may be
//! opened read-only for it, so a read-only file still starts (and reports
//! itself unable to store writes); the operating system drops the lock when
//! the process ends, however it ends.

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::str::FromStr;

use anyhow::{Context, bail};
use sea_orm::sqlx::sqlite::SqliteConnectOptions;

use crate::configuration::is_sqlite_file;

/// Held while the instance runs; dropping it releases the file.
#[derive(Debug)]
pub struct InstanceLock {
    _file: File,
}

/// Takes the lock on a SQLite file, which must exist (the pool creates
/// it); `None` for PostgreSQL, which serves any number of instances.
pub fn acquire(database_url: &str) -> anyhow::Result<Option<InstanceLock>> {
    let Some(path) = database_file(database_url)? else {
        return Ok(None);
    };
    let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(InstanceLock { _file: file })),
        Err(TryLockError::WouldBlock) => bail!(
            "another instance is already serving {}: a SQLite file serves one instance; stop the other one, or use PostgreSQL to run several",
            path.display()
        ),
        Err(TryLockError::Error(err)) => {
            Err(err).with_context(|| format!("locking {}", path.display()))
        }
    }
}

fn database_file(database_url: &str) -> anyhow::Result<Option<PathBuf>> {
    if !is_sqlite_file(database_url) {
        return Ok(None);
    }
    let options = SqliteConnectOptions::from_str(database_url)
        .with_context(|| format!("reading the SQLite URL {database_url}"))?;
    Ok(Some(options.get_filename().to_path_buf()))
}
