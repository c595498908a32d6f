//! `api check`: checks a deployment before traffic arrives. It reads the
//! configuration as `serve` does and reports one line per check (`ok`,
//! `warn`, `skip` or `FAIL`; any `FAIL` makes the exit status 1): the configuration, the auth modes, the database and
//! its server version, whether it can store a write, the migrations, the key set, the CORS origins.
//! Secrets are never printed: the database password is redacted and
//! `BETTER_AUTH_SECRET` is only ever named. Nothing is changed: pending
//! migrations are listed, not applied, and the storage probe rewrites a
//! SQLite header value with its own value.

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use secrecy::ExposeSecret;

use crate::auth::inspect_key_set;
use crate::configuration::{AuthSettings, ConfigError, Settings, redact};
use crate::database::{connect, storage};

/// Runs every check, printing a line for each; `true` when none failed.
pub async fn check(settings: Result<Settings, ConfigError>) -> bool {
    let mut report = Report::default();
    let settings = match settings {
        Ok(settings) => settings,
        Err(err) => {
            report.fail("configuration", err.to_string());
            return false;
        }
    };
    check_configuration(&settings, &mut report);
    check_auth(&settings.auth, &mut report);
    match check_database(settings.database_url.expose_secret(), &mut report).await {
        Some(db) => {
            check_migrations(&db, settings.auto_migrate, &mut report).await;
            let _ = db.close().await;
        }
        None => report.skip("migrations", "not checked: the database cannot be reached"),
    }
    check_key_set(&settings.auth, &mut report).await;
    check_cors(&settings.cors_origins, &mut report);
    !report.failed
}

/// Prints each line as its check ends, so a slow check shows where it is.
#[derive(Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn line(&mut self, status: &str, topic: &str, detail: impl AsRef<str>) {
        println!("{status:<4} {topic}: {}", detail.as_ref());
    }

    fn ok(&mut self, topic: &str, detail: impl AsRef<str>) {
        self.line("ok", topic, detail);
    }

    fn warn(&mut self, topic: &str, detail: impl AsRef<str>) {
        self.line("warn", topic, detail);
    }

    fn skip(&mut self, topic: &str, detail: impl AsRef<str>) {
        self.line("skip", topic, detail);
    }

    fn fail(&mut self, topic: &str, detail: impl AsRef<str>) {
        self.failed = true;
        self.line("FAIL", topic, detail);
    }
}

fn check_configuration(settings: &Settings, report: &mut Report) {
    let environment = if settings.production {
        " (APP_ENV=production)"
    } else {
        ""
    };
    let metrics = match settings.metrics_addr {
        Some(address) => format!("metrics on {address}"),
        None => "metrics off".to_owned(),
    };
    report.ok(
        "configuration",
        format!(
            "valid{environment}; serving on {}:{}; {metrics}",
            settings.host, settings.port
        ),
    );
}

/// The token kinds accepted, with the `iss`/`aud` each must carry.
fn check_auth(auth: &AuthSettings, report: &mut Report) {
    let mut modes = Vec::new();
    if auth.secret.is_some() {
        modes.push(format!(
            "HS256 tokens signed with BETTER_AUTH_SECRET ({})",
            claims_checked(auth.issuer.clone(), auth.audience.clone())
        ));
    }
    if let Some(url) = auth.key_set_url() {
        let origin = auth.better_auth_origin();
        modes.push(format!(
            "Better Auth tokens verified with the key set at {} ({})",
            redact(url.as_str()),
            claims_checked(
                auth.issuer.clone().or_else(|| origin.clone()),
                auth.audience.clone().or(origin)
            )
        ));
    }
    if modes.is_empty() {
        report.warn(
            "auth",
            "none configured: local-development mode (a random secret, a demo token in the log)",
        );
    } else {
        report.ok("auth", modes.join("; "));
    }
}

fn claims_checked(issuer: Option<String>, audience: Option<String>) -> String {
    let show = |value: Option<String>| value.unwrap_or_else(|| "unchecked".to_owned());
    format!("iss {}, aud {}", show(issuer), show(audience))
}

