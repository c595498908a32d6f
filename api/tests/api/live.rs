//! Live sync: the change feed (`GET /api/tasks/changes`), the event stream
//! (`GET /api/events`) and cheap polling (`ETag` on `GET /api/tasks`), each
//! kept to its caller, across instances.

use std::collections::BTreeMap;
use std::time::Duration;

use api::auth::{TokenRequest, mint_hs256};
use libtest_mimic::Trial;
use reqwest::{Method, Response};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, assert_problem, id_of, json_with_status, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            the_feed_starts_with_a_snapshot_then_gives_each_change_once,
            a_forged_foreign_or_erased_cursor_is_410,
            a_cursor_older_than_the_purged_tombstones_is_410,
            a_follower_of_the_feed_ends_identical_to_the_server_under_concurrent_writers,
            the_list_etag_answers_304_until_the_callers_tasks_change,
            the_stream_sends_each_change_with_its_cursor_and_resumes_without_a_gap,
            a_stream_opened_without_a_cursor_starts_at_the_present,
            streams_are_limited_per_user_with_a_429,
            a_stream_sends_keep_alives_and_ends_when_its_token_expires,
            erasure_ends_the_users_streams_and_their_cursors,
            a_bad_last_event_id_is_410,
            a_tag_rename_streams_every_task_it_changed,
            a_batch_streams_each_task_it_changed_once,
        ],
        crate::postgres_only![
            a_stream_on_one_instance_sees_writes_made_on_another,
            a_dropped_listening_connection_reconnects_and_nothing_is_missed,
        ],
    ])
}

/// The service with short keep-alives and a small per-user stream limit, so
/// tests of both need not wait or open many.
struct Live(TestApp);

const KEEP_ALIVE: Duration = Duration::from_millis(300);
const STREAMS_PER_USER: usize = 3;

impl Fixture for Live {
    async fn start(backend: Backend) -> Self {
        Self(
            spawn_app_with(backend, |settings| {
                settings.events.keep_alive = KEEP_ALIVE;
                settings.events.streams_per_user = STREAMS_PER_USER;
            })
            .await,
        )
    }
}

// --- the feed ---------------------------------------------------------------

/// One page of `sub`'s feed after `since` (from the start without one).
async fn page(app: &TestApp, sub: &str, since: Option<&str>, limit: u32) -> Value {
    let query = match since {
        Some(cursor) => format!("since={cursor}&limit={limit}"),
        None => format!("limit={limit}"),
    };
    json_with_status(
        app.feed(sub, &query).await,
        200,
        &format!("the feed ?{query}"),
    )
    .await
}

fn ids(tasks: &Value) -> Vec<i64> {
    tasks.as_array().unwrap().iter().map(id_of).collect()
}

fn cursor(page: &Value) -> String {
    page["cursor"].as_str().expect("a cursor").to_owned()
}

