//! Reading one variable: blank counts as unset (the caller's `var`), and a
//! bad value is an error naming the variable.

use std::time::Duration;

use super::ConfigError;

pub fn parse_or<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<String>,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    Ok(parse_optional(name, raw)?.unwrap_or(default))
}

pub fn parse_optional<T: std::str::FromStr>(
    name: &'static str,
    raw: Option<String>,
) -> Result<Option<T>, ConfigError>
where
    T::Err: std::fmt::Display,
{
    raw.map(|raw| {
        raw.trim()
            .parse()
            .map_err(|err: T::Err| ConfigError::Invalid {
                name,
                reason: err.to_string(),
            })
    })
    .transpose()
}

/// A duration such as `30s`, `500ms` or `2m`; a bare number is seconds.
pub fn duration_or(
    name: &'static str,
    raw: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    let raw = raw.trim();
    let duration = match raw.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => humantime::parse_duration(raw).map_err(|err| ConfigError::Invalid {
            name,
            reason: format!("{err}; write e.g. 30s, 500ms or 2m"),
        })?,
    };
    if duration.is_zero() {
        return Err(ConfigError::Invalid {
            name,
            reason: "must be longer than zero".to_owned(),
        });
    }
    Ok(duration)
}

/// An optional count of at least 1.
pub fn positive(name: &'static str, raw: Option<String>) -> Result<Option<u32>, ConfigError> {
    match raw {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u32>() {
            Ok(0) => Err(ConfigError::Invalid {
                name,
                reason: "must be at least 1".to_owned(),
            }),
            Ok(count) => Ok(Some(count)),
            Err(err) => Err(ConfigError::Invalid {
                name,
                reason: err.to_string(),
            }),
        },
    }
}

pub fn parse_bool(
    name: &'static str,
    raw: Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match raw
        .as_deref()
        .map(|value| value.trim().to_ascii_lowercase())
    {
        None => Ok(default),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                name,
                reason: format!("expected true or false, got {value:?}"),
            }),
        },
    }
}
