//! [`LoginLimiter`]: pure bookkeeping of login attempts per (address, user)
//! pair, per address and per user, with time passed in.
//!
//! An attempt is counted as a failure when it is *reserved*, before its
//! password is hashed ([`LoginLimiter::reserve`]), and given back only when it
//! succeeds or never ran ([`LoginLimiter::succeeded`],
//! [`LoginLimiter::release`]). So attempts sent all at once are counted as
//! they arrive: a burst cannot run more hashes than the limit allows.
//!
//! Three limits, so that guessing is slowed without locking the real user
//! out everywhere (see [`LoginPolicy`] for the numbers):
//!
//! 1. **Pair** (address, user): after a few failures each further attempt
//!    waits, the wait doubling with each failure up to a cap. Only the
//!    guesser's own address is slowed for that user.
//! 2. **Address**: a budget of failures per window for all users together,
//!    so one address cannot try many users.
//! 3. **User**: after many failures of one user from anywhere, attempts at
//!    that user from addresses it has not logged in from are spaced out, so
//!    many addresses together cannot guess fast either; the user keeps
//!    logging in from an address it used before.
//!
//! Everything is in memory (a restart forgets it) and bounded: expired
//! entries are swept, and beyond [`MAX_TRACKED`] keys per table a new key is
//! refused rather than remembered.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Most keys each table holds. Far above what real use needs (each address
/// holds at most its budget of user keys); reached only by an attacker with
/// thousands of addresses, whose new keys are then refused.
pub const MAX_TRACKED: usize = 100_000;

/// Addresses kept per user as "logged in from here before".
const KNOWN_ADDRESSES: usize = 4;

/// The limits; [`LoginPolicy::default`] is what `tandem serve` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginPolicy {
    /// Failures of one user from one address before further attempts wait (5).
    pub pair_free: u32,
    /// The first wait after those; it doubles with each further failure (1 min).
    pub pair_delay: Duration,
    /// The longest wait of a pair (15 min).
    pub pair_max_delay: Duration,
    /// A pair without a failure for this long is forgotten (1 h).
    pub pair_memory: Duration,
    /// Failures from one address, all users together, within `window` (20).
    pub address_budget: usize,
    /// Failures of one user, all addresses together, within `window`, before
    /// attempts from addresses it never logged in from are spaced (10).
    pub user_free: usize,
    /// The spacing of those attempts (30 s).
    pub user_spacing: Duration,
    /// The sliding window of the address budget and the user count (15 min).
    pub window: Duration,
}

impl Default for LoginPolicy {
    fn default() -> Self {
        LoginPolicy {
            pair_free: 5,
            pair_delay: Duration::from_secs(60),
            pair_max_delay: Duration::from_secs(15 * 60),
            pair_memory: Duration::from_secs(3600),
            address_budget: 20,
            user_free: 10,
            user_spacing: Duration::from_secs(30),
            window: Duration::from_secs(15 * 60),
        }
    }
}

/// A login refused because of earlier failures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many failed logins; try again in {} s",
    retry_after.as_secs().max(1)
)]
pub struct LoginRefused {
    /// How long until an attempt may be made again.
    pub retry_after: Duration,
}

/// An attempt counted as a failure until it is settled with
/// [`LoginLimiter::succeeded`] or [`LoginLimiter::release`]; dropped, it stays
/// a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    address: IpAddr,
    user: Option<String>,
    at: Instant,
}

/// One (address, user) pair's failures.
#[derive(Debug, Clone)]
struct Pair {
    failures: u32,
    last: Instant,
}

