//! Organizing tasks: priorities, tags, due dates in a time zone, and the
//! filters, sorts and tag routes that go with them.

use libtest_mimic::Trial;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, id_of, json_with_status};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        a_plain_task_answers_the_defaults,
        every_field_round_trips_through_create_get_list_and_feed,
        bad_fields_are_422_naming_them_and_store_nothing,
        the_rules_apply_to_the_task_as_it_would_be_after_a_put,
        due_at_follows_date_time_and_zone_through_daylight_saving,
        completed_at_follows_every_write_that_completes,
        filters_combine_and_each_narrows,
        due_at_sorts_undated_tasks_last_in_both_orders_and_pages_cleanly,
        priority_sorts_high_first_with_ties_by_id,
        bad_filters_are_422,
        a_put_with_tags_replaces_the_set_and_unused_tags_go,
        tags_are_listed_with_counts_in_their_first_spelling,
        renaming_a_tag_changes_every_task_carrying_it,
        renaming_into_an_existing_tag_merges_them,
        deleting_a_tag_removes_it_from_every_task,
        tag_routes_never_see_or_touch_another_users_tags,
        tag_rows_go_with_their_tasks_and_their_user,
        a_filtered_list_answers_304_until_something_changes,
        a_rename_across_many_tasks_stamps_each_once,
    ]
}

async fn tags(app: &TestApp, sub: &str) -> Value {
    let response = app.send(Method::GET, "/api/tags", sub, None).await;
    json_with_status(response, 200, "listing tags").await
}

async fn rename(app: &TestApp, sub: &str, name: &str, to: &str) -> reqwest::Response {
    let path = format!("/api/tags/{}", urlencoding(name));
    app.send(Method::PUT, &path, sub, Some(&json!({ "name": to })))
        .await
}

async fn delete_tag(app: &TestApp, sub: &str, name: &str) -> reqwest::Response {
    let path = format!("/api/tags/{}", urlencoding(name));
    app.send(Method::DELETE, &path, sub, None).await
}

fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn ids(tasks: &[Value]) -> Vec<i64> {
    tasks.iter().map(id_of).collect()
}

fn titles(tasks: &[Value]) -> Vec<&str> {
    tasks.iter().map(|t| t["title"].as_str().unwrap()).collect()
}

async fn a_plain_task_answers_the_defaults(app: TestApp) {
    let task = app.create_task("alice", json!({"title": "plain"})).await;
    assert_eq!(task["priority"], "none");
    assert_eq!(task["tags"], json!([]));
    assert_eq!(task["due_date"], Value::Null);
    assert_eq!(task["due_time"], Value::Null);
    assert_eq!(task["time_zone"], "UTC");
    assert_eq!(task["due_at"], Value::Null);
    assert_eq!(task["completed_at"], Value::Null);
}

async fn every_field_round_trips_through_create_get_list_and_feed(app: TestApp) {
    let created = app
        .create_task(
            "alice",
            json!({
                "title": "Call the bank",
                "priority": "high",
                "tags": [" work ", "Phone", "WORK"],
                "due_date": "2026-07-01",
                "due_time": "09:30",
                "time_zone": "Europe/Berlin",
                // Server-owned: ignored.
                "due_at": "2000-01-01T00:00:00Z",
                "completed_at": "2000-01-01T00:00:00Z",
            }),
        )
        .await;
    assert_eq!(created["priority"], "high");
    assert_eq!(
        created["tags"],
        json!(["Phone", "work"]),
        "collapsed, first spelling, sorted"
    );
    assert_eq!(created["due_date"], "2026-07-01");
    assert_eq!(created["due_time"], "09:30");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    assert_eq!(created["due_at"], "2026-07-01T07:30:00.000000Z");
    assert_eq!(created["completed_at"], Value::Null);
    assert_eq!(app.task("alice", id_of(&created)).await, created);
    let (listed, _) = app.list("alice", "").await;
    assert_eq!(listed, vec![created.clone()]);
    let feed = app.feed("alice", "").await;
    let feed = json_with_status(feed, 200, "the feed").await;
    assert_eq!(feed["tasks"], json!([created]));
}