async fn the_feed_starts_with_a_snapshot_then_gives_each_change_once(app: TestApp) {
    let mut created = Vec::new();
    for title in ["one", "two", "three"] {
        created.push(id_of(
            &app.create_task("ada", json!({"title": title})).await,
        ));
    }
    app.create_task("bob", json!({"title": "bob's"})).await;

    let first = page(&app, "ada", None, 2).await;
    assert_eq!(ids(&first["tasks"]), created[..2]);
    assert_eq!(first["deleted"], json!([]));
    assert_eq!(first["has_more"], true);
    let second = page(&app, "ada", Some(&cursor(&first)), 2).await;
    assert_eq!(ids(&second["tasks"]), created[2..]);
    assert_eq!(second["has_more"], false);
    let caught_up = cursor(&second);
    let nothing = page(&app, "ada", Some(&caught_up), 100).await;
    assert_eq!(
        (nothing["tasks"].clone(), nothing["deleted"].clone()),
        (json!([]), json!([]))
    );
    assert_eq!(cursor(&nothing), caught_up, "no change, no new cursor");

    // Two changes to one task, a deletion, a creation: each task once, in
    // its latest state, the deletion as a tombstone.
    app.updated("ada", created[0], json!({"title": "one, renamed"}))
        .await;
    app.completed("ada", created[0], None).await;
    assert_eq!(app.delete_task("ada", created[1]).await.status(), 204);
    let fourth = id_of(&app.create_task("ada", json!({"title": "four"})).await);
    let changes = page(&app, "ada", Some(&caught_up), 100).await;
    assert_eq!(ids(&changes["tasks"]), [created[0], fourth]);
    let renamed = &changes["tasks"][0];
    assert_eq!(renamed["title"], "one, renamed");
    assert_eq!(renamed["completed"], true);
    assert_eq!(renamed["version"], 3);
    assert_eq!(changes["deleted"].as_array().unwrap().len(), 1);
    assert_eq!(changes["deleted"][0]["id"], created[1]);
    assert!(
        changes["deleted"][0]["deleted_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert_eq!(changes["has_more"], false);

    // A failed write is no change.
    let stale = app
        .request(Method::PUT, &format!("/api/tasks/{}", created[2]), "ada")
        .header("if-match", "\"99\"")
        .json(&json!({"title": "never"}))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let after = page(&app, "ada", Some(&cursor(&changes)), 100).await;
    assert_eq!(after["tasks"], json!([]));
}

async fn a_forged_foreign_or_erased_cursor_is_410(app: TestApp) {
    app.create_task("ada", json!({"title": "one"})).await;
    let ada = cursor(&page(&app, "ada", None, 100).await);
    for forged in ["nonsense", "AAAAAAAAAAAAAAAAAAAAAB", &ada[..ada.len() - 1]] {
        let problem = assert_problem(app.feed("ada", &format!("since={forged}")).await, 410).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("without `since`")
        );
    }
    // Another user's cursor means nothing to bob, and tells him nothing.
    for _ in 0..3 {
        app.create_task("bob", json!({"title": "bob's"})).await;
    }
    assert_problem(app.feed("bob", &format!("since={ada}")).await, 410).await;
    // Erased, then back: a cursor of the old life is never valid again.
    assert_eq!(app.delete_me("ada").await.status(), 204);
    app.create_task("ada", json!({"title": "again"})).await;
    assert_problem(app.feed("ada", &format!("since={ada}")).await, 410).await;
    assert_problem(app.feed("ada", "limit=0").await, 422).await;
}

async fn a_cursor_older_than_the_purged_tombstones_is_410(app: TestApp) {
    let first = id_of(&app.create_task("ada", json!({"title": "one"})).await);
    let second = id_of(&app.create_task("ada", json!({"title": "two"})).await);
    let before = cursor(&page(&app, "ada", None, 100).await);
    assert_eq!(app.delete_task("ada", first).await.status(), 204);
    let between = cursor(&page(&app, "ada", Some(&before), 100).await);

    // The first tombstone is 31 days old; the sweeper purges it.
    let old = (chrono::Utc::now() - chrono::TimeDelta::days(31)).to_rfc3339();
    let backend = app.db.get_database_backend();
    let sql = match backend {
        sea_orm::DbBackend::Postgres => {
            "UPDATE task_tombstones SET deleted_at = $1::timestamptz WHERE id = $2"
        }
        _ => "UPDATE task_tombstones SET deleted_at = ? WHERE id = ?",
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [old.into(), first.into()],
        ))
        .await
        .unwrap();
    assert_eq!(app.delete_task("ada", second).await.status(), 204);
    assert_eq!(
        app.count_rows("task_tombstones").await,
        2,
        "not on a delete"
    );
    api::sweeper::sweep(&app.db).await;

    assert_eq!(
        app.count_rows("task_tombstones").await,
        1,
        "the old one is purged"
    );
    assert_problem(app.feed("ada", &format!("since={before}")).await, 410).await;
    let recent = page(&app, "ada", Some(&between), 100).await;
    assert_eq!(recent["deleted"][0]["id"], second);
}

