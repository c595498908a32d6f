//! Prometheus metrics: one registry per [`Application`](crate::startup::Application),
//! served as `GET /metrics` on an address of its own (`METRICS_ADDR`), never
//! on the API's port.
//!
//! Every label takes a bounded set of values, so a scrape stays small
//! whatever the traffic: routes are the OpenAPI path templates
//! (`/api/tasks/{id}`, never the raw path), methods outside the standard
//! ones are `other`, and error kinds and token rejection reasons are fixed
//! words. Nothing from a request (token, query, body) ever becomes a label.
//!
//! Two middlewares do the counting: [`CountRequests`] wraps the whole
//! service, so it sees every request with its final status, and
//! [`note_route`] wraps the router, the one place that knows which route
//! matched (the error mapping outside it builds new responses that no longer
//! carry that). The request being counted is a task-local, so code deep
//! inside a handler (the database error mapping, token checks) reports to
//! its own application's registry without being handed it.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::Instant;

use anyhow::Context;
use poem::endpoint::make_sync;
use poem::error::NotFoundError;
use poem::http::Method;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, IntoResponse, Middleware, PathPattern, Request, Response, Route, Server};
use poem_openapi::OperationId;
use poem_openapi::error::AuthorizationError;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use sea_orm::{DatabaseConnection, DbBackend};

use crate::route_table::OPERATIONS;

/// What a scrape answers with: the OpenMetrics text format, which
/// Prometheus reads natively.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The route label of a request no route matched (a 404 for an unknown
/// path, a CORS preflight answered before routing, a panic).
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets in seconds: 1 ms to 30 s (the default request timeout).
const LATENCY_BUCKETS: [f64; 14] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

/// How long a write transaction runs, BEGIN to COMMIT (or rollback), in
/// seconds: 0.5 ms to 5 s, with 50 ms (the most one should take) a bound.
const WRITE_TRANSACTION_BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How late a reminder is recorded after its time, in seconds: 10 ms to
/// an hour, with 2 s (the most it should take while an instance runs) a
/// bound.
const REMINDER_LAG_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 30.0, 60.0, 600.0, 3600.0,
];

type LatencyFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;
type WriteTransactionFamily = Family<KindLabels, Histogram, fn() -> Histogram>;

/// One application's metrics and the registry that exposes them.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: LatencyFamily,
    in_flight: Gauge,
    database_errors: Family<KindLabels, Counter>,
    key_set_fetches: KeySetFetches,
    token_rejections: Family<ReasonLabels, Counter>,
    write_transactions: WriteTransactionFamily,
    reminders_fired: Counter,
    reminders_fired_late: Counter,
    reminder_lag: Histogram,
}

/// Counts the key set's fetches by outcome. The key set holds this handle;
/// one made by `Default` counts into no registry.
#[derive(Clone, Debug, Default)]
pub struct KeySetFetches(Family<OutcomeLabels, Counter>);

impl KeySetFetches {
    /// One fetch of the key set, successful or not.
    pub fn record(&self, fetched: bool) {
        self.counter(fetched).inc();
    }

    fn counter(&self, fetched: bool) -> Counter {
        let outcome = if fetched { "success" } else { "failure" };
        self.0.get_or_create_owned(&OutcomeLabels { outcome })
    }
}

