//! Users, passwords, API tokens and console sessions: what turns a request's
//! credentials into a [`Principal`] the server checks permissions against.
//!
//! - [`Users`]: the service over the [`Store`]. Passwords are hashed with
//!   argon2id (the crate's default parameters, a random 16-byte salt) and
//!   stored as PHC strings; API tokens (`tdm_` + 32 random bytes) and session
//!   secrets (32 random bytes) are stored only as SHA-256 hashes, which is
//!   enough for 256-bit random secrets and keeps every request cheap.
//! - [`Users::authenticate`] answers the same [`AuthError::BadCredentials`]
//!   after the same argon2 work whether the user is unknown, disabled or gave
//!   a wrong password, so neither the answer nor its timing tells which.
//! - [`Users::ensure_admin`]: the first start's administrator and default roles.
//!
//! Hashing a password costs tens of milliseconds of CPU on purpose: async
//! callers run [`Users::authenticate`], [`Users::create_user`] and
//! [`Users::set_password`] on a blocking thread (`spawn_blocking`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use tandem_core::ErrorKind;
use tandem_core::access::{
    AccessError, Grant, MAX_PTZ_PRIORITY, Permission, Principal, Role, check_user_name,
};
use tandem_core::clock::{self, Clock};
use tandem_store::{RoleRecord, Store, StoreError, TokenRecord, UserRecord};

use crate::limiter::LoginLimiter;
use crate::login::RefusalLog;
pub use crate::password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
use crate::password::{check_new_password, check_password_length};

/// What every API token's secret starts with, so that leaked tokens are easy
/// to recognise (secret scanners, logs) and to tell from session cookies.
pub const TOKEN_PREFIX: &str = "tdm_";
/// Most characters a token's label may have.
pub const MAX_LABEL_CHARS: usize = 200;
/// The user [`Users::ensure_admin`] creates.
pub const ADMIN_USER: &str = "admin";
/// The role [`Users::ensure_admin`] gives that user.
pub const ADMIN_ROLE: &str = "admin";