/// Writers on two instances (on SQLite, which serves one instance per file,
/// four writers on the one) create, change and delete one user's tasks
/// concurrently while a client follows the feed; its copy must end exactly
/// as the server's.
async fn a_follower_of_the_feed_ends_identical_to_the_server_under_concurrent_writers(
    app: TestApp,
) {
    let second = if app.database.url.starts_with("sqlite:") {
        app.address.clone()
    } else {
        app.start_another_instance().await
    };
    let instances = [app.address.clone(), second];
    let writers = (0..4).map(|writer| {
        let (client, token) = (app.client.clone(), app.token("ada"));
        let base = instances[writer % 2].clone();
        async move {
            let mut mine = Vec::new();
            for step in 0..30 {
                let send = |method: Method, path: String| {
                    client
                        .request(method, format!("{base}{path}"))
                        .bearer_auth(&token)
                };
                let response = match (step % 5, mine.last()) {
                    (3, Some(&id)) => {
                        send(Method::PATCH, format!("/api/tasks/{id}/complete"))
                            .send()
                            .await
                    }
                    (4, Some(&id)) => {
                        mine.pop();
                        send(Method::DELETE, format!("/api/tasks/{id}"))
                            .send()
                            .await
                    }
                    (2, Some(&id)) => {
                        let title = json!({"title": format!("w{writer} s{step}")});
                        send(Method::PUT, format!("/api/tasks/{id}"))
                            .json(&title)
                            .send()
                            .await
                    }
                    _ => {
                        let title = json!({"title": format!("w{writer} s{step}")});
                        let created = send(Method::POST, "/api/tasks".into())
                            .json(&title)
                            .send()
                            .await
                            .unwrap();
                        assert_eq!(created.status(), 201);
                        mine.push(id_of(&created.json().await.unwrap()));
                        continue;
                    }
                };
                assert!(response.unwrap().status().is_success());
            }
        }
    });
    let writing = futures_util::future::join_all(writers);

    let mut copy: BTreeMap<i64, Value> = BTreeMap::new();
    let mut since: Option<String> = None;
    let follow = |copy: &mut BTreeMap<i64, Value>, page: &Value| {
        for task in page["tasks"].as_array().unwrap() {
            copy.insert(id_of(task), task.clone());
        }
        for gone in page["deleted"].as_array().unwrap() {
            copy.remove(&gone["id"].as_i64().unwrap());
        }
    };
    let following = async {
        // Small pages, read as fast as they come, while the writers run.
        for _ in 0..200 {
            let next = page(&app, "ada", since.as_deref(), 7).await;
            follow(&mut copy, &next);
            since = Some(cursor(&next));
            tokio::task::yield_now().await;
        }
    };
    tokio::join!(writing, following);
    loop {
        let next = page(&app, "ada", since.as_deref(), 7).await;
        follow(&mut copy, &next);
        since = Some(cursor(&next));
        if next["has_more"] == false {
            break;
        }
    }

    let (server, total) = app.list("ada", "limit=500").await;
    assert!(total > 0);
    let server: BTreeMap<i64, Value> = server
        .into_iter()
        .map(|task| (id_of(&task), task))
        .collect();
    assert_eq!(copy, server);
}

// --- cheap polling -----------------------------------------------------------

