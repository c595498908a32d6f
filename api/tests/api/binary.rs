//! The `api` binary itself: local-development mode, production refusal,
//! and `api token`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use libtest_mimic::Trial;

use crate::helpers::TestApp;

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::standalone![
            without_auth_configuration_it_serves_a_working_demo_token,
            production_without_auth_refuses_to_start_naming_the_variable,
            unsafe_configurations_refuse_to_start_with_one_line,
        ],
        crate::sqlite_only![token_command_mints_a_token_the_service_accepts],
    ])
}

pub fn api_command(dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1");
    command
}

pub(crate) struct KillOnDrop(pub(crate) Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Strips ANSI colour codes from a log line.
pub(crate) fn plain(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

async fn without_auth_configuration_it_serves_a_working_demo_token() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        api_command(dir.path())
            .env("PORT", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = child.0.stdout.take().unwrap();
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(plain(&line)).is_err() {
                break;
            }
        }
    });
    let (mut address, mut curl) = (None, None);
    while address.is_none() || curl.is_none() {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the binary logs its address and a curl line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            address = rest.split_whitespace().next().map(str::to_owned);
        }
        if line.starts_with("curl ") {
            curl = Some(line);
        }
    }
    let (address, curl) = (address.unwrap(), curl.unwrap());
    let token = curl
        .split("Bearer ")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the curl line carries the token");
    assert!(curl.contains(&format!("{address}/api/tasks")), "{curl}");

    let response = reqwest::Client::new()
        .get(format!("{address}/api/tasks"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        dir.path().join("todo.db").exists(),
        "embedded SQLite by default"
    );
}

async fn production_without_auth_refuses_to_start_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = api_command(dir.path())
        .env("APP_ENV", "production")
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("BETTER_AUTH_SECRET"), "{stderr}");
    assert!(
        !dir.path().join("todo.db").exists(),
        "refuses before touching the database"
    );
}

async fn unsafe_configurations_refuse_to_start_with_one_line() {
    let strong = "0123456789abcdef0123456789abcdef";
    let production = [
        ("APP_ENV", "production"),
        ("CORS_ORIGINS", "https://app.test"),
    ];
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("BETTER_AUTH_SECRET", "a")], "BETTER_AUTH_SECRET"),
        (
            vec![("BETTER_AUTH_SECRET", strong), ("CORS_ORIGINS", ",")],
            "CORS_ORIGINS",
        ),
        (
            vec![("BETTER_AUTH_SECRET", strong), ("CORS_ORIGINS", "*")],
            "CORS_ORIGINS",
        ),
        (
            vec![("BETTER_AUTH_URL", "http://auth.example.com")],
            "BETTER_AUTH_URL",
        ),
    ];
    for (vars, name) in cases {
        let dir = tempfile::tempdir().unwrap();
        let mut command = api_command(dir.path());
        command.env("PORT", "0").envs(production).envs(vars.clone());
        assert_refused(command, name, &vars).await;
        assert!(!dir.path().join("todo.db").exists());
    }
    // Local-development mode (no auth) on a public address.
    let dir = tempfile::tempdir().unwrap();
    let mut command = api_command(dir.path());
    command.env("PORT", "0").env("HOST", "0.0.0.0");
    assert_refused(command, "HOST", &[("HOST", "0.0.0.0")]).await;
}

/// The command exits non-zero at once with one line naming `name`.
async fn assert_refused(mut command: Command, name: &str, why: &[(&str, &str)]) {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || command.output().unwrap()),
    )
    .await
    .expect("refuses at once instead of serving")
    .unwrap();
    assert!(!output.status.success(), "{why:?} started");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 1, "{why:?}: {stderr}");
    assert!(lines[0].contains(name), "{why:?}: {stderr}");
}

async fn token_command_mints_a_token_the_service_accepts(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let output = api_command(dir.path())
        .env("BETTER_AUTH_SECRET", &app.secret)
        .args(["token", "--sub", "cli-user", "--email", "cli@example.com"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let me = app.me_with_token(&token).await;
    assert_eq!(me["id"], "cli-user");
    assert_eq!(me["email"], "cli@example.com");

    let without_secret = api_command(dir.path())
        .args(["token", "--sub", "x"])
        .output()
        .unwrap();
    assert!(!without_secret.status.success());
    assert!(String::from_utf8_lossy(&without_secret.stderr).contains("BETTER_AUTH_SECRET"));
}
