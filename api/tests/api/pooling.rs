//! The service behind PgBouncer: refused in transaction mode when the
//! pooler loses prepared statements (at start, in one line, and in the log
//! when it starts losing them later); working, every route and under
//! concurrent traffic, where the pooler keeps them or pools per session.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use api::database::transaction_pooling::ADVICE;
use api::startup::Application;
use libtest_mimic::Trial;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::binary::{KillOnDrop, api_command, plain};
use crate::helpers::{
    TestApp, TestDatabase, assert_problem, id_of, json_with_status, test_settings,
};
use crate::pgbouncer::{PREPARED_STATEMENTS_SINCE, PgBouncer, PoolMode, installed, requiring};

pub fn tests() -> Vec<Trial> {
    let found = installed();
    let any = found.as_ref().map(|_| ()).map_err(Clone::clone);
    let keeping = match &found {
        Ok(pgbouncer) if pgbouncer.keeps_prepared_statements() => Ok(()),
        Ok(pgbouncer) => Err(format!(
            "PgBouncer {}.{} cannot keep prepared statements in transaction mode (since {}.{}): \
             set PGBOUNCER to a newer build to run this test",
            pgbouncer.version.0,
            pgbouncer.version.1,
            PREPARED_STATEMENTS_SINCE.0,
            PREPARED_STATEMENTS_SINCE.1,
        )),
        Err(missing) => Err(missing.clone()),
    };
    crate::harness::all([
        requiring(
            crate::postgres_only![
                in_transaction_mode_without_prepared_statements_it_refuses_to_start_in_one_line,
                a_pooler_that_starts_losing_prepared_statements_is_explained_in_the_log,
                in_session_mode_every_route_works_under_concurrent_traffic,
            ],
            any,
            true,
        ),
        // Debian 12's PgBouncer (1.18) has no `max_prepared_statements`,
        // so this one runs only where a newer one is found.
        requiring(
            crate::postgres_only![
                in_transaction_mode_with_prepared_statements_every_route_works_under_concurrent_traffic,
            ],
            keeping,
            false,
        ),
    ])
}

fn database_name(database: &TestDatabase) -> String {
    url::Url::parse(&database.url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_owned()
}

/// The binary, started behind `bouncer` on `database`: it either exits
/// (`Err` with its stderr) or logs where it listens (`Ok`, with the process
/// and its log lines as they come).
fn start_binary(
    bouncer: &PgBouncer,
    database: &TestDatabase,
) -> Result<(KillOnDrop, String, mpsc::Receiver<String>), String> {
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        api_command(dir.path())
            .env("DATABASE_URL", bouncer.url(&database_name(database)))
            .env("BETTER_AUTH_SECRET", "pooling-test-secret")
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines) = mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(plain(&line)).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(50))
            && let Some(rest) = line.split("listening on ").nth(1)
        {
            let address = rest.split_whitespace().next().unwrap().to_owned();
            return Ok((child, address, lines));
        }
        if let Some(status) = child.0.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(&mut child.0.stderr.take().unwrap(), &mut stderr)
                .unwrap();
            assert!(!status.success(), "the service exited successfully");
            return Err(stderr);
        }
        assert!(
            Instant::now() < deadline,
            "the service neither started nor exited"
        );
    }
}

async fn in_transaction_mode_without_prepared_statements_it_refuses_to_start_in_one_line(
    database: TestDatabase,
) {
    let bouncer = PgBouncer::start(PoolMode::Transaction, 0);
    let stderr = match start_binary(&bouncer, &database) {
        Ok(_) => panic!("the service started behind a pooler that loses prepared statements"),
        Err(stderr) => stderr,
    };
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    assert!(
        lines[0].starts_with(&format!("Error: {ADVICE}")),
        "{stderr}"
    );
    for what in [
        "transaction mode",
        "direct connection string",
        "max_prepared_statements",
    ] {
        assert!(lines[0].contains(what), "names {what}: {stderr}");
    }

    // It refused before migrating anything.
    let db = Database::connect(&database.url).await.unwrap();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.try_get::<i64>("", "n").unwrap(), 0, "no table created");
    db.close().await.unwrap();
}

