//! Better Auth's JSON Web Key Set: fetched on first use, cached, and fetched
//! again when a token names a `kid` the cache lacks, so key rotation needs no
//! restart, or when the cache is older than its maximum age, so a key Better
//! Auth has removed stops being trusted. Refetches are rate-limited, so a
//! flood of made-up `kid`s cannot hammer Better Auth.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::clock::Clock;
use super::error::TokenError;
use super::rules::token_rules;
use crate::configuration::AuthSettings;
use crate::metrics::KeySetFetches;

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
    clock: Clock,
    keys: RwLock<CachedKeys>,
    /// When the last fetch started; held while fetching, so concurrent
    /// misses wait for one fetch instead of starting their own.
    last_fetch: Mutex<Option<Instant>>,
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
    pub fn from_settings(settings: &AuthSettings) -> Option<Self> {
        let url = settings.key_set_url()?;
        let origin = settings.better_auth_origin();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS-capable HTTP client");
        Some(Self {
            url,
            client,
            issuer: settings.issuer.clone().or_else(|| origin.clone()),
            audience: settings.audience.clone().or(origin),
            min_refresh_interval: settings.key_set_min_refresh,
            max_age: settings.key_set_max_age,
            clock: settings.clock.clone(),
            keys: RwLock::new(CachedKeys::default()),
            last_fetch: Mutex::new(None),
            fetches: settings.key_set_fetches.clone(),
        })
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
            .is_some_and(|fetched_at| self.clock.now() > fetched_at + self.max_age)
    }

    /// Fetches the key set unless it was fetched within the minimum interval.
    async fn refresh(&self) -> Result<(), TokenError> {
        let mut last_fetch = self.last_fetch.lock().await;
        let now = self.clock.now();
        if last_fetch.is_some_and(|at| now < at + self.min_refresh_interval) {
            return Ok(());
        }
        *last_fetch = Some(now);
        let fetched = self.fetch().await;
        self.fetches.record(fetched.is_ok());
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "loaded the JSON Web Key Set");
                *self.keys.write().await = CachedKeys {
                    by_kid: keys,
                    fetched_at: Some(self.clock.now()),
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
        let body: KeySetBody = response.json().await.map_err(|err| err.to_string())?;
        Ok(body
            .keys
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

    pub(super) fn verifying_key(&self, jwk: &Jwk) -> Result<(String, Arc<VerifyingKey>), String> {
        let kid = jwk.common.key_id.clone().ok_or("it has no `kid`")?;
        let algorithm = key_algorithm(jwk.common.key_algorithm, &jwk.algorithm)?;
        let key = DecodingKey::from_jwk(jwk).map_err(|err| err.to_string())?;
        let validation = token_rules(algorithm, self.issuer.as_deref(), self.audience.as_deref());
        Ok((kid, Arc::new(VerifyingKey { key, validation })))
    }
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
