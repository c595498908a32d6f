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
use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, Func, JoinType, LikeExpr, Query, UnionType,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::NotSet, ColumnTrait, Condition, ConnectionTrait,
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Select, Set, UpdateMany,
};

use super::bodies::{CreateTask, Schedule, UpdateTask, check_schedule};
use super::due::{self, DueDate, DueTime, Zone};
use super::list_query::{ListQuery, SortKey, SortOrder, StatusFilter};
use super::listed;
use super::recurrence::Recurrence;
use super::reminder_offsets::ReminderOffsets;
use super::tag_names::{TagSet, parse_tag, tag_key};
use super::tag_store::{self, CreateRun, TagCount};
use super::task::Task;
use crate::auth::Identity;
use crate::change_log::{self, ChangeHub, Position};
use crate::configuration::Quotas;
use crate::http::conditional::IfMatch;
use crate::http::problem::FieldError;
use crate::http::rendered_json::RenderedJson;
use crate::http::text::Text;
use crate::http::timestamp;
use crate::idempotent::{Keyed, KeysExhausted, Once};
use crate::metrics::WriteKind;
use crate::reminders::store as reminder_store;

/// One page of tasks, how many match the filters in all, and where the
/// owner's change feed stood as they were read (the list's `ETag`).
pub struct Page {
    pub tasks: Vec<Task>,
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
    let statement = list_statement(owner, query, db.get_database_backend());
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
        if let Some(task) = listed::task_at(row, list_columns::FIRST_TASK_COLUMN)? {
            tasks.push(task);
        }
    }
    Ok(Page {
        tasks,
        total: u64::try_from(total).unwrap_or(0),
        position,
    })
}

/// The one statement [`list`] runs (its plans are checked in `plans`).
pub(super) fn list_statement(
    owner: &str,
    query: &ListQuery,
    backend: DbBackend,
) -> sea_orm::sea_query::SelectStatement {
    let matching = filtered(owner, query, backend);
    let order = match query.order {
        SortOrder::Asc => Order::Asc,
        SortOrder::Desc => Order::Desc,
    };
    let key = match query.sort {
        SortKey::CreatedAt => task::Column::CreatedAt,
        SortKey::UpdatedAt => task::Column::UpdatedAt,
        SortKey::Title => task::Column::TitleKey,
        SortKey::DueAt => task::Column::DueAt,
        SortKey::Priority => task::Column::Priority,
    };
    let page = if query.sort == SortKey::DueAt {
        due_page(&matching, &order, query.limit, query.offset)
    } else {
        matching
            .clone()
            .order_by(key, order.clone())
            .order_by(task::Column::Id, order.clone())
            .limit(query.limit)
            .offset(query.offset)
            .into_query()
    };
    // `COUNT(*)` straight over the filtered rows: SeaORM's own `count()`
    // wraps the whole select in a subquery.
    let count = matching
        .select_only()
        .column_as(Expr::cust("COUNT(*)"), list_columns::TOTAL)
        .into_query();
    let mut statement = Query::select()
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
        .columns(listed::COLUMNS.map(|column| (list_columns::PAGE, column)))
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
        .to_owned();
    if query.sort == SortKey::DueAt {
        // Undated tasks last, as the page was cut.
        statement.order_by_expr(
            Expr::col((list_columns::PAGE, task::Column::DueAt)).is_null(),
            Order::Asc,
        );
    }
    statement
        .order_by((list_columns::PAGE, key), order.clone())
        .order_by((list_columns::PAGE, task::Column::Id), order);
    statement
}

