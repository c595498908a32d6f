//! Applying a batch: every operation in one transaction that holds the
//! owner's row, each through the same write the single route makes
//! ([`crate::tasks::repository`]), so each result is what that route
//! would have answered. One transaction means one commit (one fsync) and
//! one announcement to the owner's streams for the whole batch.
//!
//! Atomic, the first operation that fails rolls everything back. Not
//! atomic, each operation runs in a savepoint of its own, so a failed one
//! leaves nothing behind and the others stand.

use chrono::{DateTime, Utc};
use entity::task;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

use super::bodies::{Batch, Operation, Target};
use super::schema::{BatchResults, OperationResult};
use crate::auth::Identity;
use crate::change_log::{self, ChangeHub};
use crate::configuration::Quotas;
use crate::http::error::ApiError;
use crate::http::rendered_json::RenderedJson;
use crate::http::timestamp;
use crate::idempotent::{Keyed, Once};
use crate::metrics::WriteKind;
use crate::tasks::repository;
use crate::tasks::{CreateRun, Task, written};

/// Why an atomic batch stored nothing: its operation `index` failed so.
#[derive(Debug)]
pub struct Failed {
    pub index: usize,
    pub error: ApiError,
}

impl From<Failed> for ApiError {
    fn from(failed: Failed) -> Self {
        ApiError::InOperation {
            index: failed.index,
            error: Box::new(failed.error),
        }
    }
}

/// Applies the batch, or, atomic, nothing when one operation fails.
pub async fn apply(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    quotas: &Quotas,
    batch: Batch,
) -> Result<Result<BatchResults, Failed>, DbErr> {
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let first = take_numbers(&txn, owner, &batch).await?;
    match run(&txn, owner, quotas, batch, first).await? {
        Ok((results, reminder)) => {
            change_log::commit_scheduling(txn, &owner.user_id, reminder, hub).await?;
            Ok(Ok(results))
        }
        Err(failed) => {
            txn.rollback().await?;
            Ok(Err(failed))
        }
    }
}

/// [`apply`] at most once per key ([`crate::idempotent`]): the answer is
/// remembered with the key, in the batch's transaction. An atomic batch
/// that failed is not remembered, so a retry runs it again.
pub async fn apply_once(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    quotas: &Quotas,
    batch: Batch,
    keyed: &Keyed,
) -> Result<Once<BatchResults, ApiError>, DbErr> {
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let first = take_numbers(&txn, owner, &batch).await?;
    let ticket = match keyed.claim(&txn, &owner.user_id).await?.fresh() {
        Ok(ticket) => ticket,
        Err(answer) => {
            txn.commit().await?;
            return Ok(answer);
        }
    };
    let (results, reminder) = match run(&txn, owner, quotas, batch, first).await? {
        Ok(ran) => ran,
        Err(failed) => {
            txn.rollback().await?;
            return Ok(Once::Refused(failed.into()));
        }
    };
    let admitted = match ticket.admit(quotas.idempotency_keys_per_user).await? {
        Ok(admitted) => admitted,
        Err(exhausted) => {
            txn.rollback().await?;
            return Ok(Once::Refused(exhausted.into()));
        }
    };
    let body = admitted.remember(render(&results)).await?;
    change_log::commit_scheduling(txn, &owner.user_id, reminder, hub).await?;
    Ok(Once::Answered(body))
}

/// The answer's body, as sent and as remembered.
pub fn render(results: &BatchResults) -> RenderedJson<BatchResults> {
    use poem_openapi::types::ToJSON;
    RenderedJson::from_rendered(results.to_json().unwrap_or_default().to_string())
}

/// Takes the owner's row (first, the order every write takes) and one
/// change number per operation: the first of them (with the owner's task
/// count before the batch). The numbers of operations that fail are simply
/// never used.
async fn take_numbers(
    txn: &DatabaseTransaction,
    owner: &Identity,
    batch: &Batch,
) -> Result<change_log::Taken, DbErr> {
    let taken = change_log::record_change(txn, owner, timestamp::now(), 0).await?;
    let more = batch.operations.len() as i64 - 1;
    if more == 0 {
        return Ok(taken);
    }
    let last = change_log::record_more_changes(txn, &owner.user_id, more).await?;
    Ok(change_log::Taken {
        seq: last - more,
        ..taken
    })
}

