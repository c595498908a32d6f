//! Better Auth's JSON Web Key Set: fetched on first use, cached, and fetched
//! again when a token names a `kid` the cache lacks, so key rotation needs no
//! restart, or when the cache is older than its maximum age, so a key Better
//! Auth has removed stops being trusted. Refetches are rate-limited, so a
//! flood of made-up `kid`s cannot hammer Better Auth.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::verifier::{TokenError, validation};

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

pub struct KeySet {
    url: Url,
    client: reqwest::Client,
    issuer: Option<String>,
    audience: Option<String>,
    min_refresh_interval: Duration,
    max_age: Duration,
    keys: RwLock<CachedKeys>,
    /// When the last fetch started; held while fetching, so concurrent
    /// misses wait for one fetch instead of starting their own.
    last_fetch: Mutex<Option<Instant>>,
}

impl KeySet {
    pub fn new(
        url: Url,
        issuer: Option<String>,
        audience: Option<String>,
        min_refresh_interval: Duration,
        max_age: Duration,
    ) -> Self {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS-capable HTTP client");
        Self {
            url,
            client,
            issuer,
            audience,
            min_refresh_interval,
            max_age,
            keys: RwLock::new(CachedKeys::default()),
            last_fetch: Mutex::new(None),
        }
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The key named `kid`, if it verifies `algorithm`.
    pub async fn key_for(
        &self,
        kid: &str,
        algorithm: Algorithm,
    ) -> Result<Arc<VerifyingKey>, TokenError> {
        if self.is_stale().await {
            // A failure is logged; the cached keys keep serving meanwhile.
            let _ = self.refresh().await;
        }
        let key = match self.cached(kid).await {
            Some(key) => key,
            None => {
                self.refresh().await?;
                self.cached(kid).await.ok_or(TokenError::UnknownKey)?
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

    async fn cached(&self, kid: &str) -> Option<Arc<VerifyingKey>> {
        self.keys.read().await.by_kid.get(kid).cloned()
    }

    async fn is_stale(&self) -> bool {
        let keys = self.keys.read().await;
        keys.fetched_at
            .is_some_and(|fetched_at| fetched_at.elapsed() > self.max_age)
    }

    /// Fetches the key set unless it was fetched within the minimum interval.
    async fn refresh(&self) -> Result<(), TokenError> {
        let mut last_fetch = self.last_fetch.lock().await;
        if last_fetch.is_some_and(|at| at.elapsed() < self.min_refresh_interval) {
            return Ok(());
        }
        *last_fetch = Some(Instant::now());
        match self.fetch().await {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "loaded the JSON Web Key Set");
                *self.keys.write().await = CachedKeys {
                    by_kid: keys,
                    fetched_at: Some(Instant::now()),
                };
                Ok(())
            }
            Err(reason) => {
                tracing::error!(url = %self.url, %reason, "cannot fetch the JSON Web Key Set; key-set tokens are refused until it can be fetched");
                Err(TokenError::KeySetUnavailable)
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<VerifyingKey>>, String> {
        let response = self
            .client
            .get(self.url.clone())
            .send()
            .await
            .map_err(|err| err.to_string())?;
        if !response.status().is_success() {
            return Err(format!("HTTP {}", response.status()));
        }
        let body: Value = response.json().await.map_err(|err| err.to_string())?;
        let entries = body
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the response has no `keys` array")?;
        Ok(entries
            .iter()
            .filter_map(|entry| match self.verifying_key(entry) {
                Ok(pair) => Some(pair),
                Err(reason) => {
                    let kid = entry.get("kid").and_then(Value::as_str).unwrap_or("?");
                    tracing::warn!(url = %self.url, kid, %reason, "ignoring a key in the key set");
                    None
                }
            })
            .collect())
    }

    fn verifying_key(&self, entry: &Value) -> Result<(String, Arc<VerifyingKey>), String> {
        let field = |name: &str| entry.get(name).and_then(Value::as_str);
        let kid = field("kid").ok_or("it has no `kid`")?;
        let algorithm = key_algorithm(field("alg"), field("kty"), field("crv"))?;
        let jwk: Jwk = serde_json::from_value(entry.clone()).map_err(|err| err.to_string())?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|err| err.to_string())?;
        let validation = validation(algorithm, self.issuer.as_deref(), self.audience.as_deref());
        Ok((kid.to_owned(), Arc::new(VerifyingKey { key, validation })))
    }
}

/// The algorithm a key verifies: its `alg`, checked against its type, or
/// (without `alg`) the one its type and curve imply.
fn key_algorithm(
    alg: Option<&str>,
    kty: Option<&str>,
    crv: Option<&str>,
) -> Result<Algorithm, String> {
    let implied = match (kty, crv) {
        (Some("OKP"), Some("Ed25519")) => Some(Algorithm::EdDSA),
        (Some("EC"), Some("P-256")) => Some(Algorithm::ES256),
        (Some("EC"), Some("P-384")) => Some(Algorithm::ES384),
        (Some("EC"), Some("P-521")) => {
            return Err("ES512 (P-521) keys cannot be verified by this service".into());
        }
        (Some("oct"), _) => return Err("symmetric keys are never taken from a key set".into()),
        _ => None,
    };
    let algorithm = match alg {
        None => implied.ok_or("it has no `alg` and its type implies none")?,
        Some("ES512") => return Err("ES512 cannot be verified by this service".into()),
        Some(name) => match name.parse::<Algorithm>() {
            Ok(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) | Err(_) => {
                return Err(format!("algorithm {name} is not accepted from a key set"));
            }
            Ok(algorithm) => algorithm,
        },
    };
    let fits = match algorithm {
        Algorithm::EdDSA | Algorithm::ES256 | Algorithm::ES384 => implied == Some(algorithm),
        _ => kty == Some("RSA"),
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

    #[test]
    fn algorithms_follow_the_key_type() {
        assert_eq!(
            key_algorithm(Some("EdDSA"), Some("OKP"), Some("Ed25519")),
            Ok(Algorithm::EdDSA)
        );
        assert_eq!(
            key_algorithm(None, Some("EC"), Some("P-256")),
            Ok(Algorithm::ES256)
        );
        assert_eq!(
            key_algorithm(Some("ES384"), Some("EC"), Some("P-384")),
            Ok(Algorithm::ES384)
        );
        assert_eq!(
            key_algorithm(Some("PS256"), Some("RSA"), None),
            Ok(Algorithm::PS256)
        );
        assert_eq!(
            key_algorithm(Some("RS256"), Some("RSA"), None),
            Ok(Algorithm::RS256)
        );
    }

    #[test]
    fn mismatched_symmetric_and_unsupported_keys_are_refused() {
        assert!(key_algorithm(Some("ES512"), Some("EC"), Some("P-521")).is_err());
        assert!(key_algorithm(None, Some("EC"), Some("P-521")).is_err());
        assert!(key_algorithm(Some("HS256"), Some("oct"), None).is_err());
        assert!(key_algorithm(Some("HS256"), Some("RSA"), None).is_err());
        assert!(key_algorithm(Some("ES256"), Some("EC"), Some("P-384")).is_err());
        assert!(key_algorithm(Some("RS256"), Some("OKP"), Some("Ed25519")).is_err());
        assert!(key_algorithm(None, Some("RSA"), None).is_err());
        assert!(key_algorithm(Some("none"), Some("RSA"), None).is_err());
    }
}
