//! The `/api/tags` handlers.

use std::sync::Arc;

use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use sea_orm::DatabaseConnection;
use serde_json::Value;

use crate::auth::BearerAuth;
use crate::change_log::ChangeHub;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::{Authenticated, ChangingOneTag};
use crate::http::error::ApiError;
use crate::http::json_body::{FromJsonBody, JsonBody, ObjectReader};
use crate::http::problem::FieldError;
use crate::route_table::ApiTags;
use crate::tasks::repository::{self, Retagged};
use crate::tasks::{TagCount as Tag, TagName};

pub struct TagsApi;

/// `PUT /api/tags/{name}`.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct RenameTag {
    /// The new name, by the tag rules; an existing tag's name merges the two.
    pub name: TagName,
}

impl Example for RenameTag {
    fn example() -> Self {
        Self {
            name: TagName("shopping".into()),
        }
    }
}

impl FromJsonBody for RenameTag {
    type Schema = Self;

    fn from_json(body: Option<Value>) -> Result<Self, Vec<FieldError>> {
        let mut reader = ObjectReader::new(body)?;
        let name = reader.required("name", "must be a tag name, not null");
        reader.finish(name.map(|name| RenameTag { name }))
    }
}

#[derive(ApiResponse)]
pub enum ListTagsResponse {
    /// The caller's tags, sorted case-insensitively.
    #[oai(status = 200)]
    Ok(Json<Vec<Tag>>),
}

#[derive(ApiResponse)]
pub enum RenameTagResponse {
    /// The tag after the rename, counted as in the list.
    #[oai(status = 200)]
    Ok(Json<Tag>),
}

#[derive(ApiResponse)]
pub enum DeleteTagResponse {
    /// The tag is gone from every task.
    #[oai(status = 204)]
    Deleted,
}

fn found<T>(outcome: Retagged<T>) -> Result<T, ApiError> {
    match outcome {
        Retagged::Done(value) => Ok(value),
        Retagged::NotFound => Err(ApiError::TagNotFound),
    }
}

#[OpenApi(tag = "ApiTags::Tags")]
impl TagsApi {
    /// List your tags
    ///
    /// Every tag on the caller's tasks, sorted case-insensitively, with how
    /// many tasks carry it and how many of those are pending.
    #[oai(path = "/api/tags", method = "get", operation_id = "listTags")]
    async fn list_tags(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
    ) -> Result<ListTagsResponse, OperationError<Authenticated>> {
        let tags = repository::list_tags(&db, &auth.0.user_id)
            .await
            .map_err(ApiError::from)?;
        Ok(ListTagsResponse::Ok(Json(tags)))
    }

    /// Rename a tag
    ///
    /// Renames the tag on every task carrying it, in one write; where a task
    /// also carries the new name, the two merge. Renaming to another case
    /// of the same name changes its spelling. Each changed task gets a new
    /// version and appears in the change feed.
    #[oai(path = "/api/tags/:name", method = "put", operation_id = "renameTag")]
    async fn rename_tag(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        /// The tag, matched ignoring case.
        name: Path<String>,
        body: JsonBody<RenameTag>,
    ) -> Result<RenameTagResponse, OperationError<ChangingOneTag>> {
        let to = body.0.name.0;
        let renamed = repository::rename_tag(&db, &hub, &auth.0, &name.0, &to).await?;
        Ok(RenameTagResponse::Ok(Json(found(renamed)?)))
    }

    /// Delete a tag
    ///
    /// Removes the tag from every task carrying it, in one write. Each
    /// changed task gets a new version and appears in the change feed.
    #[oai(
        path = "/api/tags/:name",
        method = "delete",
        operation_id = "deleteTag"
    )]
    async fn delete_tag(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        /// The tag, matched ignoring case.
        name: Path<String>,
    ) -> Result<DeleteTagResponse, OperationError<ChangingOneTag>> {
        found(repository::delete_tag(&db, &hub, &auth.0, &name.0).await?)?;
        Ok(DeleteTagResponse::Deleted)
    }
}