fn etag(response: &Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

async fn list_if_none_match(app: &TestApp, sub: &str, query: &str, tag: &str) -> Response {
    app.request(Method::GET, &format!("/api/tasks?{query}"), sub)
        .header("if-none-match", tag)
        .send()
        .await
        .unwrap()
}

async fn the_list_etag_answers_304_until_the_callers_tasks_change(app: TestApp) {
    let id = id_of(&app.create_task("ada", json!({"title": "one"})).await);
    let first = app.try_list("ada", "status=pending").await;
    assert_eq!(first.status(), 200);
    let tag = etag(&first);
    assert!(tag.starts_with('"') && !tag.contains("ada"), "{tag}");

    let unchanged = list_if_none_match(&app, "ada", "status=pending", &tag).await;
    assert_eq!(unchanged.status(), 304);
    assert_eq!(etag(&unchanged), tag);
    assert_eq!(unchanged.text().await.unwrap(), "");
    let weak = list_if_none_match(&app, "ada", "status=pending", &format!("W/{tag}, \"x\"")).await;
    assert_eq!(weak.status(), 304);

    // Another query, or another user with the same query, has its own tag.
    let other_query = app.try_list("ada", "status=completed").await;
    assert_ne!(etag(&other_query), tag);
    let bob = list_if_none_match(&app, "bob", "status=pending", &tag).await;
    assert_eq!(bob.status(), 200, "bob's answer is not ada's");
    // Bob's writes change nothing of ada's.
    app.create_task("bob", json!({"title": "bob's"})).await;
    assert_eq!(
        list_if_none_match(&app, "ada", "status=pending", &tag)
            .await
            .status(),
        304
    );

    // A user who never wrote (no row to read a position from) gets an empty
    // page with a tag of its own, and polls with it like anyone else.
    let nobody = app.try_list("carol", "status=pending").await;
    assert_eq!(nobody.status(), 200);
    let carol_tag = etag(&nobody);
    assert_ne!(carol_tag, tag);
    assert_eq!(
        list_if_none_match(&app, "carol", "status=pending", &carol_tag)
            .await
            .status(),
        304
    );

    // Ada's own write does, and the new answer has a new tag.
    app.completed("ada", id, None).await;
    let changed = list_if_none_match(&app, "ada", "status=pending", &tag).await;
    assert_eq!(changed.status(), 200);
    assert_ne!(etag(&changed), tag);
    let tasks = json_with_status(changed, 200, "the list after a change").await;
    assert_eq!(tasks, json!([]));
}

// --- the stream ----------------------------------------------------------------

/// One server-sent message.
#[derive(Debug, Clone, PartialEq)]
enum Sse {
    /// A comment line: a keep-alive.
    Comment,
    Message {
        event: Option<String>,
        id: Option<String>,
        data: String,
    },
}

/// Reads `GET /api/events` as it arrives.
pub(crate) struct Stream {
    response: Response,
    buffer: String,
}

enum Next {
    Item(Sse),
    /// Nothing arrived in time.
    Quiet,
    /// The server ended the stream.
    Ended,
}

async fn open_stream(base: &str, token: &str, last_event_id: Option<&str>) -> Response {
    let mut request = reqwest::Client::new()
        .get(format!("{base}/api/events"))
        .bearer_auth(token);
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.expect("the stream request")
}

impl Stream {
    pub(crate) async fn open(base: &str, token: &str, last_event_id: Option<&str>) -> Self {
        let response = open_stream(base, token, last_event_id).await;
        assert_eq!(response.status(), 200, "opening the stream");
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    async fn next(&mut self, within: Duration) -> Next {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Next::Item(parse(&block));
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Next::Quiet,
                Ok(Ok(Some(bytes))) => self.buffer.push_str(std::str::from_utf8(&bytes).unwrap()),
                Ok(Ok(None) | Err(_)) => return Next::Ended,
            }
        }
    }

    /// The next message that is not a keep-alive, within `within`.
    pub(crate) async fn message(
        &mut self,
        within: Duration,
    ) -> (Option<String>, Option<String>, Value) {
        let deadline = Instant::now() + within;
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Next::Item(Sse::Comment) => continue,
                Next::Item(Sse::Message { event, id, data }) => {
                    let data = if data.is_empty() {
                        Value::Null
                    } else {
                        serde_json::from_str(&data).unwrap()
                    };
                    return (event, id, data);
                }
                Next::Quiet => panic!("no event within {within:?}"),
                Next::Ended => panic!("the stream ended"),
            }
        }
    }

    /// Asserts nothing but keep-alives arrive for `quiet`.
    pub(crate) async fn assert_quiet(&mut self, quiet: Duration) {
        let deadline = Instant::now() + quiet;
        loop {
            match self
                .next(deadline.saturating_duration_since(Instant::now()))
                .await
            {
                Next::Item(Sse::Comment) => continue,
                Next::Quiet => return,
                Next::Item(message) => panic!("unexpected {message:?}"),
                Next::Ended => panic!("the stream ended"),
            }
        }
    }
}

fn parse(block: &str) -> Sse {
    let (mut event, mut id, mut data) = (None, None, Vec::new());
    let mut comment = true;
    for line in block.lines().filter(|line| !line.is_empty()) {
        if line.starts_with(':') {
            continue;
        }
        comment = false;
        let (field, value) = line.split_once(": ").unwrap_or((line, ""));
        match field {
            "event" => event = Some(value.to_owned()),
            "id" => id = Some(value.to_owned()),
            "data" => data.push(value.to_owned()),
            other => panic!("unexpected field {other}"),
        }
    }
    if comment {
        Sse::Comment
    } else {
        Sse::Message {
            event,
            id,
            data: data.join("\n"),
        }
    }
}

const SOON: Duration = Duration::from_secs(2);

