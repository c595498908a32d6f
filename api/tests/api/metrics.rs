//! `GET /metrics` on its own address: each application's counters move by
//! exactly the traffic it was sent, labelled by route template.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use libtest_mimic::Trial;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::harness::Fixture;
use crate::helpers::{Backend, TestApp, assert_problem, id_of, spawn_app_with};
use crate::static_key_set::{ed25519_token, serve_key_set};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            requests_are_counted_by_method_route_template_and_status,
            database_errors_are_counted_by_kind,
        ],
        crate::standalone![
            metrics_are_served_apart_from_the_api,
            each_application_counts_only_its_own_traffic,
            token_rejections_are_counted_by_reason_never_by_token,
            key_set_fetches_are_counted_by_outcome,
        ],
    ])
}

/// An app on `backend` serving its metrics on a port of its own.
async fn app_with_metrics(backend: Backend) -> TestApp {
    spawn_app_with(backend, |settings| {
        settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await
}

/// The fixture of the tests on both backends: an app with metrics on.
struct Metered(TestApp);

impl Fixture for Metered {
    async fn start(backend: Backend) -> Self {
        Self(app_with_metrics(backend).await)
    }
}

/// One scrape of `app`'s metrics.
struct Scrape(String);

impl Scrape {
    async fn of(app: &TestApp) -> Self {
        let address = app.metrics_address.as_ref().expect("metrics are on");
        let response = reqwest::get(format!("{address}/metrics")).await.unwrap();
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        let text = response.text().await.unwrap();
        assert!(text.ends_with("# EOF\n"), "a complete exposition");
        Self(text)
    }

    /// The sample `name` with exactly `labels`, or 0 when there is none
    /// (a counter that has not moved yet is not shown).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        let mut wanted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        wanted.sort();
        let mut found = None;
        for line in self.0.lines().filter(|line| !line.starts_with('#')) {
            let (series, value) = line.rsplit_once(' ').expect("`series value`");
            let (sample, mut labels) = parse_series(series);
            labels.sort();
            if sample == name && labels == wanted {
                assert!(found.is_none(), "{name} {labels:?} appears twice");
                found = Some(value.parse::<f64>().unwrap());
            }
        }
        found.unwrap_or(0.0)
    }

    fn requests(&self, method: &str, route: &str, status: &str) -> f64 {
        self.value(
            "http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    }
}

/// `name{k="v",…}` into the name and its labels. Values may hold braces
/// (`/api/tasks/{id}`), so this reads quoted strings rather than splitting.
fn parse_series(series: &str) -> (String, Vec<(String, String)>) {
    let Some((name, rest)) = series.split_once('{') else {
        return (series.to_owned(), Vec::new());
    };
    let mut labels = Vec::new();
    let mut rest = rest;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("a closed label value") {
                (_, '\\') => value.push(chars.next().unwrap().1),
                (at, '"') => break at,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.trim_start_matches(',').to_owned(), value));
        rest = &after[end + 1..];
    }
    (name.to_owned(), labels)
}

async fn requests_are_counted_by_method_route_template_and_status(Metered(app): Metered) {
    let mut ids = Vec::new();
    for title in ["one", "two", "three"] {
        ids.push(id_of(
            &app.create_task("alice", json!({"title": title})).await,
        ));
    }
    app.task("alice", ids[0]).await;
    app.task("alice", ids[1]).await;
    assert_problem(app.get_task("bob", ids[0]).await, 404).await;
    assert_problem(app.get_task("alice", "not-a-number").await, 422).await;
    app.completed("alice", ids[2], None).await;
    assert_eq!(app.delete_task("alice", ids[2]).await.status(), 204);
    assert_problem(app.send(Method::POST, "/api/me", "alice", None).await, 405).await;
    assert_problem(app.get_anonymously("/no/such/route").await, 404).await;
    assert_eq!(app.live().await.status(), 200);

    let scrape = Scrape::of(&app).await;
    let expected = [
        ("POST", "/api/tasks", "201", 3.0),
        ("GET", "/api/tasks/{id}", "200", 2.0),
        ("GET", "/api/tasks/{id}", "404", 1.0),
        ("GET", "/api/tasks/{id}", "422", 1.0),
        ("PATCH", "/api/tasks/{id}/complete", "200", 1.0),
        ("DELETE", "/api/tasks/{id}", "204", 1.0),
        ("POST", "/api/me", "405", 1.0),
        ("GET", "unmatched", "404", 1.0),
        ("GET", "/health/live", "200", 1.0),
    ];
    for (method, route, status, count) in expected {
        assert_eq!(
            scrape.requests(method, route, status),
            count,
            "{method} {route} {status}:\n{}",
            scrape.0
        );
    }
    let total: usize = scrape
        .0
        .lines()
        .filter(|line| line.starts_with("http_requests_total{"))
        .count();
    assert_eq!(total, expected.len(), "no other series:\n{}", scrape.0);
    assert!(
        !scrape.0.contains(&format!("/api/tasks/{}", ids[0])),
        "raw paths never become labels"
    );

    let latency = |method, route| {
        scrape.value(
            "http_request_duration_seconds_count",
            &[("method", method), ("route", route)],
        )
    };
    assert_eq!(latency("GET", "/api/tasks/{id}"), 4.0);
    assert_eq!(latency("POST", "/api/tasks"), 3.0);
    let every_request = scrape.value(
        "http_request_duration_seconds_bucket",
        &[("method", "POST"), ("route", "/api/tasks"), ("le", "+Inf")],
    );
    assert_eq!(every_request, 3.0);
    assert_eq!(scrape.value("http_requests_in_flight", &[]), 0.0);

    let open = scrape.value("db_pool_connections", &[]);
    let max = scrape.value("db_pool_max_connections", &[]);
    assert!(open >= 1.0 && open <= max, "{open} of {max}");
    // A connection goes back to the pool just after its response is sent,
    // so the pool is seen idle within moments, not necessarily at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let scrape = Scrape::of(&app).await;
        let in_use = scrape.value("db_pool_connections_in_use", &[]);
        let idle = scrape.value("db_pool_connections_idle", &[]);
        let open = scrape.value("db_pool_connections", &[]);
        if in_use == 0.0 {
            assert_eq!(idle, open, "every open connection is idle");
            break;
        }
        assert_eq!(in_use + idle, open);
        assert!(
            std::time::Instant::now() < deadline,
            "{in_use} connections still in use with no request running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn metrics_are_served_apart_from_the_api() {
    let app = app_with_metrics(Backend::Sqlite).await;
    let metrics_address = app.metrics_address.clone().unwrap();
    assert_ne!(metrics_address, app.address);
    assert_problem(app.get_anonymously("/metrics").await, 404).await;
    let scrape = Scrape::of(&app).await;
    assert!(scrape.0.contains("# TYPE http_requests counter"));
    // The API refused it as any unknown path; the scrape itself is not traffic.
    assert_eq!(scrape.requests("GET", "unmatched", "404"), 1.0);

    let without = spawn_app_with(Backend::Sqlite, |_| {}).await;
    assert!(without.metrics_address.is_none(), "off unless METRICS_ADDR");
}

async fn each_application_counts_only_its_own_traffic() {
    let busy = app_with_metrics(Backend::Sqlite).await;
    let idle = app_with_metrics(Backend::Sqlite).await;
    for title in ["a", "b"] {
        busy.create_task("alice", json!({"title": title})).await;
    }
    assert_eq!(
        Scrape::of(&busy)
            .await
            .requests("POST", "/api/tasks", "201"),
        2.0
    );
    assert_eq!(
        Scrape::of(&idle)
            .await
            .requests("POST", "/api/tasks", "201"),
        0.0
    );
}

async fn database_errors_are_counted_by_kind(Metered(app): Metered) {
    let task = app.create_task("alice", json!({"title": "gone"})).await;
    let drop = match app.db.get_database_backend() {
        sea_orm::DbBackend::Postgres => "DROP TABLE tasks CASCADE",
        _ => "DROP TABLE tasks",
    };
    app.db.execute_unprepared(drop).await.unwrap();
    for _ in 0..2 {
        assert_problem(app.get_task("alice", id_of(&task)).await, 500).await;
    }
    let scrape = Scrape::of(&app).await;
    assert_eq!(scrape.value("db_errors_total", &[("kind", "query")]), 2.0);
    assert_eq!(scrape.requests("GET", "/api/tasks/{id}", "500"), 2.0);
    let kinds = scrape
        .0
        .lines()
        .filter(|line| line.starts_with("db_errors_total{"))
        .count();
    assert_eq!(kinds, 1, "{}", scrape.0);
}

async fn token_rejections_are_counted_by_reason_never_by_token() {
    let app = app_with_metrics(Backend::Sqlite).await;
    let now = chrono::Utc::now().timestamp();
    let hs256 = |secret: &str, exp: i64| {
        encode(
            &Header::new(Algorithm::HS256),
            &json!({"sub": "alice", "exp": exp}),
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    };
    let expired = hs256(&app.secret, now - 3600);
    let forged = hs256("not-the-secret", now + 600);
    // EdDSA, while this app trusts no key set.
    let foreign = ed25519_token("http://127.0.0.1:1", "alice");
    let tokens = [
        ("malformed", "not-a-jwt".to_owned()),
        ("malformed", "still.not.one".to_owned()),
        ("expired", expired),
        ("bad_signature", forged),
        ("algorithm_not_allowed", foreign),
    ];
    for (reason, token) in &tokens {
        let response = app.get_with_token("/api/me", token).await;
        assert_eq!(response.status(), 401, "{reason}");
    }
    assert_problem(app.get_anonymously("/api/me").await, 401).await;
    assert_eq!(app.me("alice").await["id"], "alice");

    let scrape = Scrape::of(&app).await;
    let rejected = |reason| scrape.value("auth_token_rejections_total", &[("reason", reason)]);
    assert_eq!(rejected("malformed"), 2.0);
    assert_eq!(rejected("expired"), 1.0);
    assert_eq!(rejected("bad_signature"), 1.0);
    assert_eq!(rejected("algorithm_not_allowed"), 1.0);
    assert_eq!(rejected("missing"), 1.0);
    assert_eq!(scrape.requests("GET", "/api/me", "401"), 6.0);
    assert_eq!(scrape.requests("GET", "/api/me", "200"), 1.0);
    for (_, token) in &tokens {
        assert!(!scrape.0.contains(token.as_str()), "a token leaked");
    }
    assert!(!scrape.0.contains(&app.secret));
}

async fn key_set_fetches_are_counted_by_outcome() {
    let origin = serve_key_set(&["ed25519"]).await;
    let trusting = |origin: String| {
        move |settings: &mut api::configuration::Settings| {
            settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
            settings.auth.secret = None;
            settings.auth.better_auth_url = Some(origin.parse().unwrap());
        }
    };
    let app = spawn_app_with(Backend::Sqlite, trusting(origin.clone())).await;
    let fetches =
        |scrape: &Scrape, outcome| scrape.value("key_set_fetches_total", &[("outcome", outcome)]);
    let scrape = Scrape::of(&app).await;
    assert_eq!(fetches(&scrape, "success"), 0.0, "fetched on first use");
    assert!(
        scrape
            .0
            .contains("key_set_fetches_total{outcome=\"failure\"} 0")
    );
    for _ in 0..3 {
        let token = ed25519_token(&origin, "kim");
        assert_eq!(app.get_with_token("/api/me", &token).await.status(), 200);
    }
    let scrape = Scrape::of(&app).await;
    assert_eq!(fetches(&scrape, "success"), 1.0, "then cached");
    assert_eq!(fetches(&scrape, "failure"), 0.0);

    // Nothing listens on port 1: Better Auth is down.
    let down = "http://127.0.0.1:1".to_owned();
    let app = spawn_app_with(Backend::Sqlite, trusting(down.clone())).await;
    let token = ed25519_token(&down, "kim");
    assert_eq!(app.get_with_token("/api/me", &token).await.status(), 401);
    let scrape = Scrape::of(&app).await;
    assert_eq!(fetches(&scrape, "failure"), 1.0);
    assert_eq!(fetches(&scrape, "success"), 0.0);
    assert_eq!(
        scrape.value(
            "auth_token_rejections_total",
            &[("reason", "key_set_unavailable")]
        ),
        1.0
    );
}
