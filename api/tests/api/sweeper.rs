//! Keeping write transactions short: the background sweeper purges expired
//! tombstones and idempotency keys in small batches, and erasing a large
//! account goes in steps; `db_write_transaction_seconds` shows each.

use std::time::Duration;

use libtest_mimic::Trial;
use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value as SqlValue};
use serde_json::{Value, json};

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, assert_problem, json_with_status, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::both_backends![
        the_sweeper_purges_expired_tombstones_in_batches_and_keeps_the_feed_right,
        the_sweeper_purges_expired_idempotency_keys_in_batches,
        a_large_account_is_erased_in_steps,
        an_erasure_left_half_way_is_hidden_and_the_sweeper_finishes_it,
    ]
}

/// The most rows one sweeper transaction purges (`api::sweeper::BATCH`).
const BATCH: u64 = api::sweeper::BATCH;

/// An app that sweeps every 200 ms and serves its metrics.
struct Sweeping(TestApp);

impl Fixture for Sweeping {
    async fn start(backend: Backend) -> Self {
        Self(
            spawn_app_with(backend, |settings| {
                settings.sweeper.interval = Duration::from_millis(200);
                settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
            })
            .await,
        )
    }
}

/// Runs `sql` with `?` placeholders (numbered `$n` on PostgreSQL).
async fn execute(app: &TestApp, sql: &str, values: Vec<SqlValue>) {
    let backend = app.db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            let mut numbered = String::new();
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    numbered.push_str(&format!("${n}"));
                } else {
                    numbered.push(c);
                }
            }
            numbered
        }
        _ => sql.to_owned(),
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap_or_else(|err| panic!("{err}"));
}

/// `WITH RECURSIVE` numbers 1 to `count` as `n(i)`, for bulk inserts.
fn numbers(count: u64) -> String {
    format!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})")
}

fn days_ago(days: i64) -> SqlValue {
    (chrono::Utc::now() - chrono::TimeDelta::days(days)).into()
}

