//! Reminders: recorded once when their time comes, however many instances
//! run and whatever becomes of one, sent on every open stream of the owner
//! and listed in the change feed; rescheduled, cancelled and armed again
//! with the task; recorded late after downtime.
//!
//! Reminder times are whole minutes (a due time is `HH:MM`), so each test
//! that waits for one waits for the next minute boundary at most once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use api::auth::{TokenRequest, mint_hs256};
use chrono::{DateTime, SecondsFormat, Utc};
use futures_util::StreamExt;
use libtest_mimic::Trial;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, TestDatabase, id_of, json_with_status, spawn_app_with};
use crate::live::Stream;
use crate::storage::Service;

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            a_reminder_is_recorded_once_on_time_on_every_stream_and_in_the_feed,
            reminders_follow_the_task_moved_cancelled_and_armed_again,
            a_restart_after_downtime_records_the_missed_reminders_late,
            a_killed_instance_loses_and_repeats_no_reminder,
        ],
        crate::postgres_only![two_instances_record_a_thousand_reminders_due_at_once_exactly_once],
    ])
}

/// The service with its metrics served.
struct Metered(TestApp);

impl Fixture for Metered {
    async fn start(backend: Backend) -> Self {
        Self(
            spawn_app_with(backend, |settings| {
                settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
                settings.events.keep_alive = Duration::from_millis(500);
            })
            .await,
        )
    }
}

/// The next whole minute at least `lead` from now: when reminders set for
/// it come due.
fn next_minute(lead: Duration) -> DateTime<Utc> {
    let earliest = Utc::now() + lead;
    let seconds = earliest.timestamp();
    let minute = (seconds + 59) / 60 * 60;
    DateTime::from_timestamp(minute, 0).unwrap()
}

/// A task due at `at` (UTC) with reminders `minutes` before.
fn due_at(title: &str, at: DateTime<Utc>, minutes: &[i32]) -> Value {
    json!({
        "title": title,
        "due_date": at.format("%Y-%m-%d").to_string(),
        "due_time": at.format("%H:%M").to_string(),
        "reminders": minutes,
    })
}

/// As the API writes an instant.
fn written(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

async fn sleep_until(at: DateTime<Utc>) {
    let left = (at - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left).await;
}

/// Reads `stream` until `within` passes: its reminder events' data.
async fn reminders_on(
    stream: &mut Stream,
    within: Duration,
    want: usize,
) -> Vec<(Value, DateTime<Utc>)> {
    let deadline = tokio::time::Instant::now() + within;
    let mut seen = Vec::new();
    while seen.len() < want {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let message =
            tokio::time::timeout(left, stream.message(left + Duration::from_secs(1))).await;
        let Ok((event, id, data)) = message else {
            break;
        };
        if event.as_deref() == Some("reminder") {
            assert!(id.is_some(), "a reminder event carries a cursor");
            seen.push((data, Utc::now()));
        }
    }
    seen
}

/// Rows of `reminders`: (task id, remind_at as stored, recorded?).
async fn reminder_rows(db: &DatabaseConnection) -> Vec<(i64, bool)> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT task_id, change_seq FROM reminders ORDER BY id",
        ))
        .await
        .unwrap();
    rows.iter()
        .map(|row| {
            let seq: Option<i64> = row.try_get("", "change_seq").unwrap();
            (row.try_get("", "task_id").unwrap(), seq.is_some())
        })
        .collect()
}