/// Failed logins per (address, user), per address and per user, and the
/// addresses each user logged in from. Pure and single-threaded: time is
/// passed in, and [`crate::Users`] keeps it behind a `Mutex`. IPv6 clients are
/// counted per /64 network, since one host usually holds a whole /64.
///
/// Users are given by a key that cannot be confused: `None` for a name that
/// cannot be a user (too long, bad characters), which only the address
/// budget counts; otherwise the folded name
/// ([`tandem_core::access::fold_name`]), at most 64 characters.
#[derive(Debug, Clone)]
pub struct LoginLimiter {
    policy: LoginPolicy,
    pairs: HashMap<(IpAddr, String), Pair>,
    by_address: HashMap<IpAddr, VecDeque<Instant>>,
    by_user: HashMap<String, VecDeque<Instant>>,
    known: HashMap<String, VecDeque<IpAddr>>,
    /// Reservations since the last sweep of expired keys.
    since_sweep: usize,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        LoginLimiter::new(LoginPolicy::default())
    }
}

impl LoginLimiter {
    /// A limiter with these limits.
    pub fn new(policy: LoginPolicy) -> Self {
        LoginLimiter {
            policy,
            pairs: HashMap::new(),
            by_address: HashMap::new(),
            by_user: HashMap::new(),
            known: HashMap::new(),
            since_sweep: 0,
        }
    }

    /// The limits in force.
    pub fn policy(&self) -> &LoginPolicy {
        &self.policy
    }

