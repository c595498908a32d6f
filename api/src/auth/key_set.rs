//! Better Auth's JSON Web Key Set: fetched on first use, cached, and fetched
//! again when a token names a `kid` the cache lacks, so key rotation needs no
//! restart, or when the cache is older than its maximum age, so a key Better
//! Auth has removed stops being trusted.
//!
//! Better Auth may be slow, down or hostile, and none of that may stall the
//! tokens the cache can already verify:
//! - an aged cache keeps serving while one refresh runs in the background;
//! - at most one fetch runs at a time, and everyone who needs it awaits that
//!   one fetch instead of starting their own;
//! - fetches start at most once per minimum interval, so a flood of made-up
//!   `kid`s cannot hammer Better Auth, and a failure backs off (doubling,
//!   timed from the failure's end) before the next try;
//! - a fetch is bounded: connect and total timeouts, a body cap, a key cap,
//!   and no redirects, so a response cannot exhaust memory or swap in
//!   another origin's keys.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tracing::Instrument;
use url::Url;

use super::clock::Clock;
use super::error::TokenError;
use super::rules::token_rules;
use crate::configuration::AuthSettings;
use crate::metrics::KeySetFetches;

/// The largest key-set body read; Better Auth's is a few KiB.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The most keys taken from one key set; the rest are skipped.
pub const MAX_KEYS: usize = 64;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest back-off after repeated failures.
const MAX_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// A public key and the one algorithm it verifies.
pub struct VerifyingKey {
    pub key: DecodingKey,
    pub validation: Validation,
}

#[derive(Default)]
struct CachedKeys {
    by_kid: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Option<Instant>,
}

/// A fetch in progress; every clone resolves to whether it succeeded.
type RunningFetch = Shared<BoxFuture<'static, bool>>;

#[derive(Default)]
struct FetchSchedule {
    running: Option<RunningFetch>,
    last_started: Option<Instant>,
    /// When the last failure ended, and how many failed in a row.
    failures: Option<(Instant, u32)>,
}

/// What a key set is handed at run time beside its settings: the time its
/// cache goes by (tests move it forward) and where it counts its fetches
/// (the application's metrics).
#[derive(Clone, Default)]
pub struct KeySetHandles {
    pub clock: Clock,
    pub fetches: KeySetFetches,
}

pub struct KeySet {
    inner: Arc<Inner>,
}

struct Inner {
    url: Url,
    client: reqwest::Client,
    issuer: Option<String>,
    audience: Option<String>,
    min_refresh_interval: Duration,
    max_age: Duration,
    clock: Clock,
    /// Swapped whole after each successful fetch; readers hold the lock only
    /// to clone the `Arc`.
    keys: RwLock<Arc<CachedKeys>>,
    schedule: Mutex<FetchSchedule>,
    fetches: KeySetFetches,
}

/// The body of a key-set response; each key is read on its own, so one
/// unusable key does not cost the others.
#[derive(Deserialize)]
struct KeySetBody {
    keys: Vec<Value>,
}

impl KeySet {
    /// The key set `settings` trust, if any. Better Auth sets `iss` and
    /// `aud` to its origin; `JWT_ISSUER` and `JWT_AUDIENCE` override that.
    pub fn from_settings(settings: &AuthSettings, handles: KeySetHandles) -> Option<Self> {
        let url = settings.key_set_url()?;
        let origin = settings.better_auth_origin();
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(FETCH_TIMEOUT)
            // A redirect could lead anywhere, including to keys an attacker
            // controls; the configured URL must be the key set itself.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a TLS-capable HTTP client");
        let inner = Inner {
            url,
            client,
            issuer: settings.issuer.clone().or_else(|| origin.clone()),
            audience: settings.audience.clone().or(origin),
            min_refresh_interval: settings.key_set_min_refresh,
            max_age: settings.key_set_max_age,
            clock: handles.clock,
            keys: RwLock::new(Arc::default()),
            schedule: Mutex::new(FetchSchedule::default()),
            fetches: handles.fetches,
        };
        Some(Self {
            inner: Arc::new(inner),
        })
    }

