//! Every statement on `tags` and `task_tags`: the tags a task carries, the
//! tag rows they share, and the counts `/api/tags` answers. A task row's
//! own copy of its tag names is written by the repository with the task.

use std::collections::HashMap;

use entity::{tag, task, task_tag};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Set,
};

use super::tag_names::{TagSet, tag_key};

/// One of the caller's tags, as `/api/tags` (and the `list_tags` tool)
/// answers it.
#[derive(Debug, Clone, FromQueryResult, poem_openapi::Object, serde::Serialize)]
#[oai(rename = "Tag", example)]
pub struct TagCount {
    /// As first used, or as last renamed.
    pub name: String,
    /// How many of the caller's tasks carry it.
    pub tasks: i64,
    /// How many of those are pending.
    pub pending: i64,
}

impl poem_openapi::types::Example for TagCount {
    fn example() -> Self {
        Self {
            name: "errands".into(),
            tasks: 3,
            pending: 2,
        }
    }
}

/// The tag rows for `names`, made where missing (spelled as sent), as
/// (id, stored spelling) sorted as a task answers them. Two statements,
/// none for no names.
pub async fn resolve(
    db: &impl ConnectionTrait,
    owner: &str,
    names: &TagSet,
) -> Result<Vec<(i64, String)>, DbErr> {
    if names.names().is_empty() {
        return Ok(Vec::new());
    }
    let rows = names.names().iter().map(|name| tag::ActiveModel {
        user_id: Set(owner.to_owned()),
        name: Set(name.clone()),
        name_key: Set(tag_key(name)),
        ..Default::default()
    });
    let inserted = tag::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([tag::Column::UserId, tag::Column::NameKey])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await;
    match inserted {
        Ok(_) | Err(DbErr::RecordNotInserted) => {}
        Err(err) => return Err(err),
    }
    let keys: Vec<String> = names.names().iter().map(|name| tag_key(name)).collect();
    let stored: Vec<(i64, String)> = tag::Entity::find()
        .select_only()
        .columns([tag::Column::Id, tag::Column::Name])
        .filter(tag::Column::UserId.eq(owner))
        .filter(tag::Column::NameKey.is_in(keys))
        .into_tuple()
        .all(db)
        .await?;
    let mut stored = stored;
    stored.sort_by_cached_key(|(_, name)| (tag_key(name), name.clone()));
    Ok(stored)
}

/// The tags of a run of creates in one transaction (a batch from a device
/// back online): each tag row is resolved once for the run rather than once
/// per task, and the tasks' links are written together, in one statement,
/// when the run is [`settle`](Self::settle)d. Until then the new tasks
/// carry their tag names but no links, so the run must be settled before
/// any other write (which may read links, or drop a tag row) and before
/// the commit.
#[derive(Default)]
pub struct CreateRun {
    resolved: HashMap<String, (i64, String)>,
    links: Vec<(i64, i64)>,
}