impl Metrics {
    /// A fresh registry; the pool gauges are read from `db` at each scrape.
    pub fn new(db: &DatabaseConnection) -> Self {
        let mut registry = Registry::default();
        let requests = Family::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route template and status",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer a request (until its response head), by method and route template",
            Unit::Seconds,
            latency.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "http_requests_in_flight",
            "Requests being answered now",
            in_flight.clone(),
        );
        let database_errors = Family::default();
        registry.register(
            "db_errors",
            "Database errors met while answering requests, by kind",
            database_errors.clone(),
        );
        let key_set_fetches = KeySetFetches::default();
        for fetched in [true, false] {
            // Both outcomes are shown from the start, at 0.
            let _ = key_set_fetches.counter(fetched);
        }
        registry.register(
            "key_set_fetches",
            "Fetches of the JSON Web Key Set, by outcome",
            key_set_fetches.0.clone(),
        );
        let token_rejections = Family::default();
        registry.register(
            "auth_token_rejections",
            "Bearer tokens refused, by reason",
            token_rejections.clone(),
        );
        let write_transactions: WriteTransactionFamily =
            Family::new_with_constructor(|| Histogram::new(WRITE_TRANSACTION_BUCKETS));
        registry.register_with_unit(
            "db_write_transaction",
            "Time a write transaction holds its locks (on SQLite, the database's one write lock), BEGIN to COMMIT, by kind",
            Unit::Seconds,
            write_transactions.clone(),
        );
        let reminders_fired = Counter::default();
        registry.register(
            "reminders_fired",
            "Reminders recorded (and sent to the owner's streams), by this instance",
            reminders_fired.clone(),
        );
        let reminders_fired_late = Counter::default();
        registry.register(
            "reminders_fired_late",
            "Reminders recorded more than 60 s after their time (no instance ran then)",
            reminders_fired_late.clone(),
        );
        let reminder_lag = Histogram::new(REMINDER_LAG_BUCKETS);
        registry.register_with_unit(
            "reminder_lag",
            "Time from a reminder's time to its record",
            Unit::Seconds,
            reminder_lag.clone(),
        );
        registry.register_collector(Box::new(PoolGauges(db.clone())));
        Self {
            reminders_fired,
            reminders_fired_late,
            reminder_lag,
            registry,
            requests,
            latency,
            in_flight,
            database_errors,
            key_set_fetches,
            token_rejections,
            write_transactions,
        }
    }

    /// The handle the key set counts its fetches with.
    pub fn key_set_fetches(&self) -> KeySetFetches {
        self.key_set_fetches.clone()
    }

    /// The exposition: every metric in the OpenMetrics text format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }

    fn token_rejected(&self, reason: &'static str) {
        self.token_rejections
            .get_or_create(&ReasonLabels { reason })
            .inc();
    }
}

/// The request being answered: its application's metrics, and the route
/// [`note_route`] found for it.
struct CurrentRequest {
    metrics: Arc<Metrics>,
    route: OnceLock<String>,
}

tokio::task_local! {
    static CURRENT: Arc<CurrentRequest>;
}

/// Runs `work`, which is not a request (the sweeper), reporting to
/// `metrics` as a request's code does.
pub async fn reporting_to<F: Future>(metrics: Arc<Metrics>, work: F) -> F::Output {
    let scope = Arc::new(CurrentRequest {
        metrics,
        route: OnceLock::new(),
    });
    CURRENT.scope(scope, work).await
}

/// Runs `work` reporting where the calling code reports, for work a
/// request hands to a task of its own.
pub fn in_current_scope<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let scope = CURRENT.try_with(Arc::clone).ok();
    async move {
        match scope {
            Some(scope) => CURRENT.scope(scope, work).await,
            None => work.await,
        }
    }
}

/// The current request's place to report to, carried into work another
/// task does for the request (an SDK that spawns its handlers), where
/// [`in_current_scope`] cannot reach.
#[derive(Clone)]
pub struct ReportingScope(Option<Arc<CurrentRequest>>);

impl ReportingScope {
    /// Where the calling code reports.
    pub fn current() -> Self {
        Self(CURRENT.try_with(Arc::clone).ok())
    }

    /// Runs `work` reporting there.
    pub async fn run<F: Future>(self, work: F) -> F::Output {
        match self.0 {
            Some(scope) => CURRENT.scope(scope, work).await,
            None => work.await,
        }
    }
}

/// What a write transaction does, as its histogram's `kind` label.
#[derive(Clone, Copy, Debug)]
pub enum WriteKind {
    /// A request's write to tasks.
    Task,
    /// One step of erasing an account.
    Erase,
    /// The sweeper purging expired tombstones.
    TombstonePurge,
    /// The sweeper purging expired idempotency keys.
    KeyPurge,
    /// The scheduler recording reminders that came due.
    Reminders,
}

impl WriteKind {
    fn label(self) -> &'static str {
        match self {
            Self::Task => "task",
            Self::Erase => "erase",
            Self::TombstonePurge => "tombstone_purge",
            Self::KeyPurge => "key_purge",
            Self::Reminders => "reminders",
        }
    }
}

/// Times a write transaction from its BEGIN until it is dropped (after its
/// COMMIT or rollback), into `db_write_transaction_seconds`.
#[derive(Debug)]
pub struct WriteTimer {
    kind: WriteKind,
    began: Instant,
}

impl WriteTimer {
    pub fn start(kind: WriteKind) -> Self {
        Self {
            kind,
            began: Instant::now(),
        }
    }
}

