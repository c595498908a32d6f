//! Every query on `tasks` (and the `users` row a first task needs). Each one
//! is scoped by the owner, so a task that belongs to someone else is simply
//! not found.

use entity::{task, user};
use poem_openapi::types::MaybeUndefined;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Select, Set,
    TransactionTrait, UpdateMany,
};

use super::bodies::{CreateTask, UpdateTask};
use super::list_query::{ListQuery, SortKey, SortOrder, StatusFilter};
use crate::auth::Identity;
use crate::http::text::Text;
use crate::http::timestamp;

/// One page of tasks and how many match the filters in all.
pub struct Page {
    pub tasks: Vec<task::Model>,
    pub total: u64,
}

pub async fn list(db: &DatabaseConnection, owner: &str, query: &ListQuery) -> Result<Page, DbErr> {
    let mut select = owned_by(owner);
    select = match query.status {
        StatusFilter::All => select,
        StatusFilter::Pending => select.filter(task::Column::Completed.eq(false)),
        StatusFilter::Completed => select.filter(task::Column::Completed.eq(true)),
    };
    let order = match query.order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let key = match query.sort {
        SortKey::CreatedAt => task::Column::CreatedAt,
        SortKey::UpdatedAt => task::Column::UpdatedAt,
        SortKey::Title => task::Column::Title,
    };
    let sorted = |select: Select<task::Entity>| {
        select
            .order_by(key, order.clone())
            .order_by(task::Column::Id, order.clone())
    };

    let Some(text) = query.text.as_deref() else {
        return page_in_database(db, select, sorted, query).await;
    };
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // `strpos` rather than `LIKE`, so `%` and `_` are plain text;
            // `lower` folds every Unicode letter on PostgreSQL.
            let matches = Expr::cust_with_values(
                r#"(strpos(lower("title"), lower($1)) > 0 OR strpos(lower(coalesce("description", '')), lower($1)) > 0)"#,
                [text],
            );
            page_in_database(db, select.filter(matches), sorted, query).await
        }
        _ => {
            // SQLite's `lower` and `LIKE` fold only ASCII, so the text match
            // runs here over the caller's (already filtered, sorted) tasks.
            let needle = text.to_lowercase();
            let matching: Vec<task::Model> = sorted(select)
                .all(db)
                .await?
                .into_iter()
                .filter(|task| {
                    task.title.to_lowercase().contains(&needle)
                        || task
                            .description
                            .as_deref()
                            .is_some_and(|d| d.to_lowercase().contains(&needle))
                })
                .collect();
            let total = matching.len() as u64;
            let tasks = matching
                .into_iter()
                .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
                .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
                .collect();
            Ok(Page { tasks, total })
        }
    }
}

async fn page_in_database(
    db: &DatabaseConnection,
    select: Select<task::Entity>,
    sorted: impl Fn(Select<task::Entity>) -> Select<task::Entity>,
    query: &ListQuery,
) -> Result<Page, DbErr> {
    // Two queries rather than one with `COUNT(*) OVER ()`: the window would
    // make PostgreSQL read every match before the LIMIT, where the count can
    // stay inside the index. They run concurrently, on two connections.
    let page = sorted(select.clone())
        .limit(query.limit)
        .offset(query.offset)
        .all(db);
    let (total, tasks) = tokio::try_join!(select.count(db), page)?;
    Ok(Page { tasks, total })
}

pub async fn find(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
) -> Result<Option<task::Model>, DbErr> {
    one_owned(task::Entity::find(), owner, id).one(db).await
}

/// Records the owner on their first task, in the same transaction as the
/// task itself, so `tasks.user_id` always names a real user.
pub async fn create(
    db: &DatabaseConnection,
    owner: &Identity,
    new: CreateTask,
) -> Result<task::Model, DbErr> {
    let now = timestamp::now();
    let txn = db.begin().await?;
    user::Entity::insert(user::ActiveModel {
        id: Set(owner.user_id.clone()),
        email: Set(owner.email.clone()),
        name: Set(owner.name.clone()),
        created_at: Set(now),
    })
    .on_conflict(OnConflict::column(user::Column::Id).do_nothing().to_owned())
    .exec_without_returning(&txn)
    .await?;
    let task = task::ActiveModel {
        id: NotSet,
        user_id: Set(owner.user_id.clone()),
        title: Set(new.title.into_string()),
        description: Set(new.description.map(Text::into_string)),
        completed: Set(new.completed),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(task)
}

/// Applies `changes`; `None` if not found.
pub async fn update(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
    changes: UpdateTask,
) -> Result<Option<task::Model>, DbErr> {
    change(db, owner, id, |mut update| {
        if let Some(title) = changes.title {
            update = update.col_expr(task::Column::Title, Expr::value(title.into_string()));
        }
        let description = match changes.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(text) => Some(Some(text.into_string())),
        };
        if let Some(description) = description {
            update = update.col_expr(task::Column::Description, Expr::value(description));
        }
        if let Some(completed) = changes.completed {
            update = update.col_expr(task::Column::Completed, Expr::value(completed));
        }
        update
    })
    .await
}

/// Sets `completed`, or flips it in the database when `None`, so two
/// concurrent toggles never read the same old value.
pub async fn set_completion(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
    completed: Option<bool>,
) -> Result<Option<task::Model>, DbErr> {
    let value = match completed {
        Some(completed) => Expr::value(completed),
        None => Expr::col(task::Column::Completed).not(),
    };
    change(db, owner, id, |update| {
        update.col_expr(task::Column::Completed, value)
    })
    .await
}

/// `true` if the task existed (for this owner) and is gone.
pub async fn delete(db: &DatabaseConnection, owner: &str, id: i64) -> Result<bool, DbErr> {
    let result = one_owned(task::Entity::delete_many(), owner, id)
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

/// One `UPDATE … RETURNING` of the owner's task `id`: the columns `set`
/// adds, and `updated_at`. `None` if not found.
async fn change(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
    set: impl FnOnce(UpdateMany<task::Entity>) -> UpdateMany<task::Entity>,
) -> Result<Option<task::Model>, DbErr> {
    let update = one_owned(task::Entity::update_many(), owner, id)
        .col_expr(task::Column::UpdatedAt, Expr::value(timestamp::now()));
    Ok(set(update)
        .exec_with_returning(db)
        .await?
        .into_iter()
        .next())
}

fn owned_by(owner: &str) -> Select<task::Entity> {
    task::Entity::find().filter(task::Column::UserId.eq(owner))
}

/// Scopes any statement to task `id` of `owner`: another user's task is
/// simply not found.
fn one_owned<Q: QueryFilter>(query: Q, owner: &str, id: i64) -> Q {
    query
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::UserId.eq(owner))
}
