//! Every query on `tasks`. Each one is scoped by the owner, so a task that
//! belongs to someone else is simply not found. Every write runs in a
//! transaction with the owner's `users` row ([`change_log::record_change`]),
//! which it records on a first task and refreshes from the token on later
//! writes, and from which it takes the change number it stamps on the task
//! (or on the tombstone a deletion leaves) for the change feed. Each write
//! is announced to the owner's event streams as it commits
//! ([`change_log::commit`]).

use chrono::{DateTime, Utc};
use entity::{task, user};
use poem_openapi::types::MaybeUndefined;
use sea_orm::sea_query::{Alias, Asterisk, Expr, ExprTrait, Func, JoinType, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, FromQueryResult, Order,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Set, UpdateMany,
};

use super::bodies::{CreateTask, UpdateTask};
use super::list_query::{ListQuery, SortKey, SortOrder, StatusFilter};
use super::task::Task;
use crate::auth::Identity;
use crate::change_log::{self, ChangeHub, Position};
use crate::configuration::Quotas;
use crate::http::conditional::IfMatch;
use crate::http::rendered_json::RenderedJson;
use crate::http::text::Text;
use crate::http::timestamp;
use crate::idempotent::{Keyed, KeysExhausted, Once};
use crate::metrics::WriteKind;

/// One page of tasks, how many match the filters in all, and where the
/// owner's change feed stood as they were read (the list's `ETag`).
pub struct Page {
    pub tasks: Vec<task::Model>,
    pub total: u64,
    pub position: Position,
}

/// Reads the page, the total and the owner's position in one statement: one
/// round trip and one connection per list, where three separate statements
/// cost the service and the database most of a list's time; and one
/// snapshot, so the tag always describes the page it comes with.
///
/// ```sql
/// SELECT counted.total, owner.sync_epoch, …, page.*
/// FROM (SELECT COUNT(*) FROM tasks WHERE <filters>) AS counted
/// LEFT JOIN users AS owner ON owner.id = <owner>
/// LEFT JOIN (SELECT * FROM tasks WHERE <filters> ORDER BY … LIMIT … OFFSET …) AS page ON TRUE
/// ORDER BY page.<key>, page.id
/// ```
///
/// The count stays a plain `COUNT(*)` of its own (rather than a window
/// over the page's rows), so it can be answered from an index, and the
/// outer joins always leave one row, even for an empty page.
pub async fn list(db: &DatabaseConnection, owner: &str, query: &ListQuery) -> Result<Page, DbErr> {
    let mut matching = owned_by(owner);
    matching = match query.status {
        StatusFilter::All => matching,
        StatusFilter::Pending => matching.filter(task::Column::Completed.eq(false)),
        StatusFilter::Completed => matching.filter(task::Column::Completed.eq(true)),
    };
    if let Some(text) = query.text.as_deref() {
        matching = matching.filter(containing(text, db.get_database_backend()));
    }
    let order = match query.order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let key = match query.sort {
        SortKey::CreatedAt => task::Column::CreatedAt,
        SortKey::UpdatedAt => task::Column::UpdatedAt,
        SortKey::Title => task::Column::TitleKey,
    };
    let page = matching
        .clone()
        .order_by(key, order.clone())
        .order_by(task::Column::Id, order.clone())
        .limit(query.limit)
        .offset(query.offset)
        .into_query();
    // `COUNT(*)` straight over the filtered rows: SeaORM's own `count()`
    // wraps the whole select in a subquery.
    let count = matching
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), list_columns::TOTAL)
        .into_query();
    let statement = Query::select()
        .column((list_columns::COUNTED, list_columns::TOTAL))
        .expr_as(
            Expr::col((list_columns::OWNER, user::Column::SyncEpoch)),
            list_columns::FEED_EPOCH,
        )
        .expr_as(
            Expr::col((list_columns::OWNER, user::Column::ChangeSeq)),
            list_columns::FEED_HEAD,
        )
        .expr_as(
            Expr::col((list_columns::OWNER, user::Column::PurgedSeq)),
            list_columns::FEED_PURGED,
        )
        .column((list_columns::PAGE, Asterisk))
        .from_subquery(count, list_columns::COUNTED)
        .join_as(
            JoinType::LeftJoin,
            user::Entity,
            list_columns::OWNER,
            Expr::col((list_columns::OWNER, user::Column::Id)).eq(owner),
        )
        .join_subquery(
            JoinType::LeftJoin,
            page,
            list_columns::PAGE,
            Expr::cust("TRUE"),
        )
        .order_by((list_columns::PAGE, key), order.clone())
        .order_by((list_columns::PAGE, task::Column::Id), order)
        .to_owned();
    let rows = db.query_all(&statement).await?;
    let Some(first) = rows.first() else {
        return Err(DbErr::RecordNotFound("the list's count row".into()));
    };
    let total: i64 = first.try_get("", list_columns::TOTAL)?;
    // The owner's columns are all NULL (no row: the outer join found none)
    // or all set (they are NOT NULL).
    let epoch: Option<i64> = first.try_get("", list_columns::FEED_EPOCH)?;
    let stored = match epoch {
        Some(epoch) => Some((
            epoch,
            first.try_get("", list_columns::FEED_HEAD)?,
            first.try_get("", list_columns::FEED_PURGED)?,
        )),
        None => None,
    };
    let position = Position::stored(stored);
    let mut tasks = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(task) = Option::<task::Model>::from_query_result(row, "")? {
            tasks.push(task);
        }
    }
    Ok(Page {
        tasks,
        total: u64::try_from(total).unwrap_or(0),
        position,
    })
}