async fn the_stream_sends_each_change_with_its_cursor_and_resumes_without_a_gap(live: Live) {
    let app = live.0;
    let before = cursor(&page(&app, "ada", None, 100).await);
    let mut stream = Stream::open(&app.address, &app.token("ada"), Some(&before)).await;
    let task = app.create_task("ada", json!({"title": "one"})).await;
    let (event, created_at, data) = stream.message(SOON).await;
    assert_eq!(event.as_deref(), Some("upsert"));
    assert_eq!(data, task);
    let id = id_of(&task);
    app.updated("ada", id, json!({"title": "renamed"})).await;
    let (event, _, data) = stream.message(SOON).await;
    assert_eq!(
        (event.as_deref(), data["title"].as_str()),
        (Some("upsert"), Some("renamed"))
    );
    let done = app.completed("ada", id, None).await;
    let (_, last_seen, data) = stream.message(SOON).await;
    assert_eq!(data, done);
    // Each event's id is a cursor the feed accepts.
    let from_first = page(&app, "ada", created_at.as_deref(), 100).await;
    assert_eq!(ids(&from_first["tasks"]), [id]);
    drop(stream);

    // Changes while disconnected arrive on reconnection, in order, once.
    let other = id_of(&app.create_task("ada", json!({"title": "two"})).await);
    assert_eq!(app.delete_task("ada", id).await.status(), 204);
    let mut resumed = Stream::open(&app.address, &app.token("ada"), last_seen.as_deref()).await;
    let (event, _, data) = resumed.message(SOON).await;
    assert_eq!((event.as_deref(), id_of(&data)), (Some("upsert"), other));
    let (event, _, data) = resumed.message(SOON).await;
    assert_eq!(event.as_deref(), Some("delete"));
    assert_eq!(data["id"], id);
    assert!(data["deleted_at"].is_string());
    assert_eq!(
        data.as_object().unwrap().len(),
        2,
        "a tombstone says nothing more"
    );
    resumed.assert_quiet(Duration::from_millis(500)).await;

    // `?since=` does the same as the header.
    let query = app
        .request(
            Method::GET,
            &format!("/api/events?since={}", last_seen.unwrap()),
            "ada",
        )
        .send()
        .await
        .unwrap();
    let mut by_query = Stream {
        response: query,
        buffer: String::new(),
    };
    let (_, _, data) = by_query.message(SOON).await;
    assert_eq!(id_of(&data), other);
}

async fn a_stream_opened_without_a_cursor_starts_at_the_present(live: Live) {
    let app = live.0;
    app.create_task("ada", json!({"title": "old"})).await;
    let mut stream = Stream::open(&app.address, &app.token("ada"), None).await;
    let (event, present, data) = stream.message(SOON).await;
    assert_eq!((event, &data), (None, &Value::Null), "a bare id first");
    let present = present.expect("the present as a cursor");
    let new = app.create_task("ada", json!({"title": "new"})).await;
    let (_, _, data) = stream.message(SOON).await;
    assert_eq!(data, new, "the old task is not sent again");
    let feed_from_present = page(&app, "ada", Some(&present), 100).await;
    assert_eq!(ids(&feed_from_present["tasks"]), [id_of(&new)]);

    // A user who never wrote anything starts at the very beginning.
    let mut fresh = Stream::open(&app.address, &app.token("cy"), None).await;
    let (_, start, _) = fresh.message(SOON).await;
    let first = app.create_task("cy", json!({"title": "first"})).await;
    let (_, _, data) = fresh.message(SOON).await;
    assert_eq!(data, first);
    let from_start = page(&app, "cy", start.as_deref(), 100).await;
    assert_eq!(ids(&from_start["tasks"]), [id_of(&first)]);
}

