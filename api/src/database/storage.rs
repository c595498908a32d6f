//! Whether the database can store writes: the errors that say it cannot (a
//! full disk, a read-only file or server), a probe for readiness and
//! `api check`, and what this instance last saw of its own writes.

use std::sync::Mutex;
use std::time::Duration;

use sea_orm::sqlx::error::DatabaseError;
use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, RuntimeErr, TransactionTrait,
};
use tokio::time::Instant;

/// Whether `err` says the database refused to store a write because it has
/// no room or is read-only, rather than being away or the statement wrong.
pub fn refuses_writes(err: &DbErr) -> bool {
    database_error(err).is_some_and(|db| match sqlite_code(db) {
        Some(code) => sqlite_refuses(code),
        None => db.code().is_some_and(|code| postgres_refuses(&code)),
    })
}

/// The database's own error inside `err`, if it is one.
fn database_error(err: &DbErr) -> Option<&dyn DatabaseError> {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            match &**sqlx {
                Sqlx::Database(db) => Some(db.as_ref()),
                _ => None,
            }
        }
        _ => None,
    }
}

/// A SQLite error's extended result code; `None` for PostgreSQL's.
fn sqlite_code(db: &dyn DatabaseError) -> Option<i32> {
    db.try_downcast_ref::<SqliteError>()?;
    db.code()?.parse().ok()
}

/// SQLite result codes for a write that cannot be stored: `SQLITE_FULL`
/// and `SQLITE_READONLY` with their extended codes, and the I/O errors of
/// writing, syncing or growing the files, which a full disk also raises.
fn sqlite_refuses(code: i32) -> bool {
    const FULL: i32 = 13;
    const READONLY: i32 = 8;
    const IOERR_WRITE: i32 = 778;
    const IOERR_FSYNC: i32 = 1034;
    const IOERR_DIR_FSYNC: i32 = 1290;
    const IOERR_TRUNCATE: i32 = 1546;
    const IOERR_SHMSIZE: i32 = 4874;
    matches!(code & 0xff, FULL | READONLY)
        || matches!(
            code,
            IOERR_WRITE | IOERR_FSYNC | IOERR_DIR_FSYNC | IOERR_TRUNCATE | IOERR_SHMSIZE
        )
}

/// PostgreSQL SQLSTATEs for the same: `disk_full` and
/// `read_only_sql_transaction` (a standby, or `default_transaction_read_only`).
fn postgres_refuses(code: &str) -> bool {
    matches!(code, "53100" | "25006")
}

/// Whether a small write can be stored now: `Ok(None)` when it can,
/// `Ok(Some(why))` when the database refuses it, `Err` when it does not
/// answer. On SQLite a real write: the database header's `user_version`
/// rewritten with its own value, committed. On PostgreSQL the server's own
/// word, without writing: a standby or a read-only default refuses every
/// write, and a full disk shows in the writes that fail
/// ([`WriteOutcomes`]).
pub async fn probe(db: &DatabaseConnection) -> Result<Option<String>, DbErr> {
    let outcome = match db.get_database_backend() {
        DbBackend::Sqlite => probe_sqlite(db).await,
        DbBackend::Postgres => {
            let row = db
                .query_one_raw(sea_orm::Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS read_only",
                ))
                .await?;
            let read_only = match row {
                Some(row) => row.try_get::<bool>("", "read_only")?,
                None => false,
            };
            return Ok(read_only.then(|| {
                "the server accepts no writes (a standby, or default_transaction_read_only)"
                    .to_owned()
            }));
        }
        _ => Ok(()),
    };
    match outcome {
        Ok(()) => Ok(None),
        Err(err) if refuses_writes(&err) => Ok(Some(err.to_string())),
        // Another connection held the write lock throughout: writes are
        // being stored, just not this one; a busy instance is still ready.
        Err(err) if sqlite_busy(&err) => Ok(None),
        Err(err) => Err(err),
    }
}

fn sqlite_busy(err: &DbErr) -> bool {
    const BUSY: i32 = 5;
    database_error(err)
        .and_then(sqlite_code)
        .is_some_and(|code| code & 0xff == BUSY)
}

async fn probe_sqlite(db: &DatabaseConnection) -> Result<(), DbErr> {
    // In line with the other writers. A queue too long to wait through
    // means writes are being stored, just not this one: ready.
    let Ok(_turn) = super::write_turns::take(db).await else {
        return Ok(());
    };
    let txn = db.begin().await?;
    let row = txn
        .query_one_raw(sea_orm::Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA user_version",
        ))
        .await?;
    let version = match row {
        Some(row) => row.try_get_by_index::<i64>(0)?,
        None => 0,
    };
    txn.execute_unprepared(&format!("PRAGMA user_version = {version}"))
        .await?;
    txn.commit().await
}

/// How long readiness stays down after a write was refused, unless a write
/// commits first: long enough for a load balancer to notice, short enough
/// that traffic comes back to find out whether the space has.
const REFUSAL_MEMORY: Duration = Duration::from_secs(5);

/// What this instance saw of its latest writes: readiness says "not ready"
/// for a while after a write was refused for want of space, until one
/// commits again.
#[derive(Debug, Default)]
pub struct WriteOutcomes {
    refused_at: Mutex<Option<Instant>>,
}

impl WriteOutcomes {
    pub fn refused(&self) {
        *self.lock() = Some(Instant::now());
    }

    pub fn stored(&self) {
        *self.lock() = None;
    }

    /// Whether a write was refused lately, with none stored since.
    pub fn recently_refused(&self) -> bool {
        self.lock()
            .is_some_and(|refused_at| refused_at.elapsed() < REFUSAL_MEMORY)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.refused_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::{postgres_refuses, sqlite_refuses};

    #[test]
    fn full_and_read_only_codes_refuse_writes() {
        // SQLITE_FULL, SQLITE_READONLY, SQLITE_READONLY_DBMOVED, SQLITE_IOERR_WRITE.
        for code in [13, 8, 1032, 778, 4874] {
            assert!(sqlite_refuses(code), "{code}");
        }
        // SQLITE_BUSY, SQLITE_CONSTRAINT_UNIQUE, SQLITE_IOERR_READ, SQLITE_INTERRUPT.
        for code in [5, 2067, 266, 9] {
            assert!(!sqlite_refuses(code), "{code}");
        }
        assert!(postgres_refuses("53100") && postgres_refuses("25006"));
        assert!(!postgres_refuses("53300") && !postgres_refuses("23505"));
    }
}