/// The names the list statement gives its parts and extra columns; a task
/// column is never one of them.
mod list_columns {
    pub const COUNTED: &str = "counted";
    pub const OWNER: &str = "owner";
    pub const PAGE: &str = "page";
    pub const TOTAL: &str = "total";
    pub const FEED_EPOCH: &str = "feed_epoch";
    pub const FEED_HEAD: &str = "feed_head";
    pub const FEED_PURGED: &str = "feed_purged";
}

/// How much of the search text PostgreSQL's trigram indexes are asked
/// for: enough trigrams to narrow a large account to a few candidates.
const INDEXED_PREFIX_CHARS: usize = 8;

/// Tasks whose title or description contains `text`, ignoring case, on the
/// case-folded columns, always in the database (never over rows loaded
/// into the service), the same on both databases.
///
/// `LIKE '%text%'` compares the pattern afresh at every position of every
/// row, so a long search text against long near-matching descriptions (an
/// account built to be slow) took seconds: 0.95 s for 10,000 tasks of
/// 1,000 characters and a 200-character search in SQLite, 0.77 s in
/// PostgreSQL. A substring search (`instr`, `strpos`) takes 0.03 s and
/// 0.02 s for the same. SQLite has no index for either, so it uses `instr`
/// alone. PostgreSQL keeps a `LIKE` on the text's first
/// [`INDEXED_PREFIX_CHARS`] characters, which its trigram indexes serve
/// (a large account's search stays an index lookup) and which is cheap to
/// recheck, and `strpos` checks the whole text.
fn containing(text: &str, backend: DbBackend) -> Condition {
    let folded = task::fold_case(text);
    let found = |column: task::Column| -> Condition {
        let column = Expr::col(column);
        let substring = |function: &str| {
            Expr::expr(
                Func::cust(Alias::new(function))
                    .arg(column.clone())
                    .arg(folded.clone()),
            )
            .gt(0)
        };
        if backend != DbBackend::Postgres {
            return Condition::all().add(substring("instr"));
        }
        let prefix: String = folded.chars().take(INDEXED_PREFIX_CHARS).collect();
        let mut pattern = String::from("%");
        for c in prefix.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        let indexed = column.clone().like(LikeExpr::new(pattern).escape('\\'));
        Condition::all().add(indexed).add(substring("strpos"))
    };
    Condition::any()
        .add(found(task::Column::TitleKey))
        .add(found(task::Column::DescriptionKey))
}

pub async fn find(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
) -> Result<Option<task::Model>, DbErr> {
    one_owned(task::Entity::find(), owner, id).one(db).await
}

/// The outcome of a write to one task.
pub enum Written<T> {
    Done(T),
    NotFound,
    /// `If-Match` named no current version; nothing was written.
    Stale,
}

/// Why a create stored nothing: the owner is at one of their [`Quotas`].
/// Both are counted after the owner's row is taken, so two concurrent
/// creates of one user are counted one after the other and cannot both
/// pass at the limit.
#[derive(Debug)]
pub enum OverQuota {
    /// The owner already holds `limit` tasks.
    Tasks { limit: u64 },
    /// The owner already holds as many live idempotency keys as allowed.
    Keys(KeysExhausted),
}