async fn a_pooler_that_starts_losing_prepared_statements_is_explained_in_the_log(
    database: TestDatabase,
) {
    // Session mode at start: each client keeps its server connection, so the
    // check passes and the service serves.
    let bouncer = PgBouncer::start(PoolMode::Session, 0);
    let (_service, address, lines) = start_binary(&bouncer, &database).expect("the service starts");
    let client = reqwest::Client::new();
    let token = api::auth::mint_hs256(
        "pooling-test-secret",
        &api::auth::TokenRequest::for_user("u1"),
    );
    let create = |title: String| {
        client
            .post(format!("{address}/api/tasks"))
            .bearer_auth(&token)
            .json(&json!({"title": title}))
            .send()
    };
    assert_eq!(create("before".into()).await.unwrap().status(), 201);

    // Then the pooler moves to transaction mode under the running service.
    bouncer.switch_to(PoolMode::Transaction);
    let mut failed = None;
    for round in 0..50 {
        let mut requests = JoinSet::new();
        for n in 0..8 {
            requests.spawn(create(format!("round {round} request {n}")));
            requests.spawn(
                client
                    .get(format!("{address}/api/tasks?q=round"))
                    .bearer_auth(&token)
                    .send(),
            );
        }
        while let Some(response) = requests.join_next().await {
            let response = response.unwrap().unwrap();
            if response.status() == StatusCode::INTERNAL_SERVER_ERROR {
                failed = Some(response);
            }
        }
        if failed.is_some() {
            break;
        }
    }
    let failed = failed.unwrap_or_else(|| {
        panic!(
            "no request failed after the switch; pgbouncer said:\n{}",
            bouncer.log()
        )
    });
    let problem = assert_problem(failed, 500).await.to_string();
    assert!(
        !problem.contains("sqlx") && !problem.contains("prepared"),
        "{problem}"
    );

    let explained = (0..)
        .map_while(|_| lines.recv_timeout(Duration::from_secs(5)).ok())
        .find(|line| line.contains("ERROR") && line.contains(ADVICE));
    assert!(explained.is_some(), "no log line gives the advice");
}

/// The service on `database` behind `bouncer`, and a second instance
/// started at the same moment, so both migrate at once through the pooler.
async fn spawn_two_behind(bouncer: &PgBouncer, database: TestDatabase) -> (TestApp, String) {
    let secret = format!("test-secret-{}", uuid::Uuid::new_v4());
    let url = bouncer.url(&database_name(&database));
    let (first, second) = tokio::join!(
        Application::build(test_settings(&url, &secret)),
        Application::build(test_settings(&url, &secret)),
    );
    let [first, second] = [first, second].map(|built| {
        let application = built.expect("the service starts behind pgbouncer");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        address
    });
    let app = TestApp {
        address: first,
        client: reqwest::Client::new(),
        secret,
        db: Database::connect(&database.url).await.unwrap(),
        metrics_address: None,
        database,
    };
    (app, second)
}

async fn in_session_mode_every_route_works_under_concurrent_traffic(database: TestDatabase) {
    let bouncer = PgBouncer::start(PoolMode::Session, 0);
    let (app, second) = spawn_two_behind(&bouncer, database).await;
    every_route_works(&app).await;
    concurrent_traffic_stays_consistent(app, second).await;
}

async fn in_transaction_mode_with_prepared_statements_every_route_works_under_concurrent_traffic(
    database: TestDatabase,
) {
    let bouncer = PgBouncer::start(PoolMode::Transaction, 200);
    let (app, second) = spawn_two_behind(&bouncer, database).await;
    every_route_works(&app).await;
    concurrent_traffic_stays_consistent(app, second).await;
}

