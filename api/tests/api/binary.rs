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
        ],
        crate::sqlite_only![token_command_mints_a_token_the_service_accepts],
    ])
}

pub(crate) fn api_command(dir: &std::path::Path) -> Command {
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
