//! A PgBouncer of a test's own, on a free port, in front of the
//! PostgreSQL server `TEST_DATABASE_URL` names.
//!
//! The binary is `PGBOUNCER` where set, else `pgbouncer` on the `PATH` or
//! in `/usr/sbin` (Debian's package). Without one the tests that need it
//! are ignored, and fail in CI, as PostgreSQL tests are.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::Trial;
use tempfile::TempDir;

/// PgBouncer 1.21 is the first that keeps prepared statements in
/// transaction mode (`max_prepared_statements`).
pub const PREPARED_STATEMENTS_SINCE: (u32, u32) = (1, 21);

#[derive(Clone, Debug)]
pub struct Installed {
    pub path: PathBuf,
    /// Major and minor.
    pub version: (u32, u32),
}

impl Installed {
    pub fn keeps_prepared_statements(&self) -> bool {
        self.version >= PREPARED_STATEMENTS_SINCE
    }
}

/// The PgBouncer to run, or why there is none.
pub fn installed() -> Result<Installed, String> {
    let candidates: Vec<PathBuf> = match std::env::var_os("PGBOUNCER") {
        Some(path) => vec![path.into()],
        None => vec!["pgbouncer".into(), "/usr/sbin/pgbouncer".into()],
    };
    for path in candidates {
        let Ok(output) = Command::new(&path).arg("--version").output() else {
            continue;
        };
        // "PgBouncer 1.18.0" on the first line.
        let text = String::from_utf8_lossy(&output.stdout);
        let version = text
            .split_whitespace()
            .nth(1)
            .and_then(|version| {
                let mut parts = version.split('.').map(str::parse::<u32>);
                Some((parts.next()?.ok()?, parts.next()?.ok()?))
            })
            .ok_or_else(|| format!("{} --version said {text:?}", path.display()))?;
        return Ok(Installed { path, version });
    }
    Err(
        "pgbouncer is not installed (apt-get install pgbouncer, or set PGBOUNCER to its path)"
            .into(),
    )
}

/// `trials` as they are when `needed` holds; otherwise ignored with the
/// reason, or, when `fail_in_ci` and `CI` is set, failing with it. Trials
/// already ignored (PostgreSQL missing) stay as they are.
pub fn requiring(trials: Vec<Trial>, needed: Result<(), String>, fail_in_ci: bool) -> Vec<Trial> {
    let Err(reason) = needed else {
        return trials;
    };
    let fail = fail_in_ci && crate::harness::in_ci();
    trials
        .into_iter()
        .map(|trial| {
            if trial.has_ignored_flag() {
                return trial;
            }
            let reason = reason.clone();
            let name = trial.name().to_owned();
            let replacement = Trial::test(name, move || Err(reason.into()));
            if fail {
                replacement
            } else {
                replacement.with_ignored_flag(true)
            }
        })
        .collect()
}

#[derive(Clone, Copy, Debug)]
pub enum PoolMode {
    Session,
    Transaction,
}

impl PoolMode {
    fn name(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
        }
    }

    /// Server connections per database: in session mode one for every
    /// client connection of two instances; in transaction mode few, so that
    /// clients share them.
    fn server_connections(self) -> u32 {
        match self {
            PoolMode::Session => 30,
            PoolMode::Transaction => 4,
        }
    }
}

pub struct PgBouncer {
    child: Child,
    setup: Setup,
}

/// Everything but the process: where it listens, what it runs, its files.
struct Setup {
    port: u16,
    installed: Installed,
    /// `max_prepared_statements`, on versions that have it.
    prepared_statements: u32,
    /// The `[databases]` line: the server, and the user PgBouncer logs in as.
    upstream: String,
    user: String,
    /// Holds the configuration and the log.
    dir: TempDir,
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PgBouncer {
    /// Starts PgBouncer in `mode`, keeping up to `prepared_statements` per
    /// server connection where its version can (0: none).
    pub fn start(mode: PoolMode, prepared_statements: u32) -> Self {
        let server = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
        let server = url::Url::parse(&server).expect("TEST_DATABASE_URL is a URL");
        let user = match server.username() {
            "" => "postgres".to_owned(),
            user => user.to_owned(),
        };
        let password = server
            .password()
            .map(|password| format!(" password={password}"))
            .unwrap_or_default();
        let setup = Setup {
            port: TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("a free port")
                .port(),
            installed: installed().expect("pgbouncer"),
            prepared_statements,
            upstream: format!(
                "* = host={} port={} user={user}{password}",
                server.host_str().unwrap_or("127.0.0.1"),
                server.port().unwrap_or(5432),
            ),
            user,
            dir: tempfile::tempdir().expect("a directory for pgbouncer"),
        };
        setup.configure(mode);
        let mut bouncer = Self {
            child: setup.spawn(),
            setup,
        };
        bouncer.wait_until_listening();
        bouncer
    }

    /// Where the service connects to reach `database` through PgBouncer.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{database}",
            self.setup.user, self.setup.port
        )
    }

    /// Changes the pool mode of the running PgBouncer (a reload, as SIGHUP
    /// or `RELOAD` does): clients already connected stay connected.
    pub fn switch_to(&self, mode: PoolMode) {
        self.setup.configure(mode);
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success(), "reloading pgbouncer");
    }

    /// What PgBouncer logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.setup.dir.path().join("pgbouncer.log")).unwrap_or_default()
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.setup.port)).is_err() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("pgbouncer exited ({status}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "pgbouncer did not listen on {}:\n{}",
                self.setup.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Setup {
    fn configure(&self, mode: PoolMode) {
        let prepared = if self.installed.keeps_prepared_statements() {
            format!("max_prepared_statements = {}\n", self.prepared_statements)
        } else {
            String::new()
        };
        // No `ignore_startup_parameters`: the service must not send any
        // parameter a stock PgBouncer refuses.
        let config = format!(
            "[databases]\n{}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {}\n\
             unix_socket_dir =\nauth_type = any\npool_mode = {}\nmax_client_conn = 200\n\
             default_pool_size = {}\n{prepared}",
            self.upstream,
            self.port,
            mode.name(),
            mode.server_connections(),
        );
        let path = self.dir.path().join("pgbouncer.ini");
        std::fs::write(&path, config).unwrap();
        readable_by_anyone(&path, self.dir.path());
    }

    fn spawn(&self) -> Child {
        let log = File::create(self.dir.path().join("pgbouncer.log")).unwrap();
        let mut command = Command::new(&self.installed.path);
        // PgBouncer refuses to run as root; it can switch to another user.
        if running_as_root() {
            command.args(["-u", "nobody"]);
        }
        command
            .arg(self.dir.path().join("pgbouncer.ini"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting pgbouncer")
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// PgBouncer reads its configuration again on reload, after switching
/// to `nobody`.
fn readable_by_anyone(file: &std::path::Path, dir: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (file, dir);
}
