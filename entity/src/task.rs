//! A task, owned by exactly one user.

use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Index, IndexCreateStatement};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(column_type = "Text")]
    pub user_id: String,
    #[sea_orm(column_type = "Text")]
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub completed: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// 1 on create, one more on every change: the task's `ETag`, and what a
    /// conditional write compares in the same statement that changes it.
    #[sea_orm(default_value = 1)]
    pub version: i32,
    /// `title` case-folded (Unicode lowercase, by the service): what
    /// `sort=title` orders by and `q` searches, so both ignore case the same
    /// way on both databases. Compared bytewise: PostgreSQL's column has the
    /// `"C"` collation, SQLite's default is binary.
    #[sea_orm(column_type = "Text", default_value = "")]
    pub title_key: String,
    /// `description` case-folded, for `q`.
    #[sea_orm(column_type = "Text", nullable)]
    pub description_key: Option<String>,
    /// The owner's change number of the task's latest write
    /// (`users.change_seq`): where it sits in the change feed.
    #[sea_orm(default_value = 0)]
    pub change_seq: i64,
    /// 0 none, 1 low, 2 medium, 3 high: numbers, so `sort=priority` is an
    /// index order.
    #[sea_orm(default_value = 0)]
    pub priority: i16,
    /// The task's tags as it answers them: their spellings, sorted
    /// case-insensitively, joined by commas (a tag holds none). Written in
    /// the same transaction as its `task_tags` rows, which stay the truth
    /// every filter and count reads; this copy spares a page of tasks a
    /// join.
    #[sea_orm(column_type = "Text", default_value = "")]
    pub tags: String,
    /// The day the task is due, in `time_zone`.
    pub due_date: Option<Date>,
    /// The time of day it is due (minutes), in `time_zone`; only with a date.
    pub due_time: Option<Time>,
    /// The IANA zone `due_date` and `due_time` are meant in.
    #[sea_orm(column_type = "Text", default_value = "UTC")]
    pub time_zone: String,
    /// The instant the task is due, computed from the three above whenever
    /// one of them changes: what due-date filters and `sort=due_at` read.
    pub due_at: Option<DateTimeUtc>,
    /// When the task was last completed; none while pending.
    pub completed_at: Option<DateTimeUtc>,
    /// The series' rule in canonical form (an RFC 5545 `RRULE` value); none
    /// for a one-off task.
    #[sea_orm(column_type = "Text", nullable)]
    pub recurrence: Option<String>,
    /// The series' anchor: the due date it had when the rule was set (or
    /// its date, time or zone last changed); with `due_time` and
    /// `time_zone`, where the series is expanded from, so `COUNT` counts
    /// from it.
    pub series_start: Option<Date>,
    /// Minutes before `due_at` at which to remind the owner, ascending,
    /// joined by commas (none: empty). The instants themselves are rows of
    /// `reminders`.
    #[sea_orm(column_type = "Text", default_value = "")]
    pub reminders: String,
}