    pub fn url(&self) -> &Url {
        &self.inner.url
    }

    /// Fetches the key set once, as the cache would (same limits), without
    /// caching it: the entries, for `api check` to read one by one.
    pub(super) async fn fetch_entries(&self) -> Result<Vec<Value>, String> {
        self.inner.fetch_entries().await
    }

    /// How the cache would read `jwk`: its `kid` and verifying key, or why
    /// it is skipped.
    pub(super) fn verifying_key(&self, jwk: &Jwk) -> Result<(String, Arc<VerifyingKey>), String> {
        self.inner.verifying_key(jwk)
    }

    /// The key named `kid`, if it verifies `algorithm`.
    pub async fn key_for(
        &self,
        kid: &str,
        algorithm: Algorithm,
    ) -> Result<Arc<VerifyingKey>, TokenError> {
        let inner = &self.inner;
        let cached = inner.cached();
        let key = match cached.by_kid.get(kid) {
            Some(key) => {
                if cached.is_older_than(inner.max_age, inner.clock.now()) {
                    // Refresh in the background; this token does not wait.
                    let _ = inner.start_fetch();
                }
                Arc::clone(key)
            }
            None => {
                if let Some(fetch) = inner.start_fetch() {
                    fetch.await;
                }
                let keys = inner.cached();
                match keys.by_kid.get(kid) {
                    Some(key) => Arc::clone(key),
                    None if keys.fetched_at.is_none() => {
                        return Err(TokenError::KeySetUnavailable);
                    }
                    None => return Err(TokenError::UnknownKey),
                }
            }
        };
        // The header's `alg` must be the key's own: never let a token pick
        // how its key is used.
        if key.validation.algorithms != [algorithm] {
            return Err(TokenError::AlgorithmNotAllowed(format!(
                "{algorithm:?} for this key"
            )));
        }
        Ok(key)
    }
}

impl CachedKeys {
    fn is_older_than(&self, max_age: Duration, now: Instant) -> bool {
        self.fetched_at
            .is_some_and(|fetched_at| now > fetched_at + max_age)
    }
}

impl Inner {
    fn cached(&self) -> Arc<CachedKeys> {
        Arc::clone(&self.keys.read().expect("key cache lock"))
    }

    /// The running fetch, or a new one when the schedule allows it; `None`
    /// while the minimum interval or a failure's back-off lasts.
    fn start_fetch(self: &Arc<Self>) -> Option<RunningFetch> {
        let mut schedule = self.schedule.lock().expect("fetch schedule lock");
        // A finished fetch that could not clear itself (its task panicked)
        // no longer counts as running.
        if let Some(running) = &schedule.running
            && running.peek().is_none()
        {
            return Some(running.clone());
        }
        let now = self.clock.now();
        if let Some((ended, failures)) = schedule.failures
            && now < ended + self.backoff(failures)
        {
            return None;
        }
        if schedule
            .last_started
            .is_some_and(|started| now < started + self.min_refresh_interval)
        {
            return None;
        }
        schedule.last_started = Some(now);
        // A task of its own, so the fetch completes (and is cached) even if
        // the request that started it goes away; it logs in that request's span.
        let inner = Arc::clone(self);
        let task = tokio::spawn(
            async move { inner.fetch_and_store().await }.instrument(tracing::Span::current()),
        );
        let running = async move { task.await.unwrap_or(false) }.boxed().shared();
        schedule.running = Some(running.clone());
        Some(running)
    }

    /// The wait after `failures` failed fetches in a row: the minimum
    /// interval, doubling with each failure, capped.
    fn backoff(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(16);
        (self.min_refresh_interval * 2u32.pow(doublings)).min(MAX_BACKOFF)
    }

