//! A database that cannot store writes: a full disk (a small tmpfs under
//! the SQLite file, or under a PostgreSQL tablespace), a read-only file or
//! server. Writes are a 507 and store nothing, nothing acknowledged is ever
//! lost (across a SIGKILL too), readiness and `api check` say so, and writes
//! work again by themselves once space returns. Also: one instance per
//! SQLite file.
//!
//! The full-disk tests mount a tmpfs, so they need root: elsewhere they are
//! ignored, and in CI they fail instead.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use api::auth::{TokenRequest, mint_hs256};
use api::startup::Application;
use futures_util::future::join_all;
use libtest_mimic::Trial;
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

use crate::binary::{KillOnDrop, api_command, plain};
use crate::helpers::{
    Backend, TestApp, TestDatabase, assert_problem, fresh_database, id_of, json_with_status,
    test_settings,
};
use crate::pgbouncer::requiring;

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        requiring(
            crate::harness::all([
                crate::standalone![a_full_sqlite_disk_refuses_writes_and_loses_nothing],
                crate::postgres_only![a_full_postgres_tablespace_refuses_writes_and_loses_nothing],
            ]),
            can_mount_tmpfs(),
            true,
        ),
        crate::standalone![a_read_only_sqlite_file_refuses_writes_and_is_not_ready],
        crate::postgres_only![a_read_only_postgres_database_refuses_writes_until_it_is_writable],
        crate::sqlite_only![a_second_instance_on_one_sqlite_file_refuses_to_start],
        crate::both_backends![every_acknowledged_write_survives_a_sigkill_under_load],
    ])
}

/// Sixteen writers create tasks as fast as they are answered (on SQLite,
/// in groups sharing one commit), the process is killed with SIGKILL in
/// the middle of it, and after a restart every task answered with a 201 is
/// there, as it was answered.
async fn every_acknowledged_write_survives_a_sigkill_under_load(database: TestDatabase) {
    let service = Service::start(&database.url);
    let stop_at = Instant::now() + Duration::from_millis(1500);
    let address = service.address.clone();
    let writers = (0..16).map(|writer| {
        let caller = Caller::new(&address, &format!("writer-{}", writer % 4));
        async move {
            let mut acknowledged = Vec::new();
            for n in 0.. {
                let Ok(response) = caller
                    .client
                    .post(format!("{}/api/tasks", caller.address))
                    .bearer_auth(&caller.token)
                    .json(&json!({"title": format!("w{writer} n{n}")}))
                    .send()
                    .await
                else {
                    break;
                };
                if response.status() != StatusCode::CREATED {
                    break;
                }
                let Ok(task) = response.json::<Value>().await else {
                    break;
                };
                acknowledged.push((caller.token.clone(), task));
            }
            acknowledged
        }
    });
    let killer = async {
        tokio::time::sleep_until(stop_at.into()).await;
        service.kill();
    };
    let (acknowledged, ()) = tokio::join!(join_all(writers), killer);
    let acknowledged: Vec<(String, Value)> = acknowledged.into_iter().flatten().collect();
    assert!(
        acknowledged.len() > 50,
        "the load ran: {}",
        acknowledged.len()
    );

    let restarted = Service::start(&database.url);
    let client = reqwest::Client::new();
    for (token, task) in &acknowledged {
        let stored: Value = client
            .get(format!("{}/api/tasks/{}", restarted.address, id_of(task)))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(&stored, task, "an acknowledged task is there as answered");
    }
}

const SECRET: &str = "storage-test-secret";

/// Root, and a tmpfs mounts: what the full-disk tests need.
fn can_mount_tmpfs() -> Result<(), String> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0");
    if root {
        Ok(())
    } else {
        Err("mounting a small tmpfs to fill needs root".to_owned())
    }
}

/// A tmpfs of `size` mounted on a directory of its own; unmounted on drop.
struct SmallDisk {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0777"),
                "tmpfs",
            ])
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs on {}", path.display());
        Self { path, _dir: dir }
    }

    /// Fills what is left with a file, until the disk refuses another byte.
    fn fill(&self) -> PathBuf {
        let ballast = self.path.join("ballast");
        let mut file = std::fs::File::create(&ballast).unwrap();
        let chunk = vec![0xa5u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        // The last partial page too.
        while file.write_all(&[0xa5]).is_ok() {}
        let _ = file.sync_all();
        ballast
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// The `api` binary serving `database_url`, killed on drop.
pub(crate) struct Service {
    pub(crate) address: String,
    process: KillOnDrop,
}

impl Service {
    fn start(database_url: &str) -> Self {
        Self::start_with_secret(database_url, SECRET)
    }

    pub(crate) fn start_with_secret(database_url: &str, secret: &str) -> Self {
        let dir = std::env::temp_dir();
        let mut child = api_command(&dir)
            .env("DATABASE_URL", database_url)
            .env("BETTER_AUTH_SECRET", secret)
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = lines_tx.send(plain(&line));
            }
        });
        let address = loop {
            let line = lines_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the service logs its address");
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        Self {
            address,
            process: KillOnDrop(child),
        }
    }

    /// SIGKILL: no shutdown, no rollback but the database's own.
    pub(crate) fn kill(mut self) {
        self.process.0.kill().unwrap();
        self.process.0.wait().unwrap();
    }
}