async fn bad_fields_are_422_naming_them_and_store_nothing(app: TestApp) {
    let cases = [
        (
            json!({"title": "t", "priority": "urgent"}),
            vec!["priority"],
        ),
        (json!({"title": "t", "priority": null}), vec!["priority"]),
        (json!({"title": "t", "tags": null}), vec!["tags"]),
        (json!({"title": "t", "tags": "a"}), vec!["tags"]),
        (json!({"title": "t", "tags": ["a,b"]}), vec!["tags"]),
        (json!({"title": "t", "tags": ["a\u{1}"]}), vec!["tags"]),
        (
            json!({"title": "t", "tags": ["x".repeat(41)]}),
            vec!["tags"],
        ),
        (
            json!({"title": "t", "tags": (0..21).map(|i| format!("t{i}")).collect::<Vec<_>>()}),
            vec!["tags"],
        ),
        (
            json!({"title": "t", "due_date": "2026-02-30"}),
            vec!["due_date"],
        ),
        (
            json!({"title": "t", "due_date": "2026-2-3"}),
            vec!["due_date"],
        ),
        (
            json!({"title": "t", "due_date": "2026-02-03", "due_time": "9:30"}),
            vec!["due_time"],
        ),
        (
            json!({"title": "t", "due_date": "2026-02-03", "due_time": "24:00"}),
            vec!["due_time"],
        ),
        (json!({"title": "t", "due_time": "09:30"}), vec!["due_time"]),
        (
            json!({"title": "t", "time_zone": "Mars/Olympus"}),
            vec!["time_zone"],
        ),
        (
            json!({"title": "t", "time_zone": "europe/berlin"}),
            vec!["time_zone"],
        ),
        (json!({"title": "t", "time_zone": null}), vec!["time_zone"]),
        (
            json!({"title": "", "priority": "x", "time_zone": "x"}),
            vec!["title", "priority", "time_zone"],
        ),
    ];
    for (body, fields) in cases {
        let problem = assert_problem(app.try_create("alice", body.clone()).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert_eq!(app.count_rows("tasks").await, 0);
    assert_eq!(app.count_rows("tags").await, 0);
    // Links of the database are names of it too.
    for zone in ["US/Eastern", "Etc/GMT+2", "Asia/Kolkata"] {
        let task = app
            .create_task("alice", json!({"title": "t", "time_zone": zone}))
            .await;
        assert_eq!(task["time_zone"], zone);
    }
}

async fn the_rules_apply_to_the_task_as_it_would_be_after_a_put(app: TestApp) {
    let task = app
        .create_task(
            "alice",
            json!({"title": "t", "due_date": "2026-05-01", "due_time": "10:00", "tags": ["a"]}),
        )
        .await;
    let id = id_of(&task);
    // Clearing the date while the time stays.
    let problem = assert_problem(
        app.update_task("alice", id, json!({"due_date": null}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["due_time"]);
    // A failed write changes nothing, tags included.
    let problem = assert_problem(
        app.update_task(
            "alice",
            id,
            json!({"due_date": null, "tags": ["b"], "title": "changed"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["due_time"]);
    for bad in [
        json!({"priority": null}),
        json!({"tags": null}),
        json!({"time_zone": null}),
    ] {
        assert_problem(app.update_task("alice", id, bad).await, 422).await;
    }
    assert_eq!(app.task("alice", id).await, task);
    assert_eq!(
        tags(&app, "alice").await,
        json!([{"name": "a", "tasks": 1, "pending": 1}])
    );
    // Clearing both together is fine.
    let cleared = app
        .updated("alice", id, json!({"due_date": null, "due_time": null}))
        .await;
    assert_eq!(cleared["due_at"], Value::Null);
    assert_eq!(cleared["version"], 2);
    // A time on a task without a date is refused.
    let problem = assert_problem(
        app.update_task("alice", id, json!({"due_time": "08:00"}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["due_time"]);
}

async fn due_at_follows_date_time_and_zone_through_daylight_saving(app: TestApp) {
    let task = app
        .create_task("alice", json!({"title": "t", "due_date": "2026-07-01"}))
        .await;
    let id = id_of(&task);
    assert_eq!(
        task["due_at"], "2026-07-02T00:00:00.000000Z",
        "the end of the day"
    );
    let cases = [
        (json!({"due_time": "09:30"}), "2026-07-01T09:30:00.000000Z"),
        (
            json!({"time_zone": "America/New_York"}),
            "2026-07-01T13:30:00.000000Z",
        ),
        (
            json!({"due_date": "2026-01-15"}),
            "2026-01-15T14:30:00.000000Z",
        ),
        (json!({"due_time": null}), "2026-01-16T05:00:00.000000Z"),
        // Berlin skips 02:00–03:00 on 2026-03-29: forward by the gap.
        (
            json!({"due_date": "2026-03-29", "due_time": "02:30", "time_zone": "Europe/Berlin"}),
            "2026-03-29T01:30:00.000000Z",
        ),
        // and has 02:00–03:00 twice on 2026-10-25: the first.
        (
            json!({"due_date": "2026-10-25"}),
            "2026-10-25T00:30:00.000000Z",
        ),
        // An all-day task whose next midnight is in a gap (Santiago skips
        // 00:00–01:00 on 2026-09-06): the first instant after the gap.
        (
            json!({"due_date": "2026-09-05", "due_time": null, "time_zone": "America/Santiago"}),
            "2026-09-06T04:00:00.000000Z",
        ),
        (json!({"title": "renamed"}), "2026-09-06T04:00:00.000000Z"),
    ];
    for (change, due_at) in cases {
        let task = app.updated("alice", id, change.clone()).await;
        assert_eq!(task["due_at"], due_at, "after {change}");
    }
}

async fn completed_at_follows_every_write_that_completes(app: TestApp) {
    let born_done = app
        .create_task("alice", json!({"title": "t", "completed": true}))
        .await;
    assert!(born_done["completed_at"].is_string());
    let id = id_of(&born_done);
    let reopened = app.completed("alice", id, None).await;
    assert_eq!(reopened["completed_at"], Value::Null);
    let done = app
        .completed("alice", id, Some(json!({"completed": true})))
        .await;
    let at = done["completed_at"].clone();
    assert!(at.is_string());
    assert!(at.as_str() >= born_done["completed_at"].as_str());
    // Completing what is already completed keeps when it was completed.
    let again = app.updated("alice", id, json!({"completed": true})).await;
    assert_eq!(again["completed_at"], at);
    let pending = app.updated("alice", id, json!({"completed": false})).await;
    assert_eq!(pending["completed_at"], Value::Null);
}

/// alice's tasks for the filter and sort tests, by title.
async fn organized(app: &TestApp) -> Vec<Value> {
    let bodies = [
        json!({"title": "a", "priority": "high", "tags": ["Work", "urgent"], "due_date": "2020-01-01"}),
        json!({"title": "b", "priority": "medium", "tags": ["work"], "due_date": "2999-01-01", "due_time": "08:00"}),
        json!({"title": "c", "priority": "low", "tags": ["home"]}),
        json!({"title": "d", "priority": "high", "tags": ["home", "work"], "due_date": "2020-01-01", "completed": true}),
        json!({"title": "e"}),
        json!({"title": "f", "priority": "medium", "due_date": "2999-01-01", "due_time": "08:00"}),
    ];
    let mut tasks = Vec::new();
    for body in bodies {
        tasks.push(app.create_task("alice", body).await);
    }
    // bob's tasks never show.
    app.create_task(
        "bob",
        json!({"title": "z", "priority": "high", "tags": ["work"], "due_date": "2020-01-01"}),
    )
    .await;
    tasks
}

async fn filters_combine_and_each_narrows(app: TestApp) {
    organized(&app).await;
    let cases = [
        ("priority=high", vec!["d", "a"]),
        (
            "priority=high,medium&sort=title&order=asc",
            vec!["a", "b", "d", "f"],
        ),
        ("tag=WORK&sort=title&order=asc", vec!["a", "b", "d"]),
        ("tag=work&tag=home", vec!["d"]),
        ("tag=work&tag=urgent&tag=home", vec![]),
        ("tag=nothing", vec![]),
        (
            "has_due=true&sort=title&order=asc",
            vec!["a", "b", "d", "f"],
        ),
        ("has_due=false&sort=title&order=asc", vec!["c", "e"]),
        ("overdue=true", vec!["a"]),
        (
            "overdue=false&sort=title&order=asc",
            vec!["b", "c", "d", "e", "f"],
        ),
        (
            "due_before=2021-01-01T00:00:00%2B01:00&sort=title&order=asc",
            vec!["a", "d"],
        ),
        (
            "due_after=2998-12-31T23:00:00-01:00&sort=title&order=asc",
            vec!["b", "f"],
        ),
        (
            "due_after=2999-01-01T08:00:00Z&due_before=2999-01-01T08:00:01Z&sort=title&order=asc",
            vec!["b", "f"],
        ),
        ("status=pending&tag=work&priority=high", vec!["a"]),
        ("q=b&tag=work", vec!["b"]),
    ];
    for (query, expected) in cases {
        let (tasks, total) = app.list("alice", query).await;
        assert_eq!(titles(&tasks), expected, "?{query}");
        assert_eq!(total, expected.len() as u64, "?{query}: X-Total-Count");
    }
}

async fn due_at_sorts_undated_tasks_last_in_both_orders_and_pages_cleanly(app: TestApp) {
    let tasks = organized(&app).await;
    let id = |i: usize| id_of(&tasks[i]);
    // a and d share a due instant, as do b and f: ties by id, in the
    // sort's direction; c and e have none: last, by id in that direction.
    let (asc, _) = app.list("alice", "sort=due_at&order=asc").await;
    assert_eq!(ids(&asc), [id(0), id(3), id(1), id(5), id(2), id(4)]);
    let (desc, _) = app.list("alice", "sort=due_at&order=desc").await;
    assert_eq!(ids(&desc), [id(5), id(1), id(3), id(0), id(4), id(2)]);
    for (order, whole) in [("asc", &asc), ("desc", &desc)] {
        for limit in 1..=4 {
            let mut paged = Vec::new();
            let mut offset = 0;
            while offset < whole.len() {
                let query = format!("sort=due_at&order={order}&limit={limit}&offset={offset}");
                let (page, total) = app.list("alice", &query).await;
                assert_eq!(total, 6);
                paged.extend(page);
                offset += limit;
            }
            assert_eq!(ids(&paged), ids(whole), "{order} by {limit}");
        }
    }
    let (past_the_end, total) = app.list("alice", "sort=due_at&offset=6").await;
    assert!(past_the_end.is_empty());
    assert_eq!(total, 6);
    let (filtered, _) = app
        .list(
            "alice",
            "sort=due_at&order=asc&tag=work&priority=high,medium",
        )
        .await;
    assert_eq!(titles(&filtered), ["a", "d", "b"]);
}

async fn priority_sorts_high_first_with_ties_by_id(app: TestApp) {
    let tasks = organized(&app).await;
    let id = |i: usize| id_of(&tasks[i]);
    let (desc, _) = app.list("alice", "sort=priority").await;
    assert_eq!(ids(&desc), [id(3), id(0), id(5), id(1), id(2), id(4)]);
    let (asc, _) = app.list("alice", "sort=priority&order=asc").await;
    assert_eq!(ids(&asc), [id(4), id(2), id(1), id(5), id(0), id(3)]);
}

async fn bad_filters_are_422(app: TestApp) {
    let cases = [
        ("tag=", "tag"),
        ("tag=a,b", "tag"),
        ("tag=ok&tag=%01", "tag"),
        ("priority=", "priority"),
        ("priority=urgent", "priority"),
        ("priority=high,,low", "priority"),
        ("due_before=2026-01-01", "due_before"),
        ("due_after=tomorrow", "due_after"),
        ("due_before=2026-01-01T00:00:00", "due_before"),
        ("overdue=yes", "overdue"),
        ("has_due=1", "has_due"),
        ("sort=due", "sort"),
    ];
    for (query, field) in cases {
        let problem = assert_problem(app.try_list("alice", query).await, 422).await;
        assert_eq!(error_fields(&problem), [field], "?{query}");
    }
    let problem = assert_problem(
        app.try_list("alice", "tag=&priority=x&overdue=no").await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["priority", "tag", "overdue"]);
}

async fn a_put_with_tags_replaces_the_set_and_unused_tags_go(app: TestApp) {
    let task = app
        .create_task("alice", json!({"title": "t", "tags": ["a", "b"]}))
        .await;
    let id = id_of(&task);
    let changed = app.updated("alice", id, json!({"tags": ["B", "c"]})).await;
    assert_eq!(
        changed["tags"],
        json!(["b", "c"]),
        "b keeps its first spelling"
    );
    let listed = tags(&app, "alice").await;
    assert_eq!(
        listed,
        json!([{"name": "b", "tasks": 1, "pending": 1}, {"name": "c", "tasks": 1, "pending": 1}])
    );
    assert_eq!(
        app.count_rows("tags").await,
        2,
        "a, carried by nothing, is gone"
    );
    // Other fields keep the tags.
    let titled = app.updated("alice", id, json!({"title": "u"})).await;
    assert_eq!(titled["tags"], json!(["b", "c"]));
    let cleared = app.updated("alice", id, json!({"tags": []})).await;
    assert_eq!(cleared["tags"], json!([]));
    assert_eq!(tags(&app, "alice").await, json!([]));
    // A tag gone altogether takes a new spelling next time.
    let again = app.updated("alice", id, json!({"tags": ["A"]})).await;
    assert_eq!(again["tags"], json!(["A"]));
}

async fn tags_are_listed_with_counts_in_their_first_spelling(app: TestApp) {
    app.create_task("alice", json!({"title": "1", "tags": ["Work", "zeta"]}))
        .await;
    let second = app
        .create_task(
            "alice",
            json!({"title": "2", "tags": ["WORK", "alpha"], "completed": true}),
        )
        .await;
    assert_eq!(
        second["tags"],
        json!(["alpha", "Work"]),
        "the stored spelling"
    );
    assert_eq!(
        tags(&app, "alice").await,
        json!([
            {"name": "alpha", "tasks": 1, "pending": 0},
            {"name": "Work", "tasks": 2, "pending": 1},
            {"name": "zeta", "tasks": 1, "pending": 1},
        ])
    );
    assert_eq!(tags(&app, "bob").await, json!([]));
}

async fn renaming_a_tag_changes_every_task_carrying_it(app: TestApp) {
    let one = app
        .create_task("alice", json!({"title": "1", "tags": ["work"]}))
        .await;
    let two = app
        .create_task("alice", json!({"title": "2", "tags": ["work", "x"]}))
        .await;
    let other = app
        .create_task("alice", json!({"title": "3", "tags": ["x"]}))
        .await;
    let after = json_with_status(app.feed("alice", "").await, 200, "feed").await["cursor"].clone();

    let renamed = rename(&app, "alice", "WORK", "Job").await;
    let renamed = json_with_status(renamed, 200, "renaming").await;
    assert_eq!(renamed, json!({"name": "Job", "tasks": 2, "pending": 2}));
    let one_now = app.task("alice", id_of(&one)).await;
    let two_now = app.task("alice", id_of(&two)).await;
    assert_eq!(one_now["tags"], json!(["Job"]));
    assert_eq!(two_now["tags"], json!(["Job", "x"]));
    assert_eq!(one_now["version"], 2);
    assert_eq!(two_now["version"], 2);
    assert_eq!(
        app.task("alice", id_of(&other)).await,
        other,
        "only carriers change"
    );

    // Each changed task is in the feed once, on a page of its own with
    // limit=1: none is skipped between pages.
    let mut seen = Vec::new();
    let mut cursor = after.as_str().unwrap().to_owned();
    loop {
        let page = app.feed("alice", &format!("since={cursor}&limit=1")).await;
        let page = json_with_status(page, 200, "feed").await;
        seen.extend(ids(page["tasks"].as_array().unwrap()));
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, [id_of(&one), id_of(&two)]);

    // Another case of its own name changes the spelling.
    let respelled =
        json_with_status(rename(&app, "alice", "job", "JOB").await, 200, "respelling").await;
    assert_eq!(respelled["name"], "JOB");
    assert_eq!(app.task("alice", id_of(&one)).await["tags"], json!(["JOB"]));
    // A name with a space, percent-encoded in the path.
    json_with_status(
        rename(&app, "alice", "JOB", "day job").await,
        200,
        "renaming",
    )
    .await;
    json_with_status(
        rename(&app, "alice", "Day Job", "work").await,
        200,
        "renaming",
    )
    .await;

    assert_problem(rename(&app, "alice", "nothing", "x").await, 404).await;
    let problem = assert_problem(rename(&app, "alice", "work", "a,b").await, 422).await;
    assert_eq!(error_fields(&problem), ["name"]);
    let problem = assert_problem(
        app.send(Method::PUT, "/api/tags/work", "alice", Some(&json!({})))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["name"]);
}

async fn renaming_into_an_existing_tag_merges_them(app: TestApp) {
    let both = app
        .create_task(
            "alice",
            json!({"title": "both", "tags": ["shop", "errands"]}),
        )
        .await;
    let one = app
        .create_task("alice", json!({"title": "one", "tags": ["shop"]}))
        .await;
    let merged = json_with_status(
        rename(&app, "alice", "shop", "Errands").await,
        200,
        "merging",
    )
    .await;
    assert_eq!(merged, json!({"name": "errands", "tasks": 2, "pending": 2}));
    assert_eq!(
        app.task("alice", id_of(&both)).await["tags"],
        json!(["errands"])
    );
    assert_eq!(
        app.task("alice", id_of(&one)).await["tags"],
        json!(["errands"])
    );
    assert_eq!(tags(&app, "alice").await, json!([merged]));
}

async fn deleting_a_tag_removes_it_from_every_task(app: TestApp) {
    let one = app
        .create_task("alice", json!({"title": "1", "tags": ["old", "keep"]}))
        .await;
    let two = app
        .create_task("alice", json!({"title": "2", "tags": ["OLD"]}))
        .await;
    let response = delete_tag(&app, "alice", "Old").await;
    assert_eq!(response.status(), 204);
    let one_now = app.task("alice", id_of(&one)).await;
    assert_eq!(one_now["tags"], json!(["keep"]));
    assert_eq!(one_now["version"], 2);
    assert_eq!(app.task("alice", id_of(&two)).await["tags"], json!([]));
    assert_eq!(
        tags(&app, "alice").await,
        json!([{"name": "keep", "tasks": 1, "pending": 1}])
    );
    assert_problem(delete_tag(&app, "alice", "old").await, 404).await;
}

async fn tag_routes_never_see_or_touch_another_users_tags(app: TestApp) {
    let bobs = app
        .create_task("bob", json!({"title": "b", "tags": ["shared"]}))
        .await;
    assert_problem(rename(&app, "alice", "shared", "mine").await, 404).await;
    assert_problem(delete_tag(&app, "alice", "shared").await, 404).await;
    let alices = app
        .create_task("alice", json!({"title": "a", "tags": ["Shared"]}))
        .await;
    assert_eq!(
        alices["tags"],
        json!(["Shared"]),
        "alice's spelling, not bob's"
    );
    json_with_status(
        rename(&app, "alice", "shared", "mine").await,
        200,
        "renaming",
    )
    .await;
    assert_eq!(delete_tag(&app, "alice", "mine").await.status(), 204);
    assert_eq!(app.task("bob", id_of(&bobs)).await, bobs);
    assert_eq!(
        tags(&app, "bob").await,
        json!([{"name": "shared", "tasks": 1, "pending": 1}])
    );
    let (filtered, _) = app.list("alice", "tag=shared").await;
    assert!(filtered.is_empty());
}

async fn tag_rows_go_with_their_tasks_and_their_user(app: TestApp) {
    let task = app
        .create_task("alice", json!({"title": "t", "tags": ["a", "b"]}))
        .await;
    app.create_task("alice", json!({"title": "u", "tags": ["b"]}))
        .await;
    assert_eq!(app.count_rows("task_tags").await, 3);
    assert_eq!(app.delete_task("alice", id_of(&task)).await.status(), 204);
    assert_eq!(app.count_rows("task_tags").await, 1);
    assert_eq!(
        tags(&app, "alice").await,
        json!([{"name": "b", "tasks": 1, "pending": 1}])
    );
    assert_eq!(app.delete_me("alice").await.status(), 204);
    assert_eq!(app.count_rows("tags").await, 0);
    assert_eq!(app.count_rows("task_tags").await, 0);
}

async fn a_filtered_list_answers_304_until_something_changes(app: TestApp) {
    organized(&app).await;
    for query in ["tag=work&priority=high,medium&sort=due_at", "overdue=true"] {
        let first = app.try_list("alice", query).await;
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .request(Method::GET, &format!("/api/tasks?{query}"), "alice")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "?{query}");
        app.create_task(
            "alice",
            json!({"title": "new", "tags": ["work"], "priority": "high", "due_date": "2000-01-01"}),
        )
        .await;
        let changed = app
            .request(Method::GET, &format!("/api/tasks?{query}"), "alice")
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "?{query} after a write");
    }
}

async fn a_rename_across_many_tasks_stamps_each_once(app: TestApp) {
    // More than one statement's worth of tasks (the repository re-stamps
    // 500 per statement).
    const TASKS: usize = 510;
    let mut ids = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let task = app
            .create_task(
                "alice",
                json!({"title": format!("t{i}"), "tags": ["bulk", "other"]}),
            )
            .await;
        ids.push(id_of(&task));
    }
    let cursor = json_with_status(app.feed("alice", "").await, 200, "feed").await["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let renamed = json_with_status(
        rename(&app, "alice", "bulk", "Bulk2").await,
        200,
        "renaming",
    )
    .await;
    assert_eq!(renamed["tasks"], TASKS);
    let (listed, total) = app.list("alice", "tag=bulk2&limit=500").await;
    assert_eq!(total, TASKS as u64);
    assert!(
        listed
            .iter()
            .all(|task| task["tags"] == json!(["Bulk2", "other"]) && task["version"] == 2)
    );
    // Each in the feed once, each with a change number of its own.
    let mut seen = Vec::new();
    let mut since = cursor;
    loop {
        let page = app.feed("alice", &format!("since={since}&limit=500")).await;
        let page = json_with_status(page, 200, "feed").await;
        seen.extend(self::ids(page["tasks"].as_array().unwrap()));
        since = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    seen.sort();
    assert_eq!(seen, ids);
}
