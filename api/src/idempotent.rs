//! Writes that happen at most once per `Idempotency-Key`, for any route:
//! claim the key, run the write, remember the rendered response, and
//! answer every retry with it, byte for byte. Every statement on
//! `idempotency_keys` is here.
//!
//! A keyed write runs in one transaction of its route's own, after it has
//! taken the owner's `users` row (the order every write takes):
//!
//! 1. [`Keyed::claim`] inserts the key. A retry finds it instead and is
//!    answered from it ([`Claim::Replay`]) or, when it was made with
//!    another request, refused ([`Claim::Conflict`]); nothing is written.
//! 2. The route checks its own refusals, then [`Ticket::admit`] checks the
//!    owner's bound on live keys (the one just claimed included).
//! 3. The route writes, renders its response body, and
//!    [`Admitted::remember`]s it before it commits.
//!
//! A concurrent retry (on any instance) waits on the owner's row, or on
//! the first claim's uncommitted key, until the first transaction ends,
//! then finds the remembered body: it never runs the write a second time
//! and never sees a key without its answer. A refusal or a failure rolls
//! the claim back with everything else, so a retry once there is room
//! runs the write. The [`Ticket`] borrows the transaction, so nothing can
//! be remembered in another one, or after the commit.
//!
//! What is remembered is the response body, kept as the text first sent
//! ([`RenderedJson`]); each route builds its status and headers from that
//! body, the same way for a first answer and for its replays, so both are
//! identical without a copy of the headers in the row. So the row keeps
//! the format it has always had: no migration, and keys remembered before
//! an upgrade are still answered after it.

use std::marker::PhantomData;

use chrono::{DateTime, TimeDelta, Utc};
use entity::idempotency_key;
use poem_openapi::types::ToJSON;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, Order,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};

use crate::change_log;
use crate::http::error::ApiError;
use crate::http::idempotency::{HEADER, IdempotencyKey};
use crate::http::rendered_json::RenderedJson;
use crate::http::timestamp;
use crate::metrics::WriteKind;

/// How long a key is remembered.
pub const LIFETIME: TimeDelta = TimeDelta::hours(24);

/// The route a key is claimed for: one variant per route that takes an
/// `Idempotency-Key`.
///
/// A key is scoped to its owner and to its route. The table's primary key
/// is `(user_id, key)` and it has no column naming the route (one would be
/// a migration rebuilding that key), so the route is part of the stored
/// request instead ([`Operation::fingerprint`]): the same key sent to
/// another route is the same key with another request, a 422, and never
/// answered with another route's response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// `POST /api/tasks`.
    CreateTask,
    /// `POST /api/batch`.
    Batch,
}

impl Operation {
    /// What is stored, and compared on a retry, for `request` (the
    /// validated body as canonical JSON).
    ///
    /// `CreateTask` keeps its requests bare, as they were stored before
    /// keys served more than one route, so keys remembered before an
    /// upgrade still match after it. Every other route puts its own name
    /// and a space first (`"POST /api/tasks/batch […]"`): a task create's
    /// request is a JSON object, starting with `{`, so no two routes'
    /// requests can be equal.
    fn fingerprint(self, request: String) -> String {
        match self {
            Self::CreateTask => request,
            Self::Batch => format!("POST /api/batch {request}"),
        }
    }
}

/// A request made with an `Idempotency-Key`: its route, the key, and the
/// request a retry must repeat.
pub struct Keyed {
    key: String,
    request: String,
}

impl Keyed {
    /// `body` is the validated request body; a retry must send one that
    /// validates to the same value (its JSON text may differ in spacing
    /// or field order).
    pub fn new(operation: Operation, key: IdempotencyKey, body: &impl ToJSON) -> Self {
        let request = body.to_json().unwrap_or_default().to_string();
        Self {
            key: key.as_str().to_owned(),
            request: operation.fingerprint(request),
        }
    }

