//! [`ChangeHub`]: this instance's open event streams, per user, and the
//! signal that wakes them when that user's tasks may have changed.
//!
//! A wake-up carries nothing: each stream reads what changed after its own
//! cursor from the database, so a wake-up that comes twice, late, or for a
//! change the stream has already sent costs a query, never an event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;

use super::announcer::Announcer;

/// Open streams, per user. One per application; cheap to share.
pub struct ChangeHub {
    users: Mutex<HashMap<String, Watchers>>,
    max_streams_per_user: usize,
    /// Cancelled when the service shuts down: every stream ends then, so
    /// shutdown does not wait on them.
    closing: CancellationToken,
    /// The earliest reminder scheduled (by any instance) since this
    /// instance's scheduler last looked, and the signal that wakes it.
    scheduled: Mutex<Option<DateTime<Utc>>>,
    schedule_changed: Notify,
    /// On PostgreSQL, where commits are announced to every instance
    /// (this one's listener included); on SQLite, the one instance is told
    /// directly.
    announcer: Option<Announcer>,
}

struct Watchers {
    /// A wake-up, with the changes that caused it where the writer handed
    /// them over ([`Pushed`]).
    wake: watch::Sender<Option<Arc<Pushed>>>,
    streams: usize,
}

/// All of one user's changes numbered `first..` (as many as `reminders`),
/// handed by the writer that made them to this instance's streams with the
/// wake-up: a stream that has sent everything before `first` sends them
/// without reading the database. Only reminders are handed over so far:
/// the scheduler records many at once, for many streams.
#[derive(Debug)]
pub struct Pushed {
    /// The user's feed epoch, for the cursors.
    pub epoch: i64,
    pub first: i64,
    /// In change-number order: `reminders[i]` is change `first + i`.
    pub reminders: Vec<entity::reminder::Model>,
}

/// The user already has as many open streams as allowed.
#[derive(Debug)]
pub struct TooManyStreams {
    pub limit: usize,
}

impl ChangeHub {
    /// A hub told of commits directly: one instance (SQLite).
    pub fn new(max_streams_per_user: usize) -> Arc<Self> {
        Self::with(max_streams_per_user, None)
    }

    /// A hub whose commits `announcer` announces to every instance, whose
    /// listeners wake their streams (PostgreSQL).
    pub fn announcing(max_streams_per_user: usize, announcer: Announcer) -> Arc<Self> {
        Self::with(max_streams_per_user, Some(announcer))
    }

    fn with(max_streams_per_user: usize, announcer: Option<Announcer>) -> Arc<Self> {
        Arc::new(Self {
            users: Mutex::default(),
            max_streams_per_user,
            closing: CancellationToken::new(),
            scheduled: Mutex::default(),
            schedule_changed: Notify::new(),
            announcer,
        })
    }

    /// `user_id`'s changes committed: their streams are woken, on every
    /// instance.
    pub fn committed(&self, user_id: &str) {
        match &self.announcer {
            Some(announcer) => announcer.changed(user_id),
            None => self.wake(user_id),
        }
    }

    /// A reminder at `at` was scheduled and committed: every instance's
    /// scheduler is told.
    pub fn committed_reminder(&self, at: DateTime<Utc>) {
        match &self.announcer {
            Some(announcer) => announcer.reminder_scheduled(at),
            None => self.reminder_scheduled(at),
        }
    }

    /// `user_id`'s changes `pushed` committed: this instance's streams are
    /// woken with them, other instances' as by [`Self::committed`].
    pub fn committed_pushing(&self, user_id: &str, pushed: Arc<Pushed>) {
        self.push(user_id, pushed);
        if let Some(announcer) = &self.announcer {
            announcer.changed(user_id);
        }
    }

    /// Sends the announcements still queued, for shutdown.
    pub async fn stop_announcing(&self) {
        if let Some(announcer) = &self.announcer {
            announcer.stop().await;
        }
    }

    /// Opens a stream for `user_id`, unless they are at the limit.
    pub fn open(self: &Arc<Self>, user_id: &str) -> Result<Subscription, TooManyStreams> {
        let mut users = self.lock();
        let watchers = users.entry(user_id.to_owned()).or_insert_with(|| Watchers {
            wake: watch::Sender::new(None),
            streams: 0,
        });
        if watchers.streams >= self.max_streams_per_user {
            return Err(TooManyStreams {
                limit: self.max_streams_per_user,
            });
        }
        watchers.streams += 1;
        Ok(Subscription {
            wake: watchers.wake.subscribe(),
            user_id: user_id.to_owned(),
            hub: Arc::clone(self),
        })
    }