async fn feed_cursor(app_address: &str, token: &str) -> String {
    let page: Value = reqwest::Client::new()
        .get(format!("{app_address}/api/tasks/changes"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    page["cursor"].as_str().unwrap().to_owned()
}

async fn feed_reminders(app_address: &str, token: &str, since: &str) -> Vec<Value> {
    let page: Value = reqwest::Client::new()
        .get(format!(
            "{app_address}/api/tasks/changes?since={since}&limit=500"
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["has_more"], false);
    page["reminders"]
        .as_array()
        .expect("`reminders` is always present")
        .clone()
}

async fn a_reminder_is_recorded_once_on_time_on_every_stream_and_in_the_feed(metered: Metered) {
    let app = metered.0;
    let due = next_minute(Duration::from_secs(6));
    let (ada, bob) = (app.token("ada"), app.token("bob"));
    let since = feed_cursor(&app.address, &ada).await;
    let mut first = Stream::open(&app.address, &ada, Some(&since)).await;
    let mut second = Stream::open(&app.address, &ada, Some(&since)).await;
    let mut bobs = Stream::open(&app.address, &bob, None).await;
    bobs.message(Duration::from_secs(2)).await;

    let task = app.create_task("ada", due_at("call mum", due, &[0])).await;
    let id = id_of(&task);
    // A snapshot lists no reminders.
    let snapshot = json_with_status(app.feed("ada", "").await, 200, "the snapshot").await;
    assert_eq!(snapshot["reminders"], json!([]));

    let expected = json!({
        "task_id": id,
        "title": "call mum",
        "due_at": written(due),
        "remind_at": written(due),
        "late": false,
    });
    let within = (due - Utc::now()).to_std().unwrap() + Duration::from_secs(4);
    let (on_first, on_second) = tokio::join!(
        reminders_on(&mut first, within, 2),
        reminders_on(&mut second, within, 2)
    );
    for seen in [&on_first, &on_second] {
        assert_eq!(seen.len(), 1, "one reminder on each stream: {seen:?}");
        assert_eq!(seen[0].0, expected);
        let lag = seen[0].1 - due;
        assert!(
            lag < chrono::TimeDelta::seconds(2),
            "sent {lag} after its time"
        );
    }
    bobs.assert_quiet(Duration::from_millis(700)).await;

    let listed = feed_reminders(&app.address, &ada, &since).await;
    assert_eq!(listed, std::slice::from_ref(&expected));
    // A stream resumed from before it all (here the very first cursor)
    // replays the reminder after the task.
    let mut resumed = Stream::open(&app.address, &ada, Some(&since)).await;
    assert_eq!(
        resumed.message(Duration::from_secs(2)).await.0.as_deref(),
        Some("upsert")
    );
    let (event, _, data) = resumed.message(Duration::from_secs(2)).await;
    assert_eq!(
        (event.as_deref(), data),
        (Some("reminder"), expected.clone())
    );
    assert_eq!(reminder_rows(&app.db).await, [(id, true)]);

    let scrape = reqwest::get(format!("{}/metrics", app.metrics_address.as_ref().unwrap()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "reminders_fired_total 1",
        "reminders_fired_late_total 0",
        "reminder_lag_seconds_count 1",
    ] {
        assert!(scrape.lines().any(|l| l == line), "{line} in:\n{scrape}");
    }
}

async fn reminders_follow_the_task_moved_cancelled_and_armed_again(app: TestApp) {
    let due = next_minute(Duration::from_secs(6));
    let ada = app.token("ada");
    let since = feed_cursor(&app.address, &ada).await;
    let mut stream = Stream::open(&app.address, &ada, Some(&since)).await;
    let kept = id_of(&app.create_task("ada", due_at("kept", due, &[0])).await);
    let completed = id_of(&app.create_task("ada", due_at("completed", due, &[0])).await);
    app.completed("ada", completed, None).await;
    let deleted = id_of(&app.create_task("ada", due_at("deleted", due, &[0])).await);
    assert_eq!(app.delete_task("ada", deleted).await.status(), 204);
    let moved = id_of(&app.create_task("ada", due_at("moved", due, &[0])).await);
    let tomorrow = due + chrono::TimeDelta::days(1);
    app.updated(
        "ada",
        moved,
        json!({"due_date": tomorrow.format("%Y-%m-%d").to_string()}),
    )
    .await;
    let cleared = id_of(&app.create_task("ada", due_at("cleared", due, &[0])).await);
    app.updated("ada", cleared, json!({"reminders": []})).await;
    let mut daily = due_at("daily", due, &[0]);
    daily["recurrence"] = json!("FREQ=DAILY");
    let recurring = id_of(&app.create_task("ada", daily).await);
    let advanced = app.completed("ada", recurring, None).await;
    assert_eq!(
        advanced["due_date"],
        tomorrow.format("%Y-%m-%d").to_string()
    );
    // Reopened, a completed task's future reminders are scheduled again.
    let reopened = id_of(&app.create_task("ada", due_at("reopened", due, &[0])).await);
    app.completed("ada", reopened, None).await;
    app.completed("ada", reopened, None).await;

    let within = (due - Utc::now()).to_std().unwrap() + Duration::from_secs(4);
    let seen = reminders_on(&mut stream, within, 3).await;
    let reminded: BTreeSet<i64> = seen
        .iter()
        .map(|(data, _)| data["task_id"].as_i64().unwrap())
        .collect();
    assert_eq!(reminded, BTreeSet::from([kept, reopened]), "{seen:?}");
    stream.assert_quiet(Duration::from_millis(500)).await;

    // Tomorrow's occurrences are armed, and nothing else is pending.
    let rows = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT task_id, remind_at FROM reminders WHERE change_seq IS NULL ORDER BY task_id",
        ))
        .await
        .unwrap();
    let pending: Vec<(i64, DateTime<Utc>)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get("", "task_id").unwrap(),
                row.try_get("", "remind_at").unwrap(),
            )
        })
        .collect();
    assert_eq!(pending, [(moved, tomorrow), (recurring, tomorrow)]);
}