    /// Counts an attempt of `user` from `address` at `now` as a failure, if it
    /// may be made; when it may not, says how long to wait. Call before the
    /// password is checked, and settle the reservation afterwards.
    pub fn reserve(
        &mut self,
        user: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<Reservation, LoginRefused> {
        self.since_sweep += 1;
        if self.since_sweep >= 1024 {
            self.forget_before(now);
        }
        let address = address_key(address);
        let policy = &self.policy;
        let known = user.is_some_and(|u| self.known.get(u).is_some_and(|a| a.contains(&address)));
        let mut waits = Vec::new();
        if let Some(pair) = user.and_then(|u| self.pairs.get(&(address, u.to_string()))) {
            waits.extend(pair_wait(pair, policy, now));
        }
        // An address the user logged in from before is slowed by its own
        // pair only: guessing elsewhere cannot lock the user out there.
        if !known {
            if let Some(failures) = self.by_address.get_mut(&address) {
                expire(failures, policy.window, now);
                if failures.len() >= policy.address_budget.max(1) {
                    let oldest_counted = failures[failures.len() - policy.address_budget.max(1)];
                    waits.push(
                        policy
                            .window
                            .saturating_sub(now.saturating_duration_since(oldest_counted)),
                    );
                }
            }
            if let Some(failures) = user.and_then(|u| self.by_user.get_mut(u)) {
                expire(failures, policy.window, now);
                if failures.len() >= policy.user_free
                    && let Some(last) = failures.back()
                {
                    let wait = policy
                        .user_spacing
                        .saturating_sub(now.saturating_duration_since(*last));
                    if !wait.is_zero() {
                        waits.push(wait);
                    }
                }
            }
        }
        if let Some(retry_after) = waits.into_iter().max() {
            return Err(LoginRefused { retry_after });
        }
        self.make_room(user, address, now)?;
        if let Some(user) = user {
            let pair = self
                .pairs
                .entry((address, user.to_string()))
                .or_insert(Pair {
                    failures: 0,
                    last: now,
                });
            pair.failures = pair.failures.saturating_add(1);
            pair.last = now;
            self.by_user
                .entry(user.to_string())
                .or_default()
                .push_back(now);
        }
        self.by_address.entry(address).or_default().push_back(now);
        Ok(Reservation {
            address,
            user: user.map(str::to_string),
            at: now,
        })
    }

    /// Refuses new keys while a table is full after a sweep; known keys go on.
    fn make_room(
        &mut self,
        user: Option<&str>,
        address: IpAddr,
        now: Instant,
    ) -> Result<(), LoginRefused> {
        let full = |this: &Self| {
            let new_pair =
                user.is_some_and(|u| !this.pairs.contains_key(&(address, u.to_string())));
            let new_user = user.is_some_and(|u| !this.by_user.contains_key(u));
            let new_address = !this.by_address.contains_key(&address);
            (new_pair && this.pairs.len() >= MAX_TRACKED)
                || (new_user && this.by_user.len() >= MAX_TRACKED)
                || (new_address && this.by_address.len() >= MAX_TRACKED)
        };
        if !full(self) {
            return Ok(());
        }
        self.forget_before(now);
        if full(self) {
            tracing::warn!(
                "login limiter full ({MAX_TRACKED} keys): refusing a new address or user"
            );
            return Err(LoginRefused {
                retry_after: Duration::from_secs(60),
            });
        }
        Ok(())
    }

    /// The attempt succeeded: the pair's failures are forgotten, the
    /// attempt's own count given back, and the address remembered as one the
    /// user logs in from. Earlier failures from the address and of the user
    /// elsewhere stay: a guesser must not clear them by logging into an
    /// account of their own.
    pub fn succeeded(&mut self, reservation: Reservation) {
        let Reservation { address, user, at } = reservation;
        refund(self.by_address.get_mut(&address), at);
        if let Some(user) = user {
            refund(self.by_user.get_mut(&user), at);
            self.pairs.remove(&(address, user.clone()));
            let known = self.known.entry(user).or_default();
            known.retain(|a| *a != address);
            known.push_back(address);
            while known.len() > KNOWN_ADDRESSES {
                known.pop_front();
            }
        }
    }

    /// The attempt was not made (the service was too busy to hash, or the
    /// store failed): its count is given back.
    pub fn release(&mut self, reservation: Reservation) {
        let Reservation { address, user, at } = reservation;
        refund(self.by_address.get_mut(&address), at);
        if let Some(user) = user {
            refund(self.by_user.get_mut(&user), at);
            if let Some(pair) = self.pairs.get_mut(&(address, user)) {
                pair.failures = pair.failures.saturating_sub(1);
            }
        }
    }

    /// Forgets every failure counted against `user` (an administrator's
    /// unlock): its pairs and its count. Addresses keep theirs. True when
    /// there was anything to forget.
    pub fn unlock(&mut self, user: &str) -> bool {
        let pairs = self.pairs.len();
        self.pairs.retain(|(_, u), _| u != user);
        let counted = self.by_user.remove(user).is_some_and(|f| !f.is_empty());
        counted || self.pairs.len() != pairs
    }

    /// Forgets every failure that no longer counts at `now`.
    pub fn forget_before(&mut self, now: Instant) {
        self.since_sweep = 0;
        let policy = &self.policy;
        self.pairs.retain(|_, pair| {
            let idle = now.saturating_duration_since(pair.last);
            pair.failures > 0
                && (idle < policy.pair_memory || pair_wait(pair, policy, now).is_some())
        });
        self.by_address.retain(|_, f| {
            expire(f, policy.window, now);
            !f.is_empty()
        });
        self.by_user.retain(|_, f| {
            expire(f, policy.window, now);
            !f.is_empty()
        });
    }

    /// How many pairs, addresses and users have failures in memory (tests, metrics).
    pub fn tracked(&self) -> (usize, usize, usize) {
        (self.pairs.len(), self.by_address.len(), self.by_user.len())
    }
}

/// How long a pair must still wait at `now`, if it must.
fn pair_wait(pair: &Pair, policy: &LoginPolicy, now: Instant) -> Option<Duration> {
    let beyond = pair.failures.checked_sub(policy.pair_free)?;
    let delay = policy
        .pair_delay
        .saturating_mul(2u32.saturating_pow(beyond))
        .min(policy.pair_max_delay);
    let wait = delay.saturating_sub(now.saturating_duration_since(pair.last));
    (!wait.is_zero()).then_some(wait)
}

/// Takes one failure counted at `at` back.
fn refund(failures: Option<&mut VecDeque<Instant>>, at: Instant) {
    if let Some(failures) = failures
        && let Some(i) = failures.iter().rposition(|t| *t == at)
    {
        failures.remove(i);
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

/// The key an address is counted under: IPv4 as is (IPv4-mapped IPv6 too),
/// IPv6 by its /64 network.
pub(crate) fn address_key(address: IpAddr) -> IpAddr {
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

    /// Reserves and lets the attempt fail.
    fn fail(l: &mut LoginLimiter, user: &str, address: &str, at: Instant) {
        l.reserve(Some(user), ip(address), at).expect("allowed");
    }

    #[test]
    fn attempts_are_counted_when_reserved_so_a_burst_gets_five() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        // 41 attempts arrive before any has been checked: none settled yet.
        let outcomes: Vec<_> = (0..41)
            .map(|_| limiter.reserve(Some("alice"), ip("10.0.0.1"), start))
            .collect();
        let allowed = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(allowed, 5);
        assert_eq!(
            outcomes[5],
            Err(LoginRefused {
                retry_after: secs(60)
            })
        );
    }

    #[test]
    fn a_pairs_wait_doubles_with_each_failure_up_to_15_minutes() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        let mut at = start;
        for _ in 0..5 {
            fail(&mut limiter, "alice", "10.0.0.1", at);
        }
        let mut expected_waits = Vec::new();
        for _ in 0..6 {
            let wait = limiter
                .reserve(Some("alice"), ip("10.0.0.1"), at)
                .expect_err("waits")
                .retry_after;
            expected_waits.push(wait.as_secs());
            at += wait;
            fail(&mut limiter, "alice", "10.0.0.1", at);
        }
        assert_eq!(expected_waits, [60, 120, 240, 480, 900, 900]);
    }

    #[test]
    fn guessing_from_five_addresses_does_not_lock_the_user_out_of_their_own() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for i in 2..=6 {
            fail(&mut limiter, "alice", &format!("10.0.0.{i}"), start);
        }
        let own = limiter
            .reserve(Some("alice"), ip("10.0.0.1"), start)
            .expect("alice's own address");
        limiter.succeeded(own);
        // Five more from one address lock that pair, not alice's address.
        for _ in 0..5 {
            fail(&mut limiter, "alice", "10.0.0.7", start);
        }
        assert!(
            limiter
                .reserve(Some("alice"), ip("10.0.0.7"), start)
                .is_err()
        );
        let again = limiter
            .reserve(Some("alice"), ip("10.0.0.1"), start)
            .expect("alice's own address, after 10 failures elsewhere");
        limiter.succeeded(again);
        assert!(
            limiter.reserve(Some("bob"), ip("10.0.0.7"), start).is_ok(),
            "the guessing address may still try another user within its budget"
        );
    }

