//! PostgreSQL behind a pooler in transaction mode (PgBouncer with
//! `pool_mode = transaction`, Supavisor on port 6543, the "pooled"
//! connection strings of hosted PostgreSQL): what the service needs from
//! it, checked once at start and explained when it fails later.
//!
//! Every query the service sends is a named prepared statement: SeaORM runs
//! its statements through sqlx, which prepares `sqlx_s_1`, `sqlx_s_2`, … on
//! a connection and reuses them by name, and offers no way to opt out. A
//! pooler in transaction mode hands the client another server connection
//! after every transaction, so unless the pooler tracks prepared statements
//! itself (PgBouncer 1.21 and later with `max_prepared_statements` above 0),
//! a statement prepared on one server is missing on the next (`prepared
//! statement "sqlx_s_3" does not exist`), a name is already taken by
//! another client (`… already exists`), or, worst, the name stands for
//! another client's statement with the same parameters and runs it. Turning
//! the statement cache off does not help: sqlx then prepares a new named
//! statement per query and never closes it. So the service refuses such a
//! pooler at start rather than serve on it.

use std::time::Duration;

use anyhow::anyhow;
use sea_orm::sqlx::error::DatabaseError;
use sea_orm::sqlx::postgres::{PgConnection, PgPool};
use sea_orm::sqlx::{self, Connection, Executor, Row};
use sea_orm::{DbErr, RuntimeErr};

/// What to do about it, for the refusal at start and for the log line when
/// the same failure shows up during traffic.
pub const ADVICE: &str = "DATABASE_URL goes through a connection pooler in transaction mode \
    that does not keep prepared statements, and every query of this service is one: use the \
    direct connection string (or the pooler's session mode), or PgBouncer 1.21 or later with \
    max_prepared_statements above 0";

/// How long the check may take. A pooler with one server connection per
/// pool makes the probe wait for itself; it is not refused for that.
const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses a pooler that loses prepared statements between transactions.
///
/// Two connections of the probe's own, opened like the pool's: the first
/// prepares a statement; the second opens a transaction, which takes the
/// server connection the first just gave back, if a pooler shares them;
/// then the first runs its statement again. Straight to PostgreSQL (or
/// through a pooler in session mode) the first keeps its server and its
/// statement; through a pooler in transaction mode it is moved to another
/// server, where only a pooler that tracks prepared statements has it.
pub async fn check(pool: &PgPool) -> anyhow::Result<()> {
    let options = pool.connect_options();
    let probe = async {
        let mut first = PgConnection::connect_with(&options).await?;
        let mut second = PgConnection::connect_with(&options).await?;
        let outcome = probe(&mut first, &mut second).await;
        let _ = first.close().await;
        let _ = second.close().await;
        outcome
    };
    match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(Ok(Sharing::None)) => Ok(()),
        Ok(Ok(Sharing::PerTransaction)) => {
            tracing::info!(
                "the database connection is pooled per transaction and the pooler keeps \
                 prepared statements"
            );
            Ok(())
        }
        Ok(Err(sqlx::Error::Database(err))) if loses_statements(err.as_ref()) => {
            Err(anyhow!("{ADVICE} (PostgreSQL said: {})", err.message()))
        }
        Ok(Err(err)) => Err(anyhow!(err).context("checking how the database connection is pooled")),
        Err(_) => {
            tracing::warn!(
                "could not tell within {CHECK_TIMEOUT:?} whether the database connection is \
                 pooled per transaction: one connection waited for another's transaction, as \
                 only a pooler makes it; if queries fail with `prepared statement … does not \
                 exist`: {ADVICE}"
            );
            Ok(())
        }
    }
}

/// Whether the probe's connections shared server connections.
enum Sharing {
    /// Each kept its own server: direct, or a pooler in session mode.
    None,
    /// A pooler in transaction mode moved them, and prepared statements
    /// survived the move.
    PerTransaction,
}

async fn probe(
    first: &mut PgConnection,
    second: &mut PgConnection,
) -> Result<Sharing, sqlx::Error> {
    // With a parameter, so sqlx prepares it as a named statement, as it
    // does every query of the service.
    const BACKEND: &str = "SELECT pg_backend_pid() + $1";
    let before: i32 = sqlx::query_scalar(BACKEND)
        .bind(0_i32)
        .fetch_one(&mut *first)
        .await?;
    // The simple protocol: nothing prepared on whichever server this is.
    second.execute(sqlx::raw_sql("BEGIN")).await?;
    let held: i32 = second
        .fetch_one(sqlx::raw_sql("SELECT pg_backend_pid()"))
        .await?
        .try_get(0)?;
    let after = sqlx::query_scalar::<_, i32>(BACKEND)
        .bind(0_i32)
        .fetch_one(&mut *first)
        .await;
    second.execute(sqlx::raw_sql("ROLLBACK")).await?;
    let after = after?;
    Ok(if held == before || after != before {
        Sharing::PerTransaction
    } else {
        Sharing::None
    })
}

/// PostgreSQL's answers when a prepared statement went missing or its name
/// was taken: `26000` (invalid statement name: `… does not exist`),
/// `42P05` (duplicate prepared statement: `… already exists`), and `08P01`
/// (protocol violation) where a name stood for another statement whose
/// parameters differ.
fn loses_statements(err: &dyn DatabaseError) -> bool {
    match err.code().as_deref() {
        Some("26000" | "42P05") => true,
        Some("08P01") => err.message().contains("prepared statement"),
        _ => false,
    }
}

/// [`ADVICE`] when `err` is the failure a pooler that loses prepared
/// statements causes, for the log line of a query that failed after start.
pub fn explain(err: &DbErr) -> Option<&'static str> {
    let sqlx = match err {
        DbErr::Exec(RuntimeErr::SqlxError(sqlx))
        | DbErr::Query(RuntimeErr::SqlxError(sqlx))
        | DbErr::Conn(RuntimeErr::SqlxError(sqlx)) => sqlx,
        _ => return None,
    };
    match &**sqlx {
        sqlx::Error::Database(db) if loses_statements(db.as_ref()) => Some(ADVICE),
        _ => None,
    }
}
