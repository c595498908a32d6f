//! Every statement of the change feed: a user's position, what changed
//! after a cursor, tombstones, and telling other instances of a commit.

use chrono::{DateTime, Utc};
use entity::{task, task_tombstone};
use std::collections::BTreeMap;

use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, SqliteTransactionMode, Statement,
    TransactionOptions, TransactionTrait,
};

use super::cursor::{Cursor, START};
use super::hub::ChangeHub;
use crate::database::write_turns::{self, Turn};
use crate::me::repository as users;
use crate::metrics::{WriteKind, WriteTimer};

/// The PostgreSQL channel a commit is announced on. The payload is the user
/// id, never task data: every listener reads the changes itself.
pub const CHANNEL: &str = "task_changes";

/// How long a deletion is remembered, so a cursor this old still works.
pub const TOMBSTONE_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::days(30);

/// Where one user's feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub epoch: i64,
    /// The latest change number: every change up to it has committed.
    pub head: i64,
    /// Tombstones up to this number have been purged.
    pub purged: i64,
}

impl Position {
    /// A user with no row: nothing has happened yet.
    const EMPTY: Self = Self {
        epoch: START.epoch,
        head: START.seq,
        purged: 0,
    };

    pub async fn of(db: &DatabaseConnection, user_id: &str) -> Result<Self, DbErr> {
        let row = users::feed_position(db, user_id).await?;
        Ok(Self::stored(row.map(|row| {
            (row.sync_epoch, row.change_seq, row.purged_seq)
        })))
    }

    /// The position a user's row stores as `(sync_epoch, change_seq,
    /// purged_seq)`, read wherever the row is read; `None` for a user with
    /// no row yet.
    pub fn stored(columns: Option<(i64, i64, i64)>) -> Self {
        columns.map_or(Self::EMPTY, |(epoch, head, purged)| Self {
            epoch,
            head,
            purged,
        })
    }

    /// Whether `cursor` was issued for this life of the user's row and has
    /// not expired. [`START`] always is: a client that has seen nothing
    /// cannot have missed a deletion.
    pub fn accepts(&self, cursor: Cursor) -> bool {
        cursor == START
            || (cursor.epoch == self.epoch && cursor.seq >= self.purged && cursor.seq <= self.head)
    }

    /// The cursor at change `seq` of this position's feed.
    pub fn cursor_at(&self, seq: i64) -> Cursor {
        Cursor {
            epoch: self.epoch,
            seq,
        }
    }
}

/// One user's changes numbered in `(after, through]`, oldest first: at
/// most `limit + 1` of each kind, so the caller can tell whether more remain.
pub struct Changed {
    pub tasks: Vec<task::Model>,
    pub deleted: Vec<task_tombstone::Model>,
}

/// Everything up to `through` (a [`Position::head`] read before) has
/// committed, since one user's changes commit in number order; so reading
/// no further than it, in separate statements, never skips a change. A task
/// changed again since is simply found later, at its new number.
pub async fn changed_between(
    db: &DatabaseConnection,
    user_id: &str,
    after: i64,
    through: i64,
    limit: u64,
    with_deletions: bool,
) -> Result<Changed, DbErr> {
    let tasks = task::Entity::find()
        .filter(task::Column::UserId.eq(user_id))
        .filter(users::visible(user_id))
        .filter(task::Column::ChangeSeq.gt(after))
        .filter(task::Column::ChangeSeq.lte(through))
        .order_by_asc(task::Column::ChangeSeq)
        .limit(limit + 1)
        .all(db);
    let deleted = async {
        if !with_deletions {
            return Ok(Vec::new());
        }
        task_tombstone::Entity::find()
            .filter(task_tombstone::Column::UserId.eq(user_id))
            .filter(users::visible(user_id))
            .filter(task_tombstone::Column::ChangeSeq.gt(after))
            .filter(task_tombstone::Column::ChangeSeq.lte(through))
            .order_by_asc(task_tombstone::Column::ChangeSeq)
            .limit(limit + 1)
            .all(db)
            .await
    };
    let (tasks, deleted) = tokio::try_join!(tasks, deleted)?;
    Ok(Changed { tasks, deleted })
}

