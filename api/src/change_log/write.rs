//! Write transactions: how every write begins (timed), and how it commits
//! and tells the writer's open streams, on every instance.

use chrono::{DateTime, Utc};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use std::sync::Arc;

use super::hub::{ChangeHub, Pushed};
use crate::database::write_turns::{self, Member};
use crate::metrics::{WriteKind, WriteTimer};

/// The PostgreSQL channel a commit is announced on ([`super::announcer`]).
/// The payload is the user id, never task data: every listener reads the
/// changes itself.
pub const CHANNEL: &str = "task_changes";

/// The PostgreSQL channel a commit that scheduled a reminder is announced
/// on, so every instance's scheduler can wake for it. The payload is the
/// reminder's time, in Unix milliseconds.
pub const REMINDERS_CHANNEL: &str = "reminders_scheduled";

/// A write transaction, timed from BEGIN until it commits or rolls back
/// (`db_write_transaction_seconds`): on SQLite, how long it keeps every
/// other writer waiting. Every write begins here. On a SQLite file it is a
/// savepoint in a transaction that writers queued behind one another share
/// ([`write_turns`]): committed, it is answered once that transaction's
/// commit has made it durable.
pub struct Write {
    /// Declared before `member`: dropped first, so an unfinished write's
    /// savepoint is rolled back before its group commits.
    txn: DatabaseTransaction,
    member: Option<Member>,
    _timer: WriteTimer,
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
        let Write {
            txn,
            member,
            _timer,
        } = self;
        txn.commit().await?;
        match member {
            Some(member) => member.finish(true).await,
            None => Ok(()),
        }
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        let Write {
            txn,
            member,
            _timer,
        } = self;
        let rolled_back = txn.rollback().await;
        if let Some(member) = member {
            member.finish(false).await?;
        }
        rolled_back
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
    let (txn, member) = write_turns::begin(db).await?;
    Ok(Write {
        txn,
        member,
        _timer: WriteTimer::start(kind),
    })
}

/// Commits a write of `user_id`'s and tells their open streams, on every
/// instance ([`ChangeHub::committed`]), once it is committed: on
/// PostgreSQL by a `NOTIFY` that each instance's listener
/// ([`super::listener`]) passes on, sent after the commit
/// ([`super::announcer`] says why); SQLite has one instance per file,
/// whose hub is told.
pub async fn commit(write: Write, user_id: &str, hub: &ChangeHub) -> Result<(), DbErr> {
    commit_scheduling(write, user_id, None, hub).await
}

/// [`commit`] for a write that scheduled a reminder at `reminder` (its
/// earliest, if several): every instance's scheduler is told too, so one
/// asleep until a later reminder wakes in time for it.
pub async fn commit_scheduling(
    write: Write,
    user_id: &str,
    reminder: Option<DateTime<Utc>>,
    hub: &ChangeHub,
) -> Result<(), DbErr> {
    write.commit().await?;
    hub.committed(user_id);
    if let Some(at) = reminder {
        hub.committed_reminder(at);
    }
    Ok(())
}

/// [`commit`] for a write that changed the feeds of several users (the
/// scheduler recording reminders), handing this instance's streams of each
/// user the changes made ([`Pushed`]) with their wake-up; other instances
/// are told as for any commit.
pub async fn commit_pushing(
    write: Write,
    pushed: Vec<(String, Arc<Pushed>)>,
    hub: &ChangeHub,
) -> Result<(), DbErr> {
    write.commit().await?;
    for (user_id, changes) in pushed {
        hub.committed_pushing(&user_id, changes);
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
