//! The task routes: each handler reads its inputs, calls the repository,
//! and picks the response.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::DatabaseConnection;

use super::bodies::{CreateTask, SetCompletion, UpdateTask};
use super::list_query::{
    Flag, Instant, ListParams, PageLimit, PageOffset, PriorityFilter, SortKey, SortOrder,
    StatusFilter, TagParam, default_limit,
};
use super::repository::{self, OverQuota, Written};
use super::task::{Task, render_list};
use super::text_fields::Search;
use crate::auth::BearerAuth;
use crate::change_log::{ChangeHub, Position};
use crate::configuration::Quotas;
use crate::http::conditional::{IfMatch, etag, none_match};
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::{
    ChangingOneTask, Creating, DeletingOneTask, Listing, OneTask,
};
use crate::http::error::ApiError;
use crate::http::idempotency::IdempotencyKey;
use crate::http::json_body::JsonBody;
use crate::http::lenient::Lenient;
use crate::http::rendered_json::RenderedJson;
use crate::http::text::Text;
use crate::idempotent::{Keyed, Operation};
use crate::route_table::ApiTags;

pub struct TasksApi;

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// One page of the caller's tasks.
    #[oai(status = 200)]
    Ok(
        RenderedJson<Vec<Task>>,
        /// How many tasks match the filters before paging.
        #[oai(header = "X-Total-Count")]
        u64,
        /// This answer's tag, for `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` names the current tag: none of the caller's tasks
    /// changed since, so the answer is the same.
    #[oai(status = 304)]
    NotModified(
        /// This answer's tag.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// The task was created (or, for a retry with the same
    /// `Idempotency-Key`, the response the first request got).
    #[oai(status = 201)]
    Created(
        RenderedJson<Task>,
        /// Where the new task lives: `/api/tasks/{id}`.
        #[oai(header = "Location")]
        String,
        /// The task's version, for `If-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

impl CreateTaskResponse {
    fn created(task: &entity::task::Model) -> Self {
        Self::Created(
            RenderedJson::render(&Task::from(task.clone())),
            format!("/api/tasks/{}", task.id),
            etag(task.version),
        )
    }

    /// The response to a keyed create, built from its remembered body
    /// alone, the same way for the first request and for every retry, so
    /// they get the same status, headers and bytes.
    fn remembered(body: RenderedJson<Task>) -> Result<Self, ApiError> {
        let task: serde_json::Value = serde_json::from_str(body.as_str()).unwrap_or_default();
        let version = task["version"].as_i64().and_then(|v| i32::try_from(v).ok());
        let (Some(id), Some(version)) = (task["id"].as_i64(), version) else {
            tracing::error!("a remembered response is not a task");
            return Err(ApiError::Internal);
        };
        Ok(Self::Created(
            body,
            format!("/api/tasks/{id}"),
            etag(version),
        ))
    }
}

#[derive(ApiResponse)]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(
        RenderedJson<Task>,
        /// The task's version, for `If-Match` and `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
}

impl From<entity::task::Model> for TaskResponse {
    fn from(task: entity::task::Model) -> Self {
        let etag = etag(task.version);
        Self::Ok(RenderedJson::render(&task.into()), etag)
    }
}

#[derive(ApiResponse)]
pub enum GetTaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(
        RenderedJson<Task>,
        /// The task's version, for `If-Match` and `If-None-Match`.
        #[oai(header = "ETag")]
        String,
    ),
    /// `If-None-Match` names the current version: the copy the client has
    /// is current.
    #[oai(status = 304)]
    NotModified(
        /// The task's version.
        #[oai(header = "ETag")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 204)]
    Deleted,
}

/// A create over a quota, as the client sees it.
impl From<OverQuota> for ApiError {
    fn from(over: OverQuota) -> Self {
        match over {
            OverQuota::Tasks { limit } => Self::TaskQuotaExceeded { limit },
            OverQuota::Keys(exhausted) => exhausted.into(),
        }
    }
}

/// A write's outcome as the client sees it.
pub(crate) fn written<T>(outcome: Written<T>) -> Result<T, ApiError> {
    match outcome {
        Written::Done(value) => Ok(value),
        Written::NotFound => Err(ApiError::TaskNotFound),
        Written::Stale => Err(ApiError::PreconditionFailed),
        Written::Invalid(errors) => Err(ApiError::Validation(errors)),
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List your tasks
    ///
    /// The caller's tasks, filtered, sorted and paged. Ties in the sort key
    /// are broken by `id` in the same direction, so pages never overlap.
    /// `X-Total-Count` holds the number of matches before paging. Poll
    /// cheaply with `If-None-Match`: while none of the caller's tasks
    /// changed, the answer is a 304 and the page is not even read.
    #[oai(path = "/api/tasks", method = "get", operation_id = "listTasks")]
    #[allow(clippy::too_many_arguments)]
    async fn list_tasks(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// Which tasks: all, only pending, or only completed.
        #[oai(default)]
        status: Query<Lenient<StatusFilter>>,
        /// The sort key.
        #[oai(default)]
        sort: Query<Lenient<SortKey>>,
        /// The sort direction.
        #[oai(default)]
        order: Query<Lenient<SortOrder>>,
        /// Text found anywhere in the title or description, ignoring case.
        q: Query<Option<Lenient<Text<Search>>>>,
        /// Only these priorities: levels separated by commas (`high,medium`).
        priority: Query<Option<Lenient<PriorityFilter>>>,
        /// Only tasks carrying this tag (ignoring case); repeat it for tasks
        /// carrying every one given.
        tag: Query<Option<Vec<TagParam>>>,
        /// Only tasks due before this instant (`due_at` < it): an RFC 3339
        /// date-time with an offset (`2026-12-24T18:00:00+01:00`).
        due_before: Query<Option<Lenient<Instant>>>,
        /// Only tasks due at or after this instant: an RFC 3339 date-time
        /// with an offset.
        due_after: Query<Option<Lenient<Instant>>>,
        /// `true`: only pending tasks whose due time has passed; `false`:
        /// all others.
        overdue: Query<Option<Lenient<Flag>>>,
        /// Only tasks with (`true`) or without (`false`) a due date.
        has_due: Query<Option<Lenient<Flag>>>,
        /// Page size.
        #[oai(default = "default_limit")]
        limit: Query<Lenient<PageLimit>>,
        /// How many matching tasks to skip.
        #[oai(default)]
        offset: Query<Lenient<PageOffset>>,
        /// The `ETag` of an earlier answer to the same query.
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<ListTasksResponse, OperationError<Listing>> {
        let query = ListParams {
            status: status.0,
            sort: sort.0,
            order: order.0,
            q: q.0,
            priority: priority.0,
            tag: tag.0.unwrap_or_default(),
            due_before: due_before.0,
            due_after: due_after.0,
            overdue: overdue.0,
            has_due: has_due.0,
            limit: limit.0,
            offset: offset.0,
        }
        .validate()?;
        let user_id = &auth.0.user_id;
        // A poll reads the owner's position alone first: when the tag still
        // matches, that one primary-key read is all the answer costs. An
        // `overdue` answer changes with the clock too, so its tag is made
        // from the page read.
        let clocked = query.overdue.is_some();
        if let (Some(tags), false) = (if_none_match.0.as_deref(), clocked) {
            let etag = query.etag(user_id, &Position::of(&db, user_id).await?, None);
            if none_match(Some(tags), &etag) {
                return Ok(ListTasksResponse::NotModified(etag));
            }
        }
        let page = repository::list(&db, user_id, &query).await?;
        let read = clocked.then(|| {
            let ids: Vec<String> = page
                .tasks
                .iter()
                .map(|task| format!("{}.{}", task.id, task.version))
                .collect();
            format!("{}:{}", page.total, ids.join(","))
        });
        let etag = query.etag(user_id, &page.position, read);
        if clocked && none_match(if_none_match.0.as_deref(), &etag) {
            return Ok(ListTasksResponse::NotModified(etag));
        }
        let tasks = page.tasks;
        Ok(ListTasksResponse::Ok(
            RenderedJson::from_rendered(render_list(&tasks)),
            page.total,
            etag,
        ))
    }

    /// Create a task
    ///
    /// The task belongs to the caller. Server-owned fields in the body
    /// (`id`, `user_id`, timestamps, `version`) are ignored. With an
    /// `Idempotency-Key`, a retry with the same key and body answers the
    /// first request's response and creates nothing; the same key with
    /// another body is a 422. Keys are remembered for 24 hours; a user may
    /// hold a bounded number at once (a keyed create beyond is a 429 until
    /// the oldest expires). A create while the caller holds
    /// `MAX_TASKS_PER_USER` tasks is a 403; neither stores anything.
    #[oai(path = "/api/tasks", method = "post", operation_id = "createTask")]
    async fn create_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        quotas: Data<&Quotas>,
        /// 1 to 255 visible ASCII characters naming this request, so that a
        /// retry cannot create a second task.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<IdempotencyKey>>,
        body: JsonBody<CreateTask>,
    ) -> Result<CreateTaskResponse, OperationError<Creating>> {
        let Some(key) = idempotency_key.0 else {
            let task = repository::create(&db, &hub, &auth.0, &quotas, body.0)
                .await?
                .map_err(ApiError::from)?;
            return Ok(CreateTaskResponse::created(&task));
        };
        let keyed = Keyed::new(Operation::CreateTask, key, &body.0);
        let once = repository::create_once(&db, &hub, &auth.0, &quotas, body.0, &keyed).await?;
        Ok(CreateTaskResponse::remembered(once.into_answer()?)?)
    }

    /// Get a task
    ///
    /// With `If-None-Match` naming the current `ETag`, the answer is 304 and
    /// no body.
    #[oai(path = "/api/tasks/:id", method = "get", operation_id = "getTask")]
    async fn get_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The task's id.
        id: Path<i64>,
        /// `ETag`s the client holds (or `*`).
        #[oai(name = "If-None-Match")]
        if_none_match: Header<Option<String>>,
    ) -> Result<GetTaskResponse, OperationError<OneTask>> {
        let task = repository::find(&db, &auth.0.user_id, id.0)
            .await?
            .ok_or(ApiError::TaskNotFound)?;
        let etag = etag(task.version);
        if none_match(if_none_match.0.as_deref(), &etag) {
            return Ok(GetTaskResponse::NotModified(etag));
        }
        Ok(GetTaskResponse::Ok(
            RenderedJson::render(&task.into()),
            etag,
        ))
    }

    /// Update a task
    ///
    /// Each field present in the body replaces the stored one; absent fields
    /// are kept; `"description": null` clears the description. An empty
    /// object is a 422. With `If-Match`, the update happens only if the
    /// task is still at a version it names; otherwise 412 and nothing changes.
    #[oai(path = "/api/tasks/:id", method = "put", operation_id = "updateTask")]
    async fn update_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the change was made from (a list, or `*`).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatch>>,
        body: JsonBody<UpdateTask>,
    ) -> Result<TaskResponse, OperationError<ChangingOneTask>> {
        let outcome =
            repository::update(&db, &hub, &auth.0, id.0, if_match.0.as_ref(), body.0).await?;
        Ok(written(outcome)?.into())
    }

    /// Delete a task
    ///
    /// With `If-Match`, only if the task is still at a version it names.
    #[oai(
        path = "/api/tasks/:id",
        method = "delete",
        operation_id = "deleteTask"
    )]
    async fn delete_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the deletion was decided on (a list, or `*`).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatch>>,
    ) -> Result<DeleteTaskResponse, OperationError<DeletingOneTask>> {
        written(repository::delete(&db, &hub, &auth.0, id.0, if_match.0.as_ref()).await?)?;
        Ok(DeleteTaskResponse::Deleted)
    }

    /// Complete, reopen or toggle a task
    ///
    /// `{"completed": true|false}` sets the state; no body, or `{}`, toggles
    /// it. With `If-Match`, only if the task is still at a version it names.
    #[oai(
        path = "/api/tasks/:id/complete",
        method = "patch",
        operation_id = "setTaskCompletion"
    )]
    async fn set_task_completion(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        /// The task's id.
        id: Path<i64>,
        /// The `ETag` the change was made from (a list, or `*`).
        #[oai(name = "If-Match")]
        if_match: Header<Option<IfMatch>>,
        body: JsonBody<SetCompletion>,
    ) -> Result<TaskResponse, OperationError<ChangingOneTask>> {
        let completed = body.0.completed;
        let outcome =
            repository::set_completion(&db, &hub, &auth.0, id.0, if_match.0.as_ref(), completed)
                .await?;
        Ok(written(outcome)?.into())
    }
}
