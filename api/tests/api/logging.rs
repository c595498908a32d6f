//! The log, as an operator reads it: one JSON object per line with
//! `LOG_FORMAT=json`, every line of a request naming its `X-Request-Id`, and
//! never a token, a secret or a key, at any level.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use libtest_mimic::Trial;
use serde_json::{Value, json};

use crate::binary::{KillOnDrop, api_command};
use crate::static_key_set::ed25519_token;

pub fn tests() -> Vec<Trial> {
    crate::standalone![
        every_401_is_logged_under_its_request_id_without_secrets,
        request_ids_are_echoed_when_sane_and_made_up_otherwise,
        the_allowed_origins_are_logged_at_start_and_each_refused_one_when_refused,
    ]
}

const SECRET: &str = "log-test-secret-0123456789abcdef-do-not-log";

fn hs256(secret: &str, algorithm: Algorithm, claims: Value) -> String {
    let key = EncodingKey::from_secret(secret.as_bytes());
    encode(&Header::new(algorithm), &claims, &key).unwrap()
}

/// The binary with `LOG_FORMAT=json` at `RUST_LOG=trace`, trusting
/// `SECRET` and a key set nobody serves; its log lines and address.
fn start_logging_service(dir: &std::path::Path) -> (KillOnDrop, mpsc::Receiver<String>, String) {
    let (child, lines, address, _) = start_logging_service_with(dir, &[]);
    (child, lines, address)
}

