//! Building the service: database, migrations, token verifier, routes,
//! middleware, and the listening socket.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use poem::endpoint::BoxEndpoint;
use poem::error::ResponseError;
use poem::http::header;
use poem::middleware::{CatchPanic, SetHeader};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Route};
use rand::Rng;
use sea_orm::{DatabaseConnection, DbBackend};
use tokio::net::TcpListener;

use secrecy::ExposeSecret;

use crate::auth::{Clock, KeySetHandles, TokenRequest, TokenVerifier, mint_hs256};
use crate::change_log::announcer::Announcer;
use crate::change_log::{ChangeHub, listener};
use crate::configuration::{AuthSettings, ServerLimits, Settings, SweeperSettings, is_sqlite_file};
use crate::database::storage::WriteOutcomes;
use crate::database::{
    InstanceLock, PoolSettings, connect_with, instance_lock, migrate, open_pool,
};
use crate::fair_share::{FairShare, share_of};
use crate::health::note_write_outcomes;
use crate::http::allow::AllowHeader;
use crate::http::cors::{self, cors, log_refused_origins, skip_for_same_origin};
use crate::http::error::ApiError;
use crate::http::error::into_problem_response;
use crate::http::query_encoding::{PathTemplates, require_utf8_path, require_utf8_query};
use crate::http::request_limits::{limit_head_size, refuse_over_cap, within};
use crate::http::unreadable_headers::refuse_unreadable_headers;
use crate::mcp::{mcp_endpoint, protected_resource_metadata};
use crate::metrics::{CountRequests, Metrics, MetricsListener, note_route};
use crate::openapi::{docs_route, document_endpoint, openapi_service};
use crate::rate_limit::RateLimit;
use crate::reminders::scheduler;
use crate::route_table;
use crate::server::serve;
use crate::sweeper;
use crate::telemetry::trace_request;

/// The user a local-development token is minted for.
pub const DEMO_USER_ID: &str = "demo-user";

/// How long the reminder scheduler's connection stays open after a round.
const SCHEDULER_IDLE: std::time::Duration = std::time::Duration::from_secs(2);

/// How long shutdown waits for the reminder scheduler's round under way.
const SCHEDULER_STOP: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Application {
    address: SocketAddr,
    listener: TcpListener,
    app: BoxEndpoint<'static>,
    limits: ServerLimits,
    /// Set in local-development mode (no auth configured).
    demo_token: Option<String>,
    /// `GET /metrics`, when `METRICS_ADDR` is set.
    metrics_listener: Option<MetricsListener>,
    /// Closed at shutdown, so open event streams end instead of holding it up.
    change_hub: Arc<ChangeHub>,
    /// A SQLite file's lock, held until the application stops.
    instance_lock: Option<InstanceLock>,
    /// What the sweeper needs: it starts with the server and stops with it.
    db: DatabaseConnection,
    /// The reminder scheduler's pool of one connection.
    scheduler_db: DatabaseConnection,
    metrics: Arc<Metrics>,
    sweeper: SweeperSettings,
}

impl Application {
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    /// Like [`Self::build`], with the key-set cache going by `clock`
    /// (which tests move forward).
    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let pool = PoolSettings {
            max_connections: settings.database_max_connections,
            statement_timeout: settings.limits.request_timeout,
            idle_timeout: None,
        };
        let database_url = settings.database_url.expose_secret();
        let db = connect_with(database_url, pool).await?;
        // The reminder scheduler's own connection, so a burst of reminders
        // is recorded while the streams it wakes read from the main pool;
        // closed soon after each burst, never kept through its sleep. (The
        // URL's pooler was checked with the main pool.)
        let one_connection = PoolSettings {
            max_connections: Some(1),
            idle_timeout: Some(SCHEDULER_IDLE),
            ..pool
        };
        let scheduler_db = if database_url.starts_with("sqlite:") && !is_sqlite_file(database_url) {
            // Each connection to an in-memory database is a database of its own.
            db.clone()
        } else {
            open_pool(database_url, one_connection).await?
        };
        let instance_lock = instance_lock::acquire(database_url)?;
        let share = share_of(pool.pool_size(database_url));
        if settings.auto_migrate {
            migrate(&db).await.context("applying database migrations")?;
        }
        let metrics = Arc::new(Metrics::new(&db));