/// A round trip over every route, as one user with a changing profile.
async fn every_route_works(app: &TestApp) {
    assert_eq!(app.ready().await.status(), 200);
    assert_eq!(app.me("ada").await["id"], "ada");

    let created = app
        .create_task("ada", json!({"title": "Buy milk", "description": "oat"}))
        .await;
    let id = id_of(&created);
    let keyed = |title: &str| {
        app.request(Method::POST, "/api/tasks", "ada")
            .header("idempotency-key", "k-1")
            .json(&json!({"title": title}))
            .send()
    };
    let first = json_with_status(keyed("Keyed").await.unwrap(), 201, "keyed").await;
    let retried = json_with_status(keyed("Keyed").await.unwrap(), 201, "retry").await;
    assert_eq!(first, retried);

    let (tasks, total) = app
        .list("ada", "q=MILK&status=pending&sort=title&order=asc")
        .await;
    assert_eq!((tasks.len(), total), (1, 1));
    assert_eq!(tasks[0], created);

    let not_modified = app
        .request(Method::GET, &format!("/api/tasks/{id}"), "ada")
        .header("if-none-match", "\"1\"")
        .send()
        .await
        .unwrap();
    assert_eq!(not_modified.status(), 304);
    let updated = app
        .request(Method::PUT, &format!("/api/tasks/{id}"), "ada")
        .header("if-match", "\"1\"")
        .json(&json!({"title": "Buy oat milk"}))
        .send()
        .await
        .unwrap();
    let updated = json_with_status(updated, 200, "update").await;
    assert_eq!(
        (updated["title"].as_str(), updated["version"].as_i64()),
        (Some("Buy oat milk"), Some(2))
    );
    let completed = app.completed("ada", id, None).await;
    assert_eq!(completed["completed"], true);
    assert_eq!(app.task("ada", id).await, completed);
    assert_eq!(app.delete_task("ada", id).await.status(), 204);
    assert_problem(app.get_task("ada", id).await, 404).await;
    assert_eq!(app.list("ada", "").await.1, 1);

    assert!(app.user_row("ada").await.is_some());
    assert_eq!(app.delete_me("ada").await.status(), 204);
    assert_eq!(app.user_row("ada").await, None);
    assert_eq!(app.list("ada", "").await.1, 0);
}

/// Users writing and reading at once, over two instances: every request
/// answers as it should, and each user sees exactly their own tasks.
async fn concurrent_traffic_stays_consistent(app: TestApp, second: String) {
    const USERS: usize = 4;
    const TASKS: usize = 8;
    let app = Arc::new(app);
    let address = |n: usize| {
        if n.is_multiple_of(2) {
            app.address.clone()
        } else {
            second.clone()
        }
    };
    let send = |n: usize, method: Method, path: String, user: String, body: Option<Value>| {
        let app = Arc::clone(&app);
        let url = format!("{}{path}", address(n));
        async move {
            let mut request = app
                .client
                .request(method, url)
                .bearer_auth(app.token(&user));
            if let Some(body) = body {
                request = request.json(&body);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };

    let mut requests = JoinSet::new();
    for user in 0..USERS {
        for n in 0..TASKS {
            let body = json!({"title": format!("user {user} task {n}")});
            requests.spawn(send(
                n,
                Method::POST,
                "/api/tasks".into(),
                format!("user-{user}"),
                Some(body),
            ));
            requests.spawn(send(
                n + 1,
                Method::GET,
                "/api/tasks".into(),
                format!("user-{user}"),
                None,
            ));
        }
    }
    let mut created = Vec::new();
    while let Some(outcome) = requests.join_next().await {
        let (status, body) = outcome.unwrap();
        match status {
            201 => created.push(body),
            200 => assert!(body.is_array(), "{body}"),
            _ => panic!("{status}: {body}"),
        }
    }
    assert_eq!(created.len(), USERS * TASKS);

    for task in &created {
        let path = format!("/api/tasks/{}", id_of(task));
        let user = task["user_id"].as_str().unwrap().to_owned();
        let body = json!({"completed": true});
        requests.spawn(send(
            0,
            Method::PATCH,
            format!("{path}/complete"),
            user.clone(),
            Some(body),
        ));
        requests.spawn(send(1, Method::GET, path, user, None));
    }
    while let Some(outcome) = requests.join_next().await {
        let (status, body) = outcome.unwrap();
        assert_eq!(status, 200, "{body}");
    }

    for user in 0..USERS {
        let user = format!("user-{user}");
        let (tasks, total) = app.list(&user, "limit=500").await;
        assert_eq!(total as usize, TASKS, "{user}");
        for task in &tasks {
            assert_eq!(task["user_id"], user.as_str());
            assert!(
                task["title"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{} ", user.replace('-', " ")))
            );
            assert_eq!(
                (task["completed"].as_bool(), task["version"].as_i64()),
                (Some(true), Some(2))
            );
        }
    }
}