impl CreateRun {
    /// [`resolve`], reading and making only the rows not resolved before.
    pub async fn resolve(
        &mut self,
        db: &impl ConnectionTrait,
        owner: &str,
        names: &TagSet,
    ) -> Result<Vec<(i64, String)>, DbErr> {
        let missing: Vec<String> = names
            .names()
            .iter()
            .filter(|name| !self.resolved.contains_key(&tag_key(name)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            for (id, name) in resolve(db, owner, &TagSet::sorted(missing)).await? {
                self.resolved.insert(tag_key(&name), (id, name));
            }
        }
        let mut tags: Vec<(i64, String)> = names
            .names()
            .iter()
            .filter_map(|name| self.resolved.get(&tag_key(name)).cloned())
            .collect();
        tags.sort_by_cached_key(|(_, name)| (tag_key(name), name.clone()));
        Ok(tags)
    }

    /// Links task `task_id` to `tags` when the run is settled.
    pub fn link_later(&mut self, task_id: i64, tags: &[(i64, String)]) {
        self.links
            .extend(tags.iter().map(|&(tag_id, _)| (task_id, tag_id)));
    }

    /// Writes the links of the run's tasks and ends the run: the next
    /// create resolves its tags afresh.
    pub async fn settle(&mut self, db: &impl ConnectionTrait) -> Result<(), DbErr> {
        self.resolved.clear();
        let links = std::mem::take(&mut self.links);
        insert_links(db, links).await
    }
}

/// Links a new task to the tags `resolve` gave.
pub async fn link(
    db: &impl ConnectionTrait,
    task_id: i64,
    tags: &[(i64, String)],
) -> Result<(), DbErr> {
    insert_links(
        db,
        tags.iter().map(|&(tag_id, _)| (task_id, tag_id)).collect(),
    )
    .await
}

/// Inserts `(task, tag)` links, in one statement.
async fn insert_links(db: &impl ConnectionTrait, links: Vec<(i64, i64)>) -> Result<(), DbErr> {
    if links.is_empty() {
        return Ok(());
    }
    let links = links
        .into_iter()
        .map(|(task_id, tag_id)| task_tag::ActiveModel {
            task_id: Set(task_id),
            tag_id: Set(tag_id),
        });
    task_tag::Entity::insert_many(links)
        .on_conflict(
            OnConflict::columns([task_tag::Column::TaskId, task_tag::Column::TagId])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map(drop)
        .or_else(|err| match err {
            DbErr::RecordNotInserted => Ok(()),
            err => Err(err),
        })
}

/// Makes `names` the whole set of task `task_id`'s tags; returns the
/// names as the task answers them. A tag no task carries any more is
/// dropped, so its spelling is free again.
pub async fn replace(
    db: &impl ConnectionTrait,
    owner: &str,
    task_id: i64,
    names: &TagSet,
) -> Result<TagSet, DbErr> {
    let tags = resolve(db, owner, names).await?;
    let keep: Vec<i64> = tags.iter().map(|&(id, _)| id).collect();
    let removed = task_tag::Entity::delete_many()
        .filter(task_tag::Column::TaskId.eq(task_id))
        .filter(task_tag::Column::TagId.is_not_in(keep))
        .exec(db)
        .await?
        .rows_affected;
    link(db, task_id, &tags).await?;
    if removed > 0 {
        drop_unused(db, owner).await?;
    }
    Ok(TagSet::sorted(
        tags.into_iter().map(|(_, name)| name).collect(),
    ))
}

/// The tag names of each of `task_ids` as their `task_tags` rows say,
/// sorted as a task answers them; a task with none is left out. One
/// statement.
pub async fn names_of_tasks(
    db: &impl ConnectionTrait,
    task_ids: &[i64],
) -> Result<HashMap<i64, TagSet>, DbErr> {
    let rows: Vec<(i64, String)> = tag::Entity::find()
        .select_only()
        .column(task_tag::Column::TaskId)
        .column(tag::Column::Name)
        .inner_join(task_tag::Entity)
        .filter(task_tag::Column::TaskId.is_in(task_ids.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    let mut names: HashMap<i64, Vec<String>> = HashMap::new();
    for (task_id, name) in rows {
        names.entry(task_id).or_default().push(name);
    }
    Ok(names
        .into_iter()
        .map(|(task_id, names)| (task_id, TagSet::sorted(names)))
        .collect())
}

/// Deletes the owner's tags that no task carries.
pub async fn drop_unused(db: &impl ConnectionTrait, owner: &str) -> Result<u64, DbErr> {
    let carried = Query::select()
        .expr(Expr::value(1))
        .from(task_tag::Entity)
        .and_where(
            Expr::col((task_tag::Entity, task_tag::Column::TagId))
                .equals((tag::Entity, tag::Column::Id)),
        )
        .to_owned();
    Ok(tag::Entity::delete_many()
        .filter(tag::Column::UserId.eq(owner))
        .filter(Expr::exists(carried).not())
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes at most `limit` of the user's tags, for erasure (their tasks
/// are gone by then); returns how many.
pub async fn delete_some(db: &impl ConnectionTrait, owner: &str, limit: u64) -> Result<u64, DbErr> {
    let some = Query::select()
        .column(tag::Column::Id)
        .from(tag::Entity)
        .and_where(tag::Column::UserId.eq(owner))
        .limit(limit)
        .to_owned();
    Ok(tag::Entity::delete_many()
        .filter(tag::Column::Id.in_subquery(some))
        .filter(tag::Column::UserId.eq(owner))
        .exec(db)
        .await?
        .rows_affected)
}

/// The ids of the owner's tasks carrying the tag whose key is `key`: a
/// subquery for `tag=` filters, read through the tags' unique index and
/// `task_tags`' tag-first index.
pub fn carrying(owner: &str, key: &str) -> SelectStatement {
    Query::select()
        .column((task_tag::Entity, task_tag::Column::TaskId))
        .from(task_tag::Entity)
        .inner_join(
            tag::Entity,
            Expr::col((tag::Entity, tag::Column::Id))
                .equals((task_tag::Entity, task_tag::Column::TagId)),
        )
        .and_where(Expr::col((tag::Entity, tag::Column::UserId)).eq(owner))
        .and_where(Expr::col((tag::Entity, tag::Column::NameKey)).eq(key))
        .to_owned()
}

/// The owner's tag whose key is `key`.
pub async fn find(
    db: &impl ConnectionTrait,
    owner: &str,
    key: &str,
) -> Result<Option<tag::Model>, DbErr> {
    tag::Entity::find()
        .filter(tag::Column::UserId.eq(owner))
        .filter(tag::Column::NameKey.eq(key))
        .one(db)
        .await
}

/// The owner's tags that some task carries, sorted case-insensitively,
/// with how many tasks carry each and how many of those are pending; only
/// the one whose key is `only`, when given. One statement.
pub async fn counts(
    db: &impl ConnectionTrait,
    owner: &str,
    only: Option<&str>,
) -> Result<Vec<TagCount>, DbErr> {
    let mut query = tag::Entity::find()
        .select_only()
        .column(tag::Column::Name)
        .column_as(Expr::cust("COUNT(*)"), "tasks")
        .column_as(
            Expr::cust(r#"COALESCE(SUM(CASE WHEN "tasks"."completed" THEN 0 ELSE 1 END), 0)"#),
            "pending",
        )
        .inner_join(task_tag::Entity)
        .join(sea_orm::JoinType::InnerJoin, task_tag::Relation::Task.def())
        .filter(tag::Column::UserId.eq(owner))
        .filter(task::Column::UserId.eq(owner))
        .filter(crate::change_log::visible(owner))
        .group_by(tag::Column::Id)
        .group_by(tag::Column::Name)
        .group_by(tag::Column::NameKey)
        .order_by_asc(tag::Column::NameKey)
        .order_by_asc(tag::Column::Name);
    if let Some(key) = only {
        query = query.filter(tag::Column::NameKey.eq(key));
    }
    query.into_model::<TagCount>().all(db).await
}

/// The links of tag `from` to its tasks move to tag `to` (where the task
/// has not both), and `from` is deleted: a rename into an existing tag.
pub async fn merge(db: &impl ConnectionTrait, from: i64, to: i64) -> Result<(), DbErr> {
    let already = Query::select()
        .expr(Expr::value(1))
        .from_as(task_tag::Entity, "other")
        .and_where(Expr::col(("other", task_tag::Column::TagId)).eq(to))
        .and_where(
            Expr::col(("other", task_tag::Column::TaskId))
                .equals((task_tag::Entity, task_tag::Column::TaskId)),
        )
        .to_owned();
    task_tag::Entity::update_many()
        .col_expr(task_tag::Column::TagId, Expr::value(to))
        .filter(task_tag::Column::TagId.eq(from))
        .filter(Expr::exists(already).not())
        .exec(db)
        .await?;
    delete(db, from).await
}

/// Renames tag `id` in place (a new name, or another case of its own).
pub async fn rename(db: &impl ConnectionTrait, id: i64, name: &str) -> Result<(), DbErr> {
    tag::Entity::update_many()
        .col_expr(tag::Column::Name, Expr::value(name))
        .col_expr(tag::Column::NameKey, Expr::value(tag_key(name)))
        .filter(tag::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes tag `id`; its links go with it (the foreign key cascades).
pub async fn delete(db: &impl ConnectionTrait, id: i64) -> Result<(), DbErr> {
    task_tag::Entity::delete_many()
        .filter(task_tag::Column::TagId.eq(id))
        .exec(db)
        .await?;
    tag::Entity::delete_many()
        .filter(tag::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}
