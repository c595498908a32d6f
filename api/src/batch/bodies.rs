//! The batch request and how it is read. The shape of the batch (the list,
//! each operation's `op`, `id` or `ref`, `if_match`) is checked whole before
//! anything is applied: one mistake there is a 422 for the batch, naming
//! `operations` or `operations[i]`. Each operation's `task` is read as the
//! single route reads its body, and a mistake there is that operation's own
//! 422, as the single request would have answered it.

use poem_openapi::registry::MetaSchema;
use serde_json::{Map, Value};

use crate::http::conditional::IfMatch;
use crate::http::json_body::FromJsonBody;
use crate::http::limits;
use crate::http::problem::FieldError;
use crate::tasks::{CreateTask, UpdateTask};

use super::schema::{BatchRequest, one_target};

/// The most operations one batch may carry.
pub const MAX_OPERATIONS: usize = 100;

/// The longest `ref`, in characters.
const MAX_REF_CHARS: usize = 64;

/// The longest `if_match`, in characters: a list of a few dozen tags.
const MAX_IF_MATCH_CHARS: usize = 256;

/// A batch as read: its operations in order, whether it is atomic, and the
/// request as canonical JSON (the text an `Idempotency-Key` retry must
/// repeat).
#[derive(Debug)]
pub struct Batch {
    pub operations: Vec<Operation>,
    pub atomic: bool,
    pub canonical: Value,
}

/// The task an operation names: by id, or as created by an earlier
/// operation of the batch (its index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Id(i64),
    CreatedBy(usize),
}

/// A body that breaks the single route's rules: the operation's own 422.
pub type Body<T> = Result<T, Vec<FieldError>>;

#[derive(Debug)]
pub enum Operation {
    Create(Body<CreateTask>),
    Update {
        target: Target,
        if_match: Option<IfMatch>,
        task: Body<UpdateTask>,
    },
    Complete {
        target: Target,
        if_match: Option<IfMatch>,
        completed: Option<bool>,
    },
    Delete {
        target: Target,
        if_match: Option<IfMatch>,
    },
}

impl FromJsonBody for Batch {
    type Schema = BatchRequest;
    /// 100 operations with every field at its limit: see
    /// [`limits::MAX_BATCH_BODY_KIB`].
    const MAX_BODY_KIB: usize = limits::MAX_BATCH_BODY_KIB;
    /// 100 operations with every field given take about 40 values each.
    const MAX_JSON_VALUES: Option<usize> = Some(16 * 1024);

    fn refine_referenced(name: &str, schema: &mut MetaSchema) {
        if ["UpdateOperation", "CompleteOperation", "DeleteOperation"].contains(&name) {
            one_target(schema);
        }
    }

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let canonical = body.clone().unwrap_or(Value::Null);
        let mut fields = match body {
            Some(Value::Object(fields)) => fields,
            _ => return Err(vec![FieldError::new("body", "must be a JSON object")]),
        };
        let mut errors = Vec::new();
        let atomic = match fields.remove("atomic") {
            None => true,
            Some(Value::Bool(atomic)) => atomic,
            Some(_) => {
                errors.push(FieldError::new("atomic", "must be true or false"));
                true
            }
        };
        let listed = match fields.remove("operations") {
            Some(Value::Array(listed)) => listed,
            None => {
                errors.push(FieldError::new("operations", "is required"));
                Vec::new()
            }
            Some(_) => {
                errors.push(FieldError::new("operations", "must be a list"));
                Vec::new()
            }
        };
        if errors.is_empty() && !(1..=MAX_OPERATIONS).contains(&listed.len()) {
            errors.push(FieldError::new(
                "operations",
                format!("must hold 1 to {MAX_OPERATIONS} operations"),
            ));
            return Err(errors);
        }
        let mut reader = Reader::default();
        let operations = listed
            .into_iter()
            .enumerate()
            .filter_map(|(index, value)| reader.operation(index, value))
            .collect();
        errors.extend(reader.errors);
        if errors.is_empty() {
            Ok(Batch {
                operations,
                atomic,
                canonical,
            })
        } else {
            Err(errors)
        }
    }
}

