//! The tools: what each takes, what it answers, and running it as the
//! route it mirrors would run, with the caller's identity. A call that the
//! route would refuse (bad arguments, another user's task, a quota) is a
//! tool result with `isError: true` carrying the problem, never a protocol
//! error, and stores nothing.

use std::sync::Arc;

use poem_openapi::types::ParseFromParameter;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    JsonObject, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use sea_orm::DatabaseConnection;
use serde_json::{Map, Value, json};

use super::schemas::{described, object, of, query_of, with_properties};
use crate::auth::Identity;
use crate::change_log::ChangeHub;
use crate::configuration::Quotas;
use crate::http::error::ApiError;
use crate::http::json_body::FromJsonBody;
use crate::http::lenient::Lenient;
use crate::metrics::ReportingScope;
use crate::tasks::repository::{self, OverQuota, Written};
use crate::tasks::{
    CreateTask, ListParams, SetCompletion, TagCount, TagParam, Task, TasksApi, UpdateTask,
    default_limit,
};

/// What the tools need: the database, the change hub (every write is
/// announced as the routes' are), and the quotas creates count.
#[derive(Clone)]
pub struct TaskTools {
    pub db: DatabaseConnection,
    pub hub: Arc<ChangeHub>,
    pub quotas: Quotas,
}

/// The request's deadline and metrics, which the SDK's handler task does
/// not inherit: taken as the request arrives, entered again around the
/// tool's work, so its statements stop at the deadline as a route's do.
#[derive(Clone)]
pub struct CallScope {
    deadline: Option<tokio::time::Instant>,
    reporting: ReportingScope,
}

impl CallScope {
    pub fn current() -> Self {
        Self {
            deadline: crate::deadline::current(),
            reporting: ReportingScope::current(),
        }
    }

    async fn run<F: Future>(self, work: F) -> F::Output {
        match self.deadline {
            Some(deadline) => {
                self.reporting
                    .run(crate::deadline::scope(deadline, work))
                    .await
            }
            None => self.reporting.run(work).await,
        }
    }
}

/// A tool's answer: the structured result (what the route answers) and a
/// line saying what happened.
struct Answer {
    result: Value,
    summary: String,
}

impl ServerHandler for TaskTools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("todo-api", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Manage the signed-in user's tasks: add, list (with filters and sorts), read, \
                 update, complete or reopen, delete, and list their tags.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(catalog()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let parts = context.extensions.get::<http::request::Parts>();
        let identity = parts
            .and_then(|parts| parts.extensions.get::<Identity>())
            .cloned()
            .ok_or_else(|| ErrorData::internal_error("no caller for this request", None))?;
        let scope = parts
            .and_then(|parts| parts.extensions.get::<CallScope>())
            .cloned()
            .unwrap_or_else(CallScope::current);
        let arguments = request.arguments.unwrap_or_default();
        let outcome = scope
            .run(self.run(&identity, &request.name, arguments))
            .await?;
        Ok(result_of(outcome).into())
    }
}

impl TaskTools {
    /// Runs tool `name`; an unknown tool is the one protocol error.
    async fn run(
        &self,
        identity: &Identity,
        name: &str,
        arguments: JsonObject,
    ) -> Result<Result<Answer, ApiError>, ErrorData> {
        Ok(match name {
            "add_task" => self.add_task(identity, arguments).await,
            "list_tasks" => self.list_tasks(identity, arguments).await,
            "get_task" => self.get_task(identity, &arguments).await,
            "update_task" => self.update_task(identity, arguments).await,
            "complete_task" => self.complete_task(identity, arguments).await,
            "delete_task" => self.delete_task(identity, &arguments).await,
            "list_tags" => self.list_tags(identity).await,
            other => {
                return Err(ErrorData::invalid_params(
                    format!("no tool named `{other}`"),
                    None,
                ));
            }
        })
    }

    async fn add_task(&self, caller: &Identity, arguments: JsonObject) -> Result<Answer, ApiError> {
        let new =
            CreateTask::from_json(Some(Value::Object(arguments))).map_err(ApiError::Validation)?;
        let task = repository::create(&self.db, &self.hub, caller, &self.quotas, new)
            .await?
            .map_err(|over: OverQuota| ApiError::from(over))?;
        Ok(task_answer(task, "Added"))
    }

