//! A fixed JSON Web Key Set served over HTTP from the test's own runtime,
//! as Better Auth serves it at `/api/auth/jwks`, and tokens signed with the
//! fixture keys in `tests/fixtures/keys`.

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use poem::endpoint::make_sync;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::Json;
use poem::{Route, Server};
use serde_json::{Value, json};

/// Serves the public halves of the fixture keys `names` at
/// `{origin}/api/auth/jwks` until the test ends; returns the origin.
pub async fn serve_key_set(names: &[&str]) -> String {
    let keys: Vec<Value> = names.iter().map(|name| public_jwk(name)).collect();
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let address = *acceptor.local_addr()[0].as_socket_addr().unwrap();
    let body = json!({ "keys": keys });
    let app = Route::new().at("/api/auth/jwks", make_sync(move |_| Json(body.clone())));
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app));
    format!("http://{address}")
}

fn fixture(file: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/keys/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn public_jwk(name: &str) -> Value {
    serde_json::from_slice(&fixture(&format!("{name}.jwk.json"))).unwrap()
}

/// A token for `sub` signed with the Ed25519 fixture key (`kid` `ed25519`),
/// issued by and for `origin`, as Better Auth issues them.
pub fn ed25519_token(origin: &str, sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": sub, "iat": now, "exp": now + 900, "iss": origin, "aud": origin});
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("ed25519".to_owned());
    let key = EncodingKey::from_ed_pem(&fixture("ed25519.pem")).unwrap();
    encode(&header, &claims, &key).unwrap()
}