/// A client of one service as one user.
struct Caller {
    client: reqwest::Client,
    address: String,
    token: String,
}

impl Caller {
    fn new(address: &str, sub: &str) -> Self {
        Self {
            client: reqwest::Client::new(),
            address: address.to_owned(),
            token: mint_hs256(SECRET, &TokenRequest::for_user(sub)),
        }
    }

    async fn create(&self, title: &str, description: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/api/tasks", self.address))
            .bearer_auth(&self.token)
            .json(&json!({"title": title, "description": description}))
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
    }

    async fn ready(&self) -> StatusCode {
        let url = format!("{}/health/ready", self.address);
        self.client.get(url).send().await.unwrap().status()
    }
}

/// Fills the disk under `service` while eight writers create tasks, then
/// frees it: returns the ids the service acknowledged with a 201, after
/// checking each is readable, that some writes were refused with a 507 and
/// none failed otherwise, that readiness said so, and that writes and
/// readiness came back by themselves.
async fn fill_and_free(service: &Service, disk: &SmallDisk) -> Vec<i64> {
    let caller = Caller::new(&service.address, "ada");
    let mut acknowledged = Vec::new();
    for n in 0..3 {
        let created = caller.create(&format!("before {n}"), "").await;
        acknowledged.push(id_of(
            &json_with_status(created, 201, "before the disk fills").await,
        ));
    }

    let ballast = disk.fill();
    let description = "d".repeat(1000);
    let writers = (0..8).map(|writer| {
        let caller = Caller::new(&service.address, "ada");
        let description = description.clone();
        async move {
            let mut outcomes = Vec::new();
            for n in 0..40 {
                let response = caller
                    .create(&format!("w{writer} n{n}"), &description)
                    .await;
                let status = response.status();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                outcomes.push((status, body));
            }
            outcomes
        }
    });
    let outcomes: Vec<_> = join_all(writers).await.into_iter().flatten().collect();
    let mut refused = 0;
    for (status, body) in &outcomes {
        match status.as_u16() {
            201 => acknowledged.push(id_of(body)),
            507 => {
                refused += 1;
                assert_eq!(body["status"], 507, "{body}");
            }
            // Waiting for the write lock, or for the user's share.
            503 => {}
            other => panic!("a write on a full disk got {other}: {body}"),
        }
    }
    assert!(refused > 0, "the full disk refused no write: {outcomes:?}");
    assert_eq!(
        caller.ready().await,
        503,
        "not ready while writes are refused"
    );
    // Every acknowledged task is there for every connection of the pool.
    for id in &acknowledged {
        for _ in 0..4 {
            let response = caller.get(&format!("/api/tasks/{id}")).await;
            assert_eq!(response.status(), 200, "acknowledged task {id}");
        }
    }

    std::fs::remove_file(ballast).unwrap();
    let recovered = Instant::now();
    let id = loop {
        let response = caller.create("after", "").await;
        if response.status() == 201 {
            break id_of(&response.json().await.unwrap());
        }
        assert!(
            recovered.elapsed() < Duration::from_secs(15),
            "writes did not come back once space returned: {}",
            response.status()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    acknowledged.push(id);
    while caller.ready().await != 200 {
        assert!(
            recovered.elapsed() < Duration::from_secs(15),
            "readiness did not come back once space returned"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    acknowledged
}

/// After a restart, exactly the acknowledged tasks are there.
async fn all_there(address: &str, acknowledged: &[i64]) {
    let caller = Caller::new(address, "ada");
    for id in acknowledged {
        let response = caller.get(&format!("/api/tasks/{id}")).await;
        assert_eq!(response.status(), 200, "task {id} lost by the restart");
    }
    let listed = caller.get("/api/tasks?limit=1").await;
    let total: usize = listed.headers()["x-total-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        total,
        acknowledged.len(),
        "only acknowledged tasks are stored"
    );
}

async fn a_full_sqlite_disk_refuses_writes_and_loses_nothing() {
    let disk = SmallDisk::mount("3m");
    let url = format!("sqlite://{}?mode=rwc", disk.path.join("todo.db").display());
    let service = Service::start(&url);
    let acknowledged = fill_and_free(&service, &disk).await;
    service.kill();
    let restarted = Service::start(&url);
    all_there(&restarted.address, &acknowledged).await;
}

/// The same on PostgreSQL, with the test database in a tablespace on a
/// small tmpfs (its write-ahead log stays where the server keeps it).
async fn a_full_postgres_tablespace_refuses_writes_and_loses_nothing(app: TestApp) {
    let disk = SmallDisk::mount("40m");
    let tablespace = format!("todo_small_{}", uuid::Uuid::new_v4().simple());
    let server = std::env::var("TEST_DATABASE_URL").unwrap();
    let psql = |sql: &str| {
        let status = Command::new("psql")
            .args([server.as_str(), "-qc", sql])
            .status()
            .unwrap();
        assert!(status.success(), "{sql}");
    };
    Command::new("chown")
        .args(["postgres:postgres"])
        .arg(&disk.path)
        .status()
        .unwrap();
    let name = format!("todo_full_{}", uuid::Uuid::new_v4().simple());
    psql(&format!(
        "CREATE TABLESPACE {tablespace} LOCATION '{}'",
        disk.path.display()
    ));
    psql(&format!(
        r#"CREATE DATABASE "{name}" TABLESPACE {tablespace}"#
    ));
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&name);
    let outcome = async {
        let service = Service::start(url.as_str());
        let acknowledged = fill_and_free(&service, &disk).await;
        service.kill();
        let restarted = Service::start(url.as_str());
        all_there(&restarted.address, &acknowledged).await;
    };
    let outcome =
        futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(outcome)).await;
    psql(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#));
    psql(&format!("DROP TABLESPACE IF EXISTS {tablespace}"));
    drop(app);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A SQLite file opened read-only: the service starts and serves reads,
/// every write is a 507 that stores nothing, readiness is 503 and
/// `api check` fails naming it.
async fn a_read_only_sqlite_file_refuses_writes_and_is_not_ready() {
    let database = fresh_database(Backend::Sqlite).await;
    let writable = Database::connect(&database.url).await.unwrap();
    api::database::migrate(&writable).await.unwrap();
    writable.close().await.unwrap();
    let read_only = database.url.replace("mode=rwc", "mode=ro");

    let mut settings = test_settings(&read_only, SECRET);
    settings.auto_migrate = false;
    let application = Application::build(settings)
        .await
        .map_err(|e| format!("{e:?}"))
        .expect("starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let caller = Caller::new(&address, "ada");

    assert_eq!(caller.get("/api/tasks").await.status(), 200, "reads work");
    let refused = caller.create("never stored", "").await;
    let problem = assert_problem(refused, 507).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("read-only"),
        "{problem}"
    );
    assert_eq!(caller.ready().await, 503);
    assert_eq!(
        caller.get("/api/tasks?limit=1").await.headers()["x-total-count"],
        "0"
    );

    let checked = check_with(&read_only).await;
    assert!(!checked.0, "api check fails:\n{}", checked.1);
    assert!(
        checked
            .1
            .lines()
            .any(|line| line.starts_with("FAIL storage") && line.contains("readonly")),
        "{}",
        checked.1
    );
}

/// `api check` against `database_url`: whether it passed, and its output.
async fn check_with(database_url: &str) -> (bool, String) {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = api_command(Path::new("/"))
            .arg("check")
            .env("DATABASE_URL", url)
            .env("BETTER_AUTH_SECRET", SECRET)
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    })
    .await
    .unwrap()
}

/// A PostgreSQL database that turns read-only (a standby, or
/// `default_transaction_read_only`) under a running service: writes are
/// 507 and readiness 503, until it is writable again.
async fn a_read_only_postgres_database_refuses_writes_until_it_is_writable(app: TestApp) {
    let name = url::Url::parse(&app.database.url).unwrap().path()[1..].to_owned();
    let server = std::env::var("TEST_DATABASE_URL").unwrap();
    let admin = Database::connect(&server).await.unwrap();
    let reconnect_all = async |setting: &str| {
        admin
            .execute_unprepared(&format!(r#"ALTER DATABASE "{name}" {setting}"#))
            .await
            .unwrap();
        admin
            .execute_unprepared(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
            ))
            .await
            .unwrap();
    };
    app.create_task("ada", json!({"title": "kept"})).await;

    reconnect_all("SET default_transaction_read_only = on").await;
    let refused = eventually_not_503(|| app.try_create("ada", json!({"title": "refused"}))).await;
    assert_problem(refused, 507).await;
    assert_eq!(app.ready().await.status(), 503);
    let (tasks, total) = app.list("ada", "").await;
    assert_eq!((tasks[0]["title"].as_str(), total), (Some("kept"), 1));

    reconnect_all("RESET default_transaction_read_only").await;
    let stored = eventually_not_503(|| app.try_create("ada", json!({"title": "stored"}))).await;
    json_with_status(stored, 201, "writable again").await;
    assert_eq!(app.ready().await.status(), 200);
    admin.close().await.unwrap();
}

/// `request`'s first answer that is not a 503 (the pool reconnecting).
async fn eventually_not_503<F, Fut>(request: F) -> reqwest::Response
where
    F: Fn() -> Fut,
    Fut: Future<Output = reqwest::Response>,
{
    for _ in 0..50 {
        let response = request().await;
        if response.status() != 503 {
            return response;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("still 503 after 5 s");
}

async fn a_second_instance_on_one_sqlite_file_refuses_to_start(app: TestApp) {
    let second = Application::build(test_settings(&app.database.url, &app.secret)).await;
    let refusal = second.err().expect("the second instance refuses to start");
    let message = format!("{refusal:#}");
    assert!(
        message.contains("another instance is already serving") && !message.contains('\n'),
        "{message}"
    );
    // The first still serves.
    app.create_task("ada", json!({"title": "still served"}))
        .await;
}
