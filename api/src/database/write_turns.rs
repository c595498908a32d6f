//! One writer at a time per SQLite file, in the order they arrive, and
//! writers that follow one another sharing one commit (group commit).
//!
//! SQLite has one write lock per file, and a writer that finds it taken
//! polls for it (its busy handler sleeps and retries), so under a steady
//! stream of short writes, say the sweeper's batches beside an erasure's
//! steps, an unlucky request can miss every gap and give up. A SQLite file
//! serves one instance ([`super::instance_lock`]), so its writers can queue
//! in the process instead: each takes its turn here, first come first
//! served, and holds it while its statements run. PostgreSQL locks rows,
//! not the database, and needs none of this.
//!
//! Every commit in WAL mode with `synchronous=FULL` waits for an fsync, and
//! under concurrent writes that wait, not the statements, bounds how many
//! writes a second the file takes. So writers that queue behind one another
//! share a transaction: the first opens it, each runs in a savepoint of its
//! own (a failed write rolls back to its savepoint and fails alone), and
//! the writer that finds nobody queued behind it (or the group full)
//! commits for all of them. Each writer is answered only once the commit
//! that holds its write has returned: durably stored, `synchronous=FULL`
//! unchanged. A commit that fails fails every writer of its group, none of
//! whose writes is then stored.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::{
    ConnAcquireErr, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use tokio::sync::{OwnedMutexGuard, watch};

use super::SQLITE_LOCK_WAIT;

/// Writers one group commits at most: bounds how long the first waits.
const GROUP_MEMBERS: usize = 64;
/// How long a group stays open at most: bounds the first writer's wait.
const GROUP_AGE: Duration = Duration::from_millis(20);
/// How often a writer waiting for its group's commit checks that someone
/// will make it: a writer queued behind may have gone (its request ended).
const ORPHAN_CHECK: Duration = Duration::from_millis(5);

/// One SQLite file's writers: the turn, which holds the open group.
#[derive(Default)]
struct File {
    turn: Arc<tokio::sync::Mutex<Slot>>,
    /// Writers waiting for the turn.
    queued: AtomicUsize,
}

#[derive(Default)]
struct Slot {
    open: Option<Group>,
    /// Counts groups, so a writer can tell whether its own is still open.
    generation: u64,
}

/// A transaction several writers share.
struct Group {
    txn: DatabaseTransaction,
    members: usize,
    opened: Instant,
    /// The commit's outcome, once made.
    committed: watch::Sender<Option<Result<(), DbErr>>>,
}

/// The files this process writes to.
static FILES: LazyLock<Mutex<HashMap<PathBuf, Arc<File>>>> = LazyLock::new(Mutex::default);

/// The file `db` writes to, where writers queue (SQLite files only).
fn file_of(db: &DatabaseConnection) -> Option<Arc<File>> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return None;
    }
    let path = db
        .get_sqlite_connection_pool()
        .connect_options()
        .get_filename()
        .to_path_buf();
    if path.as_os_str().is_empty() || path.as_os_str() == ":memory:" {
        return None;
    }
    let mut files = FILES.lock().unwrap_or_else(PoisonError::into_inner);
    Some(Arc::clone(files.entry(path).or_default()))
}

/// Waits for the turn on `file` (at most as long as SQLite itself would
/// wait for its lock: then the database is busy, a 503).
async fn turn_of(file: &Arc<File>) -> Result<OwnedMutexGuard<Slot>, DbErr> {
    file.queued.fetch_add(1, Ordering::SeqCst);
    let turn = tokio::time::timeout(SQLITE_LOCK_WAIT, Arc::clone(&file.turn).lock_owned()).await;
    file.queued.fetch_sub(1, Ordering::SeqCst);
    // Mapped like a pool that gave no connection in time: a 503.
    turn.map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))
}

