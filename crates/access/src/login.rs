//! Logging in, and changing one's own password, under the attempt limits
//! ([`crate::LoginLimiter`]), with a bounded audit trail of what was refused.
//!
//! A login is two steps so that the service can bound the expensive one:
//! [`Users::begin_login`] counts the attempt as a failure at once (cheap, on
//! any thread), and [`Users::finish_login`] hashes the password (tens of
//! milliseconds and about 19 MiB, on a blocking thread, behind the server's
//! cap on concurrent hashes). The [`LoginAttempt`] between them gives its
//! count back if it is dropped without being finished.
//!
//! What the audit log records of logins, each actor being the name sent cut
//! to [`MAX_ACTOR_CHARS`] and made safe ([`tandem_core::text::for_record`]):
//!
//! - `login` and `login.failed`: one entry per attempt that was checked,
//!   which the limits bound per address;
//! - `login.refused`: per client address (IPv6: per /64) and minute, the
//!   first refusal at once, and the others of that minute as one entry with
//!   their count when the minute is over (at the address's next refusal, or
//!   by [`Users::flush_refusals`], which the service calls every few seconds).
//!   So refusals, which cost an attacker nothing, cannot grow the store.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tandem_core::AuditAction;
use tandem_core::access::{Principal, check_user_name, fold_name};
use tandem_core::text::for_record;
use tandem_store::NewAudit;

use crate::admin::entry;
use crate::limiter::{LoginLimiter, LoginRefused, Reservation, address_key};
use crate::password::check_new_password;
use crate::users::{AuthError, Users, UsersError, sha256_hex};

/// Most characters of a name sent to log in that the audit log keeps.
pub const MAX_ACTOR_CHARS: usize = 64;
/// Most names kept in one aggregated `login.refused` entry.
const NAMES_PER_REFUSAL: usize = 5;
/// Addresses with refusals waiting to be written; beyond, all are written.
const MAX_OPEN_REFUSALS: usize = 10_000;

/// Why a login (or a password change) did not go through.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Too many failed attempts of this user from this address, from this
    /// address, or of this user from everywhere.
    #[error(transparent)]
    Refused(#[from] LoginRefused),
    /// Unknown user, wrong password, or disabled user.
    #[error(transparent)]
    Auth(AuthError),
    /// The store or the hasher failed, or a new password breaks the policy.
    #[error(transparent)]
    Users(#[from] UsersError),
}

impl From<tandem_store::StoreError> for LoginError {
    fn from(e: tandem_store::StoreError) -> Self {
        LoginError::Users(e.into())
    }
}

/// A login attempt counted against the limits, not checked yet. Finish it
/// with [`Users::finish_login`]; dropped unfinished (the service was too
/// busy to hash, the client went away), its count is given back.
pub struct LoginAttempt {
    limiter: Arc<Mutex<LoginLimiter>>,
    reservation: Option<Reservation>,
    /// The name as sent.
    name: String,
    address: IpAddr,
}

impl fmt::Debug for LoginAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginAttempt")
            .field("name", &for_record(&self.name, MAX_ACTOR_CHARS))
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl LoginAttempt {
    fn limiter(&self) -> MutexGuard<'_, LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The check failed: the attempt stays counted.
    fn failed(&mut self) {
        self.reservation = None;
    }

    /// The check passed: the limiter forgets the pair's failures.
    fn succeeded(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            self.limiter().succeeded(reservation);
        }
    }
}

impl Drop for LoginAttempt {
    fn drop(&mut self) {
        if let Some(reservation) = self.reservation.take() {
            self.limiter().release(reservation);
        }
    }
}

/// Refused logins per address (see the module): what is not written yet.
#[derive(Debug, Default)]
pub(crate) struct RefusalLog {
    open: HashMap<IpAddr, Refusals>,
}

/// The refusals of one address in one minute after the first (which was
/// written at once).
#[derive(Debug)]
struct Refusals {
    /// Minutes since the epoch (UTC).
    minute: i64,
    /// Refusals not written yet.
    count: u64,
    /// Distinct names among them, made safe, at most [`NAMES_PER_REFUSAL`].
    names: Vec<String>,
    first_utc: Option<DateTime<Utc>>,
    last_utc: Option<DateTime<Utc>>,
}

