//! `RATE_LIMIT`: requests per caller and period.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Requests allowed per period.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    pub requests: u32,
    pub period: Duration,
}

impl FromStr for Quota {
    type Err = String;

    /// `N/s`, `N/min` or `N/h`, `N` at least 1.
    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let expected = || format!("expected REQUESTS/s, /min or /h (such as 600/min), got {raw:?}");
        let (requests, unit) = raw.trim().split_once('/').ok_or_else(expected)?;
        let requests: u32 = requests.trim().parse().map_err(|_| expected())?;
        let period = match unit.trim().to_ascii_lowercase().as_str() {
            "s" => Duration::from_secs(1),
            "min" => Duration::from_secs(60),
            "h" => Duration::from_secs(60 * 60),
            _ => return Err(expected()),
        };
        if requests == 0 {
            return Err(format!("{raw:?} allows no requests at all"));
        }
        if (period / requests).is_zero() {
            return Err(format!("{raw:?} is more than one request per nanosecond"));
        }
        Ok(Self { requests, period })
    }
}

impl fmt::Display for Quota {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 => "s",
            60 => "min",
            _ => "h",
        };
        write!(f, "{}/{unit}", self.requests)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Quota;
    use crate::configuration::settings;

    fn quota(raw: &str) -> Quota {
        raw.parse().unwrap()
    }

    #[test]
    fn quotas_parse_per_second_minute_and_hour() {
        assert_eq!(
            quota("600/min"),
            Quota {
                requests: 600,
                period: Duration::from_secs(60)
            }
        );
        assert_eq!(
            quota(" 5 / s "),
            Quota {
                requests: 5,
                period: Duration::from_secs(1)
            }
        );
        assert_eq!(
            quota("1000/H"),
            Quota {
                requests: 1000,
                period: Duration::from_secs(3600)
            }
        );
        for raw in ["600/min", "5/s", "1000/h"] {
            assert_eq!(quota(raw).to_string(), raw);
        }
        for bad in [
            "", "600", "600/", "/min", "0/min", "-1/s", "1.5/s", "600/day", "600/m", "x/s",
        ] {
            assert!(bad.parse::<Quota>().is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn rate_limit_is_read_when_set() {
        let s = settings(&[("RATE_LIMIT", "600/min")]).unwrap();
        assert_eq!(
            s.rate_limit.map(|quota| quota.to_string()).as_deref(),
            Some("600/min")
        );
    }
}