/// A writer's exclusive turn, outside any group (a probe, the migrations):
/// an open group is committed first.
pub struct Turn(#[allow(dead_code)] OwnedMutexGuard<Slot>);

/// Waits for an exclusive turn on `db`; `None` where no turn is needed
/// (PostgreSQL, an in-memory database).
pub async fn take(db: &DatabaseConnection) -> Result<Option<Turn>, DbErr> {
    let Some(file) = file_of(db) else {
        return Ok(None);
    };
    let mut slot = turn_of(&file).await?;
    commit_open(&mut slot).await?;
    Ok(Some(Turn(slot)))
}

/// A writer in a group: its turn while its statements run, then its wait
/// for the group's commit.
pub struct Member {
    file: Arc<File>,
    slot: Option<OwnedMutexGuard<Slot>>,
    generation: u64,
    committed: watch::Receiver<Option<Result<(), DbErr>>>,
}

/// Begins a write on `db`: on a SQLite file, a savepoint in the open group
/// (opening one, `BEGIN IMMEDIATE`, if none is), with the member that ends
/// it; elsewhere a transaction of its own.
pub async fn begin(
    db: &DatabaseConnection,
) -> Result<(DatabaseTransaction, Option<Member>), DbErr> {
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    let Some(file) = file_of(db) else {
        return Ok((db.begin_with_options(immediate).await?, None));
    };
    let mut slot = turn_of(&file).await?;
    if slot.open.is_none() {
        let txn = db.begin_with_options(immediate).await?;
        slot.generation += 1;
        slot.open = Some(Group {
            txn,
            members: 0,
            opened: Instant::now(),
            committed: watch::Sender::new(None),
        });
    }
    let generation = slot.generation;
    let group = slot.open.as_mut().expect("a group is open");
    let savepoint = match group.txn.begin().await {
        Ok(savepoint) => savepoint,
        Err(err) => {
            // The group's connection failed: nothing of it can be stored.
            fail_open(&mut slot, &err);
            return Err(err);
        }
    };
    group.members += 1;
    let committed = group.committed.subscribe();
    Ok((
        savepoint,
        Some(Member {
            file,
            slot: Some(slot),
            generation,
            committed,
        }),
    ))
}

impl Member {
    /// Ends this writer's part, its savepoint already released (`stored`)
    /// or rolled back: commits the group when nobody is queued behind, the
    /// group is full or old, else hands the turn on. A stored write then
    /// waits for the commit that holds it: `Ok` once it is durable.
    pub async fn finish(mut self, stored: bool) -> Result<(), DbErr> {
        let Some(mut slot) = self.slot.take() else {
            return Ok(());
        };
        let group = slot.open.as_ref().expect("a member's group is open");
        // A write that failed ends its group: some errors (a full disk, an
        // I/O error) roll SQLite's whole transaction back, and no writer
        // may go on in one that is gone. The commit then tells the group's
        // writers whether their writes were kept.
        let last = !stored
            || self.file.queued.load(Ordering::SeqCst) == 0
            || group.members >= GROUP_MEMBERS
            || group.opened.elapsed() >= GROUP_AGE;
        if last {
            let committed = commit_open(&mut slot).await;
            return if stored { committed } else { Ok(()) };
        }
        drop(slot);
        self.wait_for_commit().await
    }

    /// Waits for the group's commit; commits it itself if the turn comes
    /// free with the group still open (the writers queued behind went).
    async fn wait_for_commit(&mut self) -> Result<(), DbErr> {
        loop {
            if let Some(outcome) = self.committed.borrow_and_update().clone() {
                return outcome;
            }
            match tokio::time::timeout(ORPHAN_CHECK, self.committed.changed()).await {
                Ok(Ok(())) => continue,
                // The group ended without a word: its commit never ran.
                Ok(Err(_)) => {
                    return Err(DbErr::Custom("the shared commit was abandoned".into()));
                }
                Err(_) => {
                    let Ok(mut slot) = Arc::clone(&self.file.turn).try_lock_owned() else {
                        continue;
                    };
                    if slot.generation == self.generation && slot.open.is_some() {
                        return commit_open(&mut slot).await;
                    }
                }
            }
        }
    }
}

impl Drop for Member {
    /// A writer that ends without finishing (its request failed or went)
    /// leaves its savepoint rolled back, and its group committed.
    fn drop(&mut self) {
        let Some(mut slot) = self.slot.take() else {
            return;
        };
        // As for a failed write: the group ends (the turn goes with the
        // commit, so nobody writes in between).
        tokio::spawn(async move {
            if let Err(err) = commit_open(&mut slot).await {
                tracing::warn!(error = %err, "a shared commit failed");
            }
        });
    }
}

/// Commits the open group, if any, and tells its writers.
async fn commit_open(slot: &mut Slot) -> Result<(), DbErr> {
    let Some(group) = slot.open.take() else {
        return Ok(());
    };
    let outcome = group.txn.commit().await;
    group.committed.send_replace(Some(outcome.clone()));
    outcome
}

/// Ends the open group after its connection failed: its writers are told.
fn fail_open(slot: &mut Slot, err: &DbErr) {
    if let Some(group) = slot.open.take() {
        group.committed.send_replace(Some(Err(err.clone())));
    }
}