    async fn list_tasks(
        &self,
        caller: &Identity,
        arguments: JsonObject,
    ) -> Result<Answer, ApiError> {
        let query = list_params(&arguments).validate()?;
        let page = repository::list(&self.db, &caller.user_id, &query).await?;
        let tasks = page.tasks;
        let summary = format!("{} of {} matching tasks", tasks.len(), page.total);
        Ok(Answer {
            result: json!({"tasks": tasks, "total": page.total}),
            summary,
        })
    }

    async fn get_task(
        &self,
        caller: &Identity,
        arguments: &JsonObject,
    ) -> Result<Answer, ApiError> {
        let id = task_id(arguments)?;
        let task = repository::find(&self.db, &caller.user_id, id)
            .await?
            .ok_or(ApiError::TaskNotFound)?;
        Ok(task_answer(task, "Read"))
    }

    async fn update_task(
        &self,
        caller: &Identity,
        mut arguments: JsonObject,
    ) -> Result<Answer, ApiError> {
        let id = task_id(&arguments)?;
        arguments.remove("id");
        let changes =
            UpdateTask::from_json(Some(Value::Object(arguments))).map_err(ApiError::Validation)?;
        let written = repository::update(&self.db, &self.hub, caller, id, None, changes).await?;
        Ok(task_answer(done(written)?, "Updated"))
    }

    async fn complete_task(
        &self,
        caller: &Identity,
        mut arguments: JsonObject,
    ) -> Result<Answer, ApiError> {
        let id = task_id(&arguments)?;
        arguments.remove("id");
        let completion = SetCompletion::from_json(Some(Value::Object(arguments)))
            .map_err(ApiError::Validation)?;
        let written =
            repository::set_completion(&self.db, &self.hub, caller, id, None, completion.completed)
                .await?;
        let task = done(written)?;
        let verb = if task.completed {
            "Completed"
        } else {
            "Reopened"
        };
        Ok(task_answer(task, verb))
    }

    async fn delete_task(
        &self,
        caller: &Identity,
        arguments: &JsonObject,
    ) -> Result<Answer, ApiError> {
        let id = task_id(arguments)?;
        done(repository::delete(&self.db, &self.hub, caller, id, None).await?)?;
        Ok(Answer {
            result: json!({"id": id, "deleted": true}),
            summary: format!("Deleted task {id}"),
        })
    }

    async fn list_tags(&self, caller: &Identity) -> Result<Answer, ApiError> {
        let tags = repository::list_tags(&self.db, &caller.user_id).await?;
        let summary = format!("{} tags", tags.len());
        Ok(Answer {
            result: json!({ "tags": tags }),
            summary,
        })
    }
}

/// Every tool, with schemas from the routes' types.
fn catalog() -> Vec<Tool> {
    let id = || described(of::<i64>(), "The task's id.");
    let task = of::<Task>;
    let tool = |name: &'static str,
                description: &'static str,
                input: Map<String, Value>,
                output: Map<String, Value>| {
        Tool::new(name, description, Arc::new(input)).with_raw_output_schema(Arc::new(output))
    };
    vec![
        tool(
            "add_task",
            "Add a task for the user: a title, and optionally a description, priority, tags, \
             and a due date (with an optional time, in an IANA time zone).",
            of::<CreateTask>(),
            task(),
        ),
        tool(
            "list_tasks",
            "List the user's tasks, filtered (status, priority, tags, due dates, overdue, text), \
             sorted and paged; answers the page and how many match in all.",
            query_of::<TasksApi>("listTasks"),
            object(
                vec![
                    ("tasks", array_of(task())),
                    (
                        "total",
                        described(of::<u64>(), "How many tasks match before paging."),
                    ),
                ],
                &["tasks", "total"],
            ),
        ),
        tool(
            "get_task",
            "Read one of the user's tasks by id.",
            object(vec![("id", id())], &["id"]),
            task(),
        ),
        tool(
            "update_task",
            "Change a task: each field given replaces the stored one, the others are kept; \
             `tags` replaces the whole set; null clears the description or the due date and time.",
            with_properties(of::<UpdateTask>(), vec![("id", id())], &["id"]),
            task(),
        ),
        tool(
            "complete_task",
            "Mark a task completed (`completed: true`), pending again (`false`), or toggle it \
             (no `completed`).",
            with_properties(of::<SetCompletion>(), vec![("id", id())], &["id"]),
            task(),
        ),
        tool(
            "delete_task",
            "Delete one of the user's tasks by id.",
            object(vec![("id", id())], &["id"]),
            object(
                vec![("id", id()), ("deleted", of::<bool>())],
                &["id", "deleted"],
            ),
        ),
        tool(
            "list_tags",
            "List the user's tags, with how many tasks carry each and how many of those are pending.",
            object(Vec::new(), &[]),
            object(vec![("tags", array_of(of::<TagCount>()))], &["tags"]),
        ),
    ]
}