async fn a_tag_rename_streams_every_task_it_changed(live: Live) {
    let app = live.0;
    let one = app
        .create_task(
            "ada",
            json!({"title": "1", "tags": ["home"], "priority": "low"}),
        )
        .await;
    let two = app
        .create_task(
            "ada",
            json!({"title": "2", "tags": ["Home", "x"], "due_date": "2026-12-24"}),
        )
        .await;
    let mut stream = Stream::open(&app.address, &app.token("ada"), None).await;
    stream.message(SOON).await;
    let renamed = app
        .send(
            reqwest::Method::PUT,
            "/api/tags/HOME",
            "ada",
            Some(&json!({"name": "house"})),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    let mut sent = Vec::new();
    for _ in 0..2 {
        let (event, id, data) = stream.message(SOON).await;
        assert_eq!(event.as_deref(), Some("upsert"));
        assert!(id.is_some());
        sent.push(data);
    }
    sent.sort_by_key(id_of);
    assert_eq!(sent[0], app.task("ada", id_of(&one)).await);
    assert_eq!(sent[1], app.task("ada", id_of(&two)).await);
    assert_eq!(sent[0]["tags"], json!(["house"]));
    assert_eq!(sent[1]["tags"], json!(["house", "x"]));
    assert_eq!(
        sent[1]["due_date"], "2026-12-24",
        "every field in the event"
    );
    stream.assert_quiet(KEEP_ALIVE * 2).await;
}

async fn a_batch_streams_each_task_it_changed_once(live: Live) {
    let app = live.0;
    let gone = app.create_task("ada", json!({"title": "gone"})).await;
    let mut stream = Stream::open(&app.address, &app.token("ada"), None).await;
    stream.message(SOON).await;
    let batch = json!({"operations": [
        {"op": "create", "ref": "a", "task": {"title": "a"}},
        {"op": "update", "ref": "a", "task": {"priority": "high"}},
        {"op": "complete", "ref": "a"},
        {"op": "create", "task": {"title": "b"}},
        {"op": "delete", "id": id_of(&gone)},
    ]});
    let answer = app
        .send(reqwest::Method::POST, "/api/batch", "ada", Some(&batch))
        .await;
    let answer = json_with_status(answer, 200, "the batch").await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        let (event, _, data) = stream.message(SOON).await;
        sent.push((event.unwrap(), data));
    }
    sent.sort_by_key(|(event, data)| (event.clone(), id_of(data)));
    assert_eq!(sent[0], ("delete".to_owned(), sent[0].1.clone()));
    assert_eq!(sent[0].1["id"], id_of(&gone));
    assert_eq!(
        sent[1],
        ("upsert".to_owned(), answer["results"][2]["task"].clone())
    );
    assert_eq!(
        sent[2],
        ("upsert".to_owned(), answer["results"][3]["task"].clone())
    );
    stream.assert_quiet(KEEP_ALIVE * 2).await;
}

async fn streams_are_limited_per_user_with_a_429(live: Live) {
    let app = live.0;
    let token = app.token("ada");
    let mut open = Vec::new();
    for _ in 0..STREAMS_PER_USER {
        open.push(Stream::open(&app.address, &token, None).await);
    }
    let refused = open_stream(&app.address, &token, None).await;
    assert_eq!(refused.status(), 429);
    for header in ["retry-after", "ratelimit-remaining", "ratelimit-reset"] {
        assert!(refused.headers().contains_key(header), "{header}");
    }
    assert_eq!(
        refused.headers()["ratelimit-limit"],
        STREAMS_PER_USER.to_string().as_str()
    );
    assert_problem(refused, 429).await;
    // The limit is per user.
    let _bob = Stream::open(&app.address, &app.token("bob"), None).await;
    // A closed stream frees its place once the server notices (at the next
    // keep-alive at the latest).
    open.pop();
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let again = open_stream(&app.address, &token, None).await;
        if again.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the closed stream's place was never freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_stream_sends_keep_alives_and_ends_when_its_token_expires(live: Live) {
    let app = live.0;
    let token = mint_hs256(
        &app.secret,
        &TokenRequest {
            lifetime: chrono::TimeDelta::seconds(2),
            ..TokenRequest::for_user("ada")
        },
    );
    let mut stream = Stream::open(&app.address, &token, None).await;
    let opened = Instant::now();
    let mut comments = 0;
    loop {
        match stream.next(Duration::from_secs(5)).await {
            Next::Item(Sse::Comment) => comments += 1,
            Next::Item(Sse::Message { .. }) => {}
            Next::Quiet => panic!("the stream outlived its token"),
            Next::Ended => break,
        }
    }
    let lasted = opened.elapsed();
    assert!(
        comments >= 2,
        "keep-alives every {KEEP_ALIVE:?}: saw {comments}"
    );
    assert!(
        lasted < Duration::from_secs(4),
        "ended {lasted:?} after opening"
    );
}

