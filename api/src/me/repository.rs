//! Every statement on `users`. A user's row is written by their writes
//! (never by reads) and erased with everything they own.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, Set,
};

use crate::auth::Identity;
use crate::changes::hub::ChangeHub;
use crate::changes::repository as changes;
use crate::metrics::WriteKind;

/// Records the caller's row on their first write, and on later writes
/// brings its `email` and `name` up to the token's, in the write's own
/// transaction; either way takes the user's next change number, which the
/// write stamps on what it changes. One statement. A claim the token leaves
/// out keeps the stored value: it says nothing new.
///
/// Every write takes this row first (and erasure deletes it first), so
/// writes of one user queue on its lock in the same order and never
/// deadlock, and their change numbers follow the order they commit in: the
/// change feed relies on that to never skip one.
pub(crate) async fn record_change(
    txn: &DatabaseTransaction,
    owner: &Identity,
    now: DateTime<Utc>,
) -> Result<i64, DbErr> {
    let stored = |column: user::Column| Expr::col((user::Entity, column));
    let offered = |column: user::Column| Expr::col((Alias::new("excluded"), column));
    // The token's value where it has one, else the stored one.
    let refreshed =
        |column: user::Column| Expr::expr(Func::coalesce([offered(column), stored(column)]));
    let user = user::Entity::insert(user::ActiveModel {
        id: Set(owner.user_id.clone()),
        email: Set(owner.email.clone()),
        name: Set(owner.name.clone()),
        created_at: Set(now),
        change_seq: Set(1),
        sync_epoch: Set(rand::random()),
        purged_seq: Set(0),
    })
    .on_conflict(
        OnConflict::column(user::Column::Id)
            .value(user::Column::Email, refreshed(user::Column::Email))
            .value(user::Column::Name, refreshed(user::Column::Name))
            .value(
                user::Column::ChangeSeq,
                stored(user::Column::ChangeSeq).add(1),
            )
            .to_owned(),
    )
    .exec_with_returning(txn)
    .await?;
    Ok(user.change_seq)
}

/// The user's change-feed position: `None` for a user with no row (who
/// never wrote anything, or was erased).
pub async fn feed_position(
    db: &impl ConnectionTrait,
    user_id: &str,
) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(user_id).one(db).await
}

/// Erases the user: their row, and with it, through the foreign keys'
/// `ON DELETE CASCADE`, their tasks and idempotency keys, all in one
/// statement, so all of it goes or none of it does. The row is deleted
/// before its dependants, the order every write takes it in ([`record`]).
/// A user with no row (who never wrote anything) has nothing to erase.
pub async fn erase(db: &DatabaseConnection, hub: &ChangeHub, user_id: &str) -> Result<(), DbErr> {
    // Announced, so the user's open event streams end: their cursors now
    // name a row that is gone.
    changes::announced(db, WriteKind::Erase, user_id, hub, async |txn| {
        user::Entity::delete_many()
            .filter(user::Column::Id.eq(user_id))
            .exec(txn)
            .await
    })
    .await?;
    Ok(())
}
