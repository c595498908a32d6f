//! Each user's fair share of the database pool. One user's requests may
//! hold at most a few of the pool's connections at once, so a user running
//! slow queries in parallel (worst-case searches over a large account) fills
//! their own share and queues behind it, while everyone else keeps the
//! rest of the pool. A request that cannot get into its user's share
//! within [`QUEUE_WAIT`] is a 503 with `Retry-After`, like a full pool.
//!
//! Counted per instance, per request: a request holds its place from the
//! moment its token is verified until its response is ready (an event
//! stream's, as soon as it opens). Requests without a valid token take no
//! place: they are refused before any statement runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::auth::verify_and_remember;
use crate::http::error::ApiError;

/// How long a request waits for a place in its user's share. With the
/// pool's own wait after it, a refusal comes within the second the
/// contract allows.
pub const QUEUE_WAIT: Duration = Duration::from_millis(500);

/// The connections one user's requests may hold at once out of a pool of
/// `pool_size`: a quarter, and at least one.
pub fn share_of(pool_size: u32) -> usize {
    (pool_size as usize / 4).max(1)
}

/// The middleware.
pub struct FairShare {
    shares: Arc<Shares>,
}

impl FairShare {
    pub fn new(per_user: usize) -> Self {
        Self {
            shares: Arc::new(Shares {
                per_user,
                users: Mutex::default(),
            }),
        }
    }
}

/// The users with requests in flight or waiting, each with their places.
/// An entry lives only while someone holds or awaits one of its places.
struct Shares {
    per_user: usize,
    users: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Shares {
    fn of(&self, user: &str) -> Arc<Semaphore> {
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        let share = users
            .entry(user.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_user)));
        Arc::clone(share)
    }

    /// Forgets `user`'s entry when nobody else holds it: every clone is
    /// made under the same lock, so a count of one is final.
    fn release(&self, user: &str, share: Arc<Semaphore>, place: Option<OwnedSemaphorePermit>) {
        drop(place);
        let mut users = self.users.lock().unwrap_or_else(PoisonError::into_inner);
        drop(share);
        if users
            .get(user)
            .is_some_and(|share| Arc::strong_count(share) == 1)
        {
            users.remove(user);
        }
    }
}

impl<E: Endpoint> Middleware<E> for FairShare {
    type Output = FairShareEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        FairShareEndpoint {
            inner,
            shares: Arc::clone(&self.shares),
        }
    }
}

pub struct FairShareEndpoint<E> {
    inner: E,
    shares: Arc<Shares>,
}

impl<E: Endpoint> Endpoint for FairShareEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let user = if req.uri().path().starts_with("/api/") {
            verify_and_remember(&mut req)
                .await
                .map(|identity| identity.user_id)
        } else {
            None
        };
        let Some(user) = user else {
            return self.inner.call(req).await.map(IntoResponse::into_response);
        };
        let share = self.shares.of(&user);
        let place = tokio::time::timeout(QUEUE_WAIT, Arc::clone(&share).acquire_owned()).await;
        let Ok(Ok(place)) = place else {
            self.shares.release(&user, share, None);
            tracing::warn!("a user's requests fill their share of the database pool");
            return Err(ApiError::ShareInUse.into());
        };
        let response = self.inner.call(req).await.map(IntoResponse::into_response);
        self.shares.release(&user, share, Some(place));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::share_of;

    #[test]
    fn a_user_gets_a_quarter_of_the_pool_and_at_least_one_connection() {
        assert_eq!(share_of(1), 1);
        assert_eq!(share_of(4), 1);
        assert_eq!(share_of(10), 2);
        assert_eq!(share_of(64), 16);
    }
}