/// The owner's tasks the query's filters let through.
fn filtered(owner: &str, query: &ListQuery, backend: DbBackend) -> Select<task::Entity> {
    let mut matching = match query.status {
        StatusFilter::All => owned_by(owner),
        StatusFilter::Pending => owned_by(owner).filter(task::Column::Completed.eq(false)),
        StatusFilter::Completed => owned_by(owner).filter(task::Column::Completed.eq(true)),
    };
    if let Some(text) = query.text.as_deref() {
        matching = matching.filter(containing(text, backend));
    }
    if !query.priorities.is_empty() {
        matching = matching
            .filter(task::Column::Priority.is_in(query.priorities.iter().map(|p| p.rank())));
    }
    for key in &query.tags {
        matching = matching.filter(task::Column::Id.in_subquery(tag_store::carrying(owner, key)));
    }
    if let Some(before) = query.due_before {
        matching = matching.filter(task::Column::DueAt.lt(before));
    }
    if let Some(after) = query.due_after {
        matching = matching.filter(task::Column::DueAt.gte(after));
    }
    match query.has_due {
        Some(true) => matching = matching.filter(task::Column::DueAt.is_not_null()),
        Some(false) => matching = matching.filter(task::Column::DueAt.is_null()),
        None => {}
    }
    let now = timestamp::now();
    match query.overdue {
        Some(true) => {
            matching = matching
                .filter(task::Column::Completed.eq(false))
                .filter(task::Column::DueAt.lt(now));
        }
        // Spelled out, so a task without a due date (whose comparison is
        // NULL) counts as not overdue.
        Some(false) => {
            matching = matching.filter(
                Condition::any()
                    .add(task::Column::Completed.eq(true))
                    .add(task::Column::DueAt.is_null())
                    .add(task::Column::DueAt.gte(now)),
            );
        }
        None => {}
    }
    matching
}

/// A page sorted by `due_at` with the tasks that have none last in both
/// orders, read as two index-ordered runs: the first `offset + limit`
/// tasks with a due date, and as many without (by id), from which the page
/// is cut. So either direction reads an index in order on both databases,
/// where a "nulls last" order over one index would sort every match.
fn due_page(
    matching: &Select<task::Entity>,
    order: &Order,
    limit: u64,
    offset: u64,
) -> sea_orm::sea_query::SelectStatement {
    let enough = Ord::min(offset.saturating_add(limit), i64::MAX as u64);
    let dated = matching
        .clone()
        .filter(task::Column::DueAt.is_not_null())
        .order_by(task::Column::DueAt, order.clone())
        .order_by(task::Column::Id, order.clone())
        .limit(enough)
        .into_query();
    let undated = matching
        .clone()
        .filter(task::Column::DueAt.is_null())
        .order_by(task::Column::Id, order.clone())
        .limit(enough)
        .into_query();
    let both = Query::select()
        .column(Asterisk)
        .from_subquery(dated, list_columns::DATED)
        .union(
            UnionType::All,
            Query::select()
                .column(Asterisk)
                .from_subquery(undated, list_columns::UNDATED)
                .to_owned(),
        )
        .to_owned();
    Query::select()
        .column(Asterisk)
        .from_subquery(both, list_columns::EITHER)
        .order_by_expr(Expr::col(task::Column::DueAt).is_null(), Order::Asc)
        .order_by(task::Column::DueAt, order.clone())
        .order_by(task::Column::Id, order.clone())
        .limit(limit)
        .offset(offset)
        .to_owned()
}

/// The names the list statement gives its parts and extra columns; a task
/// column is never one of them.
mod list_columns {
    pub const COUNTED: &str = "counted";
    pub const OWNER: &str = "owner";
    pub const PAGE: &str = "page";
    pub const DATED: &str = "dated";
    pub const UNDATED: &str = "undated";
    pub const EITHER: &str = "either";
    pub const TOTAL: &str = "total";
    pub const FEED_EPOCH: &str = "feed_epoch";
    pub const FEED_HEAD: &str = "feed_head";
    pub const FEED_PURGED: &str = "feed_purged";
    /// The list statement's first task column: after the total and the
    /// three feed columns.
    pub const FIRST_TASK_COLUMN: usize = 4;
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
    /// The task as it would be after the write breaks a rule; nothing was
    /// written.
    Invalid(Vec<FieldError>),
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
    let taken = change_log::record_change(&txn, owner, now, 1).await?;
    if let Some(over) = over_task_quota(taken, quotas) {
        txn.rollback().await?;
        return Ok(Err(over));
    }
    let task = insert_task(&txn, owner, new, now, taken.seq).await?;
    change_log::commit_scheduling(txn, &owner.user_id, next_reminder(&task), hub).await?;
    Ok(Ok(task))
}