async fn scalar(app: &TestApp, sql: &str) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Waits (polling, at most two minutes) until `sql` answers `expected`.
async fn eventually(app: &TestApp, sql: &str, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let value = scalar(app, sql).await;
        if value == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "`{sql}` is still {value}, not {expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The write transactions of `kind` the app's metrics show: how many, how
/// many within 50 ms, and the smallest bucket bound holding them all.
async fn write_transactions(app: &TestApp, kind: &str) -> (u64, u64, String) {
    let address = app.metrics_address.as_ref().expect("metrics are on");
    let text = reqwest::get(format!("{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let kind_label = format!("kind=\"{kind}\"");
    let samples = |suffix: &str| {
        text.lines()
            .filter(|line| line.starts_with(&format!("db_write_transaction_seconds_{suffix}{{")))
            .filter(|line| line.contains(&kind_label))
            .map(|line| {
                let (labels, value) = line.rsplit_once(' ').unwrap();
                (labels.to_owned(), value.parse::<f64>().unwrap() as u64)
            })
            .collect::<Vec<_>>()
    };
    let count = samples("count").first().map_or(0, |(_, n)| *n);
    let buckets = samples("bucket");
    let within = buckets
        .iter()
        .find(|(labels, _)| labels.contains("le=\"0.05\""))
        .map_or(0, |(_, n)| *n);
    let all_within =
        buckets
            .iter()
            .find(|(_, n)| *n == count)
            .map_or(String::from("?"), |(labels, _)| {
                labels
                    .split("le=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .unwrap_or("?")
                    .to_owned()
            });
    (count, within, all_within)
}

async fn cursor(app: &TestApp, sub: &str, query: &str) -> String {
    let page: Value = json_with_status(app.feed(sub, query).await, 200, "the feed").await;
    page["cursor"].as_str().unwrap().to_owned()
}

async fn the_sweeper_purges_expired_tombstones_in_batches_and_keeps_the_feed_right(app: Sweeping) {
    let app = app.0;
    const ADA: u64 = 30_000;
    const OTHERS: u64 = 10_000;
    let first = crate::helpers::id_of(&app.create_task("ada", json!({"title": "one"})).await);
    app.create_task("ada", json!({"title": "two"})).await;
    let before = cursor(&app, "ada", "").await;
    // Ada deleted 30,000 tasks more than 30 days ago (changes 3 to 30,002),
    // and 100 other users 100 each.
    execute(
        &app,
        &format!(
            "{} INSERT INTO task_tombstones (id, user_id, change_seq, deleted_at) \
             SELECT 1000000 + i, 'ada', 2 + i, ? FROM n",
            numbers(ADA)
        ),
        vec![days_ago(31)],
    )
    .await;
    execute(
        &app,
        &format!("UPDATE users SET change_seq = change_seq + {ADA} WHERE id = 'ada'"),
        vec![],
    )
    .await;
    execute(
        &app,
        &format!(
            "{} INSERT INTO users (id, created_at, change_seq, sync_epoch, purged_seq) \
             SELECT 'u' || i, ?, 100, i, 0 FROM n",
            numbers(100)
        ),
        vec![days_ago(40)],
    )
    .await;
    execute(
        &app,
        &format!(
            "{} INSERT INTO task_tombstones (id, user_id, change_seq, deleted_at) \
             SELECT 2000000 + i, 'u' || (1 + i % 100), 1 + i / 100, ? FROM n",
            numbers(OTHERS - 1)
        ),
        vec![days_ago(32)],
    )
    .await;
    let between = cursor(&app, "ada", "").await;
    // A recent deletion stays.
    assert_eq!(app.delete_task("ada", first).await.status(), 204);

    eventually(&app, "SELECT COUNT(*) FROM task_tombstones", 1).await;

    let purged = scalar(&app, "SELECT purged_seq FROM users WHERE id = 'ada'").await;
    assert_eq!(purged, 2 + ADA as i64, "up to ada's newest purged deletion");
    assert_problem(app.feed("ada", &format!("since={before}")).await, 410).await;
    let recent: Value = json_with_status(
        app.feed("ada", &format!("since={between}")).await,
        200,
        "recent",
    )
    .await;
    assert_eq!(recent["deleted"][0]["id"], first);
    assert_eq!(recent["deleted"].as_array().unwrap().len(), 1);

    let (count, within, bound) = write_transactions(&app, "tombstone_purge").await;
    eprintln!("tombstone purge: {count} transactions, {within} within 50 ms, all within {bound} s");
    assert!(
        count >= (ADA + OTHERS).div_ceil(BATCH),
        "{count} transactions for {} tombstones: batches of at most {BATCH}",
        ADA + OTHERS
    );
}

async fn the_sweeper_purges_expired_idempotency_keys_in_batches(app: Sweeping) {
    let app = app.0;
    const EXPIRED: u64 = 20_000;
    let live = app
        .request(Method::POST, "/api/tasks", "ada")
        .header("idempotency-key", "live")
        .json(&json!({"title": "kept"}))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 201);
    execute(
        &app,
        &format!(
            "{} INSERT INTO idempotency_keys (user_id, key, request, response, created_at) \
             SELECT 'ada', 'old-' || i, '{{}}', '{{}}', ? FROM n",
            numbers(EXPIRED)
        ),
        vec![(chrono::Utc::now() - chrono::TimeDelta::hours(25)).into()],
    )
    .await;

    eventually(&app, "SELECT COUNT(*) FROM idempotency_keys", 1).await;
    assert_eq!(
        scalar(
            &app,
            "SELECT COUNT(*) FROM idempotency_keys WHERE key = 'live'"
        )
        .await,
        1
    );

    let (count, within, bound) = write_transactions(&app, "key_purge").await;
    eprintln!("key purge: {count} transactions, {within} within 50 ms, all within {bound} s");
    assert!(
        count >= EXPIRED.div_ceil(BATCH),
        "{count} transactions for {EXPIRED} keys: batches of at most {BATCH}"
    );
}

async fn a_large_account_is_erased_in_steps(app: Sweeping) {
    let app = app.0;
    const TASKS: u64 = 20_000;
    app.create_task("big", json!({"title": "first"})).await;
    let kept = app
        .create_task("other", json!({"title": "not erased"}))
        .await;
    let now: SqlValue = chrono::Utc::now().into();
    execute(
        &app,
        &format!(
            "{} INSERT INTO tasks (user_id, title, title_key, completed, created_at, updated_at, version, change_seq) \
             SELECT 'big', 'task ' || i, 'task ' || i, FALSE, ?, ?, 1, 1 + i FROM n",
            numbers(TASKS)
        ),
        vec![now.clone(), now.clone()],
    )
    .await;
    execute(
        &app,
        &format!(
            "{} INSERT INTO task_tombstones (id, user_id, change_seq, deleted_at) \
             SELECT 5000000 + i, 'big', {} + i, ? FROM n",
            numbers(3000),
            TASKS + 1
        ),
        vec![now.clone()],
    )
    .await;
    execute(
        &app,
        &format!(
            "{} INSERT INTO idempotency_keys (user_id, key, request, response, created_at) \
             SELECT 'big', 'k' || i, '{{}}', '{{}}', ? FROM n",
            numbers(2000)
        ),
        vec![now],
    )
    .await;
    execute(
        &app,
        &format!(
            "UPDATE users SET change_seq = {} WHERE id = 'big'",
            TASKS + 3001
        ),
        vec![],
    )
    .await;
    let (_, total) = app.list("big", "limit=1").await;
    assert_eq!(total, TASKS + 1);
    let old = cursor(&app, "big", "").await;
    let (steps_before, _, _) = write_transactions(&app, "erase").await;

    assert_eq!(app.delete_me("big").await.status(), 204);

    let (tasks, total) = app.list("big", "").await;
    assert_eq!((tasks.len(), total), (0, 0));
    assert_problem(app.feed("big", &format!("since={old}")).await, 410).await;
    assert_eq!(app.user_row("big").await, None);
    for table in ["tasks", "task_tombstones", "idempotency_keys"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE user_id = 'big'");
        assert_eq!(scalar(&app, &sql).await, 0, "{table}");
    }
    assert_eq!(app.task("other", crate::helpers::id_of(&kept)).await, kept);
    // Idempotent.
    assert_eq!(app.delete_me("big").await.status(), 204);

    let (count, within, bound) = write_transactions(&app, "erase").await;
    eprintln!("erase: {count} transactions, {within} within 50 ms, all within {bound} s");
    let rows = TASKS + 1 + 3000 + 2000;
    assert!(
        count - steps_before > rows / 500,
        "{} steps for {rows} rows: at most 500 a step",
        count - steps_before
    );
}

/// An erasure whose instance stopped after its first step (simulated: the
/// row marked `erasing`, the tasks still there): the account is hidden from
/// every read at once, its feed holds nothing, and the sweeper finishes the
/// erasure; another user is untouched. Then the user starts afresh.
async fn an_erasure_left_half_way_is_hidden_and_the_sweeper_finishes_it(app: Sweeping) {
    let app = app.0;
    let kept = app.create_task("ada", json!({"title": "kept"})).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(
            app.create_task("bob", json!({"title": format!("t{n}")}))
                .await["id"]
                .clone(),
        );
    }
    execute(
        &app,
        "UPDATE users SET erasing = ? WHERE id = ?",
        vec![true.into(), "bob".into()],
    )
    .await;

    assert_eq!(
        app.list("bob", "").await,
        (vec![], 0),
        "hidden from the list"
    );
    let one = app.get_task("bob", &ids[0]).await;
    assert_problem(one, 404).await;
    let snapshot: Value = json_with_status(app.feed("bob", "").await, 200, "the feed").await;
    assert_eq!(
        snapshot["tasks"],
        json!([]),
        "hidden from the feed: {snapshot}"
    );

    eventually(&app, "SELECT COUNT(*) FROM users WHERE id = 'bob'", 0).await;
    eventually(&app, "SELECT COUNT(*) FROM tasks WHERE user_id = 'bob'", 0).await;
    assert_eq!(app.task("ada", &kept["id"]).await["title"], "kept");
    app.create_task("bob", json!({"title": "afresh"})).await;
    assert_eq!(app.list("bob", "").await.1, 1);
}