/// Runs every operation in `txn`, operation `i` as change `first + i`;
/// answers the results and the earliest reminder the batch scheduled.
async fn run(
    txn: &DatabaseTransaction,
    owner: &Identity,
    quotas: &Quotas,
    batch: Batch,
    first: change_log::Taken,
) -> Result<Result<(BatchResults, Option<DateTime<Utc>>), Failed>, DbErr> {
    let room = repository::room_for_tasks(first, quotas);
    let mut state = State {
        owner,
        creates: CreateRun::default(),
        created: vec![None; batch.operations.len()],
        room,
        limit: quotas.tasks_per_user,
        reminder: None,
    };
    let mut results = Vec::with_capacity(batch.operations.len());
    for (index, operation) in batch.operations.into_iter().enumerate() {
        let seq = first.seq + index as i64;
        if !matches!(operation, Operation::Create(_)) {
            // Another write may read the run's links, or drop a tag row.
            state.creates.settle(txn).await?;
        }
        let outcome = if batch.atomic {
            state.step(txn, index, seq, operation).await?
        } else {
            let savepoint = txn.begin().await?;
            let outcome = state.step(&savepoint, index, seq, operation).await?;
            match outcome {
                Ok(_) => savepoint.commit().await?,
                Err(_) => savepoint.rollback().await?,
            }
            outcome
        };
        results.push(match outcome {
            Ok(result) => result,
            Err(error) if batch.atomic => return Ok(Err(Failed { index, error })),
            Err(error) => {
                let problem = error.problem();
                OperationResult {
                    status: problem.status,
                    task: None,
                    problem: Some(problem),
                }
            }
        });
    }
    state.creates.settle(txn).await?;
    // What the batch added, less what it removed.
    let added = room as i64 - state.room as i64;
    if added != 0 {
        change_log::count_tasks(txn, &owner.user_id, added).await?;
    }
    Ok(Ok((BatchResults { results }, state.reminder)))
}

/// What the operations so far have left for the next.
struct State<'a> {
    owner: &'a Identity,
    /// The creates since the last other write: their tags resolved once,
    /// their links written together when the run is settled.
    creates: CreateRun,
    /// The task each create made, by the create's index.
    created: Vec<Option<i64>>,
    /// How many more tasks the owner may hold.
    room: u64,
    limit: u64,
    /// The earliest reminder the tasks written so far have to come.
    reminder: Option<DateTime<Utc>>,
}

impl State<'_> {
    /// One operation as change `seq`: its result, or its refusal.
    async fn step(
        &mut self,
        txn: &DatabaseTransaction,
        index: usize,
        seq: i64,
        operation: Operation,
    ) -> Result<Result<OperationResult, ApiError>, DbErr> {
        let owner = self.owner;
        let user_id = owner.user_id.as_str();
        Ok(match operation {
            Operation::Create(Err(errors))
            | Operation::Update {
                task: Err(errors), ..
            } => Err(ApiError::Validation(errors)),
            Operation::Create(Ok(_)) if self.room == 0 => {
                Err(ApiError::TaskQuotaExceeded { limit: self.limit })
            }
            Operation::Create(Ok(new)) => {
                let task =
                    repository::insert_in_run(txn, owner, new, &mut self.creates, seq).await?;
                self.room -= 1;
                self.created[index] = Some(task.id);
                Ok(self.done(201, task))
            }
            Operation::Update {
                target,
                if_match,
                task: Ok(changes),
            } => match self.id(target) {
                Ok(id) => written(
                    repository::update_in(txn, owner, seq, id, if_match.as_ref(), changes).await?,
                )
                .map(|task| self.done(200, task)),
                Err(error) => Err(error),
            },
            Operation::Complete {
                target,
                if_match,
                completed,
            } => match self.id(target) {
                Ok(id) => written(
                    repository::set_completion_in(
                        txn,
                        user_id,
                        seq,
                        id,
                        if_match.as_ref(),
                        completed,
                    )
                    .await?,
                )
                .map(|task| self.done(200, task)),
                Err(error) => Err(error),
            },
            Operation::Delete { target, if_match } => match self.id(target) {
                Ok(id) => {
                    let deleted =
                        repository::delete_in(txn, user_id, seq, id, if_match.as_ref()).await?;
                    written(deleted).map(|()| {
                        self.room += 1;
                        OperationResult {
                            status: 204,
                            task: None,
                            problem: None,
                        }
                    })
                }
                Err(error) => Err(error),
            },
        })
    }

    /// The id an operation names: a `ref` names what its create made, and
    /// is a 424 when that create failed.
    fn id(&self, target: Target) -> Result<i64, ApiError> {
        match target {
            Target::Id(id) => Ok(id),
            Target::CreatedBy(index) => {
                self.created[index].ok_or(ApiError::FailedDependency(index))
            }
        }
    }
}

impl State<'_> {
    /// A written task's result, noting the reminder it has to come.
    fn done(&mut self, status: u16, task: task::Model) -> OperationResult {
        if let Some(at) = repository::next_reminder(&task) {
            self.reminder = Some(self.reminder.map_or(at, |earlier| earlier.min(at)));
        }
        OperationResult {
            status,
            task: Some(Task::from(task)),
            problem: None,
        }
    }
}