fn array_of(items: Map<String, Value>) -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".into(), json!("array"));
    schema.insert("items".into(), Value::Object(items));
    schema
}

/// The list parameters from the arguments, each read as the route reads
/// its query string: a value of the wrong kind is reported, not ignored.
fn list_params(arguments: &JsonObject) -> ListParams {
    fn text(value: &Value) -> Option<String> {
        match value {
            Value::Null => None,
            Value::String(text) => Some(text.clone()),
            other => Some(other.to_string()),
        }
    }
    fn param<T: ParseFromParameter>(arguments: &JsonObject, name: &str) -> Option<Lenient<T>> {
        let value = text(arguments.get(name)?)?;
        Lenient::<T>::parse_from_parameter(&value).ok()
    }
    let tags = match arguments.get("tag") {
        Some(Value::Array(tags)) => tags.iter().filter_map(text).map(TagParam).collect(),
        Some(value) => text(value).map(TagParam).into_iter().collect(),
        None => Vec::new(),
    };
    ListParams {
        status: param(arguments, "status").unwrap_or_default(),
        sort: param(arguments, "sort").unwrap_or_default(),
        order: param(arguments, "order").unwrap_or_default(),
        q: param(arguments, "q"),
        priority: param(arguments, "priority"),
        tag: tags,
        due_before: param(arguments, "due_before"),
        due_after: param(arguments, "due_after"),
        overdue: param(arguments, "overdue"),
        has_due: param(arguments, "has_due"),
        limit: param(arguments, "limit").unwrap_or_else(default_limit),
        offset: param(arguments, "offset").unwrap_or_default(),
    }
}

/// The `id` argument: an integer, as in the route's path.
fn task_id(arguments: &JsonObject) -> Result<i64, ApiError> {
    arguments
        .get("id")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::invalid("id", "is required: the task's id, an integer"))
}

/// A write's outcome as the route reports it.
fn done<T>(written: Written<T>) -> Result<T, ApiError> {
    match written {
        Written::Done(value) => Ok(value),
        Written::NotFound => Err(ApiError::TaskNotFound),
        Written::Stale => Err(ApiError::PreconditionFailed),
        Written::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

fn task_answer(task: entity::task::Model, verb: &str) -> Answer {
    let task = Task::from(task);
    let summary = format!("{verb} task {}: {}", task.id, task.title);
    Answer {
        result: serde_json::to_value(&task).unwrap_or_default(),
        summary,
    }
}

/// The tool result: the answer as structured content with its summary, or
/// the problem as an error result naming the fields at fault.
fn result_of(outcome: Result<Answer, ApiError>) -> CallToolResult {
    match outcome {
        Ok(answer) => {
            let mut result = CallToolResult::structured(answer.result);
            result.content = vec![ContentBlock::text(answer.summary)];
            result
        }
        Err(err) => {
            // What a client would read in the problem, in one line: the
            // fields at fault and why, else the detail. A tool takes
            // arguments, not a body.
            let text = match &err {
                ApiError::Validation(errors) => {
                    let fields: Vec<String> = errors
                        .iter()
                        .map(|error| {
                            let field = match error.field.as_str() {
                                "body" => "arguments",
                                field => field,
                            };
                            format!("{field}: {}", error.message)
                        })
                        .collect();
                    format!("invalid arguments: {}", fields.join("; "))
                }
                other => other.problem().detail,
            };
            CallToolResult::error(vec![ContentBlock::text(text)])
        }
    }
}