impl Drop for WriteTimer {
    fn drop(&mut self) {
        let held = self.began.elapsed().as_secs_f64();
        let _ = CURRENT.try_with(|request| {
            request
                .metrics
                .write_transactions
                .get_or_create(&KindLabels {
                    kind: self.kind.label(),
                })
                .observe(held);
        });
    }
}

/// Counts a reminder recorded `lag_seconds` after its time; `late` when no
/// instance ran at its time.
pub fn count_reminder_recorded(lag_seconds: f64, late: bool) {
    let _ = CURRENT.try_with(|request| {
        let metrics = &request.metrics;
        metrics.reminders_fired.inc();
        if late {
            metrics.reminders_fired_late.inc();
        }
        metrics.reminder_lag.observe(lag_seconds);
    });
}

/// Counts a token refused for `reason` (never the token itself).
pub fn count_token_rejection(reason: &'static str) {
    let _ = CURRENT.try_with(|request| request.metrics.token_rejected(reason));
}

/// Counts a database error met while answering a request, by its kind: a
/// fixed word the database layer classifies it as.
pub fn count_database_error(kind: &'static str) {
    let _ = CURRENT.try_with(|request| {
        request
            .metrics
            .database_errors
            .get_or_create(&KindLabels { kind })
            .inc();
    });
}

/// The standard methods by name; anything else is `other`, so a client
/// cannot mint label values.
fn method_label(method: &Method) -> &'static str {
    const KNOWN: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::HEAD, "HEAD"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::PATCH, "PATCH"),
        (Method::DELETE, "DELETE"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::CONNECT, "CONNECT"),
        (Method::TRACE, "TRACE"),
    ];
    KNOWN
        .iter()
        .find(|(known, _)| known == method)
        .map_or("other", |(_, name)| name)
}

/// The OpenAPI path template of each operation id, and of each pattern the
/// router registers for it, from the route table (the same for every
/// application, so built once).
struct RouteTemplates {
    by_operation: HashMap<String, String>,
    by_pattern: HashMap<String, String>,
}

static ROUTE_TEMPLATES: LazyLock<RouteTemplates> = LazyLock::new(|| {
    let mut templates = RouteTemplates {
        by_operation: HashMap::new(),
        by_pattern: HashMap::new(),
    };
    for operation in &OPERATIONS {
        let template = operation.path.to_owned();
        templates
            .by_pattern
            .insert(router_pattern(&template), template.clone());
        templates
            .by_operation
            .insert(operation.id.to_owned(), template);
    }
    templates
});

/// The pattern poem-openapi registers for a template: its `n`th `{name}`
/// segment becomes `:param{n}`. Only a request the operation itself never
/// saw (a 405) needs this; the rest are found by operation id.
fn router_pattern(template: &str) -> String {
    let mut index = 0;
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                index += 1;
                format!(":param{}", index - 1)
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The route label: the operation's template, else the router's pattern
/// (as a template where it is one of the document's).
fn route_label(operation: Option<&OperationId>, pattern: Option<&PathPattern>) -> Option<String> {
    let templates = &*ROUTE_TEMPLATES;
    if let Some(template) = operation.and_then(|op| templates.by_operation.get(op.0)) {
        return Some(template.clone());
    }
    let pattern = &pattern?.0;
    Some(
        templates
            .by_pattern
            .get(&**pattern)
            .cloned()
            .unwrap_or_else(|| pattern.to_string()),
    )
}

/// Wraps the router: records which route answered the current request
/// (from the response, or the error, before the error mapping replaces it),
/// and counts a request without a bearer token as a rejection.
pub async fn note_route<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let result = next.call(req).await.map(IntoResponse::into_response);
    let _ = CURRENT.try_with(|request| {
        let (operation, pattern) = match &result {
            Ok(response) => (
                response.data::<OperationId>(),
                response.data::<PathPattern>(),
            ),
            // The router's own 404 carries the pattern of the prefix it
            // searched under, not of a route.
            Err(err) if err.is::<NotFoundError>() && err.data::<OperationId>().is_none() => {
                (None, None)
            }
            Err(err) => (err.data::<OperationId>(), err.data::<PathPattern>()),
        };
        if let Some(route) = route_label(operation, pattern) {
            let _ = request.route.set(route);
        }
        if let Err(err) = &result
            && err.is::<AuthorizationError>()
        {
            request.metrics.token_rejected("missing");
        }
    });
    result
}

