//! Every statement on `users`. A user's row is written by their writes
//! (never by reads) and erased with everything they own.

use chrono::{DateTime, Utc};
use entity::user;
use sea_orm::sea_query::{Alias, BinOper, Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, Set,
};

use crate::auth::Identity;

/// Records the caller's row on their first write, and on later writes
/// brings its `email` and `name` up to the token's, in the write's own
/// transaction. One statement either way: the `UPDATE` half runs only
/// where a value differs, so an unchanged profile writes nothing. A claim
/// the token leaves out keeps the stored value: it says nothing new.
///
/// Every write takes this row first (and erasure deletes it first), so
/// writes of one user queue on it in the same order and never deadlock.
pub(crate) async fn record(
    txn: &DatabaseTransaction,
    owner: &Identity,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let stored = |column: user::Column| Expr::col((user::Entity, column));
    let offered = |column: user::Column| Expr::col((Alias::new("excluded"), column));
    // The token's value where it has one, else the stored one.
    let refreshed =
        |column: user::Column| Expr::expr(Func::coalesce([offered(column), stored(column)]));
    let changes = |column: user::Column| {
        offered(column)
            .is_not_null()
            .and(stored(column).binary(BinOper::Custom("IS DISTINCT FROM"), offered(column)))
    };
    user::Entity::insert(user::ActiveModel {
        id: Set(owner.user_id.clone()),
        email: Set(owner.email.clone()),
        name: Set(owner.name.clone()),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(user::Column::Id)
            .value(user::Column::Email, refreshed(user::Column::Email))
            .value(user::Column::Name, refreshed(user::Column::Name))
            .action_and_where(changes(user::Column::Email).or(changes(user::Column::Name)))
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Erases the user: their row, and with it, through the foreign keys'
/// `ON DELETE CASCADE`, their tasks and idempotency keys, all in one
/// statement, so all of it goes or none of it does. The row is deleted
/// before its dependants, the order every write takes it in ([`record`]).
/// A user with no row (who never wrote anything) has nothing to erase.
pub async fn erase(db: &DatabaseConnection, user_id: &str) -> Result<(), DbErr> {
    user::Entity::delete_many()
        .filter(user::Column::Id.eq(user_id))
        .exec(db)
        .await?;
    Ok(())
}