/// Reads operations in order, remembering the `ref` each create gave.
#[derive(Default)]
struct Reader {
    /// Each `ref` given so far, with the index of the create that gave it.
    refs: Vec<(String, usize)>,
    errors: Vec<FieldError>,
}

impl Reader {
    fn operation(&mut self, index: usize, value: Value) -> Option<Operation> {
        let at = |field: &str| format!("operations[{index}].{field}");
        let Value::Object(mut fields) = value else {
            return self.reject(format!("operations[{index}]"), "must be an object");
        };
        let op = match fields.remove("op") {
            Some(Value::String(op)) => op,
            None => return self.reject(at("op"), "is required"),
            Some(_) => return self.reject(at("op"), "must be a string"),
        };
        match op.as_str() {
            "create" => self.create(index, fields),
            "update" => {
                let target = self.target(index, &mut fields);
                let if_match = self.if_match(index, &mut fields);
                let task = match fields.remove("task") {
                    Some(task) => UpdateTask::from_json(Some(task)),
                    None => return self.reject(at("task"), "is required"),
                };
                Some(Operation::Update {
                    target: target?,
                    if_match: if_match?,
                    task,
                })
            }
            "complete" => {
                let target = self.target(index, &mut fields);
                let if_match = self.if_match(index, &mut fields);
                let completed = match fields.remove("completed") {
                    None => Some(None),
                    Some(Value::Bool(completed)) => Some(Some(completed)),
                    Some(_) => {
                        self.reject(at("completed"), "must be true or false; omit it to toggle")
                    }
                };
                Some(Operation::Complete {
                    target: target?,
                    if_match: if_match?,
                    completed: completed?,
                })
            }
            "delete" => {
                let target = self.target(index, &mut fields);
                let if_match = self.if_match(index, &mut fields);
                Some(Operation::Delete {
                    target: target?,
                    if_match: if_match?,
                })
            }
            _ => self.reject(
                at("op"),
                "must be one of `create`, `update`, `complete`, `delete`",
            ),
        }
    }

    fn create(&mut self, index: usize, mut fields: Map<String, Value>) -> Option<Operation> {
        let at = |field: &str| format!("operations[{index}].{field}");
        match fields.remove("ref") {
            None => {}
            Some(Value::String(name)) => {
                let length = name.chars().count();
                if !(1..=MAX_REF_CHARS).contains(&length) {
                    self.reject::<()>(
                        at("ref"),
                        format!("must be 1 to {MAX_REF_CHARS} characters"),
                    );
                } else if let Some((_, first)) = self.refs.iter().find(|(given, _)| *given == name)
                {
                    let message = format!("is already given to operations[{first}]");
                    self.reject::<()>(at("ref"), message);
                } else {
                    self.refs.push((name, index));
                }
            }
            Some(_) => {
                self.reject::<()>(at("ref"), "must be a string");
            }
        }
        match fields.remove("task") {
            Some(task) => Some(Operation::Create(CreateTask::from_json(Some(task)))),
            None => self.reject(at("task"), "is required"),
        }
    }

    /// The task an update, completion or deletion names: `id` or `ref`,
    /// exactly one; a `ref` must name an earlier create of the batch.
    fn target(&mut self, index: usize, fields: &mut Map<String, Value>) -> Option<Target> {
        let at = |field: &str| format!("operations[{index}].{field}");
        match (fields.remove("id"), fields.remove("ref")) {
            (Some(_), Some(_)) => self.reject(
                format!("operations[{index}]"),
                "give `id` or `ref`, not both",
            ),
            (None, None) => self.reject(
                format!("operations[{index}]"),
                "name the task with `id`, or with the `ref` of an earlier create",
            ),
            (Some(id), None) => match id.as_i64() {
                Some(id) => Some(Target::Id(id)),
                None => self.reject(at("id"), "must be a 64-bit integer"),
            },
            (None, Some(Value::String(name))) => {
                match self.refs.iter().find(|(given, _)| *given == name) {
                    Some(&(_, created_by)) => Some(Target::CreatedBy(created_by)),
                    None => self.reject(
                        at("ref"),
                        "names no create before this operation in the batch",
                    ),
                }
            }
            (None, Some(_)) => self.reject(at("ref"), "must be a string"),
        }
    }