    async fn fetch_and_store(&self) -> bool {
        let outcome = self.fetch().await;
        self.fetches.record(outcome.is_ok());
        let mut schedule = self.schedule.lock().expect("fetch schedule lock");
        schedule.running = None;
        match outcome {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "loaded the JSON Web Key Set");
                *self.keys.write().expect("key cache lock") = Arc::new(CachedKeys {
                    by_kid: keys,
                    fetched_at: Some(self.clock.now()),
                });
                schedule.failures = None;
                true
            }
            Err(reason) => {
                let failures = schedule.failures.map_or(1, |(_, count)| count + 1);
                let retry_in = self.backoff(failures);
                tracing::error!(
                    url = %self.url, %reason, retry_in_s = retry_in.as_secs(),
                    "cannot fetch the JSON Web Key Set; cached keys keep verifying, new ones cannot"
                );
                schedule.failures = Some((self.clock.now(), failures));
                false
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, String> {
        Ok(self
            .fetch_entries()
            .await?
            .into_iter()
            .filter_map(|entry| match serde_json::from_value::<Jwk>(entry) {
                Ok(jwk) => match self.verifying_key(&jwk) {
                    Ok(pair) => Some(pair),
                    Err(reason) => {
                        let kid = jwk.common.key_id.as_deref().unwrap_or("?");
                        tracing::warn!(url = %self.url, kid, %reason, "ignoring a key in the key set");
                        None
                    }
                },
                Err(reason) => {
                    tracing::warn!(url = %self.url, %reason, "ignoring an unreadable key in the key set");
                    None
                }
            })
            .collect())
    }

    /// The key set's entries, unparsed, at most `MAX_KEYS` of them.
    async fn fetch_entries(&self) -> Result<Vec<Value>, String> {
        let body = self.fetch_body().await?;
        let body: KeySetBody =
            serde_json::from_slice(&body).map_err(|err| format!("not a key set: {err}"))?;
        let mut keys = body.keys;
        if keys.len() > MAX_KEYS {
            tracing::warn!(url = %self.url, keys = keys.len(), "the key set has more than {MAX_KEYS} keys; the rest are skipped");
            keys.truncate(MAX_KEYS);
        }
        Ok(keys)
    }

    /// The response body, refused past `MAX_BODY_BYTES` without reading on.
    async fn fetch_body(&self) -> Result<Vec<u8>, String> {
        let mut response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(describe_request_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(format!(
                "HTTP {status}: redirects are not followed; set JWKS_URL to the key set's own URL"
            ));
        }
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        let too_large = || format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024);
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BODY_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe_request_error)? {
            if body.len() + chunk.len() > MAX_BODY_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    fn verifying_key(&self, jwk: &Jwk) -> Result<(String, Arc<VerifyingKey>), String> {
        let kid = jwk.common.key_id.clone().ok_or("it has no `kid`")?;
        let algorithm = key_algorithm(jwk.common.key_algorithm, &jwk.algorithm)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|err| err.to_string())?;
        let validation = token_rules(algorithm, self.issuer.as_deref(), self.audience.as_deref());
        Ok((kid, Arc::new(VerifyingKey { key, validation })))
    }
}

/// reqwest's error with its causes, which is where it says what failed
/// ("connection refused", "operation timed out"), and without the URL,
/// which the log line names already.
fn describe_request_error(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut text = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}