const SECRET: &str = "reminders-test-secret-0123456789abcdef";

async fn create_batch(address: &str, token: &str, tasks: Vec<Value>) -> Vec<i64> {
    let operations: Vec<Value> = tasks
        .into_iter()
        .map(|task| json!({"op": "create", "task": task}))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{address}/api/batch"))
        .bearer_auth(token)
        .json(&json!({"operations": operations}))
        .send()
        .await
        .unwrap();
    let answer = json_with_status(response, 200, "the batch").await;
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| id_of(&result["task"]))
        .collect()
}

async fn a_restart_after_downtime_records_the_missed_reminders_late(database: TestDatabase) {
    let token = mint_hs256(SECRET, &TokenRequest::for_user("ada"));
    let service = Service::start_with_secret(&database.url, SECRET);
    let tomorrow = next_minute(Duration::from_secs(0)) + chrono::TimeDelta::days(1);
    let since = feed_cursor(&service.address, &token).await;
    let ids = create_batch(
        &service.address,
        &token,
        vec![
            due_at("long missed", tomorrow, &[0]),
            due_at("just missed", tomorrow, &[0]),
        ],
    )
    .await;
    service.kill();
    // While no instance ran, their times passed: one ten minutes ago, one
    // twenty seconds ago. (Moving the stored times stands for the wait.)
    let db = Database::connect(&database.url).await.unwrap();
    let backend_kind = db.get_database_backend();
    for (id, ago) in [(ids[0], 600), (ids[1], 20)] {
        let at = Utc::now() - chrono::TimeDelta::seconds(ago);
        let sql = match backend_kind {
            sea_orm::DbBackend::Postgres => {
                "UPDATE reminders SET remind_at = $1 WHERE task_id = $2"
            }
            _ => "UPDATE reminders SET remind_at = ? WHERE task_id = ?",
        };
        db.execute_raw(Statement::from_sql_and_values(
            backend_kind,
            sql,
            [at.into(), id.into()],
        ))
        .await
        .unwrap();
    }
    let restarted = Service::start_with_secret(&database.url, SECRET);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let listed = loop {
        let listed = feed_reminders(&restarted.address, &token, &since).await;
        if listed.len() == 2 || tokio::time::Instant::now() > deadline {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let late: BTreeMap<i64, bool> = listed
        .iter()
        .map(|r| (r["task_id"].as_i64().unwrap(), r["late"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        late,
        BTreeMap::from([(ids[0], true), (ids[1], false)]),
        "{listed:?}"
    );
    assert_eq!(listed[0]["due_at"], written(tomorrow));
    drop(restarted);
    db.close().await.ok();
}

/// `users` users with `per_user` tasks each, all with a reminder at `due`:
/// their tokens and task ids.
async fn many_reminders(
    address: &str,
    secret: &str,
    users: usize,
    per_user: usize,
    due: DateTime<Utc>,
) -> Vec<(String, Vec<i64>)> {
    let creates = (0..users).map(|user| async move {
        let token = mint_hs256(secret, &TokenRequest::for_user(format!("user-{user}")));
        let tasks = (0..per_user)
            .map(|n| due_at(&format!("task {n}"), due, &[0]))
            .collect();
        let ids = create_batch(address, &token, tasks).await;
        (token, ids)
    });
    // A few at a time: a test instance's pool is small.
    futures_util::stream::iter(creates)
        .buffered(4)
        .collect()
        .await
}

/// Each user's reminders, as their feed lists them after `since`, recorded
/// exactly once each: nothing lost, nothing repeated.
async fn assert_each_recorded_once(address: &str, users: &[(String, Vec<i64>)], since: &[String]) {
    for ((token, ids), since) in users.iter().zip(since) {
        let listed = feed_reminders(address, token, since).await;
        let mut reminded: Vec<i64> = listed
            .iter()
            .map(|r| r["task_id"].as_i64().unwrap())
            .collect();
        reminded.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(reminded, expected, "each of the user's reminders once");
    }
}

/// Waits until no reminder is pending (within `within`).
async fn until_none_pending(db: &DatabaseConnection, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let rows = reminder_rows(db).await;
        if rows.iter().all(|(_, recorded)| *recorded) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "reminders still pending"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_killed_instance_loses_and_repeats_no_reminder(database: TestDatabase) {
    let on_postgres = database.url.starts_with("postgres");
    let first = Service::start_with_secret(&database.url, SECRET);
    let due = next_minute(Duration::from_secs(8));
    let users = many_reminders(&first.address, SECRET, 25, 40, due).await;
    let mut since = Vec::new();
    for (token, _) in &users {
        since.push(feed_cursor(&first.address, token).await);
    }
    // On PostgreSQL a second instance runs throughout; SQLite serves one
    // instance per file, so it is restarted instead.
    let second = on_postgres.then(|| Service::start_with_secret(&database.url, SECRET));
    // Killed as the reminders come due, while it records them.
    sleep_until(due + chrono::TimeDelta::milliseconds(5)).await;
    first.kill();
    let survivor = match second {
        Some(second) => second,
        None => Service::start_with_secret(&database.url, SECRET),
    };
    let db = Database::connect(&database.url).await.unwrap();
    until_none_pending(&db, Duration::from_secs(15)).await;
    let rows = reminder_rows(&db).await;
    assert_eq!(rows.len(), 1000, "one reminder row per task");
    assert_each_recorded_once(&survivor.address, &users, &since).await;
    db.close().await.ok();
}

async fn two_instances_record_a_thousand_reminders_due_at_once_exactly_once(app: TestApp) {
    let other = app.start_another_instance().await;
    let due = next_minute(Duration::from_secs(8));
    let users = many_reminders(&app.address, &app.secret, 50, 20, due).await;
    let mut since = Vec::new();
    let mut streams = Vec::new();
    for (token, _) in &users {
        let cursor = feed_cursor(&app.address, token).await;
        streams.push(Stream::open(&app.address, token, Some(&cursor)).await);
        streams.push(Stream::open(&other, token, Some(&cursor)).await);
        since.push(cursor);
    }
    let within = (due - Utc::now()).to_std().unwrap() + Duration::from_secs(6);
    let seen = futures_util::future::join_all(
        streams
            .iter_mut()
            .map(|stream| reminders_on(stream, within, 20)),
    )
    .await;
    for (n, seen) in seen.iter().enumerate() {
        let (_, ids) = &users[n / 2];
        let mut reminded: Vec<i64> = seen
            .iter()
            .map(|(data, _)| data["task_id"].as_i64().unwrap())
            .collect();
        reminded.sort_unstable();
        let mut expected = ids.clone();
        expected.sort_unstable();
        assert_eq!(
            reminded, expected,
            "stream {n} got each of its owner's reminders once"
        );
    }
    assert_each_recorded_once(&app.address, &users, &since).await;
    // Each recorded within 2 s of its time.
    let late = app
        .db
        .query_all_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM reminders WHERE fired_at > remind_at + INTERVAL '2 seconds' OR change_seq IS NULL",
        ))
        .await
        .unwrap();
    assert_eq!(late[0].try_get::<i64>("", "n").unwrap(), 0);
}
