//! Tokens verified against a JSON Web Key Set served over HTTP, as Better
//! Auth serves it at `/api/auth/jwks`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Json;
use poem::{EndpointExt, Route, Server, handler};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use libtest_mimic::Trial;

use api::auth::Clock;
use api::configuration::AuthSettings;

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::standalone![
        every_supported_algorithm_verifies_with_its_own_key,
        issuer_and_audience_must_be_better_auths_origin,
        a_rotated_key_is_picked_up_without_a_restart,
        a_key_removed_from_the_key_set_stops_verifying_once_the_cache_ages,
        unknown_kids_cannot_make_the_service_hammer_the_key_set,
        the_service_starts_before_better_auth_and_recovers_when_it_comes_up,
        keys_named_in_the_token_header_are_never_used,
        symmetric_keys_in_the_key_set_are_ignored,
        shared_secret_and_key_set_work_side_by_side,
    ]
}

/// A stand-in for Better Auth's JWKS route whose keys a test can change.
#[derive(Clone)]
struct KeySetServer {
    origin: String,
    keys: Arc<RwLock<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
}

#[handler]
async fn serve_keys(server: poem::web::Data<&KeySetServer>) -> Json<Value> {
    server.hits.fetch_add(1, Ordering::SeqCst);
    Json(json!({ "keys": *server.keys.read().await }))
}

impl KeySetServer {
    async fn start(names: &[&str]) -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0"), names).await
    }

    async fn start_on(listener: TcpListener<&'static str>, names: &[&str]) -> Self {
        let acceptor = listener.into_acceptor().await.unwrap();
        let address = *acceptor.local_addr()[0].as_socket_addr().unwrap();
        let server = KeySetServer {
            origin: format!("http://{address}"),
            keys: Arc::new(RwLock::new(names.iter().map(|n| public_jwk(n)).collect())),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        let app = Route::new()
            .at("/api/auth/jwks", serve_keys)
            .data(server.clone());
        tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
        server
    }

    async fn add(&self, name: &str) {
        self.keys.write().await.push(public_jwk(name));
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn fixture(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/keys/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn public_jwk(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{name}.jwk.json"))).unwrap()
}

/// Signs `claims` with the fixture key `name`, naming it as `kid`.
fn sign_with(name: &str, algorithm: Algorithm, claims: &Value) -> String {
    let pem = fixture(&format!("{name}.pem"));
    let key = match algorithm {
        Algorithm::EdDSA => EncodingKey::from_ed_pem(&pem),
        Algorithm::ES256 | Algorithm::ES384 => EncodingKey::from_ec_pem(&pem),
        _ => EncodingKey::from_rsa_pem(&pem),
    }
    .unwrap();
    let mut header = Header::new(algorithm);
    header.kid = Some(name.to_owned());
    encode(&header, claims, &key).unwrap()
}

fn claims(origin: &str, sub: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": sub, "email": format!("{sub}@example.com"), "name": sub,
           "iat": now, "exp": now + 900, "iss": origin, "aud": origin})
}

/// The service trusting `server` as its Better Auth, with no shared secret,
/// the default refetch intervals, and its key-set cache on `clock`.
async fn app_trusting(server: &KeySetServer, clock: &Clock) -> TestApp {
    app_trusting_origin(&server.origin, clock).await
}

/// The service trusting the Better Auth at `origin`, with no shared secret.
async fn app_trusting_origin(origin: &str, clock: &Clock) -> TestApp {
    let origin = origin.to_owned();
    let clock = clock.clone();
    spawn_app_with(Backend::Sqlite, move |settings| {
        settings.auth.secret = None;
        settings.auth.better_auth_url = Some(origin.parse().unwrap());
        settings.auth.clock = clock;
    })
    .await
}

/// The defaults the tests below move the clock past.
fn min_refresh() -> Duration {
    AuthSettings::default().key_set_min_refresh
}

fn max_age() -> Duration {
    AuthSettings::default().key_set_max_age
}

async fn status(app: &TestApp, token: &str) -> u16 {
    app.get_with_token("/api/me", token).await.status().as_u16()
}

async fn every_supported_algorithm_verifies_with_its_own_key() {
    let server = KeySetServer::start(&["ed25519", "p256", "p384", "rsa", "p521"]).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let origin = &server.origin;
    for (name, algorithm) in [
        ("ed25519", Algorithm::EdDSA),
        ("p256", Algorithm::ES256),
        ("p384", Algorithm::ES384),
        ("rsa", Algorithm::RS256),
    ] {
        let token = sign_with(name, algorithm, &claims(origin, "kim"));
        let response = app.get_with_token("/api/me", &token).await;
        assert_eq!(response.status(), 200, "{algorithm:?}");
        let me: Value = response.json().await.unwrap();
        assert_eq!(
            me,
            json!({"id": "kim", "email": "kim@example.com", "name": "kim"})
        );
    }
    // A key verifies only its own algorithm: the RS256 key refuses PS256.
    let ps256 = sign_with("rsa", Algorithm::PS256, &claims(origin, "kim"));
    assert_eq!(status(&app, &ps256).await, 401);
    // Without a shared secret, HS256 is refused outright.
    let hs256 = encode(
        &Header {
            kid: Some("rsa".into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims(origin, "kim"),
        &EncodingKey::from_secret(&fixture("rsa.jwk.json")),
    )
    .unwrap();
    assert_eq!(status(&app, &hs256).await, 401);
    assert_eq!(server.hits(), 1, "the key set is cached");
}

async fn issuer_and_audience_must_be_better_auths_origin() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let origin = server.origin.clone();
    let with = |patch: Value| {
        let mut claims = claims(&origin, "kim");
        for (key, value) in patch.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        sign_with("ed25519", Algorithm::EdDSA, &claims)
    };
    assert_eq!(status(&app, &with(json!({}))).await, 200);
    assert_eq!(
        status(&app, &with(json!({"aud": "https://elsewhere.example"}))).await,
        401
    );
    assert_eq!(
        status(&app, &with(json!({"iss": "https://elsewhere.example"}))).await,
        401
    );
    assert_eq!(status(&app, &with(json!({"aud": null}))).await, 401);
    assert_eq!(status(&app, &with(json!({"iss": null}))).await, 401);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(status(&app, &with(json!({"exp": now - 120}))).await, 401);
}

async fn a_rotated_key_is_picked_up_without_a_restart() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let clock = Clock::default();
    let app = app_trusting(&server, &clock).await;
    let old = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    let new = sign_with(
        "ed25519-rotated",
        Algorithm::EdDSA,
        &claims(&server.origin, "kim"),
    );
    assert_eq!(status(&app, &old).await, 200);
    assert_eq!(status(&app, &new).await, 401, "not published yet");

    server.add("ed25519-rotated").await;
    assert_eq!(
        status(&app, &new).await,
        401,
        "no refetch within the interval"
    );
    clock.advance(min_refresh());
    assert_eq!(
        status(&app, &new).await,
        200,
        "refetched for the unknown kid"
    );
    assert_eq!(status(&app, &old).await, 200, "the old key still verifies");
}

async fn a_key_removed_from_the_key_set_stops_verifying_once_the_cache_ages() {
    let server = KeySetServer::start(&["ed25519", "p256"]).await;
    let clock = Clock::default();
    let app = app_trusting(&server, &clock).await;
    let removed = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    let kept = sign_with("p256", Algorithm::ES256, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &removed).await, 200);

    server
        .keys
        .write()
        .await
        .retain(|key| key["kid"] != "ed25519");
    assert_eq!(status(&app, &removed).await, 200, "still cached");
    clock.advance(max_age() - Duration::from_secs(1));
    assert_eq!(status(&app, &removed).await, 200, "not stale yet");
    clock.advance(Duration::from_secs(2));
    assert_eq!(status(&app, &removed).await, 401, "refetched once stale");
    assert_eq!(status(&app, &kept).await, 200);
    assert_eq!(server.hits(), 2);
}