/// How many tasks the owner may still add, by their row as a write took
/// it ([`change_log::record_change`]).
pub fn room_for_tasks(taken: change_log::Taken, quotas: &Quotas) -> u64 {
    let held = u64::try_from(taken.task_count).unwrap_or(0);
    quotas.tasks_per_user.saturating_sub(held)
}

/// Whether a write that counted one task more (`taken`) would hold more
/// than the quota.
fn over_task_quota(taken: change_log::Taken, quotas: &Quotas) -> Option<OverQuota> {
    let held = u64::try_from(taken.task_count).unwrap_or(0);
    (held > quotas.tasks_per_user).then_some(OverQuota::Tasks {
        limit: quotas.tasks_per_user,
    })
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
    let taken = change_log::record_change(&txn, owner, now, 1).await?;
    let ticket = match keyed.claim(&txn, &owner.user_id).await?.fresh() {
        Ok(ticket) => ticket,
        Err(answer) => {
            // Nothing to write: the task counted is not added.
            txn.rollback().await?;
            return Ok(answer);
        }
    };
    // The task quota first: waiting for a key to expire would not help.
    if let Some(over) = over_task_quota(taken, quotas) {
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
    let task = insert_task(&txn, owner, new, now, taken.seq).await?;
    let reminder = next_reminder(&task);
    let body = admitted
        .remember(RenderedJson::render(&Task::from(task)))
        .await?;
    change_log::commit_scheduling(txn, &owner.user_id, reminder, hub).await?;
    Ok(Once::Answered(body))
}

/// Deletes at most `limit` of the user's tasks, for erasure (whose caller
/// holds the user's row); returns how many. No tombstones: erasure ends the
/// user's change feed altogether. Nor is the user's task count kept: the
/// erasure's last step deletes their row.
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

/// Inserts the task as change `seq`, with its tags; its owner's row must
/// already exist ([`change_log::record_change`]). The caller has checked
/// the owner's task quota.
async fn insert_task(
    txn: &DatabaseTransaction,
    owner: &Identity,
    new: CreateTask,
    now: DateTime<Utc>,
    seq: i64,
) -> Result<task::Model, DbErr> {
    let tags = tag_store::resolve(txn, &owner.user_id, &new.tags).await?;
    let task = insert_row(txn, owner, new, &tags, now, seq).await?;
    tag_store::link(txn, task.id, &tags).await?;
    schedule_reminders(txn, &task).await?;
    Ok(task)
}

/// [`insert_task`] as one of a `run` of creates in a transaction: its tags
/// resolved through the run, and linked when the run is settled.
pub async fn insert_in_run(
    txn: &DatabaseTransaction,
    owner: &Identity,
    new: CreateTask,
    run: &mut CreateRun,
    seq: i64,
) -> Result<task::Model, DbErr> {
    let tags = run.resolve(txn, &owner.user_id, &new.tags).await?;
    let task = insert_row(txn, owner, new, &tags, timestamp::now(), seq).await?;
    run.link_later(task.id, &tags);
    schedule_reminders(txn, &task).await?;
    Ok(task)
}

/// The task's row alone, carrying the names of `tags`.
async fn insert_row(
    txn: &DatabaseTransaction,
    owner: &Identity,
    new: CreateTask,
    tags: &[(i64, String)],
    now: DateTime<Utc>,
    seq: i64,
) -> Result<task::Model, DbErr> {
    let names = TagSet::sorted(tags.iter().map(|(_, name)| name.clone()).collect());
    let due_at = new
        .due_date
        .map(|date| due::due_at(date.0, new.due_time.map(|time| time.0), new.time_zone));
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
        priority: Set(new.priority.rank()),
        tags: Set(names.joined()),
        due_date: Set(new.due_date.map(|date| date.0)),
        due_time: Set(new.due_time.map(|time| time.0)),
        time_zone: Set(new.time_zone.name().to_owned()),
        due_at: Set(due_at),
        completed_at: Set(new.completed.then_some(now)),
        series_start: Set(new.recurrence.as_ref().and(new.due_date.map(|date| date.0))),
        recurrence: Set(new.recurrence.as_ref().map(Recurrence::canonical)),
        reminders: Set(new.reminders.joined()),
    }
    .insert(txn)
    .await
}

