//! The key set as the service would load it, key by key, for `api check`:
//! which keys verify tokens (and with which algorithm), and which are
//! skipped and why. The keys are read by the key set's own code, so the
//! report and the service never disagree.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use url::Url;

use super::key_set::KeySet;
use crate::configuration::AuthSettings;

/// What the key set holds.
pub struct KeySetContents {
    /// Each usable key: its `kid` and the one algorithm it verifies.
    pub keys: Vec<(String, Algorithm)>,
    /// Each key the service skips: its `kid` (if it has one), and why.
    pub skipped: Vec<(Option<String>, String)>,
}

/// The configured key set's URL and what fetching it gave; `None` when no
/// key set is configured.
pub async fn inspect_key_set(
    settings: &AuthSettings,
) -> Option<(Url, Result<KeySetContents, String>)> {
    let key_set = KeySet::from_settings(settings)?;
    let url = key_set.url().clone();
    let contents = match fetch(&url).await {
        Ok(entries) => Ok(read_keys(&key_set, entries)),
        Err(reason) => Err(reason),
    };
    Some((url, contents))
}

async fn fetch(url: &Url) -> Result<Vec<Value>, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .map_err(|err| err.to_string())?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .map_err(|err| describe(&err.without_url()))?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let body: Value = response
        .json()
        .await
        .map_err(|err| describe(&err.without_url()))?;
    match body.get("keys").and_then(Value::as_array) {
        Some(keys) => Ok(keys.clone()),
        None => Err("the response has no `keys` array".to_owned()),
    }
}

fn read_keys(key_set: &KeySet, entries: Vec<Value>) -> KeySetContents {
    let mut contents = KeySetContents {
        keys: Vec::new(),
        skipped: Vec::new(),
    };
    for entry in entries {
        let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
        match serde_json::from_value::<Jwk>(entry) {
            Ok(jwk) => match key_set.verifying_key(&jwk) {
                Ok((kid, key)) => contents.keys.push((kid, key.validation.algorithms[0])),
                Err(reason) => contents.skipped.push((kid, reason)),
            },
            Err(err) => contents.skipped.push((kid, format!("unreadable: {err}"))),
        }
    }
    contents
}

/// An error with its causes, which is where reqwest says what failed
/// ("connection refused", "timed out").
fn describe(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text = format!("{text}: {message}");
        }
        source = cause.source();
    }
    text
}
