//! The optional rate limit (`RATE_LIMIT`, e.g. `600/min`): how many
//! requests each caller may make per second, minute or hour.
//!
//! A caller is the token's `sub` when the request carries a valid token, and
//! the client's address otherwise (IPv6 addresses by their /64, the block one
//! host is usually given). The probes under `/health/` are never limited: an
//! orchestrator that is refused would restart a healthy instance.
//!
//! Each caller has a token bucket of `N` requests refilled at `N` per
//! period, kept as one instant (the generic cell rate algorithm): a burst of
//! `N` is allowed, then one request every `period / N`. A bucket untouched
//! for a whole period is full again, which is the same as having none, so
//! buckets live in two generations swapped every period and the older one
//! is dropped: memory holds at most the callers of the last two periods,
//! and at most [`MAX_CALLERS`] per generation under a flood of new ones.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use poem::http::{HeaderMap, HeaderName, HeaderValue};
use poem::{Addr, Endpoint, IntoResponse, Middleware, Request, Response};

use crate::auth::verify_and_remember;
use crate::configuration::Quota;
use crate::http::error::{ApiError, into_problem_response};
use crate::http::request_cost::{Meter, RequestCost};
use crate::route_table::is_probe;

/// The callers one generation tracks before it is swapped out early. A
/// flood of distinct addresses then costs at most two generations of
/// memory; the cost is that callers dropped early start afresh.
pub const MAX_CALLERS: usize = 100_000;

/// Who a request counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Caller {
    User(String),
    Address(IpAddr),
    /// Not a TCP peer (never the case for this service's listener).
    Unknown,
}

impl Caller {
    fn of_address(addr: &Addr) -> Self {
        match addr.as_socket_addr().map(|addr| addr.ip()) {
            Some(IpAddr::V4(v4)) => Self::Address(v4.into()),
            Some(IpAddr::V6(v6)) => Self::Address(match v6.to_ipv4_mapped() {
                Some(v4) => v4.into(),
                None => Ipv6Addr::from_bits(v6.to_bits() & !(u128::from(u64::MAX))).into(),
            }),
            None => Self::Unknown,
        }
    }
}

/// What the limit says about one request, and the headers that tell the
/// client where it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Decision {
    allowed: bool,
    limit: u32,
    /// Requests the caller may still make at once.
    remaining: u32,
    /// Until the caller's whole quota is available again.
    reset: Duration,
    /// Until the next request is allowed (zero when this one was).
    retry_after: Duration,
}

/// Whole seconds, rounded up: a client that waits this long is not early.
fn seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}

impl Decision {
    fn retry_after_secs(&self) -> u64 {
        seconds(self.retry_after).max(1)
    }

    fn write_headers(&self, headers: &mut HeaderMap) {
        for (name, value) in [
            ("ratelimit-limit", u64::from(self.limit)),
            ("ratelimit-remaining", u64::from(self.remaining)),
            ("ratelimit-reset", seconds(self.reset)),
        ] {
            // A refusal of the handler's own (too many event streams)
            // already says which quota it is about.
            headers
                .entry(HeaderName::from_static(name))
                .or_insert(HeaderValue::from(value));
        }
    }
}

/// The buckets of every caller seen in the last two periods.
struct Limiter {
    quota: Quota,
    /// The time one request uses up: `period / requests`.
    interval: Duration,
    max_callers: usize,
    buckets: Mutex<Generations>,
}

/// Each caller's theoretical arrival time: when their bucket is full again.
struct Generations {
    current: HashMap<Caller, Instant>,
    previous: HashMap<Caller, Instant>,
    swapped_at: Instant,
}

impl Limiter {
    fn new(quota: Quota, max_callers: usize, now: Instant) -> Self {
        let interval = quota.period / quota.requests;
        Self {
            quota,
            interval,
            max_callers,
            buckets: Mutex::new(Generations {
                current: HashMap::new(),
                previous: HashMap::new(),
                swapped_at: now,
            }),
        }
    }

    fn check(&self, caller: Caller, now: Instant) -> Decision {
        self.check_units(caller, 1, now)
    }

