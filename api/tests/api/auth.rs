//! Every 401 case of the contract, and what a valid token may carry.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use libtest_mimic::Trial;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_problem, spawn_app_with};

pub fn tests() -> Vec<Trial> {
    crate::harness::all([
        crate::both_backends![
            requests_without_a_usable_token_are_401,
            time_claims_are_checked_with_a_minute_of_leeway,
            claims_fill_me_and_the_user_row,
            sub_must_be_a_clean_user_id,
        ],
        crate::standalone![
            issuer_and_audience_are_required_where_configured,
            issuer_and_audience_are_unchecked_for_hs256_by_default,
        ],
    ])
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn sign(algorithm: Algorithm, secret: &str, claims: Value) -> String {
    encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

/// A token whose header says `alg: none`, with no signature.
fn unsigned(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

async fn assert_unauthorized(app: &TestApp, authorization: Option<&str>, why: &str) {
    let mut request = app.client.get(app.url("/api/tasks"));
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = request.send().await.expect("request");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let problem = assert_problem(response, 401).await;
    assert!(
        challenge
            .as_deref()
            .is_some_and(|c| c.starts_with("Bearer")),
        "{why}: WWW-Authenticate is {challenge:?}"
    );
    assert!(!problem.to_string().contains(&app.secret));
}

async fn requests_without_a_usable_token_are_401(app: TestApp) {
    let valid = json!({"sub": "alice", "exp": now() + 600});
    let good = sign(Algorithm::HS256, &app.secret, valid.clone());
    // The baseline is accepted, so each refusal below is for its own reason.
    let ok = app.get_with_token("/api/tasks", &good).await;
    assert_eq!(ok.status(), 200);

    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "no Authorization header"),
        (Some(format!("Basic {good}")), "not Bearer"),
        (Some("Bearer".into()), "empty bearer"),
        (Some("Bearer not-a-jwt".into()), "malformed"),
        (Some("Bearer a.b.c".into()), "malformed segments"),
        (
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS256, "another-secret", valid.clone())
            )),
            "bad signature",
        ),
        (
            Some(format!("Bearer {}", unsigned(valid.clone()))),
            "alg none",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS384, &app.secret, valid.clone())
            )),
            "algorithm not allowed",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS256, &app.secret, json!({"exp": now() + 600}))
            )),
            "no sub",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    &app.secret,
                    json!({"sub": "", "exp": now() + 600})
                )
            )),
            "empty sub",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(
                    Algorithm::HS256,
                    &app.secret,
                    json!({"sub": 7, "exp": now() + 600})
                )
            )),
            "numeric sub",
        ),
        (
            Some(format!(
                "Bearer {}",
                sign(Algorithm::HS256, &app.secret, json!({"sub": "alice"}))
            )),
            "no exp",
        ),
    ];
    for (authorization, why) in cases {
        assert_unauthorized(&app, authorization.as_deref(), why).await;
    }

    // A token anywhere but the Authorization header is not read.
    let in_query = app
        .get_anonymously(&format!("/api/tasks?access_token={good}&token={good}"))
        .await;
    assert_problem(in_query, 401).await;
}

/// The status of `GET path` with an HS256 token of `claims`.
async fn status_for(app: &TestApp, path: &str, claims: Value) -> u16 {
    let token = sign(Algorithm::HS256, &app.secret, claims);
    app.get_with_token(path, &token).await.status().as_u16()
}

async fn time_claims_are_checked_with_a_minute_of_leeway(app: TestApp) {
    let status = |claims: Value| status_for(&app, "/api/me", claims);
    assert_eq!(
        status(json!({"sub": "a", "exp": now() - 120})).await,
        401,
        "expired"
    );
    assert_eq!(
        status(json!({"sub": "a", "exp": now() - 20})).await,
        200,
        "within leeway"
    );
    assert_eq!(
        status(json!({"sub": "a", "exp": now() + 600, "nbf": now() + 300})).await,
        401,
        "not yet valid"
    );
    assert_eq!(
        status(json!({"sub": "a", "exp": now() + 600, "nbf": now() + 20})).await,
        200,
        "nbf within leeway"
    );
    assert_eq!(
        status(json!({"sub": "a", "exp": now() + 7200, "iat": now() + 3600})).await,
        401,
        "issued an hour from now"
    );
    assert_eq!(
        status(json!({"sub": "a", "exp": now() + 600, "iat": now() + 20})).await,
        200,
        "iat within leeway"
    );
    // A string is no NumericDate: taken as absent, it would skip the check.
    for iat in [json!("9999999999"), json!(true), json!([now() + 3600])] {
        assert_eq!(
            status(json!({"sub": "a", "exp": now() + 600, "iat": iat})).await,
            401,
            "iat {iat}"
        );
    }
}

