//! `api check`, the real binary: one line per check, a non-zero exit when
//! one fails, and never a secret in its output.

use libtest_mimic::Trial;
use migration::{MigratorTrait, SchemaManager};
use sea_orm::Database;

use crate::binary::api_command;
use crate::helpers::{TestApp, TestDatabase};
use crate::static_key_set::serve_key_set;

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            a_good_setup_passes_every_check,
            pending_migrations_fail_the_check_unless_applied_at_start,
        ],
        crate::standalone![
            an_unreachable_database_fails_the_check,
            an_unreachable_or_unusable_key_set_fails_the_check,
            an_invalid_configuration_fails_the_check,
        ],
    ])
}

/// A shared secret that must never be printed.
const SECRET: &str = "check-secret-0123456789abcdef0123456789";

/// What one `api check` run printed and how it ended.
struct Checked {
    passed: bool,
    stdout: String,
    stderr: String,
}

impl Checked {
    /// The one line reporting `topic` with `status` (`ok`, `warn`, `skip`,
    /// `FAIL`); fails the test when there is none.
    fn line(&self, status: &str, topic: &str) -> &str {
        let prefix = format!("{status:<4} {topic}: ");
        let mut lines = self.stdout.lines().filter(|line| line.starts_with(&prefix));
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{}", self.stdout));
        assert!(
            lines.next().is_none(),
            "two `{prefix}` lines:\n{}",
            self.stdout
        );
        line
    }

    fn failures(&self) -> usize {
        self.stdout
            .lines()
            .filter(|line| line.starts_with("FAIL"))
            .count()
    }

    fn assert_never_shows(&self, secret: &str) {
        assert!(
            !self.stdout.contains(secret) && !self.stderr.contains(secret),
            "a secret was printed:\n{}{}",
            self.stdout,
            self.stderr
        );
    }
}