/// Records the owner on their first task (refreshes them on later ones), in
/// the same transaction as the task itself, so `tasks.user_id` always names
/// a real user. Over the task quota, the transaction rolls back: no task,
/// and no change number taken.
pub async fn create(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    quotas: &Quotas,
    new: CreateTask,
) -> Result<Result<task::Model, OverQuota>, DbErr> {
    let now = timestamp::now();
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let seq = change_log::record_change(&txn, owner, now).await?;
    if let Some(over) = over_task_quota(&txn, &owner.user_id, quotas).await? {
        txn.rollback().await?;
        return Ok(Err(over));
    }
    let task = insert_task(&txn, owner, new, now, seq).await?;
    change_log::commit(txn, &owner.user_id, hub).await?;
    Ok(Ok(task))
}

/// Whether the owner, whose row the transaction holds, may not add a task.
async fn over_task_quota(
    txn: &DatabaseTransaction,
    owner: &str,
    quotas: &Quotas,
) -> Result<Option<OverQuota>, DbErr> {
    let held = owned_by(owner).count(txn).await?;
    Ok((held >= quotas.tasks_per_user).then_some(OverQuota::Tasks {
        limit: quotas.tasks_per_user,
    }))
}

/// A create that happens at most once per (owner, key): [`create`] as a
/// keyed write ([`crate::idempotent`]), the task's rendered body remembered with
/// the key. A retry is answered without counting quotas: it creates
/// nothing.
pub async fn create_once(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    quotas: &Quotas,
    new: CreateTask,
    keyed: &Keyed,
) -> Result<Once<Task, OverQuota>, DbErr> {
    let now = timestamp::now();
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let seq = change_log::record_change(&txn, owner, now).await?;
    let ticket = match keyed.claim(&txn, &owner.user_id).await?.fresh() {
        Ok(ticket) => ticket,
        Err(answer) => {
            // Nothing was written: no change to announce (its number is
            // simply never used).
            txn.commit().await?;
            return Ok(answer);
        }
    };
    // The task quota first: waiting for a key to expire would not help.
    if let Some(over) = over_task_quota(&txn, &owner.user_id, quotas).await? {
        txn.rollback().await?;
        return Ok(Once::Refused(over));
    }
    let admitted = match ticket.admit(quotas.idempotency_keys_per_user).await? {
        Ok(admitted) => admitted,
        Err(exhausted) => {
            txn.rollback().await?;
            return Ok(Once::Refused(OverQuota::Keys(exhausted)));
        }
    };
    let task = insert_task(&txn, owner, new, now, seq).await?;
    let body = admitted
        .remember(RenderedJson::render(&Task::from(task)))
        .await?;
    change_log::commit(txn, &owner.user_id, hub).await?;
    Ok(Once::Answered(body))
}

/// Deletes at most `limit` of the user's tasks, for erasure (whose caller
/// holds the user's row); returns how many. No tombstones: erasure ends the
/// user's change feed altogether.
pub async fn delete_some(txn: &DatabaseTransaction, owner: &str, limit: u64) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(task::Column::Id)
        .from(task::Entity)
        .and_where(task::Column::UserId.eq(owner))
        .limit(limit)
        .to_owned();
    Ok(task::Entity::delete_many()
        .filter(task::Column::Id.in_subquery(some))
        .filter(task::Column::UserId.eq(owner))
        .exec(txn)
        .await?
        .rows_affected)
}

/// Inserts the task as change `seq`; its owner's row must already exist
/// ([`change_log::record_change`]).
async fn insert_task(
    txn: &DatabaseTransaction,
    owner: &Identity,
    new: CreateTask,
    now: DateTime<Utc>,
    seq: i64,
) -> Result<task::Model, DbErr> {
    task::ActiveModel {
        id: NotSet,
        user_id: Set(owner.user_id.clone()),
        title_key: Set(task::fold_case(new.title.as_str())),
        description_key: Set(new
            .description
            .as_ref()
            .map(|text| task::fold_case(text.as_str()))),
        title: Set(new.title.into_string()),
        description: Set(new.description.map(Text::into_string)),
        completed: Set(new.completed),
        created_at: Set(now),
        updated_at: Set(now),
        version: Set(1),
        change_seq: Set(seq),
    }
    .insert(txn)
    .await
}