    #[test]
    fn many_addresses_at_one_user_are_spaced_but_the_users_own_address_is_not() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        let own = limiter
            .reserve(Some("alice"), ip("10.0.0.1"), start)
            .expect("first login");
        limiter.succeeded(own);
        for i in 0..10 {
            fail(&mut limiter, "alice", &format!("192.0.2.{i}"), start);
        }
        let wait = limiter
            .reserve(Some("alice"), ip("192.0.2.200"), start + secs(10))
            .expect_err("a new address waits")
            .retry_after;
        assert_eq!(wait, secs(20));
        assert!(
            limiter
                .reserve(Some("alice"), ip("192.0.2.200"), start + secs(30))
                .is_ok()
        );
        assert!(
            limiter
                .reserve(Some("alice"), ip("10.0.0.1"), start + secs(31))
                .is_ok(),
            "alice's own address is not spaced"
        );
    }

    #[test]
    fn an_address_has_a_budget_for_all_users_together() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for i in 0..20 {
            fail(&mut limiter, &format!("u{i}"), "192.0.2.7", start + secs(i));
        }
        let err = limiter
            .reserve(Some("zed"), ip("192.0.2.7"), start + secs(20))
            .expect_err("address spent");
        assert_eq!(err.retry_after, secs(880));
        assert!(err.to_string().contains("880 s"), "{err}");
        assert!(
            limiter
                .reserve(None, ip("192.0.2.7"), start + secs(20))
                .is_err()
        );
        assert!(
            limiter
                .reserve(Some("zed"), ip("192.0.2.8"), start + secs(20))
                .is_ok()
        );
        assert!(
            limiter
                .reserve(Some("zed"), ip("192.0.2.7"), start + secs(900))
                .is_ok(),
            "the first failure left the window"
        );
    }

    #[test]
    fn names_that_cannot_be_users_count_against_the_address_only() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for _ in 0..20 {
            limiter
                .reserve(None, ip("10.0.0.9"), start)
                .expect("allowed");
        }
        assert!(limiter.reserve(None, ip("10.0.0.9"), start).is_err());
        assert_eq!(limiter.tracked(), (0, 1, 0));
    }

    #[test]
    fn success_clears_the_pair_and_gives_its_own_count_back_but_not_the_addresses() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for _ in 0..4 {
            fail(&mut limiter, "alice", "10.0.0.1", start);
        }
        let right = limiter
            .reserve(Some("alice"), ip("10.0.0.1"), start)
            .expect("fifth");
        limiter.succeeded(right);
        for _ in 0..5 {
            fail(&mut limiter, "alice", "10.0.0.1", start);
        }
        assert!(
            limiter
                .reserve(Some("alice"), ip("10.0.0.1"), start)
                .is_err()
        );
        // The address counted 4 + 5 failures: 11 left of its 20.
        for i in 0..11 {
            fail(&mut limiter, &format!("other{i}"), "10.0.0.1", start);
        }
        assert!(limiter.reserve(Some("x"), ip("10.0.0.1"), start).is_err());
    }

    #[test]
    fn a_released_attempt_does_not_count() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for _ in 0..50 {
            let r = limiter
                .reserve(Some("alice"), ip("10.0.0.1"), start)
                .expect("never counted");
            limiter.release(r);
        }
        assert!(
            limiter
                .reserve(Some("alice"), ip("10.0.0.1"), start)
                .is_ok()
        );
    }

    #[test]
    fn an_unlock_forgets_the_user_but_not_the_addresses() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for _ in 0..5 {
            fail(&mut limiter, "alice", "10.0.0.1", start);
        }
        assert!(limiter.unlock("alice"));
        assert!(!limiter.unlock("alice"), "nothing left");
        assert!(
            limiter
                .reserve(Some("alice"), ip("10.0.0.1"), start)
                .is_ok()
        );
        assert_eq!(limiter.tracked().1, 1, "the address keeps its count");
    }

    #[test]
    fn ipv6_clients_count_per_64_network() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        for i in 0..5 {
            fail(
                &mut limiter,
                "alice",
                &format!("2001:db8:1:2::{i:x}"),
                start,
            );
        }
        assert!(
            limiter
                .reserve(Some("alice"), ip("2001:db8:1:2:ffff::1"), start)
                .is_err()
        );
        assert!(
            limiter
                .reserve(Some("alice"), ip("2001:db8:1:3::1"), start)
                .is_ok()
        );
        assert_eq!(address_key(ip("::ffff:192.0.2.1")), ip("192.0.2.1"));
    }

    #[test]
    fn expired_failures_are_forgotten() {
        let start = Instant::now();
        let mut limiter = LoginLimiter::default();
        fail(&mut limiter, "alice", "10.0.0.1", start);
        fail(&mut limiter, "bob", "10.0.0.2", start + secs(600));
        assert_eq!(limiter.tracked(), (2, 2, 2));
        limiter.forget_before(start + secs(900));
        assert_eq!(limiter.tracked(), (2, 1, 1), "pairs are kept an hour");
        limiter.forget_before(start + secs(4_300));
        assert_eq!(limiter.tracked(), (0, 0, 0));
    }
}