/// Remembers the deletion of task `id` as change `seq`, in the deleting
/// transaction. Tombstones past their lifetime are purged by the sweeper
/// ([`purge_expired_tombstones`]), never here: a delete's transaction stays
/// as short as any other write's, however many a user has to purge.
pub async fn record_deletion(
    txn: &DatabaseTransaction,
    user_id: &str,
    id: i64,
    seq: i64,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    task_tombstone::Entity::insert(task_tombstone::ActiveModel {
        id: Set(id),
        user_id: Set(user_id.to_owned()),
        change_seq: Set(seq),
        deleted_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Purges at most `batch` tombstones past their lifetime, oldest first (from
/// any users), in one short transaction; returns how many. Each owner's
/// `purged_seq` is first raised to the newest change purged, in the same
/// transaction and before the tombstones go, so no reader ever sees a
/// tombstone missing below `purged_seq`'s old value: a cursor older than a
/// purged deletion is then refused (410), never answered without it. The
/// owners' rows are taken first, the order every write takes them in.
///
/// A tombstone left below `purged_seq` (a clock that stepped back made it
/// younger than a later one) is never read, since no accepted cursor is
/// below `purged_seq`, and goes in a later batch once it expires.
pub async fn purge_expired_tombstones(db: &DatabaseConnection, batch: u64) -> Result<u64, DbErr> {
    let expired: Vec<(i64, String, i64)> = task_tombstone::Entity::find()
        .select_only()
        .column(task_tombstone::Column::Id)
        .column(task_tombstone::Column::UserId)
        .column(task_tombstone::Column::ChangeSeq)
        .filter(task_tombstone::Column::DeletedAt.lt(Utc::now() - TOMBSTONE_LIFETIME))
        .order_by_asc(task_tombstone::Column::DeletedAt)
        .limit(batch)
        .into_tuple()
        .all(db)
        .await?;
    if expired.is_empty() {
        return Ok(0);
    }
    let mut newest = BTreeMap::new();
    for (_, user_id, seq) in &expired {
        let purged = newest.entry(user_id.clone()).or_insert(*seq);
        *purged = (*purged).max(*seq);
    }
    let txn = begin(db, WriteKind::TombstonePurge).await?;
    users::advance_purged(&txn, &newest).await?;
    let purged = task_tombstone::Entity::delete_many()
        .filter(task_tombstone::Column::Id.is_in(expired.iter().map(|(id, _, _)| *id)))
        .exec(&*txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(purged)
}

/// Deletes at most `limit` of the user's tombstones, for erasure (whose
/// caller holds the user's row); returns how many.
pub async fn delete_some_tombstones(
    txn: &DatabaseTransaction,
    user_id: &str,
    limit: u64,
) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(task_tombstone::Column::Id)
        .from(task_tombstone::Entity)
        .and_where(task_tombstone::Column::UserId.eq(user_id))
        .limit(limit)
        .to_owned();
    Ok(task_tombstone::Entity::delete_many()
        .filter(task_tombstone::Column::Id.in_subquery(some))
        .exec(txn)
        .await?
        .rows_affected)
}

/// A write transaction, timed from BEGIN until it commits or rolls back
/// (`db_write_transaction_seconds`): on SQLite, how long it keeps every
/// other writer waiting. Every write begins here.
pub struct Write {
    txn: DatabaseTransaction,
    _timer: WriteTimer,
    /// On SQLite, this writer's turn; released after the transaction ends.
    _turn: Option<Turn>,
}

impl std::ops::Deref for Write {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

impl Write {
    /// Commits a write that changed nothing a stream follows.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.txn.rollback().await
    }
}

/// Begins a write transaction of `kind`. On SQLite it begins `IMMEDIATE`:
/// the write lock is taken (or waited for) by the `BEGIN` itself, not by a
/// later statement, so the timer, started once `BEGIN` returns, measures
/// how long the lock is held, and a transaction never fails to upgrade a
/// read snapshot to a write. (Every write's first statement writes anyway.)
///
/// On SQLite the writer first waits for its turn ([`write_turns`]), so
/// writers queue in arrival order rather than poll for the lock.
pub async fn begin(db: &DatabaseConnection, kind: WriteKind) -> Result<Write, DbErr> {
    let turn = write_turns::take(db).await?;
    let options = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let txn = db.begin_with_options(options).await?;
    Ok(Write {
        txn,
        _timer: WriteTimer::start(kind),
        _turn: turn,
    })
}

/// Commits a write of `user_id`'s and tells their open streams, on every
/// instance. On PostgreSQL the announcement is a `NOTIFY` in the same
/// transaction, which the server delivers only once it commits; each
/// instance's listener ([`super::listener`]) passes it on. SQLite has no
/// such thing and one instance per file: the hub is told after the commit.
pub async fn commit(write: Write, user_id: &str, hub: &ChangeHub) -> Result<(), DbErr> {
    let Write { txn, _timer, _turn } = write;
    let backend = txn.get_database_backend();
    if backend == DbBackend::Postgres {
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_notify($1, $2)",
            [CHANNEL.into(), user_id.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    if backend != DbBackend::Postgres {
        hub.wake(user_id);
    }
    Ok(())
}

/// Runs `write` in a transaction of `kind` and commits it with [`commit`].
pub async fn announced<T>(
    db: &DatabaseConnection,
    kind: WriteKind,
    user_id: &str,
    hub: &ChangeHub,
    write: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, DbErr>,
) -> Result<T, DbErr> {
    let txn = begin(db, kind).await?;
    let written = write(&txn).await?;
    commit(txn, user_id, hub).await?;
    Ok(written)
}