    /// `user_id`'s tasks may have changed: wake their streams, if any.
    /// Changes handed over earlier stay with the wake-up: a stream that has
    /// not taken them yet still can (it reads what else came after them
    /// anyway), rather than read them all again. On PostgreSQL the
    /// notification of a commit whose changes were handed over comes just
    /// after them.
    pub fn wake(&self, user_id: &str) {
        if let Some(watchers) = self.lock().get(user_id) {
            watchers.wake.send_modify(|_| {});
        }
    }

    /// `user_id`'s changes `pushed` committed: wake their streams with them.
    fn push(&self, user_id: &str, pushed: Arc<Pushed>) {
        if let Some(watchers) = self.lock().get(user_id) {
            watchers.wake.send_replace(Some(pushed));
        }
    }

    /// Wakes every stream, and the scheduler: after notifications may
    /// have been lost.
    pub fn wake_all(&self) {
        for watchers in self.lock().values() {
            watchers.wake.send_modify(|_| {});
        }
        self.reminder_scheduled(Utc::now());
    }

    /// A reminder was scheduled at `at` (and committed): the scheduler
    /// wakes for it if it sleeps until later.
    pub fn reminder_scheduled(&self, at: DateTime<Utc>) {
        let mut scheduled = self
            .scheduled
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *scheduled = Some(scheduled.map_or(at, |earlier| earlier.min(at)));
        self.schedule_changed.notify_one();
    }

    /// Resolves with the earliest reminder scheduled since the last call
    /// (at once if one was scheduled meanwhile).
    pub async fn next_scheduled(&self) -> DateTime<Utc> {
        loop {
            if let Some(at) = self
                .scheduled
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
            {
                return at;
            }
            self.schedule_changed.notified().await;
        }
    }

    /// Ends every stream, for shutdown.
    pub fn close(&self) {
        self.closing.cancel();
    }

    pub fn closing(&self) -> &CancellationToken {
        &self.closing
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Watchers>> {
        // The map stays consistent even if a holder panicked: every change
        // to it is a single insert, increment or removal.
        self.users.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open stream: woken when its user's tasks may have changed; closing
/// it (dropping) frees its place under the limit.
pub struct Subscription {
    wake: watch::Receiver<Option<Arc<Pushed>>>,
    user_id: String,
    hub: Arc<ChangeHub>,
}

impl Subscription {
    /// Marks every wake-up so far as seen: call it before reading the
    /// database, so a change committed during the read wakes [`Self::woken`].
    pub fn mark_seen(&mut self) {
        self.wake.mark_unchanged();
    }

    /// The changes handed over with a wake-up not yet seen, if it came with
    /// any; marks it seen either way.
    pub fn take_pushed(&mut self) -> Option<Arc<Pushed>> {
        if !self.wake.has_changed().unwrap_or(false) {
            return None;
        }
        self.wake.borrow_and_update().clone()
    }

    /// Resolves at the next wake-up not yet marked seen.
    pub async fn woken(&mut self) {
        // The sender lives in the hub's map as long as this subscription.
        let _ = self.wake.changed().await;
    }

    pub fn closing(&self) -> CancellationToken {
        self.hub.closing.clone()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut users = self.hub.lock();
        if let Some(watchers) = users.get_mut(&self.user_id) {
            watchers.streams -= 1;
            if watchers.streams == 0 {
                users.remove(&self.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wake_reaches_only_that_users_streams() {
        let hub = ChangeHub::new(10);
        let mut alice = hub.open("alice").unwrap();
        let mut bob = hub.open("bob").unwrap();
        alice.mark_seen();
        bob.mark_seen();
        hub.wake("alice");
        tokio::time::timeout(std::time::Duration::from_secs(1), alice.woken())
            .await
            .expect("alice is woken");
        let bob_woken =
            tokio::time::timeout(std::time::Duration::from_millis(50), bob.woken()).await;
        assert!(bob_woken.is_err(), "bob is not woken by alice's change");
    }

    #[test]
    fn streams_are_limited_per_user_and_freed_when_closed() {
        let hub = ChangeHub::new(2);
        let first = hub.open("alice").unwrap();
        let _second = hub.open("alice").unwrap();
        let Err(refused) = hub.open("alice") else {
            panic!("a third stream is refused");
        };
        assert_eq!(refused.limit, 2);
        let _other = hub.open("bob").expect("the limit is per user");
        drop(first);
        let _third = hub.open("alice").expect("a closed stream frees its place");
    }
}
