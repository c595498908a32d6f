//! Tokens verified against a JSON Web Key Set served over HTTP, as Better
//! Auth serves it at `/api/auth/jwks`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Json;
use poem::{EndpointExt, IntoResponse, Route, Server, handler};
use serde_json::{Value, json};
use tokio::sync::RwLock;

use libtest_mimic::Trial;

use api::auth::Clock;
use api::configuration::AuthSettings;

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_on_clock, spawn_app_with};

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
        cached_keys_keep_answering_while_the_key_set_hangs,
        unknown_kids_share_one_fetch_and_a_failure_backs_off,
        a_slow_key_set_is_refreshed_in_the_background,
        an_endless_key_set_body_is_cut_off_at_the_cap,
        redirects_from_the_key_set_are_not_followed,
        keys_beyond_the_cap_are_skipped,
    ]
}

/// A stand-in for Better Auth's JWKS route whose keys and behaviour a test
/// can change.
#[derive(Clone)]
struct KeySetServer {
    origin: String,
    keys: Arc<RwLock<Vec<Value>>>,
    behaviour: Arc<RwLock<Behaviour>>,
    hits: Arc<AtomicUsize>,
    /// Bytes of an endless body handed to the connection so far.
    bytes_sent: Arc<AtomicUsize>,
}

/// How the key-set route answers.
#[derive(Clone)]
enum Behaviour {
    Serve,
    /// Never answers.
    Hang,
    /// Answers with the keys after a delay.
    Slow(Duration),
    /// An endless body without a length.
    Endless,
    /// `302 Found` to another URL.
    Redirect(String),
}

#[handler]
async fn serve_keys(server: poem::web::Data<&KeySetServer>) -> poem::Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    let behaviour = server.behaviour.read().await.clone();
    match behaviour {
        Behaviour::Serve => {}
        Behaviour::Hang => std::future::pending::<()>().await,
        Behaviour::Slow(delay) => tokio::time::sleep(delay).await,
        Behaviour::Endless => {
            let sent = Arc::clone(&server.bytes_sent);
            let body = futures_util::stream::repeat(vec![b' '; 64 * 1024]).map(move |chunk| {
                sent.fetch_add(chunk.len(), Ordering::SeqCst);
                Ok::<_, std::io::Error>(chunk)
            });
            return poem::Response::builder()
                .content_type("application/json")
                .body(poem::Body::from_bytes_stream(body));
        }
        Behaviour::Redirect(to) => {
            return poem::Response::builder()
                .status(poem::http::StatusCode::FOUND)
                .header("location", to)
                .finish();
        }
    }
    Json(json!({ "keys": *server.keys.read().await })).into_response()
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
            behaviour: Arc::new(RwLock::new(Behaviour::Serve)),
            hits: Arc::new(AtomicUsize::new(0)),
            bytes_sent: Arc::new(AtomicUsize::new(0)),
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

    async fn behave(&self, behaviour: Behaviour) {
        *self.behaviour.write().await = behaviour;
    }

    fn url(&self) -> String {
        format!("{}/api/auth/jwks", self.origin)
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
    spawn_app_on_clock(Backend::Sqlite, clock, move |settings| {
        settings.auth.secret = None;
        settings.auth.better_auth_url = Some(origin.parse().unwrap());
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
    assert_eq!(server.hits(), 1);
    clock.advance(Duration::from_secs(2));
    // The aged cache answers at once and refreshes in the background; once
    // the refresh lands, the removed key no longer verifies.
    assert_eq!(status(&app, &removed).await, 200, "served while refreshing");
    let deadline = Instant::now() + Duration::from_secs(5);
    while status(&app, &removed).await == 200 {
        assert!(Instant::now() < deadline, "the refresh never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status(&app, &kept).await, 200);
    assert_eq!(server.hits(), 2);
}

async fn unknown_kids_cannot_make_the_service_hammer_the_key_set() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &token).await, 200);
    for attempt in 0..25 {
        let bogus = ed25519_token_naming(&server.origin, &format!("made-up-{attempt}"));
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

/// A token for `kim` signed with the Ed25519 fixture key but naming `kid`:
/// a key the key set may never have published.
fn ed25519_token_naming(origin: &str, kid: &str) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    encode(
        &header,
        &claims(origin, "kim"),
        &EncodingKey::from_ed_pem(&fixture("ed25519.pem")).unwrap(),
    )
    .unwrap()
}

/// The status of `/api/me` with `token`, and how long it took.
async fn timed_status(app: &TestApp, token: &str) -> (u16, Duration) {
    let started = Instant::now();
    let answer = status(app, token).await;
    (answer, started.elapsed())
}

/// What a request with a cached key may take, however the key set behaves.
const FAST: Duration = Duration::from_millis(50);

async fn cached_keys_keep_answering_while_the_key_set_hangs() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let clock = Clock::default();
    let app = app_trusting(&server, &clock).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &token).await, 200);

    server.behave(Behaviour::Hang).await;
    clock.advance(max_age() + Duration::from_secs(1));
    let answers = futures_util::future::join_all((0..8).map(|_| timed_status(&app, &token))).await;
    for (answer, took) in answers {
        assert_eq!(answer, 200);
        assert!(
            took < FAST,
            "a cached key waited {took:?} for a hanging key set"
        );
    }
    for _ in 0..5 {
        let (answer, took) = timed_status(&app, &token).await;
        assert_eq!(answer, 200);
        assert!(
            took < FAST,
            "a cached key waited {took:?} for a hanging key set"
        );
    }
    assert_eq!(
        server.hits(),
        2,
        "one background refresh, not one per request"
    );
}