/// Applies `changes` if `expected` allows.
pub async fn update(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
    changes: UpdateTask,
) -> Result<Written<task::Model>, DbErr> {
    change(db, hub, owner, id, expected, |mut update| {
        if let Some(title) = changes.title {
            update = update
                .col_expr(
                    task::Column::TitleKey,
                    Expr::value(task::fold_case(title.as_str())),
                )
                .col_expr(task::Column::Title, Expr::value(title.into_string()));
        }
        let description = match changes.description {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(text) => Some(Some(text.into_string())),
        };
        if let Some(description) = description {
            let folded = description.as_deref().map(task::fold_case);
            update = update
                .col_expr(task::Column::DescriptionKey, Expr::value(folded))
                .col_expr(task::Column::Description, Expr::value(description));
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
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
    completed: Option<bool>,
) -> Result<Written<task::Model>, DbErr> {
    let value = match completed {
        Some(completed) => Expr::value(completed),
        None => Expr::col(task::Column::Completed).not(),
    };
    change(db, hub, owner, id, expected, |update| {
        update.col_expr(task::Column::Completed, value)
    })
    .await
}

/// Deletes the task if `expected` allows, leaving a tombstone for the
/// change feed.
pub async fn delete(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
) -> Result<Written<()>, DbErr> {
    let scoped = one_owned(task::Entity::delete_many(), &owner.user_id, id);
    as_owner(db, hub, owner, id, async |txn, seq| {
        if matching(scoped, expected).exec(txn).await?.rows_affected == 0 {
            return Ok(None);
        }
        change_log::record_deletion(txn, &owner.user_id, id, seq, timestamp::now()).await?;
        Ok(Some(()))
    })
    .await
}

/// Runs `write` on the owner's task `id` in one transaction with the
/// owner's row ([`change_log::record_change`], first, the order every write
/// takes), passing it the change number to stamp. When `write` finds
/// nothing to change (`None`), the transaction rolls back, so a 404 or 412
/// changes nothing, the owner's row included.
async fn as_owner<T>(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    write: impl AsyncFnOnce(&DatabaseTransaction, i64) -> Result<Option<T>, DbErr>,
) -> Result<Written<T>, DbErr> {
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let seq = change_log::record_change(&txn, owner, timestamp::now()).await?;
    match write(&txn, seq).await? {
        Some(written) => {
            change_log::commit(txn, &owner.user_id, hub).await?;
            Ok(Written::Done(written))
        }
        None => {
            txn.rollback().await?;
            missing_or_stale(db, &owner.user_id, id).await
        }
    }
}

/// One `UPDATE … RETURNING` of the owner's task `id`, if its version is one
/// `expected` names: the columns `set` adds, `updated_at`, and the next
/// version. Checking the version in the statement that writes means two
/// writers holding the same version can never both succeed.
async fn change(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
    set: impl FnOnce(UpdateMany<task::Entity>) -> UpdateMany<task::Entity>,
) -> Result<Written<task::Model>, DbErr> {
    let update = matching(
        one_owned(task::Entity::update_many(), &owner.user_id, id),
        expected,
    )
    .col_expr(task::Column::UpdatedAt, Expr::value(timestamp::now()))
    .col_expr(
        task::Column::Version,
        Expr::col(task::Column::Version).add(1),
    );
    let update = set(update);
    as_owner(db, hub, owner, id, async |txn, seq| {
        let update = update.col_expr(task::Column::ChangeSeq, Expr::value(seq));
        Ok(update.exec_with_returning(txn).await?.into_iter().next())
    })
    .await
}

/// Scopes a write to the versions `expected` names.
fn matching<Q: QueryFilter>(query: Q, expected: Option<&IfMatch>) -> Q {
    match expected {
        None | Some(IfMatch::Any) => query,
        Some(IfMatch::OneOf(versions)) => {
            query.filter(task::Column::Version.is_in(versions.iter().copied()))
        }
    }
}

/// Why a scoped write touched no row: the task is not the owner's, or its
/// version did not match.
async fn missing_or_stale<T>(
    db: &DatabaseConnection,
    owner: &str,
    id: i64,
) -> Result<Written<T>, DbErr> {
    Ok(match find(db, owner, id).await? {
        Some(_) => Written::Stale,
        None => Written::NotFound,
    })
}

fn owned_by(owner: &str) -> Select<task::Entity> {
    task::Entity::find()
        .filter(task::Column::UserId.eq(owner))
        .filter(change_log::visible(owner))
}

/// Scopes any statement to task `id` of `owner`: another user's task is
/// simply not found.
fn one_owned<Q: QueryFilter>(query: Q, owner: &str, id: i64) -> Q {
    query
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::UserId.eq(owner))
        .filter(change_log::visible(owner))
}
