//! What a database error means to the rest of the service: a fixed word
//! for the metrics, and the `ApiError` a request answers with (503 for
//! trouble worth retrying, 507 for a write that cannot be stored, 500 for
//! anything else). The mapping lives here, beside the errors it reads, so
//! the HTTP layer knows nothing of the database.

use sea_orm::DbErr;

use crate::http::error::ApiError;

/// Counts `err` in the current request's metrics, by its [`kind`]; one
/// that says a connection was lost has the pool check its idle ones.
pub fn count(err: &DbErr) {
    crate::metrics::count_database_error(kind(err));
    if lost_connection(err) {
        super::connection_hooks::note_broken_connection();
    }
}

/// `true` when `err` says the connection it ran on is gone: an I/O or
/// protocol failure, or PostgreSQL ending the session (class 08, or 57P0x:
/// terminated by an administrator, a shutdown, a crash).
fn lost_connection(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            match &**sqlx {
                Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P0")),
                _ => false,
            }
        }
        _ => false,
    }
}

/// A fixed word for what went wrong: `pool_timeout` (every connection busy),
/// `connection` (the server cannot be reached or dropped us), `transient`
/// (busy, locked, shutting down, out of resources), `constraint`, `query`
/// (any other error the database reported), `other`.
pub fn kind(err: &DbErr) -> &'static str {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::sqlx::error::ErrorKind;
    use sea_orm::{ConnAcquireErr, RuntimeErr};
    match err {
        DbErr::ConnectionAcquire(ConnAcquireErr::Timeout) => "pool_timeout",
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => "connection",
        DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => {
            match &**sqlx {
                Sqlx::PoolTimedOut => "pool_timeout",
                Sqlx::Io(_) | Sqlx::Tls(_) | Sqlx::Protocol(_) | Sqlx::PoolClosed => "connection",
                Sqlx::Database(db) => match db.kind() {
                    ErrorKind::UniqueViolation
                    | ErrorKind::ForeignKeyViolation
                    | ErrorKind::NotNullViolation
                    | ErrorKind::CheckViolation => "constraint",
                    _ if is_transient(db.as_ref()) => "transient",
                    _ => "query",
                },
                _ => "other",
            }
        }
        _ => "other",
    }
}

impl From<sea_orm::DbErr> for ApiError {
    /// Connection trouble is a 503 the client may retry; anything else is a
    /// bug, logged here and reported without detail.
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::sqlx::Error as Sqlx;
        use sea_orm::{DbErr, RuntimeErr};
        if let Some(advice) = super::transaction_pooling::explain(&err) {
            // A deployment mistake, not an outage: say what to change.
            tracing::error!(error = %err, "{advice}");
            return Self::Internal;
        }
        count(&err);
        if super::storage::refuses_writes(&err) {
            tracing::warn!(error = %err, "the database cannot store a write");
            return Self::InsufficientStorage;
        }
        let unreachable = match &err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(sqlx))
            | DbErr::Query(RuntimeErr::SqlxError(sqlx)) => match &**sqlx {
                Sqlx::Io(_) | Sqlx::PoolTimedOut | Sqlx::PoolClosed | Sqlx::Tls(_) => true,
                Sqlx::Protocol(_) => true,
                Sqlx::Database(db) => is_transient(db.as_ref()),
                _ => false,
            },
            _ => false,
        };
        if unreachable {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable
        } else {
            tracing::error!(error = %err, "database error");
            Self::Internal
        }
    }
}

/// A database error worth retrying, by the code of the backend that raised it.
fn is_transient(db: &dyn sea_orm::sqlx::error::DatabaseError) -> bool {
    use sea_orm::sqlx::sqlite::SqliteError;
    db.code().is_some_and(|code| {
        if db.try_downcast_ref::<SqliteError>().is_some() {
            is_transient_sqlite(&code)
        } else {
            is_transient_postgres(&code)
        }
    })
}

/// SQLite result codes worth retrying: busy or locked, extended codes
/// included (`SQLITE_BUSY_SNAPSHOT` is 517: its low byte is the primary code),
/// and a statement interrupted at its request's deadline.
fn is_transient_sqlite(code: &str) -> bool {
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 6 | 9))
}

/// PostgreSQL SQLSTATEs worth retrying: connection exceptions (08),
/// insufficient resources (53) and operator intervention such as a shutdown
/// (57).
fn is_transient_postgres(code: &str) -> bool {
    ["08", "53", "57"]
        .iter()
        .any(|class| code.starts_with(class))
}

#[cfg(test)]
mod tests {
    use super::{is_transient_postgres, is_transient_sqlite};

    #[test]
    fn sqlite_busy_and_locked_are_retryable_extended_codes_included() {
        for code in ["5", "6", "261", "517", "773", "262", "518", "9"] {
            assert!(is_transient_sqlite(code), "{code}");
        }
        for code in ["19", "2067", "1", "11"] {
            assert!(!is_transient_sqlite(code), "{code}");
        }
    }

    #[test]
    fn postgres_connection_resource_and_shutdown_classes_are_retryable() {
        for code in ["08006", "53300", "57P01"] {
            assert!(is_transient_postgres(code), "{code}");
        }
        for code in ["23505", "22021", "42P01"] {
            assert!(!is_transient_postgres(code), "{code}");
        }
    }
}