async fn unknown_kids_share_one_fetch_and_a_failure_backs_off() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let clock = Clock::default();
    let app = app_trusting(&server, &clock).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &token).await, 200);

    server.behave(Behaviour::Hang).await;
    clock.advance(min_refresh());
    let started = Instant::now();
    let flood = futures_util::future::join_all((0..60).map(|n| {
        let bogus = ed25519_token_naming(&server.origin, &format!("made-up-{n}"));
        let app = &app;
        async move { status(app, &bogus).await }
    }));
    // Meanwhile a cached key answers at once.
    let (cached, (status_of_cached, took)) = tokio::join!(flood, async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        timed_status(&app, &token).await
    });
    let flood_took = started.elapsed();
    assert!(cached.iter().all(|&status| status == 401), "{cached:?}");
    assert_eq!(status_of_cached, 200);
    assert!(took < FAST, "a cached key waited {took:?}");
    // All 60 waited for the one fetch (it times out after 5 s), not for
    // each other's.
    assert!(
        flood_took < Duration::from_secs(8),
        "60 unknown kids took {flood_took:?}"
    );
    assert_eq!(server.hits(), 2, "one fetch shared by every unknown kid");

    // The failure backs off from its end: no fetch, an immediate 401.
    clock.advance(min_refresh() / 2);
    let (answer, took) = timed_status(&app, &ed25519_token_naming(&server.origin, "later")).await;
    assert_eq!(answer, 401);
    assert!(
        took < FAST,
        "an unknown kid waited {took:?} during the back-off"
    );
    assert_eq!(server.hits(), 2);

    // After the back-off, the key set is tried again and recovers.
    server.behave(Behaviour::Serve).await;
    server.add("p256").await;
    clock.advance(min_refresh());
    let rotated = sign_with("p256", Algorithm::ES256, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &rotated).await, 200);
    assert_eq!(server.hits(), 3);
}

async fn a_slow_key_set_is_refreshed_in_the_background() {
    let server = KeySetServer::start(&["ed25519"]).await;
    let clock = Clock::default();
    let app = app_trusting(&server, &clock).await;
    let old = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &old).await, 200);

    server.add("p256").await;
    server
        .behave(Behaviour::Slow(Duration::from_millis(1500)))
        .await;
    clock.advance(max_age() + Duration::from_secs(1));
    let (status_of_old, took) = timed_status(&app, &old).await;
    assert_eq!(status_of_old, 200);
    assert!(took < FAST, "an aged cache made the caller wait {took:?}");
    // A key only the slow response names waits for that same fetch.
    let new = sign_with("p256", Algorithm::ES256, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &new).await, 200);
    assert_eq!(server.hits(), 2);
}

async fn an_endless_key_set_body_is_cut_off_at_the_cap() {
    let server = KeySetServer::start(&[]).await;
    server.behave(Behaviour::Endless).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let token = sign_with("ed25519", Algorithm::EdDSA, &claims(&server.origin, "kim"));
    let (answer, took) = timed_status(&app, &token).await;
    assert_eq!(answer, 401);
    // Reading on would have lasted until the 5 s fetch timeout.
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let sent = server.bytes_sent.load(Ordering::SeqCst);
    assert!(
        sent < 16 << 20,
        "{sent} bytes were read from an endless body"
    );
}

async fn redirects_from_the_key_set_are_not_followed() {
    let attacker = KeySetServer::start(&["p256"]).await;
    let server = KeySetServer::start(&["ed25519"]).await;
    server.behave(Behaviour::Redirect(attacker.url())).await;
    let app = app_trusting(&server, &Clock::default()).await;
    let forged = sign_with("p256", Algorithm::ES256, &claims(&server.origin, "kim"));
    assert_eq!(status(&app, &forged).await, 401);
    assert_eq!(attacker.hits(), 0, "the redirect was followed");
    assert_eq!(server.hits(), 1);
}

async fn keys_beyond_the_cap_are_skipped() {
    let server = KeySetServer::start(&[]).await;
    {
        let mut keys = server.keys.write().await;
        for n in 0..70 {
            let mut key = public_jwk("ed25519");
            key["kid"] = json!(format!("k{n}"));
            keys.push(key);
        }
    }
    let app = app_trusting(&server, &Clock::default()).await;
    let signed_as = |kid: &str| ed25519_token_naming(&server.origin, kid);
    assert_eq!(status(&app, &signed_as("k0")).await, 200);
    assert_eq!(status(&app, &signed_as("k63")).await, 200);
    assert_eq!(status(&app, &signed_as("k64")).await, 401, "over the cap");
}
