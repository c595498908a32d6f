//! The key set as the service would load it, key by key, for `api check`:
//! which keys verify tokens (and with which algorithm), and which are
//! skipped and why. The keys are read by the key set's own code, so the
//! report and the service never disagree.

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use url::Url;

use super::key_set::{KeySet, KeySetHandles};
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
    let key_set = KeySet::from_settings(settings, KeySetHandles::default())?;
    let url = key_set.url().clone();
    let contents = match key_set.fetch_entries().await {
        Ok(entries) => Ok(read_keys(&key_set, entries)),
        Err(reason) => Err(reason),
    };
    Some((url, contents))
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