/// Random bytes in a token or session secret.
const SECRET_BYTES: usize = 32;
/// Random bytes in a generated admin password (24 characters of base64url).
const GENERATED_PASSWORD_BYTES: usize = 18;
/// A token's `last_used_utc` is written at most this often, so that a busy
/// script does not cost a database write per request.
const TOKEN_TOUCH_INTERVAL: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// A failed user-management call.
#[derive(Debug, thiserror::Error)]
pub enum UsersError {
    /// A user, role or group name breaks its rule.
    #[error(transparent)]
    Access(#[from] AccessError),
    /// A password or label breaks its rule; the message says which.
    #[error("{0}")]
    InvalidInput(String),
    /// A role named in the request does not exist.
    #[error("there is no role {0:?}; create it first or pick an existing one")]
    UnknownRole(String),
    /// The password hasher failed (a bug, or no memory for argon2).
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The caller's roles do not allow it.
    #[error("{0}")]
    Forbidden(String),
    /// The user, role or token does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The state does not allow it (a taken name, the last administrator).
    #[error("{0}")]
    Conflict(String),
    /// The store failed, or refused (an unknown user, a taken name).
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl UsersError {
    /// The error's kind, for the server's status table and the CLI's exit codes.
    pub fn kind(&self) -> ErrorKind {
        match self {
            UsersError::Access(_) | UsersError::InvalidInput(_) | UsersError::UnknownRole(_) => {
                ErrorKind::Invalid
            }
            UsersError::Forbidden(_) => ErrorKind::Forbidden,
            UsersError::NotFound(_) => ErrorKind::NotFound,
            UsersError::Conflict(_) => ErrorKind::Conflict,
            UsersError::Hashing(_) => ErrorKind::Internal,
            UsersError::Store(e) => e.kind(),
        }
    }

    /// Whether the same call may succeed later (the store was busy).
    pub fn is_retryable(&self) -> bool {
        matches!(self, UsersError::Store(e) if e.is_retryable())
    }
}

/// Why a request's credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown user, wrong password, or a disabled user: deliberately one answer.
    #[error("wrong user name or password")]
    BadCredentials,
    /// The API token is malformed, unknown or revoked, or its user is
    /// disabled or gone.
    #[error("the API token is not valid (unknown, revoked, or its user is disabled)")]
    BadToken,
    /// The session is unknown, ended or expired, or its user is disabled or gone.
    #[error("the session has expired or ended; log in again")]
    BadSession,
    /// Checking failed for another reason (the store).
    #[error(transparent)]
    Users(#[from] UsersError),
}

impl AuthError {
    /// Whether the same request may succeed later (the store was busy).
    pub fn is_retryable(&self) -> bool {
        matches!(self, AuthError::Users(e) if e.is_retryable())
    }
}

impl From<StoreError> for AuthError {
    fn from(e: StoreError) -> Self {
        AuthError::Users(UsersError::Store(e))
    }
}

/// Users, passwords, tokens and sessions over the store. Cheap to share
/// (`Arc<Users>`); every method is a few store calls, plus one argon2 hash
/// where a password is involved.
pub struct Users {
    store: Arc<dyn Store>,
    /// Where session expiry, token use and login windows read the time.
    clock: Arc<dyn Clock>,
    /// Who tokens and sessions are, as last read: every
    /// API request needs them, and they change rarely.
    cache: Mutex<AccessCache>,
    /// Login attempts per (address, user), per address and per user; shared
    /// with each [`crate::LoginAttempt`], which settles its own count.
    pub(crate) limiter: Arc<Mutex<LoginLimiter>>,
    /// Refused logins not yet written to the audit log, per address.
    pub(crate) refusals: Mutex<RefusalLog>,
}

/// Access facts read from the store, valid while the store's change stamp
/// stays the same: any write (a revoked token, a changed role, by this
/// process or another) empties it, so nothing stale is ever served.
#[derive(Default)]
struct AccessCache {
    stamp: Option<(i64, i64)>,
    /// By `t:`/`s:` and the secret's hash; sessions carry a re-check time.
    principals: HashMap<String, (Principal, Option<DateTime<Utc>>)>,
}

/// Entries kept at most; beyond, the cache starts again (a flood of bad tokens cannot grow it).
const CACHE_ENTRIES: usize = 4096;
/// A cached session is looked up again after this long (and at its expiry).
const SESSION_RECHECK: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl AccessCache {
    /// The cache as of `stamp`, emptied when the store changed since.
    fn at(&mut self, stamp: (i64, i64)) -> &mut Self {
        if self.stamp != Some(stamp) || self.principals.len() > CACHE_ENTRIES {
            self.principals.clear();
            self.stamp = Some(stamp);
        }
        self
    }
}

impl fmt::Debug for Users {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Users {
    /// The service over `store`, on the wall clock. Computes the dummy hash
    /// used for unknown users now, so the first such login is not faster.
    pub fn new(store: Arc<dyn Store>) -> Self {
        dummy_hash();
        Users {
            store,
            clock: clock::system(),
            cache: Mutex::new(AccessCache::default()),
            limiter: Arc::new(Mutex::new(LoginLimiter::default())),
            refusals: Mutex::new(RefusalLog::default()),
        }
    }

    /// Replaces the login limiter (tests change its limits).
    pub fn with_limiter(mut self, limiter: LoginLimiter) -> Self {
        self.limiter = Arc::new(Mutex::new(limiter));
        self
    }

    /// Replaces the clock used for session expiry, token use and login windows (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Hashes `password` with argon2id (default parameters, random salt)
    /// into a PHC string. Does not apply the password rules
    /// ([`check_new_password`]); callers that take a new password do.
    pub fn hash_password(password: &str) -> Result<String, UsersError> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| UsersError::Hashing(e.to_string()))?;
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|e| UsersError::Hashing(e.to_string()))
    }