/// A `sub` that is not a clean user id is a 401, never a distinct user (or
/// a failed insert).
async fn sub_must_be_a_clean_user_id(app: TestApp) {
    let token_for = |sub: &str| {
        sign(
            Algorithm::HS256,
            &app.secret,
            json!({"sub": sub, "exp": now() + 600}),
        )
    };
    let app = &app;
    let create_with = |token: String| async move {
        let body = json!({"title": "t"});
        app.send_with_token(Method::POST, "/api/tasks", &token, Some(&body))
            .await
    };
    let long = "x".repeat(256);
    for (sub, why) in [
        ("ali\0ce", "a NUL"),
        ("ali\u{1b}ce", "a control character"),
        (" alice", "a leading space"),
        ("alice ", "a trailing space"),
        ("alice\n", "a trailing newline"),
        (long.as_str(), "256 characters"),
    ] {
        assert_problem(create_with(token_for(sub)).await, 401).await;
        assert_unauthorized(app, Some(&format!("Bearer {}", token_for(sub))), why).await;
    }
    assert_eq!(app.count_rows("users").await, 0, "no user was recorded");
    // The longest allowed, with inner spaces and non-ASCII, is accepted.
    let longest = "é ".repeat(127) + "é";
    assert_eq!(create_with(token_for(&longest)).await.status(), 201);
}

async fn claims_fill_me_and_the_user_row(app: TestApp) {
    let token = sign(
        Algorithm::HS256,
        &app.secret,
        json!({"sub": "u-42", "email": "ada@example.com", "name": "Ada", "exp": now() + 600}),
    );
    let me = app.me_with_token(&token).await;
    assert_eq!(
        me,
        json!({"id": "u-42", "email": "ada@example.com", "name": "Ada"})
    );

    let bare = app.me("u-7").await;
    assert_eq!(bare, json!({"id": "u-7", "email": null, "name": null}));

    let body = json!({"title": "t"});
    let created = app
        .send_with_token(Method::POST, "/api/tasks", &token, Some(&body))
        .await;
    assert_eq!(created.status(), 201);
    let row = app
        .db
        .query_one_raw(sea_orm::Statement::from_string(
            app.db.get_database_backend(),
            "SELECT email, name FROM users WHERE id = 'u-42'",
        ))
        .await
        .unwrap()
        .expect("the user row exists");
    assert_eq!(
        row.try_get::<String>("", "email").unwrap(),
        "ada@example.com"
    );
    assert_eq!(row.try_get::<String>("", "name").unwrap(), "Ada");
}

async fn issuer_and_audience_are_required_where_configured() {
    let app = spawn_app_with(Backend::Sqlite, |settings| {
        settings.auth.issuer = Some("https://auth.example.com".into());
        settings.auth.audience = Some("todo-api".into());
    })
    .await;
    let status = |claims: Value| status_for(&app, "/api/tasks", claims);
    let exp = now() + 600;
    let good =
        json!({"sub": "a", "exp": exp, "iss": "https://auth.example.com", "aud": "todo-api"});
    assert_eq!(status(good).await, 200);
    for (claims, why) in [
        (json!({"sub": "a", "exp": exp, "aud": "todo-api"}), "no iss"),
        (
            json!({"sub": "a", "exp": exp, "iss": "https://evil.example", "aud": "todo-api"}),
            "wrong iss",
        ),
        (
            json!({"sub": "a", "exp": exp, "iss": "https://auth.example.com"}),
            "no aud",
        ),
        (
            json!({"sub": "a", "exp": exp, "iss": "https://auth.example.com", "aud": "other"}),
            "wrong aud",
        ),
    ] {
        assert_eq!(status(claims).await, 401, "{why}");
    }
}

async fn issuer_and_audience_are_unchecked_for_hs256_by_default() {
    let app = spawn_app_with(Backend::Sqlite, |_| {}).await;
    let token = sign(
        Algorithm::HS256,
        &app.secret,
        json!({"sub": "a", "exp": now() + 600, "iss": "anyone", "aud": "anything"}),
    );
    let response = app.get_with_token("/api/tasks", &token).await;
    assert_eq!(response.status(), 200);
}
