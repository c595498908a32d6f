//! Starts the real service on a random port against a fresh database.

use api::auth::{Clock, TokenRequest, mint_hs256};
use api::configuration::{AuthSettings, Settings};
use api::startup::Application;
use std::fmt::Display;

use reqwest::{Method, RequestBuilder, Response};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tempfile::TempDir;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// As it appears in test names.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

pub struct TestApp {
    pub address: String,
    /// Where `GET /metrics` is served, when the settings turned it on.
    pub metrics_address: Option<String>,
    pub client: reqwest::Client,
    pub secret: String,
    /// A direct connection, for assertions about what is stored.
    pub db: DatabaseConnection,
    /// Declared last: dropped after the connection above.
    pub database: TestDatabase,
}

/// A database of one test's own, removed when the test ends.
pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
    postgres_name: Option<String>,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (Some(name), Ok(server)) = (
            self.postgres_name.take(),
            std::env::var("TEST_DATABASE_URL"),
        ) else {
            return;
        };
        // Drop may run while the test's runtime winds down, so the statement
        // runs on a runtime of its own. FORCE ends the service's connections.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&server).await {
                    let sql = format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#);
                    let _ = admin.execute_unprepared(&sql).await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A fresh, empty database: a temporary SQLite file, or a new PostgreSQL
/// database on the server `TEST_DATABASE_URL` points at.
pub async fn fresh_database(backend: Backend) -> TestDatabase {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("todo.db").display());
            TestDatabase {
                url,
                _dir: Some(dir),
                postgres_name: None,
            }
        }
        Backend::Postgres => {
            let server = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
            let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&server)
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_unprepared(&format!(r#"CREATE DATABASE "{name}""#))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let mut url = url::Url::parse(&server).expect("TEST_DATABASE_URL is a URL");
            url.set_path(&name);
            TestDatabase {
                url: url.to_string(),
                _dir: None,
                postgres_name: Some(name),
            }
        }
    }
}