/// Schedules the reminders of `task` as written: those of its occurrence
/// still to come, while it is pending.
async fn schedule_reminders(txn: &DatabaseTransaction, task: &task::Model) -> Result<(), DbErr> {
    let (Some(due_at), false) = (task.due_at, task.completed) else {
        return Ok(());
    };
    let offsets = ReminderOffsets::stored(&task.reminders);
    if offsets.is_empty() {
        return Ok(());
    }
    reminder_store::schedule(
        txn,
        &task.user_id,
        task.id,
        due_at,
        offsets.instants(due_at),
        timestamp::now(),
    )
    .await?;
    Ok(())
}

/// The earliest reminder `task` as written has still to come: what the
/// scheduler is told when the write commits.
pub fn next_reminder(task: &task::Model) -> Option<DateTime<Utc>> {
    let (Some(due_at), false) = (task.due_at, task.completed) else {
        return None;
    };
    let now = timestamp::now();
    ReminderOffsets::stored(&task.reminders)
        .instants(due_at)
        .filter(|&at| at > now)
        .min()
}

/// Applies `changes` if `expected` allows and the task as it would be
/// after them keeps the rules (a due time needs a due date).
pub async fn update(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
    changes: UpdateTask,
) -> Result<Written<task::Model>, DbErr> {
    as_owner(db, hub, owner, 0, async |txn, seq| {
        update_in(txn, owner, seq, id, expected, changes).await
    })
    .await
}

/// [`update`] in a transaction that holds the owner's row, as change `seq`.
pub async fn update_in(
    txn: &DatabaseTransaction,
    owner: &Identity,
    seq: i64,
    id: i64,
    expected: Option<&IfMatch>,
    changes: UpdateTask,
) -> Result<Written<task::Model>, DbErr> {
    change(
        txn,
        &owner.user_id,
        seq,
        id,
        expected,
        async |txn, current, mut update| {
            let due_date = merged(changes.due_date, current.due_date.map(DueDate));
            let due_time = merged(changes.due_time, current.due_time.map(DueTime));
            let zone = changes
                .time_zone
                .unwrap_or_else(|| Zone::stored(&current.time_zone));
            let stored_rule = current.recurrence.as_deref().map(Recurrence::parse);
            let rule_sent = !changes.recurrence.is_undefined();
            let rule = merged(changes.recurrence, stored_rule.and_then(Result::ok));
            let reminders_sent = changes.reminders.is_some();
            let reminders = changes
                .reminders
                .unwrap_or_else(|| ReminderOffsets::stored(&current.reminders));
            let errors = check_schedule(Schedule {
                date: due_date.as_ref(),
                time: due_time.as_ref(),
                recurring: rule.is_some(),
                reminders: &reminders,
            });
            if !errors.is_empty() {
                return Ok(Err(errors));
            }
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
            if let Some(priority) = changes.priority {
                update = update.col_expr(task::Column::Priority, Expr::value(priority.rank()));
            }
            // The series restarts from the due date when its rule is new
            // or changed, or its date, time or zone changed.
            let canonical = rule.as_ref().map(Recurrence::canonical);
            let rule_changed = rule_sent && canonical != current.recurrence;
            let moved = due_date.map(|d| d.0) != current.due_date
                || due_time.map(|t| t.0) != current.due_time
                || zone.name() != current.time_zone;
            let series_start = match &rule {
                None => None,
                Some(_) if rule_changed || moved => due_date.map(|d| d.0),
                Some(_) => current.series_start.or(due_date.map(|d| d.0)),
            };
            if rule_sent || series_start != current.series_start {
                update = update
                    .col_expr(task::Column::Recurrence, Expr::value(canonical))
                    .col_expr(task::Column::SeriesStart, Expr::value(series_start));
            }
            if reminders_sent {
                update = update.col_expr(task::Column::Reminders, Expr::value(reminders.joined()));
            }
            let mut due_date = due_date;
            let mut schedule_changed = !changes.due_date.is_undefined()
                || !changes.due_time.is_undefined()
                || changes.time_zone.is_some();
            if let Some(completed) = changes.completed {
                let series = rule.as_ref().zip(series_start);
                match next_occurrence(&current, completed, series, due_date, due_time, zone) {
                    Some(next) => {
                        due_date = Some(DueDate(next));
                        schedule_changed = true;
                        update = advanced(update);
                    }
                    None => update = completion(update, &current, completed),
                }
            }
            if schedule_changed {
                let due_at = due_date.map(|date| due::due_at(date.0, due_time.map(|t| t.0), zone));
                update = update
                    .col_expr(task::Column::DueDate, Expr::value(due_date.map(|d| d.0)))
                    .col_expr(task::Column::DueTime, Expr::value(due_time.map(|t| t.0)))
                    .col_expr(task::Column::TimeZone, Expr::value(zone.name()))
                    .col_expr(task::Column::DueAt, Expr::value(due_at));
            }
            if let Some(tags) = changes.tags {
                let names = tag_store::replace(txn, &owner.user_id, id, &tags).await?;
                update = update.col_expr(task::Column::Tags, Expr::value(names.joined()));
            }
            Ok(Ok(update))
        },
    )
    .await
}