    /// True when `password` matches the PHC string `password_hash`, compared
    /// in constant time by the argon2 crate, with the parameters the hash
    /// records. A hash that does not parse matches nothing.
    pub fn verify_password(password: &str, password_hash: &str) -> bool {
        match PasswordHash::new(password_hash) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(e) => {
                tracing::warn!("a stored password hash does not parse: {e}");
                false
            }
        }
    }

    /// Creates an enabled user with `password` (checked by
    /// [`check_new_password`]) and `roles`, which must exist. Fails with a
    /// store conflict when the name is taken, in any case. Not audited nor
    /// checked for rights: [`Users::add_user`] is the administrator's call.
    pub fn create_user(
        &self,
        name: &str,
        password: &str,
        roles: &[String],
    ) -> Result<UserRecord, UsersError> {
        check_new_password(password, name)?;
        self.create_user_unchecked(name, password, roles)
    }

    /// [`Users::create_user`] with only the user name and the password's
    /// length checked.
    fn create_user_unchecked(
        &self,
        name: &str,
        password: &str,
        roles: &[String],
    ) -> Result<UserRecord, UsersError> {
        check_user_name(name)?;
        check_password_length(password)?;
        let known: Vec<String> = self.store.roles()?.into_iter().map(|r| r.name).collect();
        if let Some(unknown) = roles.iter().find(|r| !known.contains(r)) {
            return Err(UsersError::UnknownRole(unknown.clone()));
        }
        let hash = Self::hash_password(password)?;
        self.store.create_user(name, &hash)?;
        if let Err(e) = self.store.set_user_roles(name, roles) {
            // A role deleted meanwhile: do not leave a half-made user behind.
            if let Err(cleanup) = self.store.delete_user(name) {
                tracing::warn!("removing half-created user {name:?}: {cleanup}");
            }
            return Err(e.into());
        }
        self.store
            .user(name)?
            .ok_or_else(|| StoreError::NotFound(format!("user {name:?}")).into())
    }

    /// Replaces the user's password (checked by [`check_new_password`]).
    /// Not audited, and their sessions stay: [`Users::reset_password`] and
    /// [`Users::change_password`] are the calls that do both.
    pub fn set_password(&self, name: &str, password: &str) -> Result<(), UsersError> {
        check_new_password(password, name)?;
        let hash = Self::hash_password(password)?;
        Ok(self.store.set_user_password(name, &hash)?)
    }

    /// Checks a login. Unknown user, wrong password and disabled user all
    /// fail with [`AuthError::BadCredentials`] after one argon2 verification,
    /// so that neither the answer nor its time reveals which user names exist.
    /// Rate limiting is [`Users::login`]'s.
    ///
    /// The name is compared without regard to case (user names are unique
    /// that way). A name that breaks the naming rule cannot be a user and is
    /// refused without hashing: the rule is public, so that reveals nothing.
    pub fn authenticate(&self, name: &str, password: &str) -> Result<Principal, AuthError> {
        if password.len() > MAX_PASSWORD_BYTES || check_user_name(name).is_err() {
            return Err(AuthError::BadCredentials);
        }
        let Some(user) = self.store.user(name)? else {
            // Same work as for a real user; the result is irrelevant.
            let _ = Self::verify_password(password, dummy_hash());
            return Err(AuthError::BadCredentials);
        };
        if !Self::verify_password(password, &user.password_hash) || user.disabled {
            return Err(AuthError::BadCredentials);
        }
        Ok(self.principal(&user)?)
    }

    /// The principal of a user: their name and those of their roles that are
    /// usable. A stored role that no longer parses is left out (with a
    /// warning), which can only take rights away.
    pub fn principal(&self, user: &UserRecord) -> Result<Principal, UsersError> {
        let roles = self
            .store
            .roles()?
            .iter()
            .filter(|r| user.roles.contains(&r.name))
            .filter_map(|r| match role_from_record(r) {
                Ok(role) => Some(role),
                Err(e) => {
                    tracing::warn!("role {:?} is ignored: {e}", r.name);
                    None
                }
            })
            .collect();
        Ok(Principal {
            user: user.name.clone(),
            roles,
        })
    }

    /// Issues an API token for `user`: returns the secret, to show once
    /// (`tdm_` + 43 characters of base64url), and the stored record (which
    /// holds only its hash).
    pub fn issue_token(
        &self,
        user: &str,
        label: &str,
    ) -> Result<(String, TokenRecord), UsersError> {
        check_label(label)?;
        let secret = format!("{TOKEN_PREFIX}{}", random_text(SECRET_BYTES));
        let record = self.store.create_token(user, &sha256_hex(&secret), label)?;
        Ok((secret, record))
    }

    /// The principal an API token's secret stands for, if the token is valid
    /// and its user enabled. Records the use (at most once a minute).
    pub fn principal_for_token(&self, secret: &str) -> Result<Principal, AuthError> {
        let well_formed = secret
            .strip_prefix(TOKEN_PREFIX)
            .is_some_and(is_secret_text);
        if !well_formed {
            return Err(AuthError::BadToken);
        }
        let hash = sha256_hex(secret);
        let key = format!("t:{hash}");
        if let Some(principal) = self.cached_principal(&key)? {
            return Ok(principal);
        }
        let token = self
            .store
            .token_by_hash(&hash)?
            .ok_or(AuthError::BadToken)?;
        let user = self.enabled_user(&token.user)?.ok_or(AuthError::BadToken)?;
        let now = self.utc();
        if token
            .last_used_utc
            .is_none_or(|last| now - last >= TOKEN_TOUCH_INTERVAL)
            && let Err(e) = self.store.touch_token(token.id, now)
        {
            // The request is authenticated either way; the time is informative.
            tracing::warn!("recording the use of API token {}: {e}", token.id);
        }
        let principal = self.principal(&user)?;
        // Looked up again when the next use is worth recording.
        self.remember(key, &principal, Some(now + TOKEN_TOUCH_INTERVAL))?;
        Ok(principal)
    }

    /// A principal resolved since the store last changed (and, for a session,
    /// checked within [`SESSION_RECHECK`]).
    fn cached_principal(&self, key: &str) -> Result<Option<Principal>, StoreError> {
        let stamp = self.store.change_stamp()?;
        let now = self.utc();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        Ok(cache
            .at(stamp)
            .principals
            .get(key)
            .filter(|(_, until)| until.is_none_or(|u| now < u))
            .map(|(p, _)| p.clone()))
    }

    fn remember(
        &self,
        key: String,
        principal: &Principal,
        until: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let stamp = self.store.change_stamp()?;
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .at(stamp)
            .principals
            .insert(key, (principal.clone(), until));
        Ok(())
    }

    /// Starts a console session for `user`, valid for `ttl`; returns its
    /// secret (the cookie's value, 43 characters of base64url).
    pub fn start_session(&self, user: &str, ttl: Duration) -> Result<String, UsersError> {
        let ttl = chrono::TimeDelta::from_std(ttl).map_err(|_| {
            UsersError::InvalidInput(format!("session lifetime {ttl:?} is too long"))
        })?;
        let expires = self.utc().checked_add_signed(ttl).ok_or_else(|| {
            UsersError::InvalidInput(format!("session lifetime {ttl} is too long"))
        })?;
        let secret = random_text(SECRET_BYTES);
        self.store
            .create_session(&sha256_hex(&secret), user, expires)?;
        Ok(secret)
    }

    /// The principal of a session's secret, if the session exists, has not
    /// expired and its user is enabled.
    pub fn principal_for_session(&self, secret: &str) -> Result<Principal, AuthError> {
        if !is_secret_text(secret) {
            return Err(AuthError::BadSession);
        }
        let hash = sha256_hex(secret);
        let key = format!("s:{hash}");
        if let Some(principal) = self.cached_principal(&key)? {
            return Ok(principal);
        }
        let now = self.utc();
        let name = self
            .store
            .session(&hash, now)?
            .ok_or(AuthError::BadSession)?;
        let user = self.enabled_user(&name)?.ok_or(AuthError::BadSession)?;
        let principal = self.principal(&user)?;
        // Never served from the cache past its expiry.
        let expires = self.store.session_expires(&hash)?.unwrap_or(now);
        self.remember(key, &principal, Some(expires.min(now + SESSION_RECHECK)))?;
        Ok(principal)
    }

    /// Ends the session (logout); no error when it does not exist.
    pub fn end_session(&self, secret: &str) -> Result<(), UsersError> {
        Ok(self.store.delete_session(&sha256_hex(secret))?)
    }

    /// Deletes expired sessions; returns how many.
    pub fn purge_expired_sessions(&self) -> Result<u64, UsersError> {
        Ok(self.store.purge_sessions(self.utc())?)
    }

    /// On a store without users, creates the first administrator: the roles
    /// of [`default_roles`] (role `admin` is rewritten, the others are
    /// created only when missing, so edited ones are kept) and the user
    /// `admin` holding role `admin`. The password is `password_from_env` or
    /// a random one, returned so that the caller prints it once. A given
    /// password needs the policy's length ([`check_password_length`]); one
    /// that breaks the rest of the policy is accepted with a warning, so that
    /// installation scripts keep working, and should be changed. Does
    /// nothing, and returns `None`, when any user exists.
    pub fn ensure_admin(
        &self,
        password_from_env: Option<String>,
    ) -> Result<Option<String>, UsersError> {
        if self.store.user_count()? > 0 {
            return Ok(None);
        }
        let (password, generated) = match password_from_env {
            Some(password) => (password, false),
            None => (random_text(GENERATED_PASSWORD_BYTES), true),
        };
        check_password_length(&password)?;
        if let Err(weak) = check_new_password(&password, ADMIN_USER) {
            tracing::warn!(
                "the first administrator's password from TANDEM_ADMIN_PASSWORD breaks the \
                 password policy ({weak}); change it (tandem users passwd)"
            );
        }
        let existing: Vec<String> = self.store.roles()?.into_iter().map(|r| r.name).collect();
        for role in default_roles() {
            if role.name() == ADMIN_ROLE || !existing.iter().any(|n| n == role.name()) {
                self.store.upsert_role(&role_record(&role))?;
            }
        }
        self.create_user_unchecked(ADMIN_USER, &password, &[ADMIN_ROLE.to_string()])?;
        Ok(generated.then_some(password))
    }

    /// Wall-clock time from the service's clock.
    pub(crate) fn utc(&self) -> DateTime<Utc> {
        self.clock.wall().into()
    }

    /// Monotonic time from the service's clock.
    pub(crate) fn now(&self) -> std::time::Instant {
        self.clock.monotonic()
    }

    /// The store (for the audited administrative actions in `admin`).
    pub(crate) fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The user, if they exist and are enabled.
    fn enabled_user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        Ok(self.store.user(name)?.filter(|u| !u.disabled))
    }
}

