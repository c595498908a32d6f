//! No user can take the database from the others: statements stop at
//! their request's deadline, one user's requests hold a bounded share of the
//! pool, and a write waiting for SQLite's lock gives up within a second.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use libtest_mimic::Trial;
use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
use serde_json::json;

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, assert_problem, id_of, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![a_statement_stops_at_its_requests_deadline],
        crate::standalone![one_users_worst_case_searches_leave_others_served_on_sqlite],
        crate::postgres_only![one_users_worst_case_searches_leave_others_served_on_postgres],
        crate::sqlite_only![a_write_waiting_for_sqlites_lock_gives_up_within_a_second],
    ])
}

const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// Runs the test route's endless query and returns when its 503 arrives.
async fn endless_query(app: &TestApp) -> Instant {
    let started = Instant::now();
    let response = app
        .client
        .get(app.url("/test/endless-query"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 503).await;
    assert!(
        started.elapsed() < REQUEST_TIMEOUT + Duration::from_millis(500),
        "answered at the timeout"
    );
    Instant::now()
}

/// The service with a short request timeout, and on SQLite one pooled
/// connection, so that a busy connection shows.
struct ShortTimeout(TestApp, Backend);

impl Fixture for ShortTimeout {
    async fn start(backend: Backend) -> Self {
        let app = spawn_app_with(backend, |settings| {
            settings.limits.request_timeout = REQUEST_TIMEOUT;
            if let Backend::Sqlite = backend {
                settings.database_max_connections = Some(1);
            }
        })
        .await;
        Self(app, backend)
    }
}

/// The database is idle again within a second of the request's 503. On
/// SQLite the one connection is free: another request gets it at once
/// (without the interrupt it would stay busy counting, and the next request
/// get a 503). On PostgreSQL the server no longer runs the query.
async fn a_statement_stops_at_its_requests_deadline(ShortTimeout(app, backend): ShortTimeout) {
    let answered = endless_query(&app).await;
    if let Backend::Sqlite = backend {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let response = app.try_list("ada", "").await;
        assert_eq!(response.status(), 200, "the one connection is free");
        return;
    }
    let name = url::Url::parse(&app.database.url).unwrap().path()[1..].to_owned();
    let running = async || {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                DbBackend::Postgres,
                format!(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{name}' \
                     AND state = 'active' AND query LIKE 'WITH RECURSIVE n(x)%'"
                ),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    };
    while running().await > 0 {
        assert!(
            answered.elapsed() < Duration::from_secs(1),
            "the query still runs a second after its request timed out"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attacker's account: 10,000 tasks whose 1,000-character descriptions
/// contain every trigram of the search below, and long near-matches of it,
/// so neither an index nor an early mismatch saves any row.
async fn seed_worst_case(app: &TestApp) -> String {
    let seed = id_of(&app.create_task("mallory", json!({"title": "seed"})).await);
    let description: String = format!("{}b", "a".repeat(150)).repeat(7)[..1000].to_owned();
    let backend = app.db.get_database_backend();
    let placeholder = match backend {
        DbBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 10000) \
         INSERT INTO tasks (user_id, title, description, completed, created_at, updated_at, \
         version, title_key, description_key, change_seq) \
         SELECT t.user_id, t.title, {placeholder}, t.completed, t.created_at, t.updated_at, \
         t.version, t.title_key, {placeholder}, t.change_seq FROM tasks t, n WHERE t.id = {seed}"
    );
    let values = match backend {
        DbBackend::Postgres => vec![description.clone().into()],
        _ => vec![description.clone().into(), description.clone().into()],
    };
    app.db
        .execute_raw(Statement::from_sql_and_values(backend, sql, values))
        .await
        .unwrap();
    // Matches no task: no run of 199 `a`s is followed by a `b`.
    format!("{}b", "a".repeat(199))
}

/// While `attackers` requests at a time search the attacker's account for
/// the worst case, another user lists and creates: each answers within the
/// p99 bound, and none fails.
async fn others_stay_served(app: TestApp, attackers: usize) {
    let q = seed_worst_case(&app).await;
    let until = Instant::now() + Duration::from_secs(4);
    let attack = (0..attackers).map(|_| {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!("/api/tasks?q={q}")),
            app.token("mallory"),
        );
        async move {
            while Instant::now() < until {
                let send = client.get(&url).bearer_auth(&token).send();
                let _ = tokio::time::timeout(until - Instant::now(), send).await;
            }
        }
    });
    let victim = async {
        let mut latencies = Vec::new();
        let mut n = 0;
        // Let the attack fill its share first.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while Instant::now() < until {
            let started = Instant::now();
            let listed = app.try_list("victim", "limit=20").await;
            assert_eq!(listed.status(), 200, "the other user's list");
            latencies.push(started.elapsed());
            let started = Instant::now();
            let body = json!({"title": format!("task {n}")});
            let created = app
                .send(Method::POST, "/api/tasks", "victim", Some(&body))
                .await;
            assert_eq!(created.status(), 201, "the other user's create");
            latencies.push(started.elapsed());
            n += 1;
        }
        latencies
    };
    let (_, mut latencies) = tokio::join!(join_all(attack), victim);
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    assert!(
        p99 < Duration::from_millis(250),
        "p99 {p99:?} over {} requests",
        latencies.len()
    );
}

async fn one_users_worst_case_searches_leave_others_served_on_sqlite() {
    others_stay_served(spawn_app_with(Backend::Sqlite, |_| {}).await, 4).await;
}

async fn one_users_worst_case_searches_leave_others_served_on_postgres(app: TestApp) {
    others_stay_served(app, 16).await;
}

/// Another connection holds SQLite's write lock: a create waits for it
/// under a second, then answers 503 with `Retry-After` (not after SQLite's
/// default five seconds), and readiness still answers 200.
async fn a_write_waiting_for_sqlites_lock_gives_up_within_a_second(app: TestApp) {
    app.create_task("ada", json!({"title": "first"})).await;
    let holder = app.db.begin().await.unwrap();
    holder
        .execute_unprepared("UPDATE users SET name = name")
        .await
        .unwrap();
    let started = Instant::now();
    let response = app.try_create("ada", json!({"title": "waits"})).await;
    let waited = started.elapsed();
    assert!(response.headers().contains_key("retry-after"));
    assert_problem(response, 503).await;
    assert!(waited < Duration::from_millis(1500), "waited {waited:?}");
    // A busy writer is no reason to take the instance out of service.
    assert_eq!(
        app.ready().await.status(),
        200,
        "ready while the lock is held"
    );
    holder.rollback().await.unwrap();
    app.create_task("ada", json!({"title": "after"})).await;
}