    /// Takes `units` requests' worth at once, or none. A charge larger than
    /// the whole quota takes the whole quota, so it passes once the bucket
    /// is full rather than never.
    fn check_units(&self, caller: Caller, units: u32, now: Instant) -> Decision {
        let cost = self.interval * units.clamp(1, self.quota.requests);
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let full = now.saturating_duration_since(buckets.swapped_at) >= self.quota.period;
        if full || buckets.current.len() >= self.max_callers {
            if !full {
                tracing::warn!(
                    callers = self.max_callers,
                    "rate limit: too many distinct callers; the older half starts afresh"
                );
            }
            // Every bucket in `previous` was last used over a period ago
            // (unless swapped early above): full, the same as none.
            buckets.previous = std::mem::take(&mut buckets.current);
            buckets.swapped_at = now;
        }
        let stored = match buckets.current.get(&caller) {
            Some(&at) => Some(at),
            None => buckets.previous.remove(&caller),
        };
        let arrival = stored.map_or(now, |at| at.max(now));
        let ahead = arrival - now;
        if ahead + cost > self.quota.period {
            buckets.current.insert(caller, arrival);
            Decision {
                allowed: false,
                limit: self.quota.requests,
                remaining: 0,
                reset: ahead,
                retry_after: ahead + cost - self.quota.period,
            }
        } else {
            let arrival = arrival + cost;
            buckets.current.insert(caller, arrival);
            let ahead = arrival - now;
            let left = (self.quota.period - ahead).as_nanos() / self.interval.as_nanos();
            Decision {
                allowed: true,
                limit: self.quota.requests,
                remaining: u32::try_from(left).unwrap_or(u32::MAX),
                reset: ahead,
                retry_after: Duration::ZERO,
            }
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        let buckets = self.buckets.lock().unwrap();
        buckets.current.len() + buckets.previous.len()
    }
}

/// The middleware: off (passing every request through) without a quota.
/// It sits inside the route's data, where the token verifier is.
pub struct RateLimit {
    limiter: Option<Arc<Limiter>>,
}

impl RateLimit {
    pub fn new(quota: Option<Quota>) -> Self {
        if let Some(quota) = quota {
            tracing::info!("rate limit: {quota} per caller (token `sub`, else client address)");
        }
        Self {
            limiter: quota.map(|quota| Arc::new(Limiter::new(quota, MAX_CALLERS, Instant::now()))),
        }
    }
}

impl<E: Endpoint> Middleware<E> for RateLimit {
    type Output = RateLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        RateLimitEndpoint {
            inner,
            limiter: self.limiter.clone(),
        }
    }
}

pub struct RateLimitEndpoint<E> {
    inner: E,
    limiter: Option<Arc<Limiter>>,
}

impl<E: Endpoint> Endpoint for RateLimitEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut req: Request) -> poem::Result<Response> {
        let limiter = match &self.limiter {
            Some(limiter) if !is_probe(req.uri().path()) => limiter,
            _ => {
                req.extensions_mut().insert(RequestCost::unmetered());
                return self.inner.call(req).await.map(IntoResponse::into_response);
            }
        };
        let caller = match verify_and_remember(&mut req).await {
            Some(identity) => Caller::User(identity.user_id),
            None => Caller::of_address(req.remote_addr()),
        };
        let decision = limiter.check(caller.clone(), Instant::now());
        if !decision.allowed {
            let refusal = ApiError::TooManyRequests {
                retry_after_secs: decision.retry_after_secs(),
            };
            let mut response = into_problem_response(refusal.into()).await;
            decision.write_headers(response.headers_mut());
            return Ok(response);
        }
        let charge = Arc::new(Charge {
            limiter: Arc::clone(limiter),
            caller,
            latest: Mutex::new(decision),
        });
        req.extensions_mut()
            .insert(RequestCost::metered(charge.clone()));
        // Errors become their responses here, so they carry the headers too.
        let mut response = match self.inner.call(req).await {
            Ok(response) => response.into_response(),
            Err(err) => into_problem_response(err).await,
        };
        // What the handler charged since is what the caller has left.
        let latest = *charge.latest.lock().unwrap_or_else(PoisonError::into_inner);
        latest.write_headers(response.headers_mut());
        Ok(response)
    }
}

/// One request's account with the limiter, for the handler to charge
/// the rest of its cost to.
struct Charge {
    limiter: Arc<Limiter>,
    caller: Caller,
    /// The last decision, whose headers the response carries.
    latest: Mutex<Decision>,
}