/// The roles a new store starts with:
///
/// | role | grants (all cameras) | PTZ priority |
/// | --- | --- | --- |
/// | `admin` | admin | 32000 |
/// | `operator` | ptz.control, preset.recall | 1000 |
/// | `preset-manager` | preset.manage, preset.recall, ptz.control | 2000 |
/// | `supervisor` | every permission but admin | 5000 |
pub fn default_roles() -> Vec<Role> {
    use Permission::*;
    let role = |name: &str, permissions: &[Permission], priority: u16| {
        let grants = permissions.iter().map(|p| Grant::everywhere(*p)).collect();
        // The names and priorities above are valid constants.
        Role::new(name, grants, priority).unwrap_or_else(|e| unreachable!("default role: {e}"))
    };
    vec![
        role(ADMIN_ROLE, &[Admin], MAX_PTZ_PRIORITY),
        role("operator", &[PtzControl, PresetRecall], 1_000),
        role(
            "preset-manager",
            &[PresetManage, PresetRecall, PtzControl],
            2_000,
        ),
        role(
            "supervisor",
            &[
                PtzControl,
                PresetRecall,
                PresetManage,
                PresetManageLocked,
                MismatchResolve,
            ],
            5_000,
        ),
    ]
}

/// The caller of a local CLI command: every right on every camera. Whoever can
/// open the store file can change anything in it; the rules that are not about
/// rights (numbers, names, locks' existence) hold for them all the same.
pub fn local_operator(user: impl Into<String>) -> Principal {
    let admin = default_roles()
        .into_iter()
        .filter(|r| r.name() == ADMIN_ROLE)
        .collect();
    Principal {
        user: user.into(),
        roles: admin,
    }
}