async fn check_database(database_url: &str, report: &mut Report) -> Option<DatabaseConnection> {
    let shown = redact(database_url);
    let db = match connect(database_url).await {
        Ok(db) => db,
        Err(err) => {
            report.fail(
                "database",
                format!("cannot reach {shown}: {}", connect_failure(&err)),
            );
            return None;
        }
    };
    match server_version(&db).await {
        Ok(version) => report.ok("database", format!("reachable at {shown}: {version}")),
        Err(err) => report.fail(
            "database",
            format!("connected to {shown}, but it does not answer: {err}"),
        ),
    }
    match storage::probe(&db).await {
        Ok(None) => report.ok("storage", "a write can be stored"),
        Ok(Some(why)) => report.fail("storage", format!("writes cannot be stored: {why}")),
        Err(err) => report.fail("storage", format!("could not try a write: {err}")),
    }
    Some(db)
}

/// The driver's own message (the context above it repeats the URL). A
/// refused connection is retried until the pool gives up, which sqlx
/// reports only as a timeout: say what that usually means.
fn connect_failure(err: &anyhow::Error) -> String {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    match err.downcast_ref::<DbErr>() {
        Some(DbErr::Conn(RuntimeErr::SqlxError(sqlx))) if matches!(**sqlx, Sqlx::PoolTimedOut) => {
            "no connection within the timeout (is the server running, and are the host and port right?)"
                .to_owned()
        }
        Some(db_err) => db_err.to_string(),
        None => format!("{err:#}"),
    }
}

async fn server_version(db: &DatabaseConnection) -> Result<String, sea_orm::DbErr> {
    let backend = db.get_database_backend();
    let (name, sql) = match backend {
        DbBackend::Postgres => ("", "SELECT version()"),
        DbBackend::Sqlite => ("SQLite ", "SELECT sqlite_version()"),
        _ => return Ok(format!("{backend:?}")),
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
        .ok_or_else(|| sea_orm::DbErr::Custom("no version row".to_owned()))?;
    Ok(format!("{name}{}", row.try_get_by_index::<String>(0)?))
}

/// Read-only: unlike `serve`, the check never creates the migrations table.
async fn check_migrations(db: &DatabaseConnection, auto_migrate: bool, report: &mut Report) {
    let pending = match Migrator::get_pending_migrations_read_only(db).await {
        Ok(pending) => pending,
        Err(err) => {
            report.fail("migrations", format!("cannot read their status: {err}"));
            return;
        }
    };
    let names: Vec<&str> = pending.iter().map(|migration| migration.name()).collect();
    if names.is_empty() {
        report.ok(
            "migrations",
            format!("all {} applied", Migrator::migrations().len()),
        );
    } else if auto_migrate {
        report.warn(
            "migrations",
            format!(
                "{} pending, applied at start (AUTO_MIGRATE=true): {}",
                names.len(),
                names.join(", ")
            ),
        );
    } else {
        report.fail(
            "migrations",
            format!(
                "{} pending and AUTO_MIGRATE=false: {} (apply them with `cargo run -p migration -- up`)",
                names.len(),
                names.join(", ")
            ),
        );
    }
}

async fn check_key_set(auth: &AuthSettings, report: &mut Report) {
    let Some((url, contents)) = inspect_key_set(auth).await else {
        report.ok("key set", "not configured (no BETTER_AUTH_URL or JWKS_URL)");
        return;
    };
    let url = redact(url.as_str());
    let contents = match contents {
        Ok(contents) => contents,
        Err(reason) => {
            report.fail("key set", format!("cannot fetch {url}: {reason}"));
            return;
        }
    };
    let keys: Vec<String> = contents
        .keys
        .iter()
        .map(|(kid, algorithm)| format!("{kid} ({algorithm:?})"))
        .collect();
    if keys.is_empty() {
        report.fail(
            "key set",
            format!("{url} has no usable key: key-set tokens cannot be verified"),
        );
    } else {
        report.ok("key set", format!("{url}: {}", keys.join(", ")));
    }
    for (kid, reason) in &contents.skipped {
        let kid = kid.as_deref().unwrap_or("(no kid)");
        report.warn("key set", format!("skipping key {kid}: {reason}"));
    }
}

fn check_cors(origins: &[String], report: &mut Report) {
    if origins.is_empty() {
        report.warn("CORS origins", "none: no browser frontend can call the API");
    } else {
        report.ok("CORS origins", origins.join(", "));
    }
}