/// The middleware that counts and times every request, outermost, so it
/// sees the status the client gets.
pub struct CountRequests(pub Arc<Metrics>);

impl<E: Endpoint> Middleware<E> for CountRequests {
    type Output = CountRequestsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CountRequestsEndpoint {
            inner,
            metrics: self.0.clone(),
        }
    }
}

pub struct CountRequestsEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
}

/// Keeps a request in the in-flight gauge until it is answered or dropped.
struct InFlight<'a>(&'a Gauge);

impl<'a> InFlight<'a> {
    fn enter(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl<E: Endpoint> Endpoint for CountRequestsEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let _in_flight = InFlight::enter(&self.metrics.in_flight);
        let started = Instant::now();
        let method = method_label(req.method());
        let current = Arc::new(CurrentRequest {
            metrics: self.metrics.clone(),
            route: OnceLock::new(),
        });
        let result = CURRENT
            .scope(current.clone(), self.inner.call(req))
            .await
            .map(IntoResponse::into_response);
        let status = match &result {
            Ok(response) => response.status(),
            Err(err) => err.status(),
        };
        let route = current
            .route
            .get()
            .cloned()
            .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
        self.metrics
            .latency
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        self.metrics
            .requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
        result
    }
}

/// The connection pool's gauges, read at each scrape. sqlx reports the
/// pool's open and idle connections and its maximum; it does not report
/// how many tasks wait for a connection, so a pool too small shows as
/// `in_use` at the maximum and as `db_errors_total{kind="pool_timeout"}`.
#[derive(Debug)]
struct PoolGauges(DatabaseConnection);

struct PoolStats {
    open: u32,
    idle: usize,
    max: u32,
}

impl PoolStats {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> Self {
        Self {
            open: pool.size(),
            idle: pool.num_idle(),
            max: pool.options().get_max_connections(),
        }
    }
}

impl Collector for PoolGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = match self.0.get_database_backend() {
            DbBackend::Postgres => PoolStats::of(self.0.get_postgres_connection_pool()),
            DbBackend::Sqlite => PoolStats::of(self.0.get_sqlite_connection_pool()),
            _ => return Ok(()),
        };
        let in_use = i64::from(stats.open)
            .saturating_sub(stats.idle as i64)
            .max(0);
        let gauges = [
            (
                "db_pool_connections",
                "Connections the pool holds open.",
                i64::from(stats.open),
            ),
            (
                "db_pool_connections_in_use",
                "Connections handed out to a query or transaction now.",
                in_use,
            ),
            (
                "db_pool_connections_idle",
                "Open connections waiting in the pool.",
                stats.idle as i64,
            ),
            (
                "db_pool_max_connections",
                "The most connections the pool opens.",
                i64::from(stats.max),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

/// `GET /metrics` on its own socket.
pub struct MetricsListener {
    acceptor: TcpAcceptor,
    address: SocketAddr,
    metrics: Arc<Metrics>,
}

impl MetricsListener {
    pub async fn bind(address: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        let acceptor = TcpListener::bind(address)
            .into_acceptor()
            .await
            .with_context(|| format!("binding METRICS_ADDR {address}"))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|addr| addr.as_socket_addr().copied())
            .context("reading the metrics address")?;
        Ok(Self {
            acceptor,
            address,
            metrics,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub async fn run(self) -> std::io::Result<()> {
        tracing::info!("metrics on http://{}/metrics", self.address);
        let metrics = self.metrics;
        let scrape = make_sync(move |_| {
            Response::builder()
                .content_type(CONTENT_TYPE)
                .body(metrics.render())
        });
        Server::new_with_acceptor(self.acceptor)
            .run(Route::new().at("/metrics", poem::get(scrape)))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_become_the_routers_patterns() {
        assert_eq!(router_pattern("/api/tasks"), "/api/tasks");
        assert_eq!(router_pattern("/api/tasks/{id}"), "/api/tasks/:param0");
        assert_eq!(
            router_pattern("/a/{x}/b/{y}/complete"),
            "/a/:param0/b/:param1/complete"
        );
    }

    #[test]
    fn every_operation_has_a_template() {
        let templates = &*ROUTE_TEMPLATES;
        assert_eq!(
            templates.by_operation.get("getTask").map(String::as_str),
            Some("/api/tasks/{id}")
        );
        assert_eq!(
            templates
                .by_pattern
                .get("/api/tasks/:param0/complete")
                .map(String::as_str),
            Some("/api/tasks/{id}/complete")
        );
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
