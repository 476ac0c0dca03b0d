//! [`LoginLimiter`]: pure bookkeeping of failed logins per user and per client
//! address over a sliding window, with time passed in.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// A login refused because of earlier failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many failed logins; try again in {} s",
    retry_after.as_secs().max(1)
)]
pub struct LoginRefused {
    /// How long until the oldest counted failure leaves the window.
    pub retry_after: Duration,
}

/// Counts failed logins per user name and per client address over a sliding
/// window, and refuses further attempts of a user or from an address that
/// reached the limit until the oldest failure leaves the window. Default: 5
/// failures per 15 minutes.
///
/// Pure and single-threaded: time is passed in, and the server keeps it
/// behind a `Mutex`. IPv6 clients are counted per /64 network, since one
/// host usually holds a whole /64. Memory is bounded by the limit itself: an
/// address is refused after `max_failures`, so it adds at most that many
/// entries per window; entries are forgotten when their window passes.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    by_user: HashMap<String, VecDeque<Instant>>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    /// Failures recorded since the last sweep of expired keys.
    recorded: usize,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(5, Duration::from_secs(15 * 60))
    }
}

impl LoginLimiter {
    /// A limiter allowing at most `max_failures` failures per user and per
    /// address within `window`.
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter {
            max_failures,
            window,
            by_user: HashMap::new(),
            by_address: HashMap::new(),
            recorded: 0,
        }
    }

    /// Whether a login of `user` from `address` may be tried at `now`; when
    /// refused, says how long to wait. Call before checking the password.
    pub fn check(&mut self, user: &str, address: IpAddr, now: Instant) -> Result<(), LoginRefused> {
        let (max, window) = (self.max_failures, self.window);
        let by_user = self
            .by_user
            .get_mut(user)
            .and_then(|f| refused_for(f, max, window, now));
        let by_address = self
            .by_address
            .get_mut(&address_key(address))
            .and_then(|f| refused_for(f, max, window, now));
        match by_user.into_iter().chain(by_address).max() {
            Some(retry_after) => Err(LoginRefused { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts a failed login of `user` from `address` at `now`.
    pub fn record_failure(&mut self, user: &str, address: IpAddr, now: Instant) {
        self.by_user
            .entry(user.to_string())
            .or_default()
            .push_back(now);
        self.by_address
            .entry(address_key(address))
            .or_default()
            .push_back(now);
        // Every 1024 failures, forget keys whose failures all left the window.
        self.recorded += 1;
        if self.recorded >= 1024 {
            self.recorded = 0;
            self.forget_before(now);
        }
    }

    /// Forgets the user's failures after a successful login. The address's
    /// stay: a guesser must not clear them by logging into an account of
    /// their own.
    pub fn record_success(&mut self, user: &str) {
        self.by_user.remove(user);
    }

    /// Forgets every failure that left the window at `now`.
    pub fn forget_before(&mut self, now: Instant) {
        let window = self.window;
        self.by_user.retain(|_, f| {
            expire(f, window, now);
            !f.is_empty()
        });
        self.by_address.retain(|_, f| {
            expire(f, window, now);
            !f.is_empty()
        });
    }

    /// How many users and addresses have failures in memory (for tests and metrics).
    pub fn tracked(&self) -> (usize, usize) {
        (self.by_user.len(), self.by_address.len())
    }
}

/// Drops failures that left the window.
fn expire(failures: &mut VecDeque<Instant>, window: Duration, now: Instant) {
    while failures
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= window)
    {
        failures.pop_front();
    }
}

/// After expiring, the wait until the key may try again, if it must wait.
fn refused_for(
    failures: &mut VecDeque<Instant>,
    max: usize,
    window: Duration,
    now: Instant,
) -> Option<Duration> {
    expire(failures, window, now);
    if failures.len() < max {
        return None;
    }
    // The failure whose expiry brings the count back under the limit.
    let oldest_counted = failures[failures.len() - max];
    Some(window.saturating_sub(now.saturating_duration_since(oldest_counted)))
}

/// The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64 network.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(bits.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("valid address")
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn five_failures_of_a_user_lock_that_user_for_the_window() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for i in 0..5 {
            let at = start + secs(i * 60);
            assert_eq!(limiter.check("alice", ip("10.0.0.1"), at), Ok(()));
            // From a different address each time: the user's count still grows.
            limiter.record_failure("alice", ip(&format!("10.0.1.{i}")), at);
        }
        let at = start + secs(300);
        assert_eq!(
            limiter.check("alice", ip("10.0.9.9"), at),
            Err(LoginRefused {
                retry_after: secs(600)
            }),
            "refused until the first failure (t=0) is 15 min old"
        );
        assert_eq!(limiter.check("bob", ip("10.0.9.9"), at), Ok(()));
        assert!(
            limiter
                .check("alice", ip("10.0.9.9"), start + secs(899))
                .is_err()
        );
        assert_eq!(
            limiter.check("alice", ip("10.0.9.9"), start + secs(900)),
            Ok(())
        );
    }

    #[test]
    fn five_failures_from_an_address_lock_that_address_for_every_user() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for (i, user) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            limiter.record_failure(user, ip("192.0.2.7"), start + secs(i as u64));
        }
        let err = limiter
            .check("zed", ip("192.0.2.7"), start + secs(10))
            .expect_err("address locked");
        assert_eq!(err.retry_after, secs(890));
        assert!(err.to_string().contains("890 s"), "{err}");
        assert_eq!(
            limiter.check("zed", ip("192.0.2.8"), start + secs(10)),
            Ok(())
        );
    }

    #[test]
    fn the_window_slides_one_failure_at_a_time() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for t in [0, 100, 200, 300, 400] {
            limiter.record_failure("alice", ip("10.0.0.1"), start + secs(t));
        }
        assert!(
            limiter
                .check("alice", ip("10.0.0.1"), start + secs(899))
                .is_err()
        );
        // At 900 s the first failure leaves: one more attempt is allowed...
        assert!(
            limiter
                .check("alice", ip("10.0.0.1"), start + secs(900))
                .is_ok()
        );
        limiter.record_failure("alice", ip("10.0.0.1"), start + secs(900));
        // ...and a failure then locks again until the failure at 100 s leaves.
        let err = limiter
            .check("alice", ip("10.0.0.1"), start + secs(901))
            .expect_err("locked again");
        assert_eq!(err.retry_after, secs(99));
    }

    #[test]
    fn a_success_clears_the_user_but_not_the_address() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for t in 0..5 {
            limiter.record_failure("alice", ip("10.0.0.1"), start + secs(t));
        }
        limiter.record_success("alice");
        assert!(
            limiter
                .check("alice", ip("10.0.0.2"), start + secs(10))
                .is_ok()
        );
        assert!(
            limiter
                .check("alice", ip("10.0.0.1"), start + secs(10))
                .is_err(),
            "the guessing address stays locked"
        );
    }

    #[test]
    fn ipv6_clients_count_per_64_network() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for i in 0..5 {
            let address = ip(&format!("2001:db8:1:2::{i:x}"));
            limiter.record_failure(&format!("u{i}"), address, start);
        }
        assert!(
            limiter
                .check("x", ip("2001:db8:1:2:ffff::1"), start)
                .is_err()
        );
        assert!(limiter.check("x", ip("2001:db8:1:3::1"), start).is_ok());
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn a_custom_limit_and_window_apply() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::new(2, secs(60));
        limiter.record_failure("alice", ip("10.0.0.1"), start);
        assert!(limiter.check("alice", ip("10.0.0.1"), start).is_ok());
        limiter.record_failure("alice", ip("10.0.0.1"), start);
        assert_eq!(
            limiter.check("alice", ip("10.0.0.1"), start + secs(15)),
            Err(LoginRefused {
                retry_after: secs(45)
            })
        );
    }

    #[test]
    fn expired_failures_are_forgotten() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        limiter.record_failure("alice", ip("10.0.0.1"), start);
        limiter.record_failure("bob", ip("10.0.0.2"), start + secs(600));
        assert_eq!(limiter.tracked(), (2, 2));
        limiter.forget_before(start + secs(900));
        assert_eq!(limiter.tracked(), (1, 1));
        limiter.forget_before(start + secs(1_500));
        assert_eq!(limiter.tracked(), (0, 0));
    }
}