        let demo_token = if settings.auth.is_configured() {
            None
        } else {
            Some(enable_local_development(&mut settings.auth))
        };
        let handles = KeySetHandles {
            clock,
            fetches: metrics.key_set_fetches(),
        };
        let verifier = Arc::new(TokenVerifier::new(&settings.auth, handles));
        tracing::info!("accepting {}", verifier.describe());
        tracing::info!("{}", cors::describe(&settings.cors_origins));

        let listener = TcpListener::bind(SocketAddr::new(settings.host, settings.port))
            .await
            .with_context(|| format!("binding {}:{}", settings.host, settings.port))?;
        let address = listener.local_addr().context("reading the bound address")?;

        let metrics_listener = match settings.metrics_addr {
            Some(address) => Some(MetricsListener::bind(address, metrics.clone()).await?),
            None => None,
        };

        let change_hub = if db.get_database_backend() == DbBackend::Postgres {
            // Commits are announced from a connection of their own, closed
            // when writes pause, like the scheduler's.
            let announcer_db = open_pool(database_url, one_connection).await?;
            let hub = ChangeHub::announcing(
                settings.events.streams_per_user,
                Announcer::start(announcer_db),
            );
            let url = (settings.events.listen_database_url.as_ref())
                .unwrap_or(&settings.database_url)
                .expose_secret()
                .to_owned();
            tokio::spawn(listener::listen(url, Arc::clone(&hub)));
            hub
        } else {
            ChangeHub::new(settings.events.streams_per_user)
        };

        let app = routes(
            &settings,
            share,
            db.clone(),
            verifier,
            Arc::clone(&metrics),
            Arc::clone(&change_hub),
        )
        .boxed();
        Ok(Self {
            address,
            listener,
            app,
            limits: settings.limits,
            demo_token,
            metrics_listener,
            change_hub,
            instance_lock,
            db,
            scheduler_db,
            metrics,
            sweeper: settings.sweeper,
        })
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The port `GET /metrics` listens on, when `METRICS_ADDR` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_listener
            .as_ref()
            .map(|listener| listener.address().port())
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let url = format!("http://{}", self.address);
        tracing::info!("listening on {url} (Swagger UI at {url}/docs)");
        if let Some(token) = &self.demo_token {
            tracing::warn!(
                "no BETTER_AUTH_SECRET or BETTER_AUTH_URL: local-development mode with a random secret"
            );
            tracing::info!("demo token for user `{DEMO_USER_ID}` (valid 24 h):\n{token}");
            tracing::info!("try it:\ncurl -H 'Authorization: Bearer {token}' {url}/api/tasks");
        }
        let metrics = self
            .metrics_listener
            .map(|listener| tokio::spawn(listener.run()));
        let change_hub = self.change_hub;
        let scheduler = tokio::spawn(scheduler::run(
            self.scheduler_db,
            Arc::clone(&change_hub),
            Arc::clone(&self.metrics),
        ));
        let sweeper = tokio::spawn(sweeper::run(
            self.db,
            Arc::clone(&change_hub),
            self.metrics,
            self.sweeper,
        ));
        let closing_hub = Arc::clone(&change_hub);
        let shutdown = async move {
            shutdown_signal().await;
            closing_hub.close();
        };
        let served = serve(self.listener, self.app, self.limits, shutdown).await;
        change_hub.stop_announcing().await;
        // The scheduler stops at the close, once a round under way is done.
        if tokio::time::timeout(SCHEDULER_STOP, scheduler)
            .await
            .is_err()
        {
            tracing::warn!("the reminder scheduler did not stop in time");
        }
        sweeper.abort();
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        drop(self.instance_lock);
        served
    }
}

/// No auth configured: verify HS256 with a random secret of our own, and
/// return a token for the demo user signed with it.
fn enable_local_development(auth: &mut AuthSettings) -> String {
    let secret: [u8; 32] = rand::rng().random();
    let secret: String = secret.iter().map(|byte| format!("{byte:02x}")).collect();
    let token = mint_hs256(
        &secret,
        &TokenRequest {
            email: Some("demo@example.com".into()),
            name: Some("Demo User".into()),
            lifetime: chrono::Duration::hours(24),
            ..TokenRequest::for_user(DEMO_USER_ID)
        },
    );
    auth.secret = Some(secret.into());
    token
}