/// [`start_logging_service`] with `env` set too; also the lines it logged
/// before its address.
fn start_logging_service_with(
    dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (KillOnDrop, mpsc::Receiver<String>, String, Vec<String>) {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = KillOnDrop(
        api_command(dir)
            .env("PORT", "0")
            .env("RUST_LOG", "trace")
            .env("LOG_FORMAT", "json")
            .env("BETTER_AUTH_SECRET", SECRET)
            .env("BETTER_AUTH_URL", format!("http://127.0.0.1:{closed_port}"))
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let (lines_tx, lines_rx) = mpsc::channel();
    for stream in [
        Box::new(child.0.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.0.stderr.take().unwrap()),
    ] {
        let lines_tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut before = Vec::new();
    let address = loop {
        let line = lines_rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the service logs its address");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
        before.push(line);
    };
    (child, lines_rx, address, before)
}

async fn every_401_is_logged_under_its_request_id_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (child, lines, address) = start_logging_service(dir.path());
    let now = chrono::Utc::now().timestamp();
    let good = json!({"sub": "alice", "exp": now + 600});
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    let tokens = vec![
        hs256(
            "another-secret-another-secret!!",
            Algorithm::HS256,
            good.clone(),
        ),
        unsigned,
        hs256(SECRET, Algorithm::HS384, good.clone()),
        hs256(
            SECRET,
            Algorithm::HS256,
            json!({"sub": "alice", "exp": now - 600}),
        ),
        hs256(
            SECRET,
            Algorithm::HS256,
            json!({"sub": "alice", "exp": now + 600, "nbf": now + 300}),
        ),
        hs256(
            SECRET,
            Algorithm::HS256,
            json!({"sub": "alice", "exp": now + 7200, "iat": now + 3600}),
        ),
        hs256(
            SECRET,
            Algorithm::HS256,
            json!({"sub": " alice", "exp": now + 600}),
        ),
        hs256(SECRET, Algorithm::HS256, json!({"exp": now + 600})),
        hs256(SECRET, Algorithm::HS256, json!({"sub": "alice"})),
        // Key-set tokens: the key set cannot be fetched.
        ed25519_token("http://elsewhere.example", "alice"),
    ];
    let mut authorizations: Vec<Option<String>> = vec![
        None,
        Some("Basic YWxpY2U6cGFzc3dvcmQ=".to_owned()),
        Some("Bearer not-a-jwt".to_owned()),
    ];
    authorizations.extend(tokens.iter().map(|token| Some(format!("Bearer {token}"))));

    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for (n, authorization) in authorizations.iter().enumerate() {
        let id = format!("unauthorized-{n}");
        let mut request = client
            .get(format!("{address}/api/tasks"))
            .header("x-request-id", &id);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "case {n}");
        assert_eq!(response.headers()["x-request-id"], id.as_str());
        ids.push(id);
    }
    // A 500 logs its error under its id too.
    let panicked = client
        .get(format!("{address}/test/panic"))
        .header("x-request-id", "a-panic")
        .send()
        .await
        .unwrap();
    assert_eq!(panicked.status(), 500);
    drop(child);

    // Every line, up to the end of the output: the readers forward the last
    // ones after the process is gone.
    let log: Vec<String> = lines.iter().collect();
    let entries: Vec<Value> = log
        .iter()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not one JSON object: {line}"))
        })
        .collect();
    let lines_of = |id: &str| -> Vec<&Value> {
        entries
            .iter()
            .filter(|entry| {
                entry
                    .to_string()
                    .contains(&format!("\"request_id\":\"{id}\""))
            })
            .collect()
    };
    for id in &ids {
        let request_line = lines_of(id)
            .into_iter()
            .find(|entry| entry["fields"]["message"] == "request")
            .unwrap_or_else(|| panic!("no request line for {id}"));
        assert_eq!(request_line["fields"]["status"], 401, "{id}");
    }
    let key_set_case = ids.last().unwrap();
    assert!(
        lines_of(key_set_case)
            .iter()
            .any(|entry| entry["fields"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("cannot fetch the JSON Web Key Set"))),
        "the key-set failure is not logged under {key_set_case}"
    );
    assert!(
        lines_of("a-panic")
            .iter()
            .any(|entry| entry["fields"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("panicked"))),
        "the panic is not logged under its request id"
    );

    let private_key = String::from_utf8(
        std::fs::read(format!(
            "{}/tests/fixtures/keys/ed25519.pem",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let private_key_body = private_key
        .lines()
        .find(|line| !line.starts_with("-----"))
        .unwrap();
    let whole_log = log.join("\n");
    for token in &tokens {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!whole_log.contains(token.as_str()), "a token was logged");
        if !signature.is_empty() {
            assert!(
                !whole_log.contains(signature),
                "a token signature was logged"
            );
        }
    }
    assert!(!whole_log.contains(SECRET), "the secret was logged");
    assert!(
        !whole_log.contains("YWxpY2U6cGFzc3dvcmQ="),
        "a Basic credential was logged"
    );
    assert!(
        !whole_log.contains(private_key_body),
        "a private key was logged"
    );
}

async fn request_ids_are_echoed_when_sane_and_made_up_otherwise() {
    let app = crate::helpers::spawn_app(crate::helpers::Backend::Sqlite).await;
    let with_id = |id: &str| {
        app.client
            .get(app.url("/health/live"))
            .header("x-request-id", id)
            .send()
    };
    let echoed = with_id("trace-1.2:3_x-Y").await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-1.2:3_x-Y");
    for unsafe_id in ["a b", "a/b", &"a".repeat(129), "<script>"] {
        let response = with_id(unsafe_id).await.unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, unsafe_id);
        assert_eq!(id.len(), 36, "a fresh UUID: {id}");
    }
    // Without one, every response (errors included) gets a fresh id.
    let missing = app.get_anonymously("/api/tasks").await;
    let first = missing.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app.get_anonymously("/api/tasks").await;
    assert_ne!(first, again.headers()["x-request-id"].to_str().unwrap());
}

async fn the_allowed_origins_are_logged_at_start_and_each_refused_one_when_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_child, lines, address, startup) =
        start_logging_service_with(dir.path(), &[("CORS_ORIGINS", "http://localhost:3000")]);
    assert!(
        startup
            .iter()
            .any(|line| line.contains("CORS allows http://localhost:3000")),
        "{startup:#?}"
    );
    let client = reqwest::Client::new();
    let preflight = |origin: &str| {
        client
            .request(reqwest::Method::OPTIONS, format!("{address}/api/tasks"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    assert_eq!(
        preflight("http://localhost:3000").await.unwrap().status(),
        200
    );
    assert_eq!(
        preflight("http://localhost:3001").await.unwrap().status(),
        403
    );
    let refused = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(10))
            .expect("the refusal is logged");
        if line.contains("refused a cross-origin request") {
            break line;
        }
    };
    let refused: Value = serde_json::from_str(&refused).unwrap();
    assert_eq!(refused["level"], "WARN");
    assert_eq!(refused["fields"]["origin"], "http://localhost:3001");
}
