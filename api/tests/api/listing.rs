//! Filtering, text search, sorting with the id tie-break, and paging.

use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_of};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        defaults_are_newest_first_with_total_count,
        status_filters,
        sort_keys_and_directions,
        title_sort_ignores_case_the_same_way_on_both_databases,
        text_search_is_case_insensitive_for_all_letters,
        text_search_treats_wildcards_literally,
        paging_across_ties_never_overlaps_or_skips,
        offset_past_the_end_is_an_empty_page,
    ]
}

fn ids(tasks: &[Value]) -> Vec<i64> {
    tasks.iter().map(id_of).collect()
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

/// Creates a task of alice's for each title, in order: their ids.
async fn create_titled(app: &TestApp, titles: &[&str]) -> Vec<i64> {
    let mut ids = Vec::new();
    for title in titles {
        ids.push(id_of(
            &app.create_task("alice", json!({ "title": title })).await,
        ));
    }
    ids
}

async fn defaults_are_newest_first_with_total_count(app: TestApp) {
    let (tasks, total) = app.list("alice", "").await;
    assert!(tasks.is_empty());
    assert_eq!(total, 0);
    let created = create_titled(&app, &["a", "b", "c"]).await;
    let (tasks, total) = app.list("alice", "").await;
    assert_eq!(total, 3);
    let mut newest_first = created.clone();
    newest_first.reverse();
    assert_eq!(ids(&tasks), newest_first);
}

async fn status_filters(app: TestApp) {
    let created = create_titled(&app, &["one", "two", "three"]).await;
    let done = app.completed("alice", created[1], None).await;
    assert_eq!(done["completed"], true);
    let (pending, total) = app.list("alice", "status=pending").await;
    assert_eq!(total, 2);
    assert!(pending.iter().all(|t| t["completed"] == false));
    let (completed, total) = app.list("alice", "status=completed").await;
    assert_eq!((ids(&completed), total), (vec![created[1]], 1));
    let (all, total) = app.list("alice", "status=all").await;
    assert_eq!((all.len(), total), (3, 3));
}

/// `sort=title` orders by the lowercased title, code point by code point,
/// ties by id: never by the database's locale or by letter case.
async fn title_sort_ignores_case_the_same_way_on_both_databases(app: TestApp) {
    create_titled(
        &app,
        &[
            "banana",
            "Zebra",
            "apple pie",
            "Apple",
            "ábaco",
            "apple",
            "Cherry",
        ],
    )
    .await;
    let (tasks, _) = app.list("alice", "sort=title&order=asc").await;
    assert_eq!(
        titles(&tasks),
        vec![
            "Apple",
            "apple",
            "apple pie",
            "banana",
            "Cherry",
            "Zebra",
            "ábaco"
        ]
    );
    // A title change moves the task: the key follows the title.
    let (all, _) = app.list("alice", "sort=title&order=asc&limit=1").await;
    app.updated("alice", id_of(&all[0]), json!({"title": "zz top"}))
        .await;
    let (tasks, _) = app.list("alice", "sort=title&order=desc&limit=2").await;
    assert_eq!(titles(&tasks), vec!["ábaco", "zz top"]);
    let (found, total) = app.list("alice", "q=ZZ%20T").await;
    assert_eq!((titles(&found), total), (vec!["zz top"], 1));
}

async fn sort_keys_and_directions(app: TestApp) {
    let created = create_titled(&app, &["banana", "Apple", "cherry"]).await;
    let (tasks, _) = app.list("alice", "sort=title&order=asc").await;
    assert_eq!(titles(&tasks), vec!["Apple", "banana", "cherry"]);
    let (tasks, _) = app.list("alice", "sort=title&order=desc").await;
    assert_eq!(titles(&tasks), vec!["cherry", "banana", "Apple"]);
    let (tasks, _) = app.list("alice", "sort=created_at&order=asc").await;
    assert_eq!(ids(&tasks), created);

    // Touch the oldest: it becomes the most recently updated.
    app.updated("alice", created[0], json!({"description": "edited"}))
        .await;
    let (tasks, _) = app.list("alice", "sort=updated_at").await;
    assert_eq!(ids(&tasks)[0], created[0]);
    let (tasks, _) = app.list("alice", "sort=updated_at&order=asc").await;
    assert_eq!(*ids(&tasks).last().unwrap(), created[0]);
}

async fn text_search_is_case_insensitive_for_all_letters(app: TestApp) {
    app.create_task("alice", json!({"title": "École du soir"}))
        .await;
    app.create_task(
        "alice",
        json!({"title": "Groceries", "description": "ÄPFEL und Öl"}),
    )
    .await;
    app.create_task("alice", json!({"title": "ΣΟΦΙΑ"})).await;
    app.create_task("alice", json!({"title": "unrelated"}))
        .await;

    let (tasks, total) = app.list("alice", "q=%C3%A9COLE").await; // "éCOLE"
    assert_eq!((titles(&tasks), total), (vec!["École du soir"], 1));
    let (tasks, _) = app.list("alice", "q=%C3%A4pfel").await; // "äpfel", in the description
    assert_eq!(titles(&tasks), vec!["Groceries"]);
    let (tasks, _) = app.list("alice", "q=%CF%83%CE%BF%CF%86").await; // "σοφ"
    assert_eq!(titles(&tasks), vec!["ΣΟΦΙΑ"]);
    let (tasks, total) = app.list("alice", "q=nothing-like-this").await;
    assert_eq!((tasks.len(), total), (0, 0));
}

async fn text_search_treats_wildcards_literally(app: TestApp) {
    app.create_task("alice", json!({"title": "100% done"}))
        .await;
    app.create_task("alice", json!({"title": "snake_case"}))
        .await;
    app.create_task("alice", json!({"title": "1000 done"}))
        .await;
    app.create_task("alice", json!({"title": "snakeXcase"}))
        .await;

    let (tasks, _) = app.list("alice", "q=0%25").await; // "0%"
    assert_eq!(titles(&tasks), vec!["100% done"]);
    let (tasks, _) = app.list("alice", "q=e_c").await;
    assert_eq!(titles(&tasks), vec!["snake_case"]);
    let (tasks, _) = app.list("alice", "q=%25").await;
    assert_eq!(tasks.len(), 1);
}

async fn paging_across_ties_never_overlaps_or_skips(app: TestApp) {
    // Seven identical titles tie on `sort=title`; `id` must break the tie.
    let mut created = create_titled(&app, &["same"; 7]).await;
    created.extend(create_titled(&app, &["other"]).await);
    for (order, expect_ascending) in [("asc", true), ("desc", false)] {
        let query = format!("sort=title&order={order}&q=same");
        let seen = page_through(&app, &query, 7).await;
        let mut expected: Vec<i64> = created[..7].to_vec();
        if !expect_ascending {
            expected.reverse();
        }
        assert_eq!(seen, expected, "order={order}");
    }
    // The same holds without a text filter (database-side paging).
    let seen = page_through(&app, "sort=title&order=desc", 8).await;
    let mut expected: Vec<i64> = created[..7].to_vec();
    expected.reverse();
    assert_eq!(
        &seen[..7],
        &expected[..],
        "'same' sorts after 'other' descending"
    );
    assert_eq!(seen[7], created[7]);
}

/// Alice's tasks matching `query`, three a page: the ids in the order seen.
/// Every page's `X-Total-Count` must be `total`, the count before paging.
async fn page_through(app: &TestApp, query: &str, total: u64) -> Vec<i64> {
    let mut seen = Vec::new();
    for offset in (0..total).step_by(3) {
        let (page, count) = app
            .list("alice", &format!("{query}&limit=3&offset={offset}"))
            .await;
        assert_eq!(count, total, "X-Total-Count counts matches before paging");
        seen.extend(ids(&page));
    }
    seen
}

async fn offset_past_the_end_is_an_empty_page(app: TestApp) {
    create_titled(&app, &["a", "b"]).await;
    let (tasks, total) = app.list("alice", "offset=5").await;
    assert_eq!((tasks.len(), total), (0, 2));
    let (tasks, total) = app.list("alice", "offset=18446744073709551615").await;
    assert_eq!((tasks.len(), total), (0, 2));
    let (tasks, _) = app.list("alice", "limit=1").await;
    assert_eq!(tasks.len(), 1);
}
