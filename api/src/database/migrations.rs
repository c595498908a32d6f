//! Applying migrations at start, safely when several instances start at once.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};

/// The advisory lock migrations hold on PostgreSQL: any number unlikely to
/// collide with another application's locks on the same database.
const MIGRATION_LOCK: i64 = 0x746f_646f_6d69_6772;

/// Applies pending migrations. On PostgreSQL the whole run is one
/// transaction that first takes a transaction-level advisory lock, so of
/// several instances starting together one migrates and the others wait,
/// then find nothing pending (without it, all but one fail on the tables
/// the first is creating). The lock is released by the commit, not by an
/// unlock on the same session, so it also holds through a pooler in
/// transaction mode, where a session-level lock could be taken on one
/// server connection and never released on another.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        // SQLite is for one instance, which its write lock serializes anyway.
        return Migrator::up(db, None).await;
    }
    let txn = db.begin().await?;
    // Building an index on a large table may take longer than any request.
    txn.execute_unprepared("SET LOCAL statement_timeout = 0")
        .await?;
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK.into()],
    ))
    .await?;
    Migrator::up(&txn, None).await?;
    txn.commit().await
}