impl Refusals {
    /// The aggregated entry, when there is anything to write.
    fn entry(&self, address: IpAddr) -> Option<NewAudit> {
        let actor = self.names.first()?;
        Some(entry(
            actor,
            AuditAction::LoginRefused,
            json!({
                "address": address.to_string(),
                "refused": self.count,
                "users": self.names,
                "first_utc": self.first_utc.map(|t| t.to_rfc3339()),
                "last_utc": self.last_utc.map(|t| t.to_rfc3339()),
            }),
        ))
        .filter(|_| self.count > 0)
    }
}

impl Users {
    /// The login limiter.
    pub(crate) fn lock_limiter(&self) -> MutexGuard<'_, LoginLimiter> {
        self.limiter.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a login attempt of `name` from `address` against the limits,
    /// before anything is hashed; refused, it is audited (aggregated per
    /// address and minute). Cheap: no hashing.
    pub fn begin_login(&self, name: &str, address: IpAddr) -> Result<LoginAttempt, LoginError> {
        // A name that breaks the naming rule is no user: the address alone counts it.
        let key = check_user_name(name).ok().map(|()| fold_name(name));
        let reserved = self
            .lock_limiter()
            .reserve(key.as_deref(), address, self.now());
        match reserved {
            Ok(reservation) => Ok(LoginAttempt {
                limiter: self.limiter.clone(),
                reservation: Some(reservation),
                name: name.to_string(),
                address,
            }),
            Err(refused) => {
                self.note_refusal(name, address)?;
                Err(refused.into())
            }
        }
    }

    /// Checks the attempt's password and starts a console session valid for
    /// `ttl`; returns the principal and the session's secret. A wrong
    /// password keeps the attempt counted; a success clears the pair's
    /// failures. Every outcome is audited. Hashes: call it on a blocking
    /// thread.
    pub fn finish_login(
        &self,
        mut attempt: LoginAttempt,
        password: &str,
        ttl: Duration,
    ) -> Result<(Principal, String), LoginError> {
        let detail = json!({ "address": attempt.address.to_string() });
        match self.authenticate(&attempt.name, password) {
            Ok(principal) => {
                let secret = self.start_session(&principal.user, ttl)?;
                attempt.succeeded();
                self.audit(&principal.user, AuditAction::Login, detail)?;
                Ok((principal, secret))
            }
            // Not the user's doing: the attempt is given back when dropped.
            Err(AuthError::Users(e)) => Err(e.into()),
            Err(e) => {
                attempt.failed();
                let actor = for_record(&attempt.name, MAX_ACTOR_CHARS);
                self.audit(&actor, AuditAction::LoginFailed, detail)?;
                Err(LoginError::Auth(e))
            }
        }
    }

    /// [`Users::begin_login`] then [`Users::finish_login`], for callers that
    /// do not bound hashing themselves. Hashes: call it on a blocking thread.
    pub fn login(
        &self,
        name: &str,
        password: &str,
        address: IpAddr,
        ttl: Duration,
    ) -> Result<(Principal, String), LoginError> {
        let attempt = self.begin_login(name, address)?;
        self.finish_login(attempt, password, ttl)
    }

    /// Ends `who`'s console session `secret` (when given) and audits the logout.
    pub fn logout(&self, who: &Principal, secret: Option<&str>) -> Result<(), UsersError> {
        if let Some(secret) = secret {
            self.end_session(secret)?;
        }
        self.audit(&who.user, AuditAction::Logout, serde_json::Value::Null)
    }

