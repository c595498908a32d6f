//! `GET /api/tasks/changes` and `GET /api/events`: the caller's changes, as
//! pages to poll or as a stream.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use poem::web::Data;
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::EventStream;
use poem_openapi::{ApiResponse, OpenApi};
use sea_orm::DatabaseConnection;

use super::feed::{self, Change};
use super::repository::ChangeKinds;
use super::schema::{ChangesPage, DeletedTask, ReminderEvent};
use super::stream::{Follower, StreamItem, instant_at};
use crate::auth::BearerAuth;
use crate::change_log::{ChangeHub, Cursor, Position};
use crate::configuration::EventSettings;
use crate::http::documented_errors::OperationError;
use crate::http::documented_errors::statuses::{Following, ReadingChanges};
use crate::http::error::ApiError;
use crate::http::lenient::Lenient;
use crate::http::rendered_json::RenderedJson;
use crate::route_table::ApiTags;
use crate::tasks::{PageLimit, Task, default_limit};

pub struct ChangesApi;

#[derive(ApiResponse)]
pub enum ChangesResponse {
    /// The caller's changes after `since`, oldest first.
    #[oai(status = 200)]
    Ok(RenderedJson<ChangesPage>),
}

#[derive(ApiResponse)]
pub enum EventsResponse {
    /// Server-sent events, one per change as it commits: `event: upsert`
    /// (data: the task), `event: delete` (data: `{"id", "deleted_at"}`) or
    /// `event: reminder` (data: the reminder, when its time comes), each
    /// with the cursor just after it as its `id`. A stream opened
    /// without a cursor first sends a bare `id:` (the present). A comment
    /// line keeps the connection alive every 15 s. The stream ends when the
    /// token expires: reconnect with a fresh one and `Last-Event-ID`.
    #[oai(status = 200)]
    Ok(EventStream<BoxStream<'static, StreamItem>>),
}

/// The cursor a client sent, if it is one this user's feed accepts.
fn accepted(position: &Position, cursor: &str) -> Result<Cursor, ApiError> {
    Cursor::decode(cursor)
        .filter(|cursor| position.accepts(*cursor))
        .ok_or(ApiError::CursorExpired)
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl ChangesApi {
    /// Your changes since a cursor
    ///
    /// Each task created or changed after `since` once, in its latest
    /// state, each task deleted and each reminder recorded after it; then
    /// the cursor to pass next time. Without `since`: the current tasks and a cursor to follow from.
    /// While `has_more` is true, ask again with the new cursor. A cursor is
    /// valid for at least 30 days; an older one, or one never issued to the
    /// caller, is a 410: drop the local copy and start again without `since`.
    #[oai(
        path = "/api/tasks/changes",
        method = "get",
        operation_id = "listTaskChanges"
    )]
    async fn changes(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        /// The cursor of the last page (or event) seen.
        since: Query<Option<String>>,
        /// Changes per page.
        #[oai(default = "default_limit")]
        limit: Query<Lenient<PageLimit>>,
    ) -> Result<ChangesResponse, OperationError<ReadingChanges>> {
        let mut errors = Vec::new();
        let Some(PageLimit(limit)) = limit.0.check("limit", &mut errors) else {
            return Err(ApiError::Validation(errors).into());
        };
        let user_id = &auth.0.user_id;
        let position = Position::of(&db, user_id).await?;
        let since = since.0.as_deref().map(|cursor| accepted(&position, cursor));
        let since = since.transpose()?;
        let after = since.map_or(0, |cursor| cursor.seq);
        // Without `since`, a snapshot: no tombstones and no reminders.
        let kinds = ChangeKinds {
            deletions: since.is_some(),
            reminders: since.is_some(),
        };
        let page = feed::read(&db, user_id, &position, after, limit, kinds).await?;
        let (mut tasks, mut deleted, mut reminders) = (Vec::new(), Vec::new(), Vec::new());
        for change in page.changes {
            match change {
                Change::Upsert(task) => tasks.push(Task::from(task)),
                Change::Delete(tombstone) => deleted.push(DeletedTask::from(tombstone)),
                Change::Reminder(reminder) => reminders.push(ReminderEvent::from(reminder)),
            }
        }
        Ok(ChangesResponse::Ok(RenderedJson::render(&ChangesPage {
            tasks,
            deleted,
            reminders,
            cursor: position.cursor_at(page.last_seq).encode(),
            has_more: page.has_more,
        })))
    }

    /// Your changes, live
    ///
    /// A `text/event-stream` of the caller's changes as they commit, on any
    /// instance of the service. Resume after a disconnection with
    /// `Last-Event-ID` (or `since`): nothing in between is missed. Send the
    /// token in `Authorization` as everywhere (with `fetch` streaming: the
    /// browser's `EventSource` cannot). Each user may hold a limited number
    /// of streams open at once (`EVENT_STREAMS_PER_USER`); the next is a 429.
    #[oai(
        path = "/api/events",
        method = "get",
        operation_id = "streamTaskEvents"
    )]
    async fn events(
        &self,
        auth: BearerAuth,
        db: Data<&DatabaseConnection>,
        hub: Data<&Arc<ChangeHub>>,
        settings: Data<&EventSettings>,
        /// The cursor to resume after, where `Last-Event-ID` is not sent.
        since: Query<Option<String>>,
        /// The `id` of the last event received: resumes after it.
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<EventsResponse, OperationError<Following>> {
        let identity = auth.0;
        let position = Position::of(&db, &identity.user_id).await?;
        let mut pending = VecDeque::new();
        let cursor = match last_event_id.0.or(since.0) {
            Some(cursor) => accepted(&position, &cursor)?,
            None => {
                let present = position.cursor_at(position.head);
                pending.push_back(StreamItem::Position(present));
                present
            }
        };
        let subscription =
            hub.open(&identity.user_id)
                .map_err(|refused| ApiError::TooManyStreams {
                    limit: refused.limit,
                })?;
        let follower = Follower {
            db: db.clone(),
            user_id: identity.user_id,
            subscription,
            cursor,
            poll_every: settings.keep_alive,
            expires: instant_at(identity.expires_at),
            pending,
        };
        Ok(EventsResponse::Ok(
            EventStream::new(follower.into_stream().boxed())
                .keep_alive(settings.keep_alive)
                .to_event(StreamItem::into_event),
        ))
    }
}