    /// Claims the key for `owner` in `txn`, whose first statement took the
    /// owner's `users` row. Two concurrent claims of one key are ordered
    /// by that row (and by the key's own unique index): the second one
    /// waits for the first transaction, then finds its row.
    pub async fn claim<'t, B>(
        &self,
        txn: &'t DatabaseTransaction,
        owner: &str,
    ) -> Result<Claim<'t, B>, DbErr> {
        let now = timestamp::now();
        let claimed = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
            user_id: Set(owner.to_owned()),
            key: Set(self.key.clone()),
            request: Set(self.request.clone()),
            // Filled in by `remember`, before the claim is committed.
            response: Set(String::new()),
            created_at: Set(now),
        })
        .on_conflict(
            OnConflict::columns([
                idempotency_key::Column::UserId,
                idempotency_key::Column::Key,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
        if claimed == 0 {
            let first = idempotency_key::Entity::find_by_id((owner.to_owned(), self.key.clone()))
                .one(txn)
                .await?
                .ok_or_else(|| DbErr::RecordNotFound("the idempotency key just seen".into()))?;
            return Ok(if first.request == self.request {
                Claim::Replay(RenderedJson::from_rendered(first.response))
            } else {
                Claim::Conflict
            });
        }
        Ok(Claim::Fresh(Ticket {
            txn,
            owner: owner.to_owned(),
            key: self.key.clone(),
            now,
            body: PhantomData,
        }))
    }
}

/// What claiming a key found.
pub enum Claim<'t, B> {
    /// The key is new: run the write.
    Fresh(Ticket<'t, B>),
    /// A retry: the first request's body, as sent; write nothing.
    Replay(RenderedJson<B>),
    /// The key was first used with another request (or on another
    /// route); write nothing.
    Conflict,
}

impl<'t, B> Claim<'t, B> {
    /// The ticket to run the write with, or, for a retry, the answer
    /// already settled (the caller ends its transaction: nothing was
    /// written).
    pub fn fresh<R>(self) -> Result<Ticket<'t, B>, Once<B, R>> {
        match self {
            Self::Fresh(ticket) => Ok(ticket),
            Self::Replay(body) => Err(Once::Answered(body)),
            Self::Conflict => Err(Once::Conflict),
        }
    }
}

/// A key claimed in a transaction that has not yet checked the owner's
/// bound on live keys. A separate step from the claim, so that a route
/// checks its own refusals first (one that waiting for a key to expire
/// would not cure should be the one answered), and after the claim, so a
/// retry is answered whatever the bounds.
#[must_use = "a claimed key is answered only once remembered"]
pub struct Ticket<'t, B> {
    txn: &'t DatabaseTransaction,
    owner: String,
    key: String,
    now: DateTime<Utc>,
    body: PhantomData<fn() -> B>,
}

/// The owner holds `limit` live keys already; the claim must be rolled
/// back.
#[derive(Debug)]
pub struct KeysExhausted {
    pub limit: u64,
    /// When the oldest key expires.
    pub first_free: TimeDelta,
    /// When every key held now has expired.
    pub all_free: TimeDelta,
}

impl<'t, B> Ticket<'t, B> {
    /// Whether the owner, counted with the key just claimed, holds at most
    /// `keys_per_user` live keys. Counted under the owner's row, so two
    /// concurrent claims at the bound cannot both pass. Expired keys the
    /// sweeper has not purged yet do not count.
    pub async fn admit(
        self,
        keys_per_user: u64,
    ) -> Result<Result<Admitted<'t, B>, KeysExhausted>, DbErr> {
        let live = || {
            idempotency_key::Entity::find()
                .filter(idempotency_key::Column::UserId.eq(self.owner.as_str()))
                .filter(idempotency_key::Column::CreatedAt.gte(self.now - LIFETIME))
        };
        if live().count(self.txn).await? <= keys_per_user {
            return Ok(Ok(Admitted(self)));
        }
        let created = |order: Order| async {
            // The key just claimed is about to be rolled back.
            let key = live()
                .filter(idempotency_key::Column::Key.ne(self.key.as_str()))
                .order_by(idempotency_key::Column::CreatedAt, order)
                .one(self.txn)
                .await?;
            Ok::<_, DbErr>(key.map_or(self.now, |key| key.created_at))
        };
        let oldest = created(Order::Asc).await?;
        let newest = created(Order::Desc).await?;
        Ok(Err(KeysExhausted {
            limit: keys_per_user,
            first_free: oldest + LIFETIME - self.now,
            all_free: newest + LIFETIME - self.now,
        }))
    }
}

/// A claimed key within the owner's bound: the write may run.
#[must_use = "a claimed key is answered only once remembered"]
pub struct Admitted<'t, B>(Ticket<'t, B>);

