//! What the server lets one client hold, so slow or idle clients cannot
//! starve the rest.

use std::time::Duration;

use super::ConfigError;
use super::parse::{duration_or, parse_or};

/// How much the server lets one client hold.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// `HEADER_READ_TIMEOUT`: the longest an HTTP/1 client may take to send
    /// a request head, counted from the connection (or the previous
    /// response); a keep-alive connection waiting for its next request is
    /// closed after it too.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT`: a connection with no bytes either way for this long
    /// is closed (HTTP/2 included).
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: open connections served in full; beyond this a
    /// connection is served only the probes (anything else is a 429).
    pub max_connections: usize,
    /// `MAX_CONNECTIONS_PER_CLIENT`: open connections (event streams
    /// included) served in full from one client address; beyond this, as
    /// beyond `MAX_CONNECTIONS`.
    pub max_connections_per_client: usize,
    /// `HTTP2_MAX_STREAMS`: concurrent requests on one HTTP/2 connection.
    pub http2_max_streams: u32,
    /// `REQUEST_TIMEOUT`: the longest a request may run before a 503.
    pub request_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_client: 64,
            http2_max_streams: 100,
            request_timeout: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    pub(super) fn from_lookup(var: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let defaults = Self::default();
        let positive = |name: &'static str, value: usize| {
            if value == 0 {
                Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".to_owned(),
                })
            } else {
                Ok(value)
            }
        };
        Ok(Self {
            header_read_timeout: duration_or(
                "HEADER_READ_TIMEOUT",
                var("HEADER_READ_TIMEOUT"),
                defaults.header_read_timeout,
            )?,
            idle_timeout: duration_or("IDLE_TIMEOUT", var("IDLE_TIMEOUT"), defaults.idle_timeout)?,
            max_connections: positive(
                "MAX_CONNECTIONS",
                parse_or(
                    "MAX_CONNECTIONS",
                    var("MAX_CONNECTIONS"),
                    defaults.max_connections,
                )?,
            )?,
            max_connections_per_client: positive(
                "MAX_CONNECTIONS_PER_CLIENT",
                parse_or(
                    "MAX_CONNECTIONS_PER_CLIENT",
                    var("MAX_CONNECTIONS_PER_CLIENT"),
                    defaults.max_connections_per_client,
                )?,
            )?,
            http2_max_streams: positive(
                "HTTP2_MAX_STREAMS",
                parse_or(
                    "HTTP2_MAX_STREAMS",
                    var("HTTP2_MAX_STREAMS"),
                    defaults.http2_max_streams,
                )? as usize,
            )? as u32,
            request_timeout: duration_or(
                "REQUEST_TIMEOUT",
                var("REQUEST_TIMEOUT"),
                defaults.request_timeout,
            )?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::configuration::settings;

    #[test]
    fn server_limits_read_durations_and_counts() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.limits.request_timeout, Duration::from_secs(30));
        assert_eq!(s.limits.max_connections_per_client, 64);
        let s = settings(&[
            ("REQUEST_TIMEOUT", "1500ms"),
            ("HEADER_READ_TIMEOUT", "5"),
            ("IDLE_TIMEOUT", "2m"),
            ("MAX_CONNECTIONS", "10"),
            ("MAX_CONNECTIONS_PER_CLIENT", "3"),
        ])
        .unwrap();
        assert_eq!(s.limits.request_timeout, Duration::from_millis(1500));
        assert_eq!(s.limits.header_read_timeout, Duration::from_secs(5));
        assert_eq!(s.limits.idle_timeout, Duration::from_secs(120));
        assert_eq!(s.limits.max_connections, 10);
        assert_eq!(s.limits.max_connections_per_client, 3);
        for (name, value) in [
            ("REQUEST_TIMEOUT", "soon"),
            ("REQUEST_TIMEOUT", "0s"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS_PER_CLIENT", "0"),
            ("MAX_CONNECTIONS_PER_CLIENT", "many"),
            ("HTTP2_MAX_STREAMS", "-1"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
    }
}