pub fn test_settings(database_url: &str, secret: &str) -> Settings {
    Settings {
        database_url: database_url.into(),
        database_max_connections: None,
        host: [127, 0, 0, 1].into(),
        port: 0,
        auth: AuthSettings {
            secret: Some(secret.into()),
            ..AuthSettings::default()
        },
        cors_origins: vec!["http://localhost:3000".to_owned()],
        auto_migrate: true,
        production: false,
        limits: Default::default(),
        metrics_addr: None,
        rate_limit: None,
        events: Default::default(),
        quotas: Default::default(),
        sweeper: Default::default(),
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like [`spawn_app`], after `configure` adjusts the settings.
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_on_clock(backend, Clock::default(), configure).await
}

/// Like [`spawn_app_with`], with the key-set cache going by `clock`.
pub async fn spawn_app_on_clock(
    backend: Backend,
    clock: Clock,
    configure: impl FnOnce(&mut Settings),
) -> TestApp {
    let database = fresh_database(backend).await;
    let secret = format!("test-secret-{}", uuid::Uuid::new_v4());
    let mut settings = test_settings(&database.url, &secret);
    configure(&mut settings);
    let application = Application::build_with_clock(settings, clock)
        .await
        .expect("the service starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let metrics_address = application
        .metrics_port()
        .map(|port| format!("http://127.0.0.1:{port}"));
    tokio::spawn(application.run_until_stopped());
    let db = Database::connect(&database.url)
        .await
        .expect("direct database connection");
    TestApp {
        address,
        metrics_address,
        client: reqwest::Client::new(),
        secret,
        db,
        database,
    }
}

impl TestApp {
    /// Starts another instance of the service on this app's database, with
    /// the same settings, and returns its address (as in `self.address`).
    pub async fn start_another_instance(&self) -> String {
        self.start_another_instance_with(|_| {}).await
    }

    /// Like [`Self::start_another_instance`], after `configure` adjusts the
    /// settings.
    pub async fn start_another_instance_with(
        &self,
        configure: impl FnOnce(&mut Settings),
    ) -> String {
        let mut settings = test_settings(&self.database.url, &self.secret);
        configure(&mut settings);
        let application = Application::build(settings)
            .await
            .expect("the second instance starts");
        let address = format!("http://127.0.0.1:{}", application.port());
        tokio::spawn(application.run_until_stopped());
        address
    }

    /// A valid HS256 token for `sub`.
    pub fn token(&self, sub: &str) -> String {
        mint_hs256(&self.secret, &TokenRequest::for_user(sub))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request as `sub`, for what the helpers below do not cover.
    pub fn request(&self, method: Method, path: &str, sub: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(self.token(sub))
    }

    /// `method path` as `sub`, with `body` as JSON when there is one.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        sub: &str,
        body: Option<&Value>,
    ) -> Response {
        self.send_with_token(method, path, &self.token(sub), body)
            .await
    }

    /// Like [`Self::send`], with `token` as the bearer token.
    pub async fn send_with_token(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    /// `method path` as `sub`, with `body` sent as is, labelled `content_type`.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        sub: &str,
        content_type: &str,
        body: &str,
    ) -> Response {
        self.request(method, path, sub)
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
            .await
            .expect("request")
    }

    /// `GET path` with no `Authorization` header.
    pub async fn get_anonymously(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// `GET path` with `token` as the bearer token.
    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.send_with_token(Method::GET, path, token, None).await
    }

    /// `GET /health/live`.
    pub async fn live(&self) -> Response {
        self.get_anonymously("/health/live").await
    }

    /// `GET /health/ready`.
    pub async fn ready(&self) -> Response {
        self.get_anonymously("/health/ready").await
    }

    /// `POST /api/tasks`, whatever it answers.
    pub async fn try_create(&self, sub: &str, body: Value) -> Response {
        self.send(Method::POST, "/api/tasks", sub, Some(&body))
            .await
    }

    /// `POST /api/tasks`, asserting 201: the task.
    pub async fn create_task(&self, sub: &str, body: Value) -> Value {
        let response = self.try_create(sub, body.clone()).await;
        json_with_status(response, 201, &format!("creating {body}")).await
    }

    /// `GET /api/tasks/{id}`, whatever it answers.
    pub async fn get_task(&self, sub: &str, id: impl Display) -> Response {
        self.send(Method::GET, &format!("/api/tasks/{id}"), sub, None)
            .await
    }

    /// `GET /api/tasks/{id}`, asserting 200: the task as stored.
    pub async fn task(&self, sub: &str, id: impl Display) -> Value {
        let response = self.get_task(sub, &id).await;
        json_with_status(response, 200, &format!("reading task {id}")).await
    }

    /// `PUT /api/tasks/{id}`, whatever it answers.
    pub async fn update_task(&self, sub: &str, id: impl Display, body: Value) -> Response {
        self.send(Method::PUT, &format!("/api/tasks/{id}"), sub, Some(&body))
            .await
    }

    /// `PUT /api/tasks/{id}`, asserting 200: the updated task.
    pub async fn updated(&self, sub: &str, id: impl Display, body: Value) -> Value {
        let response = self.update_task(sub, &id, body.clone()).await;
        json_with_status(response, 200, &format!("updating task {id} with {body}")).await
    }

    /// `PATCH /api/tasks/{id}/complete` with `body`, or with no body at all.
    pub async fn complete_task(
        &self,
        sub: &str,
        id: impl Display,
        body: Option<Value>,
    ) -> Response {
        let path = format!("/api/tasks/{id}/complete");
        self.send(Method::PATCH, &path, sub, body.as_ref()).await
    }

    /// `PATCH /api/tasks/{id}/complete`, asserting 200: the task.
    pub async fn completed(&self, sub: &str, id: impl Display, body: Option<Value>) -> Value {
        let what = format!("completing task {id} with {body:?}");
        let response = self.complete_task(sub, id, body).await;
        json_with_status(response, 200, &what).await
    }

    /// `DELETE /api/tasks/{id}`, whatever it answers.
    pub async fn delete_task(&self, sub: &str, id: impl Display) -> Response {
        self.send(Method::DELETE, &format!("/api/tasks/{id}"), sub, None)
            .await
    }

    /// Every route that takes a task id, each with a valid body that would
    /// change the task: `(what, response)` in order.
    pub async fn on_every_task_route(
        &self,
        sub: &str,
        id: impl Display,
    ) -> Vec<(&'static str, Response)> {
        let change = json!({"title": "changed", "completed": true});
        vec![
            ("GET", self.get_task(sub, &id).await),
            ("PUT", self.update_task(sub, &id, change).await),
            ("PATCH, no body", self.complete_task(sub, &id, None).await),
            (
                "PATCH, with a body",
                self.complete_task(sub, &id, Some(json!({"completed": true})))
                    .await,
            ),
            ("DELETE", self.delete_task(sub, &id).await),
        ]
    }

    /// `GET /api/tasks?{query}`, whatever it answers.
    pub async fn try_list(&self, sub: &str, query: &str) -> Response {
        self.send(Method::GET, &format!("/api/tasks?{query}"), sub, None)
            .await
    }

    /// `GET /api/tasks?{query}`, asserting 200: the tasks and `X-Total-Count`.
    pub async fn list(&self, sub: &str, query: &str) -> (Vec<Value>, u64) {
        let response = self.try_list(sub, query).await;
        let total = response
            .headers()
            .get("x-total-count")
            .map(|total| total.to_str().unwrap().parse().unwrap());
        let tasks = json_with_status(response, 200, &format!("listing ?{query}")).await;
        let tasks = serde_json::from_value(tasks).expect("an array of tasks");
        (tasks, total.expect("X-Total-Count"))
    }

    /// `GET /api/me`, asserting 200: the caller.
    pub async fn me(&self, sub: &str) -> Value {
        self.me_with_token(&self.token(sub)).await
    }

    /// `GET /api/me` with `token`, asserting 200: the caller.
    pub async fn me_with_token(&self, token: &str) -> Value {
        let response = self.get_with_token("/api/me", token).await;
        json_with_status(response, 200, "GET /api/me").await
    }

    /// `DELETE /api/me` as `sub`, whatever it answers.
    pub async fn delete_me(&self, sub: &str) -> Response {
        self.send(Method::DELETE, "/api/me", sub, None).await
    }

    /// `sub`'s row in `users`, read directly: `(email, name)`, or `None`
    /// when there is no row.
    pub async fn user_row(&self, sub: &str) -> Option<(Option<String>, Option<String>)> {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                self.db.get_database_backend(),
                match self.db.get_database_backend() {
                    sea_orm::DbBackend::Postgres => "SELECT email, name FROM users WHERE id = $1",
                    _ => "SELECT email, name FROM users WHERE id = ?",
                },
                [sub.into()],
            ))
            .await
            .expect("reading the users row")?;
        Some((
            row.try_get("", "email").unwrap(),
            row.try_get("", "name").unwrap(),
        ))
    }

    /// `POST /api/tasks` as `sub` with `Idempotency-Key: key`, whatever it
    /// answers.
    pub async fn create_with_key(&self, sub: &str, key: &str, body: &Value) -> Response {
        self.request(Method::POST, "/api/tasks", sub)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// `GET /api/tasks/changes?query` as `sub`, whatever it answers.
    pub async fn feed(&self, sub: &str, query: &str) -> Response {
        self.send(
            Method::GET,
            &format!("/api/tasks/changes?{query}"),
            sub,
            None,
        )
        .await
    }

    /// `sub`'s latest change number, read from their `users` row; `None`
    /// without one.
    pub async fn change_seq(&self, sub: &str) -> Option<i64> {
        self.user_number(sub, "change_seq").await
    }

    /// How many tasks `sub`'s `users` row says they hold; `None` without
    /// a row.
    pub async fn task_count(&self, sub: &str) -> Option<i64> {
        self.user_number(sub, "task_count").await
    }

    async fn user_number(&self, sub: &str, column: &str) -> Option<i64> {
        let backend = self.db.get_database_backend();
        let placeholder = match backend {
            sea_orm::DbBackend::Postgres => "$1",
            _ => "?",
        };
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_sql_and_values(
                backend,
                format!("SELECT {column} FROM users WHERE id = {placeholder}"),
                [sub.into()],
            ))
            .await
            .unwrap();
        row.map(|row| row.try_get("", column).unwrap())
    }

    pub async fn count_rows(&self, table: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(
                self.db.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

/// The task's id.
pub fn id_of(task: &Value) -> i64 {
    task["id"].as_i64().expect("a task id")
}

/// Asserts `status` (showing the body when it differs), and returns the
/// JSON body.
pub async fn json_with_status(response: Response, status: u16, what: &str) -> Value {
    let actual = response.status();
    let text = response.text().await.expect("a response body");
    assert_eq!(actual, status, "{what}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{what}: {err}: {text}"))
}

/// Asserts an RFC 9457 body with `status`, and returns it.
pub async fn assert_problem(response: Response, status: u16) -> Value {
    assert_eq!(response.status(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
    let body: Value = response.json().await.expect("JSON problem");
    assert_eq!(body["status"], status, "{body}");
    for key in ["type", "title", "detail"] {
        assert!(body[key].is_string(), "problem lacks `{key}`: {body}");
    }
    body
}

/// The field names a 422 problem reports.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .expect("422 has `errors`")
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}