impl Meter for Charge {
    fn charge(&self, units: u32) -> Result<(), ApiError> {
        let decision = self
            .limiter
            .check_units(self.caller.clone(), units, Instant::now());
        *self.latest.lock().unwrap_or_else(PoisonError::into_inner) = decision;
        if decision.allowed {
            Ok(())
        } else {
            Err(ApiError::TooManyRequests {
                retry_after_secs: decision.retry_after_secs(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(raw: &str) -> Quota {
        raw.parse().unwrap()
    }

    fn user(name: &str) -> Caller {
        Caller::User(name.to_owned())
    }

    #[test]
    fn a_burst_of_the_quota_then_one_per_interval() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("3/min"), 10, start);
        let remaining: Vec<u32> = (0..3)
            .map(|_| limiter.check(user("a"), start))
            .inspect(|decision| assert!(decision.allowed))
            .map(|decision| decision.remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);

        let refused = limiter.check(user("a"), start);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(20));
        assert_eq!(refused.reset, Duration::from_secs(60));
        assert_eq!(refused.retry_after_secs(), 20);

        // Another caller has a bucket of their own.
        assert!(limiter.check(user("b"), start).allowed);

        // One interval later, exactly one more request.
        let later = start + Duration::from_secs(20);
        assert!(limiter.check(user("a"), later).allowed);
        assert!(!limiter.check(user("a"), later).allowed);

        // A whole period later, the whole quota again.
        let much_later = later + Duration::from_secs(60);
        let decision = limiter.check(user("a"), much_later);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 2);
    }

    #[test]
    fn a_request_may_cost_several_at_once_or_none() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("10/min"), 10, start);
        let decision = limiter.check_units(user("a"), 8, start);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 2);
        let refused = limiter.check_units(user("a"), 3, start);
        assert!(!refused.allowed, "3 do not fit in the 2 left");
        assert_eq!(refused.retry_after, Duration::from_secs(6));
        assert!(
            limiter.check_units(user("a"), 2, start).allowed,
            "nothing was taken"
        );
        // More than the whole quota passes on a full bucket, taking it all.
        let later = start + Duration::from_secs(60);
        let decision = limiter.check_units(user("a"), 100, later);
        assert!(decision.allowed);
        assert_eq!(decision.remaining, 0);
    }

    #[test]
    fn headers_round_seconds_up() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("2/s"), 10, start);
        let decision = limiter.check(user("a"), start);
        let mut headers = HeaderMap::new();
        decision.write_headers(&mut headers);
        assert_eq!(headers["ratelimit-limit"], "2");
        assert_eq!(headers["ratelimit-remaining"], "1");
        assert_eq!(headers["ratelimit-reset"], "1", "half a second rounds up");
        limiter.check(user("a"), start);
        let refused = limiter.check(user("a"), start + Duration::from_millis(100));
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_millis(400));
        assert_eq!(refused.retry_after_secs(), 1);
    }

    #[test]
    fn idle_buckets_are_dropped_after_two_periods() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("10/min"), 1000, start);
        for n in 0..100 {
            limiter.check(Caller::User(n.to_string()), start);
        }
        assert_eq!(limiter.tracked(), 100);
        let period = Duration::from_secs(60);
        limiter.check(user("active"), start + period);
        assert_eq!(limiter.tracked(), 101, "kept for one more period");
        limiter.check(user("active"), start + 2 * period);
        assert_eq!(limiter.tracked(), 1, "only the caller still active");
    }

    #[test]
    fn a_flood_of_new_callers_stays_bounded() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("10/min"), 50, start);
        for n in 0..10_000u32 {
            let address = IpAddr::from(n.to_be_bytes());
            limiter.check(Caller::Address(address), start);
            assert!(limiter.tracked() <= 100);
        }
    }

    #[test]
    fn a_caller_moved_to_the_older_generation_keeps_its_bucket() {
        let start = Instant::now();
        let limiter = Limiter::new(quota("2/min"), 1000, start);
        limiter.check(user("a"), start + Duration::from_secs(59));
        limiter.check(user("a"), start + Duration::from_secs(59));
        // The generations swap at 60 s; the bucket is still empty.
        let refused = limiter.check(user("a"), start + Duration::from_secs(61));
        assert!(!refused.allowed);
    }

    #[test]
    fn addresses_count_ipv6_by_their_64_bit_prefix() {
        let caller = |ip: &str| {
            Caller::of_address(&Addr::SocketAddr((ip.parse::<IpAddr>().unwrap(), 1).into()))
        };
        assert_eq!(caller("2001:db8::1"), caller("2001:db8::ffff:1"));
        assert_ne!(caller("2001:db8::1"), caller("2001:db8:0:1::1"));
        assert_eq!(caller("::ffff:192.0.2.1"), caller("192.0.2.1"));
        assert_ne!(caller("192.0.2.1"), caller("192.0.2.2"));
    }
}