/// Runs `api check` with exactly `vars` in its environment, in an empty
/// directory. The binary runs on a blocking thread, so this runtime keeps
/// serving the test's key set meanwhile.
async fn check(vars: &[(&str, &str)]) -> Checked {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        let output = api_command(dir.path())
            .arg("check")
            .envs(vars)
            .output()
            .unwrap();
        Checked {
            passed: output.status.success(),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

/// `database_url` with a password in it (the one it has, else a made-up
/// one the test server ignores), and that password. SQLite URLs have none.
fn with_password(database_url: &str) -> (String, Option<String>) {
    let mut url = url::Url::parse(database_url).unwrap();
    if !url.scheme().starts_with("postgres") {
        return (database_url.to_owned(), None);
    }
    if url.password().is_none() {
        url.set_password(Some("db-password-never-shown")).unwrap();
    }
    let password = url.password().map(str::to_owned);
    (url.to_string(), password)
}

async fn a_good_setup_passes_every_check(app: TestApp) {
    let origin = serve_key_set(&["ed25519", "p256", "p521"]).await;
    let (database_url, password) = with_password(&app.database.url);
    let checked = check(&[
        ("DATABASE_URL", &database_url),
        ("BETTER_AUTH_SECRET", SECRET),
        ("BETTER_AUTH_URL", &origin),
        (
            "CORS_ORIGINS",
            "http://localhost:3000, https://todo.example.com",
        ),
        ("AUTO_MIGRATE", "false"),
        ("METRICS_ADDR", "127.0.0.1:9464"),
    ])
    .await;
    assert!(checked.passed, "{}{}", checked.stdout, checked.stderr);
    assert_eq!(checked.failures(), 0);

    let configuration = checked.line("ok", "configuration");
    assert!(
        configuration.contains("metrics on 127.0.0.1:9464"),
        "{configuration}"
    );
    let auth = checked.line("ok", "auth");
    assert!(auth.contains("HS256"), "{auth}");
    assert!(auth.contains(&format!("{origin}/api/auth/jwks")), "{auth}");
    assert!(
        auth.contains(&format!("iss {origin}, aud {origin}")),
        "{auth}"
    );

    let database = checked.line("ok", "database");
    let version = if database_url.starts_with("postgres") {
        "PostgreSQL "
    } else {
        "SQLite 3."
    };
    assert!(database.contains(version), "{database}");
    let all = migration::Migrator::migrations().len();
    assert_eq!(
        checked.line("ok", "migrations"),
        format!("ok   migrations: all {all} applied")
    );

    assert_eq!(
        checked.line("ok", "key set"),
        format!("ok   key set: {origin}/api/auth/jwks: ed25519 (EdDSA), p256 (ES256)")
    );
    let skipped = checked.line("warn", "key set");
    assert!(skipped.contains("skipping key p521: ES512"), "{skipped}");
    assert_eq!(
        checked.line("ok", "CORS origins"),
        "ok   CORS origins: http://localhost:3000, https://todo.example.com"
    );

    checked.assert_never_shows(SECRET);
    if let Some(password) = password {
        checked.assert_never_shows(&password);
        assert!(database.contains(":***@"), "{database}");
    }
}

async fn pending_migrations_fail_the_check_unless_applied_at_start(database: TestDatabase) {
    let names: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    let vars = |auto_migrate| {
        vec![
            ("DATABASE_URL", database.url.clone()),
            ("BETTER_AUTH_SECRET", SECRET.to_owned()),
            ("AUTO_MIGRATE", auto_migrate),
        ]
    };
    let run = |vars: Vec<(&'static str, String)>| async move {
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        check(&vars).await
    };

    let refused = run(vars("false".to_owned())).await;
    assert!(!refused.passed, "{}", refused.stdout);
    assert_eq!(refused.failures(), 1, "{}", refused.stdout);
    let line = refused.line("FAIL", "migrations");
    assert!(
        line.contains(&format!("{} pending and AUTO_MIGRATE=false", names.len())),
        "{line}"
    );
    for name in &names {
        assert!(line.contains(name.as_str()), "{line}");
    }
    refused.line("ok", "database");
    assert_eq!(
        refused.line("ok", "key set"),
        "ok   key set: not configured (no BETTER_AUTH_URL or JWKS_URL)"
    );

    let applied_at_start = run(vars("true".to_owned())).await;
    assert!(applied_at_start.passed, "{}", applied_at_start.stdout);
    let line = applied_at_start.line("warn", "migrations");
    assert!(line.contains("applied at start"), "{line}");
    refused.assert_never_shows(SECRET);

    // The check only reads: not even the migrations table was created.
    let db = Database::connect(&database.url).await.unwrap();
    let manager = SchemaManager::new(&db);
    assert!(!manager.has_table("seaql_migrations").await.unwrap());
    db.close().await.unwrap();
}

async fn an_unreachable_database_fails_the_check() {
    // Nothing listens on port 1.
    let password = "db-password-never-shown";
    let postgres = format!("postgres://todo:{password}@127.0.0.1:1/todo");
    let missing_dir = tempfile::tempdir().unwrap();
    let sqlite = format!(
        "sqlite://{}",
        missing_dir.path().join("no/such/dir/todo.db").display()
    );
    for database_url in [postgres.as_str(), sqlite.as_str()] {
        let checked = check(&[
            ("DATABASE_URL", database_url),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .await;
        assert!(!checked.passed, "{}", checked.stdout);
        assert_eq!(checked.failures(), 1, "{}", checked.stdout);
        let line = checked.line("FAIL", "database");
        assert!(line.contains("cannot reach"), "{line}");
        checked.line("skip", "migrations");
        checked.line("ok", "configuration");
        checked.line("ok", "CORS origins");
        checked.assert_never_shows(SECRET);
        checked.assert_never_shows(password);
    }
}

async fn an_unreachable_or_unusable_key_set_fails_the_check() {
    let database = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", database.path().join("todo.db").display());
    let good = serve_key_set(&["ed25519"]).await;
    let unusable = serve_key_set(&["p521"]).await;
    let cases = [
        (
            "http://127.0.0.1:1/api/auth/jwks".to_owned(),
            "cannot fetch",
        ),
        (format!("{good}/wrong/path"), "HTTP 404"),
        (format!("{unusable}/api/auth/jwks"), "has no usable key"),
    ];
    for (jwks_url, why) in cases {
        let checked = check(&[
            ("DATABASE_URL", &database_url),
            ("JWKS_URL", &jwks_url),
            ("BETTER_AUTH_SECRET", SECRET),
        ])
        .await;
        assert!(!checked.passed, "{jwks_url}: {}", checked.stdout);
        assert_eq!(checked.failures(), 1, "{}", checked.stdout);
        let line = checked.line("FAIL", "key set");
        assert!(line.contains(&jwks_url), "{line}");
        assert!(line.contains(why), "{line}");
        checked.line("ok", "database");
        checked.assert_never_shows(SECRET);
    }
}

async fn an_invalid_configuration_fails_the_check() {
    let checked = check(&[("PORT", "eighty"), ("BETTER_AUTH_SECRET", SECRET)]).await;
    assert!(!checked.passed);
    assert_eq!(
        checked.stdout.lines().collect::<Vec<_>>(),
        [checked.line("FAIL", "configuration")],
        "nothing is checked on an invalid configuration"
    );
    assert!(checked.line("FAIL", "configuration").contains("PORT"));
    checked.assert_never_shows(SECRET);

    let checked = check(&[("APP_ENV", "production")]).await;
    assert!(!checked.passed);
    let line = checked.line("FAIL", "configuration");
    assert!(line.contains("BETTER_AUTH_SECRET"), "{line}");
}