/// The store's form of a role: its grants as a JSON array.
pub fn role_record(role: &Role) -> RoleRecord {
    RoleRecord {
        name: role.name().to_string(),
        ptz_priority: role.ptz_priority(),
        // A `Vec<Grant>` always serializes: strings and enums only.
        grants: serde_json::to_value(role.grants()).unwrap_or_default(),
    }
}

/// A stored role, checked: its grants parse and its name, priority and
/// group names are valid.
pub fn role_from_record(record: &RoleRecord) -> Result<Role, UsersError> {
    let grants: Vec<Grant> = serde_json::from_value(record.grants.clone()).map_err(|e| {
        UsersError::Store(StoreError::Corrupt(format!(
            "role {:?}: grants do not parse: {e}",
            record.name
        )))
    })?;
    Ok(Role::new(record.name.clone(), grants, record.ptz_priority)?)
}

fn check_label(label: &str) -> Result<(), UsersError> {
    if label.chars().count() > MAX_LABEL_CHARS || label.chars().any(char::is_control) {
        return Err(UsersError::InvalidInput(format!(
            "a token label has at most {MAX_LABEL_CHARS} characters and no control characters"
        )));
    }
    Ok(())
}

/// `n` random bytes from the thread's CSPRNG (ChaCha, seeded by the OS),
/// as base64url without padding.
fn random_text(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// True when `text` looks like [`random_text`]`(SECRET_BYTES)`; anything else
/// is refused before the store is asked.
fn is_secret_text(text: &str) -> bool {
    text.len() == SECRET_BYTES.div_ceil(3) * 4 - 1
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The id the session with this secret is listed under
/// ([`tandem_store::SessionRecord::id`]), to tell the caller's own session
/// among a user's.
pub fn session_id(secret: &str) -> String {
    sha256_hex(secret)
        .chars()
        .take(tandem_store::SESSION_ID_CHARS)
        .collect()
}

/// Lower-case hex SHA-256 of `text`: how token and session secrets are stored.
pub(crate) fn sha256_hex(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// A hash of a random, forgotten password, verified against when the user
/// is unknown so that the login costs the same.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| Users::hash_password(&random_text(SECRET_BYTES)).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_hash_is_an_argon2id_phc_string_with_a_fresh_salt() {
        let a = Users::hash_password("correct horse").expect("hash");
        let b = Users::hash_password("correct horse").expect("hash");
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(Users::verify_password("correct horse", &a));
        assert!(Users::verify_password("correct horse", &b));
        assert!(!Users::verify_password("correct horsE", &a));
        assert!(!Users::verify_password("", &a));
    }

    #[test]
    fn a_hash_that_does_not_parse_matches_nothing() {
        for bad in ["", "plain", "$argon2id$", "$2b$10$abcdefghijklmnopqrstuv"] {
            assert!(!Users::verify_password("plain", bad), "{bad:?}");
        }
    }

    #[test]
    fn secrets_are_43_base64url_characters_and_differ() {
        let a = random_text(SECRET_BYTES);
        let b = random_text(SECRET_BYTES);
        assert_eq!(a.len(), 43);
        assert!(is_secret_text(&a) && is_secret_text(&b));
        assert_ne!(a, b);
        assert!(!is_secret_text(&a[1..]));
        assert!(!is_secret_text(&format!("{}=", &a[1..])));
        assert!(!is_secret_text(""));
    }

    #[test]
    fn sha256_hex_is_lower_case_hex() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn default_roles_match_the_documented_table() {
        let roles = default_roles();
        let summary: Vec<_> = roles
            .iter()
            .map(|r| {
                let permissions: Vec<_> =
                    r.grants().iter().map(|g| g.permission.as_str()).collect();
                (r.name(), permissions, r.ptz_priority())
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("admin", vec!["admin"], 32_000),
                ("operator", vec!["ptz.control", "preset.recall"], 1_000),
                (
                    "preset-manager",
                    vec!["preset.manage", "preset.recall", "ptz.control"],
                    2_000
                ),
                (
                    "supervisor",
                    vec![
                        "ptz.control",
                        "preset.recall",
                        "preset.manage",
                        "preset.manage_locked",
                        "mismatch.resolve"
                    ],
                    5_000
                ),
            ]
        );
        for role in &roles {
            let back = role_from_record(&role_record(role)).expect("round trip");
            assert_eq!(&back, role);
        }
    }

    #[test]
    fn a_stored_role_with_unknown_permissions_is_corrupt() {
        let record = RoleRecord {
            name: "r".into(),
            ptz_priority: 1,
            grants: serde_json::json!([{ "permission": "fly", "scope": "all_cameras" }]),
        };
        let err = role_from_record(&record).expect_err("unknown permission");
        assert!(
            matches!(err, UsersError::Store(StoreError::Corrupt(_))),
            "{err:?}"
        );
    }
}