/// The case-folded form kept in `title_key` and `description_key`, and the
/// form `q` is searched in.
pub fn fold_case(text: &str) -> String {
    text.to_lowercase()
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    /// Deleting a user deletes their tasks: a task never outlives its owner.
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::UserId",
        to = "super::user::Column::Id",
        on_update = "Cascade",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl Related<super::tag::Entity> for Entity {
    fn to() -> RelationDef {
        super::task_tag::Relation::Tag.def()
    }

    fn via() -> Option<RelationDef> {
        Some(super::task_tag::Relation::Task.def().rev())
    }
}

impl ActiveModelBehavior for ActiveModel {}

/// Trigram indexes for `q`, on PostgreSQL only (its `pg_trgm` extension): a
/// `LIKE '%…%'` on a folded key reads them instead of every row of a user
/// with many tasks. SeaQuery cannot name an operator class, so the migration
/// creates them from these names and columns (`USING gin (… gin_trgm_ops)`).
pub const TRIGRAM_INDEXES: [(&str, Column); 2] = [
    ("trgm-tasks-title_key", Column::TitleKey),
    ("trgm-tasks-description_key", Column::DescriptionKey),
];

/// On SQLite, which has no trigram index, an index for `q`'s count (a
/// search matches `title_key` or `description_key`): it reads this index
/// alone instead of every row of a large account (7 against 1.6 ms for
/// 10,000 tasks; BENCHMARKS.md). Not on PostgreSQL, whose index entries
/// are bounded (about 2.7 kB, below the longest description) and whose
/// trigram indexes serve `q`.
pub fn sqlite_search_index() -> IndexCreateStatement {
    Index::create()
        .name("idx-tasks-user_id-title_key-description_key")
        .table(Entity)
        .col(Column::UserId)
        .col(Column::TitleKey)
        .col(Column::DescriptionKey)
        .to_owned()
}

/// Composite indexes, which `#[sea_orm(indexed)]` cannot express.
///
/// Every list query is `WHERE user_id = ? [AND completed = ?] ORDER BY <key>, id`
/// with `LIMIT/OFFSET`. There is one index per status filter (all, or one
/// `completed` value) and sort key (`created_at`, `updated_at`, `title_key`);
/// each leads with `user_id` (so one user's rows are contiguous, and the
/// foreign key's cascade has an index to use), puts the equality on
/// `completed` before the sort key so the range stays ordered, and ends with
/// `id`, the tie-break. So every listing reads its page in order straight
/// from an index, either direction, instead of sorting all of a user's tasks
/// (the plans are in `BENCHMARKS.md`).
pub fn indexes() -> Vec<IndexCreateStatement> {
    vec![
        // The default listing: all of a user's tasks, newest first.
        Index::create()
            .name("idx-tasks-user_id-created_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::CreatedAt)
            .col(Column::Id)
            .to_owned(),
        // `status=pending|completed` with the default sort: the equality on
        // `completed` sits before the sort key so the range stays ordered.
        Index::create()
            .name("idx-tasks-user_id-completed-created_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Completed)
            .col(Column::CreatedAt)
            .col(Column::Id)
            .to_owned(),
        // `sort=updated_at`: "recently changed" views.
        Index::create()
            .name("idx-tasks-user_id-updated_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::UpdatedAt)
            .col(Column::Id)
            .to_owned(),
        Index::create()
            .name("idx-tasks-user_id-completed-updated_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Completed)
            .col(Column::UpdatedAt)
            .col(Column::Id)
            .to_owned(),
        // `sort=title`.
        Index::create()
            .name("idx-tasks-user_id-title_key")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::TitleKey)
            .col(Column::Id)
            .to_owned(),
        Index::create()
            .name("idx-tasks-user_id-completed-title_key")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Completed)
            .col(Column::TitleKey)
            .col(Column::Id)
            .to_owned(),
        // `sort=due_at`, and the due-date filters: tasks with a due date in
        // order, and those without (`due_at IS NULL`) by id.
        Index::create()
            .name("idx-tasks-user_id-due_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::DueAt)
            .col(Column::Id)
            .to_owned(),
        Index::create()
            .name("idx-tasks-user_id-completed-due_at")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Completed)
            .col(Column::DueAt)
            .col(Column::Id)
            .to_owned(),
        // `sort=priority`, and `priority=` filters.
        Index::create()
            .name("idx-tasks-user_id-priority")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Priority)
            .col(Column::Id)
            .to_owned(),
        Index::create()
            .name("idx-tasks-user_id-completed-priority")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::Completed)
            .col(Column::Priority)
            .col(Column::Id)
            .to_owned(),
        // The change feed: one user's tasks changed after a cursor, in order.
        Index::create()
            .name("idx-tasks-user_id-change_seq")
            .table(Entity)
            .col(Column::UserId)
            .col(Column::ChangeSeq)
            .to_owned(),
    ]
}