fn routes(
    settings: &Settings,
    share_per_user: usize,
    db: DatabaseConnection,
    verifier: Arc<TokenVerifier>,
    metrics: Arc<Metrics>,
    change_hub: Arc<ChangeHub>,
) -> impl Endpoint<Output = poem::Response> + use<> {
    let request_timeout = settings.limits.request_timeout;
    let write_outcomes = Arc::new(WriteOutcomes::default());
    let noted_outcomes = Arc::clone(&write_outcomes);
    let templates = PathTemplates::new(route_table::path_templates());
    let api = openapi_service();
    let docs = docs_route(&api);
    let document = document_endpoint(&api);
    // The issuer of the tokens `/mcp` accepts: `JWT_ISSUER` where it is
    // set (Better Auth's OAuth provider issues as `{origin}/api/auth`
    // unless told otherwise), else Better Auth's base URL.
    let authorization_server = settings.auth.issuer.clone().or_else(|| {
        settings
            .auth
            .better_auth_url
            .as_ref()
            .map(|url| url.as_str().trim_end_matches('/').to_owned())
    });
    let route = Route::new()
        .nest("/", api)
        .nest("/docs", docs)
        .at("/openapi.json", document)
        .at(
            "/mcp",
            poem::post(mcp_endpoint(
                db.clone(),
                Arc::clone(&change_hub),
                settings.quotas,
            )),
        )
        // RFC 9728 places the metadata of the resource `/mcp` at the second
        // path; the contract names the first, which clients also try.
        .at(
            "/.well-known/oauth-protected-resource",
            poem::get(protected_resource_metadata(authorization_server.clone())),
        )
        .at(
            "/.well-known/oauth-protected-resource/mcp",
            poem::get(protected_resource_metadata(authorization_server)),
        );
    #[cfg(feature = "test-routes")]
    let route = route
        .at(
            "/test/panic",
            poem::endpoint::make_sync(|_| -> &'static str { panic!("the test route panics") }),
        )
        .at(
            "/test/slow",
            poem::endpoint::make(|_| async {
                tokio::time::sleep(std::time::Duration::from_secs(5)).await;
                "finally"
            }),
        )
        .at(
            "/test/endless-query",
            poem::endpoint::make(|req: poem::Request| async move {
                use sea_orm::ConnectionTrait;
                let db = req.data::<DatabaseConnection>().expect("the pool").clone();
                // Counts to a trillion: minutes of work unless stopped.
                db.execute_unprepared(
                    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000000000) \
                     SELECT count(*) FROM n",
                )
                .await
                .map(|_| "finished")
                .map_err(ApiError::from)
            }),
        );
    route
        .around(require_utf8_query)
        .around(move |next, req| require_utf8_path(templates.clone(), next, req))
        .around(refuse_unreadable_headers)
        .around(note_route)
        .around(move |next, req| note_write_outcomes(Arc::clone(&noted_outcomes), next, req))
        // The handlers' futures move to the heap here: nested inside every
        // middleware's below, they outgrew a thread's stack in debug builds.
        .boxed()
        .with(FairShare::new(share_per_user))
        .with(RateLimit::new(settings.rate_limit))
        .data(db)
        .data(write_outcomes)
        .data(verifier)
        .data(change_hub)
        .data(settings.events.clone())
        .data(settings.quotas)
        .with(CatchPanic::new().with_handler(|_| {
            tracing::error!("a request handler panicked");
            ApiError::Internal.as_response()
        }))
        .around(move |next, req| within(request_timeout, next, req))
        .around(limit_head_size)
        .around(refuse_over_cap)
        .catch_all_error(into_problem_response)
        .with(AllowHeader::new(
            route_table::methods_and_paths().chain(route_table::UNDOCUMENTED),
        ))
        // Type-erased once here, so the nested middleware types stay within
        // the compiler's depth limit.
        .boxed()
        // CORS wraps the error mapping so error responses carry its headers
        // too; its own refusals are mapped by the outer catch.
        .with(cors(&settings.cors_origins))
        .around(log_refused_origins)
        .catch_all_error(into_problem_response)
        // Responses carry one user's data: never cache them, never sniff them.
        .with(
            SetHeader::new()
                .overriding(header::CACHE_CONTROL, "no-store")
                .overriding(header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        )
        .around(skip_for_same_origin)
        .around(trace_request)
        .with(CountRequests(metrics))
        .into_endpoint()
}

/// Ctrl-C, or SIGTERM from an orchestrator: stop accepting, finish requests.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}