async fn unknown_kids_cannot_make_the_service_hammer_the_key_set() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &token).await, 200);
    for attempt in 0..25 {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(format!("made-up-{attempt}"));
        let bogus = encode(
            &header,
            &claims(&server.origin, "kim"),
            &EncodingKey::from_ed_pem(&fixture("ed25519.pem")).unwrap(),
        )
        .unwrap();
        assert_eq!(status(&app, &bogus).await, 401);
    }
    assert_eq!(server.hits(), 1, "no refetch within the minimum interval");
}

async fn the_service_starts_before_better_auth_and_recovers_when_it_comes_up() {
    // Reserve a port, then free it: nothing listens there yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let origin = format!("http://127.0.0.1:{port}");
    let clock = Clock::default();
    let app = app_trusting_origin(&origin, &clock).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&origin, "kim"));
    let response = app.get_with_token("/api/me", &token).await;
    assert_problem(response, 401).await;

    let address: &'static str = Box::leak(format!("127.0.0.1:{port}").into_boxed_str());
    let server = KeySetServer::start_on(TcpListener::bind(address), &["ed25519"]).await;
    assert_eq!(
        status(&app, &token).await,
        401,
        "no refetch within the interval"
    );
    assert_eq!(server.hits(), 0);
    clock.advance(min_refresh());
    assert_eq!(status(&app, &token).await, 200);
    assert_eq!(server.hits(), 1);
}

async fn keys_named_in_the_token_header_are_never_used() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let app = app_trusting(&server, &Clock::default()).await;
    // Signed with a key the service does not trust, which the header offers
    // inline (`jwk`) and by URL (`jku`), under a trusted key's `kid`.
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("ed25519".into());
    header.jwk = Some(serde_json::from_value(public_jwk("ed25519-rotated")).unwrap());
    header.jku = Some(format!("{}/api/auth/jwks", server.origin));
    header.x5u = Some(format!("{}/cert.pem", server.origin));
    let pem = fixture("ed25519-rotated.pem");
    let forged = encode(
        &header,
        &claims(&server.origin, "kim"),
        &EncodingKey::from_ed_pem(&pem).unwrap(),
    )
    .unwrap();
    assert_eq!(status(&app, &forged).await, 401);
}

async fn symmetric_keys_in_the_key_set_are_ignored() {
    let server = KeySetServer::start(&["ed25519"]).await;
    server
        .keys
        .write()
        .await
        .push(json!({"kty": "oct", "kid": "shared", "alg": "HS256", "k": "c2VjcmV0"}));
    let app = app_trusting(&server, &Clock::default()).await;
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("shared".into());
    let token = encode(
        &header,
        &claims(&server.origin, "kim"),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    assert_eq!(status(&app, &token).await, 401);
}

async fn shared_secret_and_key_set_work_side_by_side() {
    let server = KeySetServer::start(&["p256"]).await;
    let origin = server.origin.clone();
    let app = spawn_app_with(Backend::Sqlite, move |settings| {
        settings.auth.better_auth_url = Some(origin.parse().unwrap());
    })
    .await;
    assert_eq!(status(&app, &app.token("hs-user")).await, 200);
    let es256 = sign_with(
        "p256",
        Algorithm::ES256,
        &claims(&server.origin, "jwks-user"),
    );
    assert_eq!(status(&app, &es256).await, 200);
}