/// Where a write that sets `completed` on `current` moves a recurring
/// task: the day of its series' next occurrence after the one due on
/// `date`, when the write makes it completed and the series has one.
/// `None`: the write completes (or reopens) it as any task.
fn next_occurrence(
    current: &task::Model,
    completed: bool,
    series: Option<(&Recurrence, chrono::NaiveDate)>,
    date: Option<DueDate>,
    time: Option<DueTime>,
    zone: Zone,
) -> Option<chrono::NaiveDate> {
    if !completed || current.completed {
        return None;
    }
    let ((rule, start), date) = (series?, date?);
    rule.next_after(start, time.map(|t| t.0), zone, date.0)
}

/// A recurring task completed and moved to its next occurrence: pending
/// again, with the time of this completion.
fn advanced(update: UpdateMany<task::Entity>) -> UpdateMany<task::Entity> {
    update
        .col_expr(task::Column::Completed, Expr::value(false))
        .col_expr(
            task::Column::CompletedAt,
            Expr::value(Some(timestamp::now())),
        )
}

/// A nullable field of an update over the stored value.
fn merged<T>(sent: MaybeUndefined<T>, stored: Option<T>) -> Option<T> {
    match sent {
        MaybeUndefined::Undefined => stored,
        MaybeUndefined::Null => None,
        MaybeUndefined::Value(value) => Some(value),
    }
}

/// Sets `completed`, and `completed_at` with it: the time of this write
/// when the task becomes completed, kept while it stays so, cleared when
/// it is reopened.
fn completion(
    update: UpdateMany<task::Entity>,
    current: &task::Model,
    completed: bool,
) -> UpdateMany<task::Entity> {
    let completed_at = match (completed, current.completed) {
        (true, true) => current.completed_at,
        (true, false) => Some(timestamp::now()),
        (false, _) => None,
    };
    update
        .col_expr(task::Column::Completed, Expr::value(completed))
        .col_expr(task::Column::CompletedAt, Expr::value(completed_at))
}

/// Sets `completed`, or flips it when `None`. The task is read under its
/// owner's row lock, so two concurrent toggles flip it twice.
pub async fn set_completion(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
    completed: Option<bool>,
) -> Result<Written<task::Model>, DbErr> {
    as_owner(db, hub, owner, 0, async |txn, seq| {
        set_completion_in(txn, &owner.user_id, seq, id, expected, completed).await
    })
    .await
}