    /// Changes `who`'s own password: `current` must be right (an attempt
    /// counted like a login from `address`), `new` must meet the policy. Ends
    /// every other session of theirs; `keep_session` is the secret of the
    /// session the request came with, which stays. API tokens stay. Returns
    /// how many sessions ended. Hashes twice: call it on a blocking thread.
    pub fn change_password(
        &self,
        who: &Principal,
        current: &str,
        new: &str,
        address: IpAddr,
        keep_session: Option<&str>,
    ) -> Result<u64, LoginError> {
        let Some(user) = self.store().user(&who.user)?.filter(|u| u.name == who.user) else {
            return Err(UsersError::InvalidInput(format!(
                "{} is not a user of tandem and has no password; an administrator sets \
                 users' passwords (tandem users reset)",
                who.user
            ))
            .into());
        };
        check_new_password(new, &user.name)?;
        if new == current {
            return Err(UsersError::InvalidInput(
                "the new password is the current one; choose another".into(),
            )
            .into());
        }
        let mut attempt = self.begin_login(&user.name, address)?;
        if user.disabled || !Self::verify_password(current, &user.password_hash) {
            attempt.failed();
            self.audit(
                &user.name,
                AuditAction::LoginFailed,
                json!({ "address": address.to_string(), "for": "password change" }),
            )?;
            return Err(LoginError::Auth(AuthError::BadCredentials));
        }
        let hash = Self::hash_password(new)?;
        let keep = keep_session.map(sha256_hex);
        let mut ended = 0;
        self.store()
            .change_access("changing a password", &mut |tx| {
                tx.set_user_password(&user.name, &hash)?;
                ended = tx.end_sessions(&user.name, None, keep.as_deref())?;
                tx.append_audit(&entry(
                    &user.name,
                    AuditAction::UserPassword,
                    json!({ "user": user.name, "sessions_ended": ended }),
                ))
            })
            .map_err(UsersError::from)?;
        attempt.succeeded();
        Ok(ended)
    }

    /// Records a refused login of `name` from `address` (see the module).
    fn note_refusal(&self, name: &str, address: IpAddr) -> Result<(), UsersError> {
        let now = self.utc();
        let minute = now.timestamp().div_euclid(60);
        let address = address_key(address);
        let name = for_record(name, MAX_ACTOR_CHARS);
        let mut due = Vec::new();
        {
            let mut log = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            match log.open.get_mut(&address) {
                Some(open) if open.minute == minute => {
                    open.count += 1;
                    if open.names.len() < NAMES_PER_REFUSAL && !open.names.contains(&name) {
                        open.names.push(name);
                    }
                    open.first_utc.get_or_insert(now);
                    open.last_utc = Some(now);
                }
                _ => {
                    if let Some(old) = log.open.remove(&address) {
                        due.extend(old.entry(address));
                    }
                    due.push(entry(
                        &name,
                        AuditAction::LoginRefused,
                        json!({
                            "address": address.to_string(),
                            "refused": 1,
                            "users": [&name],
                        }),
                    ));
                    log.open.insert(
                        address,
                        Refusals {
                            minute,
                            count: 0,
                            names: Vec::new(),
                            first_utc: None,
                            last_utc: None,
                        },
                    );
                    if log.open.len() > MAX_OPEN_REFUSALS {
                        due.extend(log.open.drain().filter_map(|(a, r)| r.entry(a)));
                    }
                }
            }
        }
        // Written without holding the log: a store write waits for the disk.
        for entry in due {
            self.store().append_audit(&entry)?;
        }
        Ok(())
    }

    /// Writes the aggregated `login.refused` entries of minutes that are
    /// over, and forgets expired login failures. The service calls it every
    /// few seconds; returns how many entries it wrote.
    pub fn flush_refusals(&self) -> Result<usize, UsersError> {
        self.flush_refusals_before(self.utc().timestamp().div_euclid(60))
    }

    /// Writes every aggregated `login.refused` entry, the current minute's
    /// too: when the service stops.
    pub fn flush_all_refusals(&self) -> Result<usize, UsersError> {
        self.flush_refusals_before(i64::MAX)
    }

    fn flush_refusals_before(&self, minute: i64) -> Result<usize, UsersError> {
        let due: Vec<NewAudit> = {
            let mut log = self.refusals.lock().unwrap_or_else(|p| p.into_inner());
            let over: Vec<IpAddr> = log
                .open
                .iter()
                .filter(|(_, r)| r.minute < minute)
                .map(|(a, _)| *a)
                .collect();
            over.into_iter()
                .filter_map(|a| log.open.remove(&a).and_then(|r| r.entry(a)))
                .collect()
        };
        self.lock_limiter().forget_before(self.now());
        for entry in &due {
            self.store().append_audit(entry)?;
        }
        Ok(due.len())
    }
}
