//! Following one user's feed for `GET /api/events`: read what changed after
//! the stream's cursor, send it, wait for a wake-up, repeat.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::Duration;

use futures_util::Stream;
use poem::web::sse::Event;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use sea_orm::{DatabaseConnection, DbErr};
use tokio::time::Instant;

use super::feed::{self, Change};
use super::repository::ChangeKinds;
use super::schema::{DeletedTask, ReminderEvent, TaskEvent};
use crate::change_log::{Cursor, Position, Pushed, START, Subscription};
use crate::tasks::Task;

/// Changes read per query while catching up.
const BATCH: u64 = 100;

/// What a stream sends: a change and the cursor just after it, or only a
/// cursor (where a stream starts without one, so the client has one to
/// resume from before any change arrives).
pub enum StreamItem {
    /// Boxed: a task is far larger than a cursor.
    Change(Cursor, Box<Change>),
    Position(Cursor),
}

/// The document describes the stream's items as the events' data.
impl Type for StreamItem {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        TaskEvent::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        TaskEvent::schema_ref()
    }

    fn register(registry: &mut Registry) {
        TaskEvent::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for StreamItem {
    fn to_json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.data()).ok()
    }
}

impl StreamItem {
    /// The event's `data:`, rendered with serde as every response is.
    fn data(&self) -> String {
        let rendered = match self {
            Self::Change(_, change) => match &**change {
                Change::Upsert(task) => serde_json::to_string(&Task::from(task.clone())),
                Change::Delete(tombstone) => {
                    serde_json::to_string(&DeletedTask::from(tombstone.clone()))
                }
                Change::Reminder(reminder) => {
                    serde_json::to_string(&ReminderEvent::from(reminder.clone()))
                }
            },
            Self::Position(_) => return String::new(),
        };
        rendered.unwrap_or_default()
    }

    /// `event: upsert`, `event: delete` or `event: reminder`, with the
    /// cursor as its `id:`;
    /// a bare `id:` for a position.
    pub fn into_event(self) -> Event {
        let data = self.data();
        match self {
            Self::Change(cursor, change) => Event::message(data)
                .event_type(match *change {
                    Change::Upsert(_) => "upsert",
                    Change::Delete(_) => "delete",
                    Change::Reminder(_) => "reminder",
                })
                .id(cursor.encode()),
            Self::Position(cursor) => Event::message(data).id(cursor.encode()),
        }
    }
}

/// The moment of `unix_seconds`, on the clock streams wait on.
pub fn instant_at(unix_seconds: i64) -> Instant {
    let from_now = unix_seconds.saturating_sub(chrono::Utc::now().timestamp());
    Instant::now() + Duration::from_secs(u64::try_from(from_now).unwrap_or(0))
}

/// One open stream's state.
pub struct Follower {
    pub db: DatabaseConnection,
    pub user_id: String,
    pub subscription: Subscription,
    /// Every change up to here has been sent (or was already the client's).
    pub cursor: Cursor,
    /// Read again this often even without a wake-up, whatever became of a
    /// notification.
    pub poll_every: Duration,
    /// When the token expires: the stream ends then.
    pub expires: Instant,
    pub pending: VecDeque<StreamItem>,
}

enum Read {
    /// A full batch: read again at once.
    More,
    CaughtUp,
    /// The cursor is no longer valid (the user was erased): end the stream;
    /// the client's reconnection gets the 410 that says to reload.
    Gone,
}

impl Follower {
    pub fn into_stream(self) -> impl Stream<Item = StreamItem> + Send + 'static {
        futures_util::stream::unfold(self, |mut follower| async move {
            let item = follower.next().await?;
            Some((item, follower))
        })
    }

    async fn next(&mut self) -> Option<StreamItem> {
        let closing = self.subscription.closing();
        loop {
            if Instant::now() >= self.expires {
                return None;
            }
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if let Some(pushed) = self.subscription.take_pushed()
                && self.follow(&pushed)
            {
                continue;
            }
            self.subscription.mark_seen();
            match self.read().await {
                Ok(Read::More) => continue,
                // Send what was read before waiting again.
                Ok(Read::CaughtUp) if !self.pending.is_empty() => continue,
                Ok(Read::CaughtUp) => {}
                Ok(Read::Gone) => return None,
                // Tried again at the next wake-up or poll.
                Err(err) => tracing::warn!(error = %err, "an event stream could not read changes"),
            }
            tokio::select! {
                () = self.subscription.woken() => {}
                () = tokio::time::sleep(self.poll_every) => {}
                () = tokio::time::sleep_until(self.expires) => return None,
                () = closing.cancelled() => return None,
            }
        }
    }

    /// Sends changes handed over with a wake-up ([`Pushed`]) without
    /// reading the database, if they are the very next ones: the stream
    /// has sent everything before them. Otherwise the stream reads.
    fn follow(&mut self, pushed: &Pushed) -> bool {
        let next = self.cursor.seq + 1;
        if self.cursor.epoch != pushed.epoch || pushed.first != next {
            return false;
        }
        let mut cursor = self.cursor;
        for reminder in &pushed.reminders {
            cursor.seq = reminder.change_seq.unwrap_or(cursor.seq + 1);
            let change = Change::Reminder(reminder.clone());
            self.pending
                .push_back(StreamItem::Change(cursor, Box::new(change)));
        }
        self.cursor = cursor;
        true
    }

    async fn read(&mut self) -> Result<Read, DbErr> {
        let position = Position::of(&self.db, &self.user_id).await?;
        if !position.accepts(self.cursor) {
            return Ok(Read::Gone);
        }
        if position.head == self.cursor.seq {
            return Ok(Read::CaughtUp);
        }
        let page = feed::read(
            &self.db,
            &self.user_id,
            &position,
            self.cursor.seq,
            BATCH,
            // A stream sends every reminder recorded after its cursor,
            // even from the very start.
            ChangeKinds {
                deletions: self.cursor != START,
                reminders: true,
            },
        )
        .await?;
        for change in page.changes {
            let at = position.cursor_at(change.seq());
            self.pending
                .push_back(StreamItem::Change(at, Box::new(change)));
        }
        self.cursor = position.cursor_at(page.last_seq);
        Ok(if page.has_more {
            Read::More
        } else {
            Read::CaughtUp
        })
    }
}