/// The algorithm a key verifies: its `alg`, checked against its type, or
/// (without `alg`) the one its type and curve imply.
fn key_algorithm(
    alg: Option<KeyAlgorithm>,
    params: &AlgorithmParameters,
) -> Result<Algorithm, String> {
    let implied = match params {
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            Some(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Some(Algorithm::ES256),
            EllipticCurve::P384 => Some(Algorithm::ES384),
            EllipticCurve::P521 => {
                return Err("ES512 (P-521) keys cannot be verified by this service".into());
            }
            _ => None,
        },
        AlgorithmParameters::OctetKey(_) => {
            return Err("symmetric keys are never taken from a key set".into());
        }
        _ => None,
    };
    let algorithm = match alg {
        None => implied.ok_or("it has no `alg` and its type implies none")?,
        Some(alg) => match alg {
            KeyAlgorithm::EdDSA => Algorithm::EdDSA,
            KeyAlgorithm::ES256 => Algorithm::ES256,
            KeyAlgorithm::ES384 => Algorithm::ES384,
            KeyAlgorithm::RS256 => Algorithm::RS256,
            KeyAlgorithm::RS384 => Algorithm::RS384,
            KeyAlgorithm::RS512 => Algorithm::RS512,
            KeyAlgorithm::PS256 => Algorithm::PS256,
            KeyAlgorithm::PS384 => Algorithm::PS384,
            KeyAlgorithm::PS512 => Algorithm::PS512,
            other => {
                return Err(format!(
                    "algorithm {other:?} is not accepted from a key set"
                ));
            }
        },
    };
    let fits = match algorithm {
        Algorithm::EdDSA | Algorithm::ES256 | Algorithm::ES384 => implied == Some(algorithm),
        _ => matches!(params, AlgorithmParameters::RSA(_)),
    };
    if fits {
        Ok(algorithm)
    } else {
        Err(format!("its `alg` {algorithm:?} does not fit its key type"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `key_algorithm` of a JWK with these members (placeholder key material).
    fn algorithm_of(alg: Option<&str>, kty: &str, crv: Option<&str>) -> Result<Algorithm, String> {
        let mut jwk = match kty {
            "OKP" => json!({"kty": "OKP", "x": "AA"}),
            "EC" => json!({"kty": "EC", "x": "AA", "y": "AA"}),
            "RSA" => json!({"kty": "RSA", "n": "AA", "e": "AQAB"}),
            _ => json!({"kty": "oct", "k": "AA"}),
        };
        if let Some(crv) = crv {
            jwk["crv"] = json!(crv);
        }
        if let Some(alg) = alg {
            jwk["alg"] = json!(alg);
        }
        let jwk: Jwk = serde_json::from_value(jwk).unwrap();
        key_algorithm(jwk.common.key_algorithm, &jwk.algorithm)
    }

    #[test]
    fn algorithms_follow_the_key_type() {
        assert_eq!(
            algorithm_of(Some("EdDSA"), "OKP", Some("Ed25519")),
            Ok(Algorithm::EdDSA)
        );
        assert_eq!(
            algorithm_of(None, "EC", Some("P-256")),
            Ok(Algorithm::ES256)
        );
        assert_eq!(
            algorithm_of(Some("ES384"), "EC", Some("P-384")),
            Ok(Algorithm::ES384)
        );
        assert_eq!(
            algorithm_of(Some("PS256"), "RSA", None),
            Ok(Algorithm::PS256)
        );
        assert_eq!(
            algorithm_of(Some("RS256"), "RSA", None),
            Ok(Algorithm::RS256)
        );
    }

    #[test]
    fn mismatched_symmetric_and_unsupported_keys_are_refused() {
        assert!(algorithm_of(Some("ES512"), "EC", Some("P-521")).is_err());
        assert!(algorithm_of(None, "EC", Some("P-521")).is_err());
        assert!(algorithm_of(Some("HS256"), "oct", None).is_err());
        assert!(algorithm_of(Some("HS256"), "RSA", None).is_err());
        assert!(algorithm_of(Some("ES256"), "EC", Some("P-384")).is_err());
        assert!(algorithm_of(Some("RS256"), "OKP", Some("Ed25519")).is_err());
        assert!(algorithm_of(None, "RSA", None).is_err());
        assert!(algorithm_of(Some("none"), "RSA", None).is_err());
    }
}
