//! The task routes: each handler reads its inputs, calls the repository,
//! and picks the response.

use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::DatabaseConnection;

use super::bodies::{CreateTask, SetCompletion, UpdateTask};
use super::list_query::{
    ListParams, PageLimit, PageOffset, SortKey, SortOrder, StatusFilter, default_limit,
};
use super::repository;
use super::task::Task;
use super::text_fields::Search;
use crate::auth::BearerAuth;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::{ChangingOneTask, Creating, Listing, OneTask};
use crate::http::error::ApiError;
use crate::http::json_body::JsonBody;
use crate::http::lenient::Lenient;
use crate::http::text::Text;
use crate::openapi::ApiTags;

pub struct TasksApi;

#[derive(ApiResponse)]
pub enum ListTasksResponse {
    /// One page of the caller's tasks.
    #[oai(status = 200)]
    Ok(
        Json<Vec<Task>>,
        /// How many tasks match the filters before paging.
        #[oai(header = "X-Total-Count")]
        u64,
    ),
}

#[derive(ApiResponse)]
pub enum CreateTaskResponse {
    /// The task was created.
    #[oai(status = 201)]
    Created(
        Json<Task>,
        /// Where the new task lives: `/api/tasks/{id}`.
        #[oai(header = "Location")]
        String,
    ),
}

#[derive(ApiResponse)]
pub enum TaskResponse {
    /// The task.
    #[oai(status = 200)]
    Ok(Json<Task>),
}

#[derive(ApiResponse)]
pub enum DeleteTaskResponse {
    /// The task was deleted.
    #[oai(status = 204)]
    Deleted,
}

impl TaskResponse {
    fn found(task: Option<entity::task::Model>) -> Result<Self, ApiError> {
        task.map(|task| Self::Ok(Json(task.into())))
            .ok_or(ApiError::TaskNotFound)
    }
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl TasksApi {
    /// List your tasks
    ///
    /// The caller's tasks, filtered, sorted and paged. Ties in the sort key
    /// are broken by `id` in the same direction, so pages never overlap.
    /// `X-Total-Count` holds the number of matches before paging.
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
        /// Page size.
        #[oai(default = "default_limit")]
        limit: Query<Lenient<PageLimit>>,
        /// How many matching tasks to skip.
        #[oai(default)]
        offset: Query<Lenient<PageOffset>>,
    ) -> Result<ListTasksResponse, OperationError<Listing>> {
        let query = ListParams {
            status: status.0,
            sort: sort.0,
            order: order.0,
            q: q.0,
            limit: limit.0,
            offset: offset.0,
        }
        .validate()?;
        let page = repository::list(&db, &auth.0.user_id, &query).await?;
        let tasks = page.tasks.into_iter().map(Task::from).collect();
        Ok(ListTasksResponse::Ok(Json(tasks), page.total))
    }

    /// Create a task
    ///
    /// The task belongs to the caller. Server-owned fields in the body
    /// (`id`, `user_id`, timestamps) are ignored.
    #[oai(path = "/api/tasks", method = "post", operation_id = "createTask")]
    async fn create_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        body: JsonBody<CreateTask>,
    ) -> Result<CreateTaskResponse, OperationError<Creating>> {
        let task = repository::create(&db, &auth.0, body.0).await?;
        let location = format!("/api/tasks/{}", task.id);
        Ok(CreateTaskResponse::Created(Json(task.into()), location))
    }

    /// Get a task
    #[oai(path = "/api/tasks/:id", method = "get", operation_id = "getTask")]
    async fn get_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The task's id.
        id: Path<i64>,
    ) -> Result<TaskResponse, OperationError<OneTask>> {
        Ok(TaskResponse::found(
            repository::find(&db, &auth.0.user_id, id.0).await?,
        )?)
    }

    /// Update a task
    ///
    /// Each field present in the body replaces the stored one; absent fields
    /// are kept; `"description": null` clears the description. An empty
    /// object is a 422.
    #[oai(path = "/api/tasks/:id", method = "put", operation_id = "updateTask")]
    async fn update_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The task's id.
        id: Path<i64>,
        body: JsonBody<UpdateTask>,
    ) -> Result<TaskResponse, OperationError<ChangingOneTask>> {
        Ok(TaskResponse::found(
            repository::update(&db, &auth.0.user_id, id.0, body.0).await?,
        )?)
    }

    /// Delete a task
    #[oai(
        path = "/api/tasks/:id",
        method = "delete",
        operation_id = "deleteTask"
    )]
    async fn delete_task(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The task's id.
        id: Path<i64>,
    ) -> Result<DeleteTaskResponse, OperationError<OneTask>> {
        if repository::delete(&db, &auth.0.user_id, id.0).await? {
            Ok(DeleteTaskResponse::Deleted)
        } else {
            Err(ApiError::TaskNotFound.into())
        }
    }

    /// Complete, reopen or toggle a task
    ///
    /// `{"completed": true|false}` sets the state; no body, or `{}`, toggles it.
    #[oai(
        path = "/api/tasks/:id/complete",
        method = "patch",
        operation_id = "setTaskCompletion"
    )]
    async fn set_task_completion(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The task's id.
        id: Path<i64>,
        body: JsonBody<SetCompletion>,
    ) -> Result<TaskResponse, OperationError<ChangingOneTask>> {
        let completed = body.0.completed;
        Ok(TaskResponse::found(
            repository::set_completion(&db, &auth.0.user_id, id.0, completed).await?,
        )?)
    }
}
