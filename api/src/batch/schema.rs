//! The batch's wire types as the OpenAPI document describes them. The
//! request is read by hand ([`super::bodies`]), so that every mistake is
//! reported and each operation's `task` keeps the single route's rules;
//! these types give the document its shape. The answer is built from them.

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::Example;
use poem_openapi::{Object, Union};

use crate::http::problem::Problem;
use crate::tasks::{CreateTask, Task, UpdateTask};

/// `POST /api/batch`: 1 to 100 operations, applied in order.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct BatchRequest {
    /// 1 to 100 operations, applied in order.
    #[oai(validator(min_items = 1, max_items = 100))]
    pub operations: Vec<BatchOperation>,
    /// `true` (the default): every operation applies or none does.
    /// `false`: each applies or fails alone.
    #[oai(default = "atomic_by_default")]
    pub atomic: bool,
}

fn atomic_by_default() -> bool {
    true
}

/// One write: `op` says which.
#[derive(Debug, Clone, Union)]
#[oai(discriminator_name = "op", one_of)]
pub enum BatchOperation {
    #[oai(mapping = "create")]
    Create(CreateOperation),
    #[oai(mapping = "update")]
    Update(UpdateOperation),
    #[oai(mapping = "complete")]
    Complete(CompleteOperation),
    #[oai(mapping = "delete")]
    Delete(DeleteOperation),
}

/// `POST /api/tasks` within a batch.
#[derive(Debug, Clone, Object)]
pub struct CreateOperation {
    /// A name for the task, 1 to 64 characters and unique in the batch, by
    /// which later operations of the batch may name it.
    #[oai(
        rename = "ref",
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 64)
    )]
    pub reference: Option<String>,
    /// The create body.
    pub task: CreateTask,
}

/// `PUT /api/tasks/{id}` within a batch: name the task with `id` or `ref`.
#[derive(Debug, Clone, Object)]
pub struct UpdateOperation {
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<i64>,
    /// The `ref` of an earlier create of the batch.
    #[oai(
        rename = "ref",
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 64)
    )]
    pub reference: Option<String>,
    /// The update body.
    pub task: UpdateTask,
    /// What `If-Match` takes: `"\"3\""`, a list, or `*`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 256))]
    pub if_match: Option<String>,
}

/// `PATCH /api/tasks/{id}/complete` within a batch: name the task with `id`
/// or `ref`; without `completed`, it toggles.
#[derive(Debug, Clone, Object)]
pub struct CompleteOperation {
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<i64>,
    /// The `ref` of an earlier create of the batch.
    #[oai(
        rename = "ref",
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 64)
    )]
    pub reference: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub completed: Option<bool>,
    /// What `If-Match` takes: `"\"3\""`, a list, or `*`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 256))]
    pub if_match: Option<String>,
}

/// `DELETE /api/tasks/{id}` within a batch: name the task with `id` or
/// `ref`.
#[derive(Debug, Clone, Object)]
pub struct DeleteOperation {
    #[oai(skip_serializing_if_is_none)]
    pub id: Option<i64>,
    /// The `ref` of an earlier create of the batch.
    #[oai(
        rename = "ref",
        skip_serializing_if_is_none,
        validator(min_length = 1, max_length = 64)
    )]
    pub reference: Option<String>,
    /// What `If-Match` takes: `"\"3\""`, a list, or `*`.
    #[oai(skip_serializing_if_is_none, validator(max_length = 256))]
    pub if_match: Option<String>,
}

/// An operation names its task by `id` or by `ref`, never both: the
/// document says so, so validators and fuzzers know it.
pub fn one_target(schema: &mut MetaSchema) {
    let requiring = |field: &'static str| {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            required: vec![field],
            ..MetaSchema::new("object")
        }))
    };
    schema.one_of = vec![requiring("id"), requiring("ref")];
}

impl Example for BatchRequest {
    fn example() -> Self {
        let task = CreateTask::example();
        Self {
            operations: vec![
                BatchOperation::Create(CreateOperation {
                    reference: Some("milk".to_owned()),
                    task,
                }),
                BatchOperation::Complete(CompleteOperation {
                    id: None,
                    reference: Some("milk".to_owned()),
                    completed: Some(true),
                    if_match: None,
                }),
            ],
            atomic: true,
        }
    }
}

/// The answer to a batch: one result per operation, in order.
#[derive(Debug, Clone, Object)]
pub struct BatchResults {
    pub results: Vec<OperationResult>,
}

/// What one operation came to: the status the single request would have
/// answered, with the task (absent for a delete) or the problem.
#[derive(Debug, Clone, Object)]
pub struct OperationResult {
    pub status: u16,
    #[oai(skip_serializing_if_is_none)]
    pub task: Option<Task>,
    #[oai(skip_serializing_if_is_none)]
    pub problem: Option<Problem>,
}