impl<B> Admitted<'_, B> {
    /// Remembers `body` as the key's answer, in the write's transaction
    /// (before its commit), and hands it back to be sent.
    pub async fn remember(self, body: RenderedJson<B>) -> Result<RenderedJson<B>, DbErr> {
        let ticket = self.0;
        idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::Response,
                Expr::value(body.as_str()),
            )
            .filter(idempotency_key::Column::UserId.eq(ticket.owner.as_str()))
            .filter(idempotency_key::Column::Key.eq(ticket.key.as_str()))
            .exec(ticket.txn)
            .await?;
        Ok(body)
    }
}

/// What a keyed write came to, as its repository hands it to the route.
pub enum Once<B, R> {
    /// The body to send: the one just written and remembered, or, for a
    /// retry, the first request's. The same bytes either way.
    Answered(RenderedJson<B>),
    /// The key was first used with another request; nothing written.
    Conflict,
    /// The route's own refusal, or the key bound's; nothing stored, the
    /// key included, so a retry once there is room runs the write.
    Refused(R),
}

impl<B, R: Into<ApiError>> Once<B, R> {
    /// The body to send, or the error to answer with.
    pub fn into_answer(self) -> Result<RenderedJson<B>, ApiError> {
        match self {
            Self::Answered(body) => Ok(body),
            Self::Conflict => Err(ApiError::invalid(
                HEADER,
                "was already used with a different request body",
            )),
            Self::Refused(refusal) => Err(refusal.into()),
        }
    }
}

/// The key bound's refusal, the same on every route: a 429 until the
/// oldest key expires, in whole seconds rounded up so a client waiting
/// that long finds room.
impl From<KeysExhausted> for ApiError {
    fn from(exhausted: KeysExhausted) -> Self {
        let seconds = |delta: TimeDelta| {
            let rounded_up = u64::try_from((delta.num_milliseconds() + 999) / 1000);
            std::cmp::max(rounded_up.unwrap_or(0), 1)
        };
        Self::TooManyIdempotencyKeys {
            limit: exhausted.limit,
            retry_after_secs: seconds(exhausted.first_free),
            reset_secs: seconds(exhausted.all_free),
        }
    }
}

/// Forgets at most `batch` keys past their lifetime, oldest first (from any
/// users), in one short transaction; returns how many. The sweeper calls
/// it, off the request path. It takes no user's row: it holds only the
/// expired keys it deletes, and waits for nothing a user's write holds
/// (a keyed write reusing such a key waits for the purge, then claims it
/// afresh).
pub async fn purge_expired(db: &DatabaseConnection, batch: u64) -> Result<u64, DbErr> {
    let expired = Query::select()
        .column(idempotency_key::Column::UserId)
        .column(idempotency_key::Column::Key)
        .from(idempotency_key::Entity)
        .and_where(idempotency_key::Column::CreatedAt.lt(timestamp::now() - LIFETIME))
        .order_by(idempotency_key::Column::CreatedAt, Order::Asc)
        .limit(batch)
        .to_owned();
    let txn = change_log::begin(db, WriteKind::KeyPurge).await?;
    let purged = idempotency_key::Entity::delete_many()
        .filter(
            Expr::tuple([
                Expr::col(idempotency_key::Column::UserId),
                Expr::col(idempotency_key::Column::Key),
            ])
            .in_subquery(expired),
        )
        .exec(&*txn)
        .await?
        .rows_affected;
    txn.commit().await?;
    Ok(purged)
}

/// Forgets at most `limit` of the user's keys, for erasure (whose caller
/// holds the user's row); returns how many.
pub async fn forget_some(txn: &DatabaseTransaction, owner: &str, limit: u64) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(idempotency_key::Column::Key)
        .from(idempotency_key::Entity)
        .and_where(idempotency_key::Column::UserId.eq(owner))
        .limit(limit)
        .to_owned();
    Ok(idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::UserId.eq(owner))
        .filter(idempotency_key::Column::Key.in_subquery(some))
        .exec(txn)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromParameter;

    use super::*;

    /// Rows stored before keys named their route hold the request's JSON
    /// alone; a retry of one must still match.
    #[test]
    fn a_task_create_is_stored_as_its_bare_request() {
        let key = IdempotencyKey::parse_from_parameter("k").unwrap();
        let body = serde_json::json!({"title": "A", "completed": false});
        let keyed = Keyed::new(Operation::CreateTask, key, &body);
        assert_eq!(keyed.request, body.to_string());
    }
}