/// [`set_completion`] in a transaction that holds the owner's row, as
/// change `seq`.
pub async fn set_completion_in(
    txn: &DatabaseTransaction,
    owner: &str,
    seq: i64,
    id: i64,
    expected: Option<&IfMatch>,
    completed: Option<bool>,
) -> Result<Written<task::Model>, DbErr> {
    change(txn, owner, seq, id, expected, async |_, current, update| {
        let completed = completed.unwrap_or(!current.completed);
        let rule = current.recurrence.as_deref().map(Recurrence::parse);
        let series = rule.as_ref().and_then(|rule| rule.as_ref().ok());
        let (date, time) = (current.due_date.map(DueDate), current.due_time.map(DueTime));
        let zone = Zone::stored(&current.time_zone);
        let series = series.zip(current.series_start);
        Ok(Ok(
            match next_occurrence(&current, completed, series, date, time, zone) {
                Some(next) => {
                    let due_at = due::due_at(next, time.map(|t| t.0), zone);
                    advanced(update)
                        .col_expr(task::Column::DueDate, Expr::value(Some(next)))
                        .col_expr(task::Column::DueAt, Expr::value(Some(due_at)))
                }
                None => completion(update, &current, completed),
            },
        ))
    })
    .await
}

/// Deletes the task if `expected` allows, leaving a tombstone for the
/// change feed; a tag no other task carries goes with it.
pub async fn delete(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    id: i64,
    expected: Option<&IfMatch>,
) -> Result<Written<()>, DbErr> {
    as_owner(db, hub, owner, -1, async |txn, seq| {
        delete_in(txn, &owner.user_id, seq, id, expected).await
    })
    .await
}

/// [`delete`] in a transaction that holds the owner's row, as change `seq`.
pub async fn delete_in(
    txn: &DatabaseTransaction,
    owner: &str,
    seq: i64,
    id: i64,
    expected: Option<&IfMatch>,
) -> Result<Written<()>, DbErr> {
    let current = match current_version(txn, owner, id, expected).await? {
        Ok(current) => current,
        Err(refused) => return Ok(refused),
    };
    one_owned(task::Entity::delete_many(), owner, id)
        .exec(txn)
        .await?;
    if !current.tags.is_empty() {
        tag_store::drop_unused(txn, owner).await?;
    }
    if !current.reminders.is_empty() {
        reminder_store::cancel(txn, owner, id).await?;
    }
    change_log::record_deletion(txn, owner, id, seq, timestamp::now()).await?;
    Ok(Written::Done(()))
}

/// Runs `write`, which adds `tasks` tasks (a deletion: -1), in one
/// transaction with the owner's row ([`change_log::record_change`], first,
/// the order every write takes), passing it the change number to stamp.
/// Unless `write` is done, the transaction rolls back, so a 404, 412 or
/// 422 changes nothing, the owner's row included.
async fn as_owner<T: Reminding>(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    tasks: i64,
    write: impl AsyncFnOnce(&DatabaseTransaction, i64) -> Result<Written<T>, DbErr>,
) -> Result<Written<T>, DbErr> {
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let seq = change_log::record_change(&txn, owner, timestamp::now(), tasks)
        .await?
        .seq;
    match write(&txn, seq).await? {
        Written::Done(written) => {
            let reminder = written.next_reminder();
            change_log::commit_scheduling(txn, &owner.user_id, reminder, hub).await?;
            Ok(Written::Done(written))
        }
        refused => {
            txn.rollback().await?;
            Ok(refused)
        }
    }
}

/// What a write leaves to remind of, for the scheduler.
pub trait Reminding {
    fn next_reminder(&self) -> Option<DateTime<Utc>>;
}

impl Reminding for task::Model {
    fn next_reminder(&self) -> Option<DateTime<Utc>> {
        next_reminder(self)
    }
}

