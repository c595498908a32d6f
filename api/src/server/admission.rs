//! Which connections are served in full: at most `MAX_CONNECTIONS` in all
//! and `MAX_CONNECTIONS_PER_CLIENT` from one address. A connection over
//! either cap is still accepted, so the probes stay reachable, but served
//! in a restricted mode from a small reserve of its own; over the reserve
//! it is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::configuration::ServerLimits;
use crate::http::error::ApiError;

/// Restricted connections open at once: each lives for one short request
/// (or less), so a few suffice for probes and refusals.
pub const RESERVE: usize = 64;

/// Restricted connections one address may hold at once, so a single client
/// cannot take the whole reserve from the probes.
pub const RESERVE_PER_CLIENT: usize = RESERVE / 8;

/// How a newly accepted connection is served.
pub enum Admitted {
    /// Every route, for as long as the timeouts allow.
    Full(Ticket),
    /// One request: probes pass, anything else gets this error.
    Restricted(Ticket, ApiError),
    /// Over the reserve too: close it at once.
    Refused,
}

/// Counts open connections in all and by client address.
pub struct Admission {
    max_connections: usize,
    max_per_client: usize,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    full: usize,
    restricted: usize,
    /// Only addresses with a connection open: entries go at zero, so the
    /// map is never larger than the connections it counts.
    by_client: HashMap<IpAddr, PerClient>,
}

#[derive(Default, Clone, Copy)]
struct PerClient {
    full: usize,
    restricted: usize,
}

impl Admission {
    pub fn new(limits: &ServerLimits) -> Arc<Self> {
        Arc::new(Self {
            max_connections: limits.max_connections,
            max_per_client: limits.max_connections_per_client,
            counts: Mutex::default(),
        })
    }

    /// Decides how a connection from `client` is served, and counts it
    /// until the returned ticket is dropped.
    pub fn admit(self: &Arc<Self>, client: IpAddr) -> Admitted {
        // `::ffff:1.2.3.4` is the same client as `1.2.3.4`.
        let client = client.to_canonical();
        let mut counts = self.counts();
        let Counts {
            full,
            restricted,
            by_client,
        } = &mut *counts;
        let mine = by_client.entry(client).or_default();
        let refusal = if mine.full >= self.max_per_client {
            Some(ApiError::TooManyConnectionsFromClient {
                limit: self.max_per_client,
            })
        } else if *full >= self.max_connections {
            Some(ApiError::TooManyConnections)
        } else {
            None
        };
        let ticket = |restricted| Ticket {
            admission: Arc::clone(self),
            client,
            restricted,
        };
        match refusal {
            None => {
                *full += 1;
                mine.full += 1;
                Admitted::Full(ticket(false))
            }
            Some(error) if *restricted < RESERVE && mine.restricted < RESERVE_PER_CLIENT => {
                *restricted += 1;
                mine.restricted += 1;
                Admitted::Restricted(ticket(true), error)
            }
            Some(_) => {
                if mine.full == 0 && mine.restricted == 0 {
                    by_client.remove(&client);
                }
                Admitted::Refused
            }
        }
    }

    fn counts(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent even if a holder panicked: every
        // change under the lock is a plain increment or decrement.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// One admitted connection, counted until dropped.
pub struct Ticket {
    admission: Arc<Admission>,
    client: IpAddr,
    restricted: bool,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.admission.counts();
        let Counts {
            full,
            restricted,
            by_client,
        } = &mut *counts;
        let Some(mine) = by_client.get_mut(&self.client) else {
            return;
        };
        if self.restricted {
            *restricted -= 1;
            mine.restricted -= 1;
        } else {
            *full -= 1;
            mine.full -= 1;
        }
        if mine.full == 0 && mine.restricted == 0 {
            by_client.remove(&self.client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admission(max_connections: usize, max_connections_per_client: usize) -> Arc<Admission> {
        Admission::new(&ServerLimits {
            max_connections,
            max_connections_per_client,
            ..ServerLimits::default()
        })
    }

    fn ip(last: u8) -> IpAddr {
        [127, 0, 0, last].into()
    }

    fn clients(admission: &Admission) -> usize {
        admission.counts().by_client.len()
    }

    #[test]
    fn one_address_over_its_cap_is_restricted_then_refused() {
        let admission = admission(100, 2);
        let full: Vec<_> = (0..2).map(|_| admission.admit(ip(1))).collect();
        assert!(full.iter().all(|a| matches!(a, Admitted::Full(_))));
        let restricted: Vec<_> = (0..RESERVE_PER_CLIENT)
            .map(|_| admission.admit(ip(1)))
            .collect();
        assert!(restricted.iter().all(|a| matches!(
            a,
            Admitted::Restricted(_, ApiError::TooManyConnectionsFromClient { limit: 2 })
        )));
        assert!(matches!(admission.admit(ip(1)), Admitted::Refused));
        // Another address is not held back.
        assert!(matches!(admission.admit(ip(2)), Admitted::Full(_)));
        drop(full);
        assert!(matches!(admission.admit(ip(1)), Admitted::Full(_)));
    }

    #[test]
    fn over_the_total_every_address_is_restricted() {
        let admission = admission(3, 2);
        let _full = [
            admission.admit(ip(1)),
            admission.admit(ip(2)),
            admission.admit(ip(3)),
        ];
        assert!(matches!(
            admission.admit(ip(4)),
            Admitted::Restricted(_, ApiError::TooManyConnections)
        ));
    }

    #[test]
    fn the_reserve_is_shared_and_bounded() {
        let admission = admission(1, 1);
        let _full = admission.admit(ip(0));
        let restricted: Vec<_> = (0..RESERVE)
            .map(|n| admission.admit(ip(1 + (n / RESERVE_PER_CLIENT) as u8)))
            .collect();
        assert!(
            restricted
                .iter()
                .all(|a| matches!(a, Admitted::Restricted(..)))
        );
        assert!(matches!(admission.admit(ip(200)), Admitted::Refused));
        assert_eq!(clients(&admission), 1 + RESERVE / RESERVE_PER_CLIENT);
    }

    #[test]
    fn addresses_are_forgotten_when_their_last_connection_closes() {
        let admission = admission(10, 1);
        let tickets: Vec<_> = (0..5).map(|n| admission.admit(ip(n))).collect();
        assert_eq!(clients(&admission), 5);
        drop(tickets);
        assert_eq!(clients(&admission), 0);
        let counts = admission.counts();
        assert_eq!((counts.full, counts.restricted), (0, 0));
    }

    #[test]
    fn an_ipv4_mapped_address_is_the_same_client() {
        let admission = admission(10, 1);
        let _v4 = admission.admit(ip(1));
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(matches!(admission.admit(mapped), Admitted::Restricted(..)));
    }
}