async fn erasure_ends_the_users_streams_and_their_cursors(live: Live) {
    let app = live.0;
    app.create_task("ada", json!({"title": "one"})).await;
    let mut stream = Stream::open(&app.address, &app.token("ada"), None).await;
    let (_, present, _) = stream.message(SOON).await;
    let mut bobs = Stream::open(&app.address, &app.token("bob"), None).await;
    bobs.message(SOON).await;
    assert_eq!(app.delete_me("ada").await.status(), 204);
    let deadline = Instant::now() + SOON;
    loop {
        match stream
            .next(deadline.saturating_duration_since(Instant::now()))
            .await
        {
            Next::Ended => break,
            Next::Item(Sse::Comment) => continue,
            Next::Item(message) => panic!("unexpected {message:?}"),
            Next::Quiet => panic!("the erased user's stream stayed open"),
        }
    }
    let again = open_stream(&app.address, &app.token("ada"), present.as_deref()).await;
    assert_problem(again, 410).await;
    bobs.assert_quiet(Duration::from_millis(500)).await;
}

async fn a_bad_last_event_id_is_410(app: TestApp) {
    let response = open_stream(&app.address, &app.token("ada"), Some("forged")).await;
    assert_problem(response, 410).await;
    let anonymous = reqwest::get(app.url("/api/events")).await.unwrap();
    assert_problem(anonymous, 401).await;
}

/// Two instances on one PostgreSQL database: a change made through one
/// reaches a stream on the other within a second, and another user's
/// stream sees none of it.
async fn a_stream_on_one_instance_sees_writes_made_on_another(app: TestApp) {
    let other = app.start_another_instance().await;
    let mut ada = Stream::open(&app.address, &app.token("ada"), None).await;
    let mut bob = Stream::open(&app.address, &app.token("bob"), None).await;
    ada.message(SOON).await;
    bob.message(SOON).await;
    let on_other = |method: Method, path: String, body: Option<Value>| {
        let request = app
            .client
            .request(method, format!("{other}{path}"))
            .bearer_auth(app.token("ada"));
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move { request.send().await.unwrap() }
    };
    let within = Duration::from_secs(1);
    let created = on_other(
        Method::POST,
        "/api/tasks".into(),
        Some(json!({"title": "one"})),
    )
    .await;
    let created: Value = created.json().await.unwrap();
    let id = id_of(&created);
    assert_eq!(ada.message(within).await.2, created);
    on_other(
        Method::PUT,
        format!("/api/tasks/{id}"),
        Some(json!({"title": "renamed"})),
    )
    .await;
    assert_eq!(ada.message(within).await.2["title"], "renamed");
    on_other(Method::PATCH, format!("/api/tasks/{id}/complete"), None).await;
    assert_eq!(ada.message(within).await.2["completed"], true);
    on_other(Method::DELETE, format!("/api/tasks/{id}"), None).await;
    let (event, _, data) = ada.message(within).await;
    assert_eq!(
        (event.as_deref(), &data["id"]),
        (Some("delete"), &json!(id))
    );
    bob.assert_quiet(Duration::from_millis(500)).await;
}

async fn listener_backends(app: &TestApp) -> Vec<i32> {
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            sea_orm::DbBackend::Postgres,
            format!(
                "SELECT pid FROM pg_stat_activity WHERE application_name = '{}' AND datname = current_database()",
                api::change_log::listener::APPLICATION_NAME
            ),
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| row.try_get::<i32>("", "pid").unwrap())
        .collect()
}

async fn a_dropped_listening_connection_reconnects_and_nothing_is_missed(app: TestApp) {
    let mut stream = Stream::open(&app.address, &app.token("ada"), None).await;
    stream.message(SOON).await;
    // The listener connects in the background as the instance starts: on a
    // busy machine, a moment after the first stream opens.
    let deadline = Instant::now() + Duration::from_secs(10);
    let before = loop {
        let listening = listener_backends(&app).await;
        if listening.len() == 1 || Instant::now() > deadline {
            break listening;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(before.len(), 1, "one listening connection per instance");
    app.db
        .execute_unprepared(&format!("SELECT pg_terminate_backend({})", before[0]))
        .await
        .unwrap();
    // Written at once, while the listener may still be down.
    let mut written = Vec::new();
    for title in ["during", "the", "outage"] {
        written.push(app.create_task("ada", json!({"title": title})).await);
    }
    // The default keep-alive (15 s) is far off: the reconnection delivers.
    for task in &written {
        assert_eq!(&stream.message(Duration::from_secs(3)).await.2, task);
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let now = listener_backends(&app).await;
        if now.len() == 1 && now != before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no new listening connection: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = app.create_task("ada", json!({"title": "after"})).await;
    assert_eq!(stream.message(Duration::from_secs(1)).await.2, after);
}