    /// `Some(None)` when absent; `None` when invalid (already reported).
    fn if_match(
        &mut self,
        index: usize,
        fields: &mut Map<String, Value>,
    ) -> Option<Option<IfMatch>> {
        match fields.remove("if_match") {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(tags)) if tags.chars().count() <= MAX_IF_MATCH_CHARS => {
                Some(Some(IfMatch::parse(&tags)))
            }
            Some(_) => self.reject(
                format!("operations[{index}].if_match"),
                format!(
                    "must be a string of at most {MAX_IF_MATCH_CHARS} characters, as the \
                     `If-Match` header takes (`\"\\\"3\\\"\"`, a list, or `*`)"
                ),
            ),
        }
    }

    fn reject<T>(&mut self, field: String, message: impl Into<String>) -> Option<T> {
        self.errors.push(FieldError::new(field, message));
        None
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(body: Value) -> Vec<String> {
        Batch::from_json(Some(body))
            .unwrap_err()
            .into_iter()
            .map(|error| error.field)
            .collect()
    }

    #[test]
    fn a_batch_is_a_list_of_1_to_100_operations() {
        assert_eq!(fields(json!({})), ["operations"]);
        assert_eq!(fields(json!({"operations": []})), ["operations"]);
        let create = json!({"op": "create", "task": {"title": "A"}});
        let too_many = vec![create.clone(); MAX_OPERATIONS + 1];
        assert_eq!(fields(json!({ "operations": too_many })), ["operations"]);
        let most = vec![create; MAX_OPERATIONS];
        let batch = Batch::from_json(Some(json!({ "operations": most }))).unwrap();
        assert_eq!(batch.operations.len(), MAX_OPERATIONS);
        assert!(batch.atomic, "atomic by default");
    }

    #[test]
    fn refs_name_earlier_creates_only_once_each() {
        let batch = Batch::from_json(Some(json!({"operations": [
            {"op": "create", "ref": "a", "task": {"title": "A"}},
            {"op": "complete", "ref": "a"},
            {"op": "delete", "id": 7, "if_match": "\"2\""},
        ], "atomic": false})))
        .unwrap();
        assert!(!batch.atomic);
        assert!(matches!(
            batch.operations[1],
            Operation::Complete {
                target: Target::CreatedBy(0),
                ..
            }
        ));
        assert_eq!(
            fields(json!({"operations": [
                {"op": "update", "ref": "a", "task": {"title": "B"}},
                {"op": "create", "ref": "a", "task": {"title": "A"}},
                {"op": "create", "ref": "a", "task": {"title": "A"}},
                {"op": "delete", "id": 1, "ref": "a"},
                {"op": "archive", "id": 1},
                {"op": "delete"},
            ]})),
            [
                "operations[0].ref",
                "operations[2].ref",
                "operations[3]",
                "operations[4].op",
                "operations[5]"
            ]
        );
    }

    #[test]
    fn a_bad_task_is_the_operations_own_422_not_the_batchs() {
        let batch = Batch::from_json(Some(json!({"operations": [
            {"op": "create", "task": {"title": ""}},
            {"op": "update", "id": 3, "task": {}},
        ]})))
        .unwrap();
        assert!(
            matches!(&batch.operations[0], Operation::Create(Err(errors)) if errors[0].field == "title")
        );
        assert!(matches!(
            &batch.operations[1],
            Operation::Update { task: Err(_), .. }
        ));
    }
}