/// A deletion leaves nothing.
impl Reminding for () {
    fn next_reminder(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// The owner's task `id` as stored, read under the owner's row lock, if
/// `expected` allows writing it: the 404 or 412 otherwise.
async fn current_version<T>(
    txn: &DatabaseTransaction,
    owner: &str,
    id: i64,
    expected: Option<&IfMatch>,
) -> Result<Result<task::Model, Written<T>>, DbErr> {
    let Some(current) = one_owned(task::Entity::find(), owner, id).one(txn).await? else {
        return Ok(Err(Written::NotFound));
    };
    let allowed = match expected {
        None | Some(IfMatch::Any) => true,
        Some(IfMatch::OneOf(versions)) => versions.contains(&current.version),
    };
    Ok(if allowed {
        Ok(current)
    } else {
        Err(Written::Stale)
    })
}

/// One `UPDATE … RETURNING` of the owner's task `id`, read first under the
/// owner's row lock, if its version is one `expected` names: the columns
/// `set` adds (or the rules it finds broken), `updated_at`, the next
/// version and the change number. The statement names the version it read,
/// so it can never overwrite a write it did not see.
async fn change(
    txn: &DatabaseTransaction,
    owner: &str,
    seq: i64,
    id: i64,
    expected: Option<&IfMatch>,
    set: impl AsyncFnOnce(
        &DatabaseTransaction,
        task::Model,
        UpdateMany<task::Entity>,
    ) -> Result<Result<UpdateMany<task::Entity>, Vec<FieldError>>, DbErr>,
) -> Result<Written<task::Model>, DbErr> {
    let current = match current_version(txn, owner, id, expected).await? {
        Ok(current) => current,
        Err(refused) => return Ok(refused),
    };
    let version = current.version;
    // What the task's reminders depend on, before the write.
    let current_due = (current.due_at, current.reminders.clone(), current.completed);
    let update = one_owned(task::Entity::update_many(), owner, id)
        .filter(task::Column::Version.eq(version))
        .col_expr(task::Column::UpdatedAt, Expr::value(timestamp::now()))
        .col_expr(task::Column::Version, Expr::value(version + 1))
        .col_expr(task::Column::ChangeSeq, Expr::value(seq));
    let update = match set(txn, current, update).await? {
        Ok(update) => update,
        Err(errors) => return Ok(Written::Invalid(errors)),
    };
    let Some(task) = update.exec_with_returning(txn).await?.into_iter().next() else {
        return Ok(Written::Stale);
    };
    let reminders_moved = task.due_at != current_due.0
        || task.reminders != current_due.1
        || task.completed != current_due.2;
    let has_reminders = !task.reminders.is_empty() || !current_due.1.is_empty();
    if has_reminders && reminders_moved {
        reminder_store::cancel(txn, owner, id).await?;
        schedule_reminders(txn, &task).await?;
    }
    Ok(Written::Done(task))
}

/// The caller's tags with their counts.
pub async fn list_tags(db: &DatabaseConnection, owner: &str) -> Result<Vec<TagCount>, DbErr> {
    tag_store::counts(db, owner, None).await
}

/// The outcome of a rename or deletion of a tag.
pub enum Retagged<T> {
    Done(T),
    /// No task of the caller's carries the tag.
    NotFound,
}

/// Renames the caller's tag `name` to `to` on every task carrying it,
/// merging into `to` where that tag exists; each task that carried it gets
/// a new version and change number. Answers the tag as listed after.
pub async fn rename_tag(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    name: &str,
    to: &str,
) -> Result<Retagged<TagCount>, DbErr> {
    retag(db, hub, owner, name, async |txn, tag| {
        let target = tag_store::find(txn, &owner.user_id, &tag_key(to)).await?;
        match target {
            Some(target) if target.id != tag.id => tag_store::merge(txn, tag.id, target.id).await?,
            _ => tag_store::rename(txn, tag.id, to).await?,
        }
        let after = tag_store::counts(txn, &owner.user_id, Some(&tag_key(to))).await?;
        after
            .into_iter()
            .next()
            .ok_or_else(|| DbErr::RecordNotFound("the renamed tag".into()))
    })
    .await
}

/// Removes the caller's tag `name` from every task carrying it; each gets
/// a new version and change number.
pub async fn delete_tag(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    name: &str,
) -> Result<Retagged<()>, DbErr> {
    retag(db, hub, owner, name, async |txn, tag| {
        tag_store::delete(txn, tag.id).await
    })
    .await
}

/// A change to tag `name` (`change_tag`), in one transaction with the
/// owner's row: the tasks that carried it are then re-read, and each
/// stamped with a new version, its tag names as they now are, and a change
/// number of its own.
async fn retag<T>(
    db: &DatabaseConnection,
    hub: &ChangeHub,
    owner: &Identity,
    name: &str,
    change_tag: impl AsyncFnOnce(&DatabaseTransaction, entity::tag::Model) -> Result<T, DbErr>,
) -> Result<Retagged<T>, DbErr> {
    let Ok(name) = parse_tag(name) else {
        return Ok(Retagged::NotFound);
    };
    let now = timestamp::now();
    let txn = change_log::begin(db, WriteKind::Task).await?;
    let first = change_log::record_change(&txn, owner, now, 0).await?.seq;
    let tag = tag_store::find(&*txn, &owner.user_id, &tag_key(&name)).await?;
    let carriers = match &tag {
        Some(tag) => {
            owned_by(&owner.user_id)
                .filter(
                    task::Column::Id
                        .in_subquery(tag_store::carrying(&owner.user_id, &tag.name_key)),
                )
                .order_by_asc(task::Column::Id)
                .select_only()
                .column(task::Column::Id)
                .into_tuple::<i64>()
                .all(&*txn)
                .await?
        }
        None => Vec::new(),
    };
    let (Some(tag), false) = (tag, carriers.is_empty()) else {
        txn.rollback().await?;
        return Ok(Retagged::NotFound);
    };
    let answer = change_tag(&txn, tag).await?;
    let more = i64::try_from(carriers.len()).unwrap_or(i64::MAX) - 1;
    if more > 0 {
        change_log::record_more_changes(&txn, &owner.user_id, more).await?;
    }
    // A bounded number of statements however many tasks carry the tag,
    // so a large rename holds the owner's lock (on SQLite, the database's
    // write lock) briefly.
    for chunk in carriers.chunks(RESTAMP_BATCH) {
        let names = tag_store::names_of_tasks(&*txn, chunk).await?;
        let stamped: Vec<(i64, String, i64)> = chunk
            .iter()
            .map(|&id| {
                let seq = first + carriers.partition_point(|&other| other < id) as i64;
                let joined = names.get(&id).map(TagSet::joined).unwrap_or_default();
                (id, joined, seq)
            })
            .collect();
        restamp(&txn, &owner.user_id, &stamped, now).await?;
    }
    change_log::commit(txn, &owner.user_id, hub).await?;
    Ok(Retagged::Done(answer))
}

/// Tasks a tag change re-stamps per statement.
const RESTAMP_BATCH: usize = 500;

/// Gives each of the owner's tasks `(id, tag names, change number)` its new
/// tag names, its change number, the next version and `now`, in one
/// statement joining a `VALUES` list.
async fn restamp(
    txn: &DatabaseTransaction,
    owner: &str,
    tasks: &[(i64, String, i64)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(tasks.len() * 3 + 2);
    // Binds `value`, answering its placeholder.
    let mut bind = |value: sea_orm::Value| {
        values.push(value);
        match backend {
            DbBackend::Postgres => format!("${}", values.len()),
            _ => "?".to_owned(),
        }
    };
    // Bound in the order the statement names them (SQLite's `?` count by
    // position): the rows, then the owner.
    let rows: Vec<String> = tasks
        .iter()
        .map(|(id, tags, seq)| {
            let id = bind((*id).into());
            let tags = bind(tags.clone().into());
            let seq = bind((*seq).into());
            let at = bind(now.into());
            format!("({id}, {tags}, {seq}, {at})")
        })
        .collect();
    let owner_at = bind(owner.into());
    // `VALUES` names its columns column1, column2, … on both databases.
    let sql = format!(
        r#"UPDATE "tasks" SET "tags" = "stamped"."column2", "change_seq" = "stamped"."column3", "version" = "tasks"."version" + 1, "updated_at" = "stamped"."column4" FROM (VALUES {}) AS "stamped" WHERE "tasks"."id" = "stamped"."column1" AND "tasks"."user_id" = {owner_at}"#,
        rows.join(", ")
    );
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        backend, sql, values,
    ))
    .await?;
    Ok(())
}

/// Deletes at most `limit` of the user's tags, for erasure, after their
/// tasks; returns how many.
pub async fn delete_some_tags(
    txn: &DatabaseTransaction,
    owner: &str,
    limit: u64,
) -> Result<u64, DbErr> {
    tag_store::delete_some(txn, owner, limit).await
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
