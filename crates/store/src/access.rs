//! Access control: camera groups, roles, users, API tokens and console
//! sessions ([`AccessStore`]), changes made in one transaction with the
//! checks of the caller ([`AccessTx`]), and the records it reads and writes
//! ([`RoleRecord`], [`UserRecord`], [`TokenId`], [`TokenRecord`],
//! [`SessionRecord`]).
//!
//! User names and role names are unique without regard to ASCII case (the
//! names are ASCII): creating `ADMIN` beside `admin` is a conflict, checked
//! in the transaction that would create it.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tandem_core::CameraId;

use crate::convert::{parse_json, parse_utc};
use crate::error::StoreError;
use crate::record::NewAudit;

/// Characters of a [`SessionRecord::id`]: the start of the session's hash.
pub const SESSION_ID_CHARS: usize = 16;

/// The access tables inside one write transaction of
/// [`AccessStore::change_access`]: reads see the transaction's own writes,
/// and nothing is committed unless the whole change returns `Ok`. Each
/// method behaves as the [`AccessStore`] method of the same name.
pub trait AccessTx {
    /// One user with their roles (see [`AccessStore::user`]).
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Every user with their roles, sorted by name.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;
    /// Every role, sorted by name.
    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError>;
    /// Inserts or replaces a role (see [`AccessStore::upsert_role`]).
    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError>;
    /// Deletes a role and takes it from its users.
    fn delete_role(&self, name: &str) -> Result<(), StoreError>;
    /// Replaces a user's roles.
    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError>;
    /// Replaces a user's password hash.
    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError>;
    /// Disables or enables a user.
    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError>;
    /// Deletes a user with their roles, tokens and sessions.
    fn delete_user(&self, name: &str) -> Result<(), StoreError>;
    /// Ends the user's sessions: all of them, or the one with id `only`
    /// ([`SessionRecord::id`]), except the one whose hash is `keep`;
    /// returns how many ended.
    fn end_sessions(
        &self,
        user: &str,
        only: Option<&str>,
        keep: Option<&str>,
    ) -> Result<u64, StoreError>;
    /// Appends an entry to the audit log, committed with the change.
    fn append_audit(&self, entry: &NewAudit) -> Result<(), StoreError>;
}

/// Access control: the part of the [`Store`](crate::Store) that keeps camera
/// groups, roles, users, API tokens and console sessions. It keeps only hashes
/// of passwords, tokens and session ids, made by the engine, and does not
/// interpret grants.
pub trait AccessStore {
    // --- Camera groups -----------------------------------------------------

    /// Replaces the camera's groups with `groups` (repeats count once).
    /// [`StoreError::NotFound`] when the camera does not exist.
    fn set_camera_groups(&self, camera: &CameraId, groups: &[String]) -> Result<(), StoreError>;

    /// The camera's groups, sorted; empty for an unknown camera.
    fn camera_groups(&self, camera: &CameraId) -> Result<Vec<String>, StoreError>;

    // --- Roles -------------------------------------------------------------

    /// Runs `change` in one write transaction and commits what it did when
    /// it returns `Ok`; on an error nothing it did is kept. What must hold
    /// across a change (an administrator remains) is checked inside it, so
    /// that two concurrent changes, in this process or another, cannot both
    /// pass the check. `what` names the change in errors.
    ///
    /// `change` may run on another thread (the PostgreSQL store's), hence
    /// `Send`, and more than once: when the connection to PostgreSQL drops
    /// before the commit, the store runs it again on a fresh one (nothing it
    /// did on the dead one was kept), so it should set, not add to, what it
    /// reports to its caller.
    fn change_access(
        &self,
        what: &str,
        change: &mut (dyn FnMut(&dyn AccessTx) -> Result<(), StoreError> + Send),
    ) -> Result<(), StoreError>;

    /// Inserts the role, or replaces the priority and grants of the one with
    /// the same name (its users keep it). [`StoreError::Invalid`] when the
    /// priority is outside 1 to 32000 or the grants are not a JSON array;
    /// [`StoreError::Conflict`] when another role's name differs only in case.
    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError>;

    /// Every role, sorted by name.
    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// Deletes the role and takes it away from every user holding it.
    /// [`StoreError::NotFound`] when there is no such role.
    fn delete_role(&self, name: &str) -> Result<(), StoreError>;

    // --- Users -------------------------------------------------------------

    /// Creates an enabled user without roles. `password_hash` is stored as
    /// given (the engine's argon2 PHC string). [`StoreError::Conflict`] when
    /// the name is taken, in any case (`ADMIN` beside `admin`).
    fn create_user(&self, name: &str, password_hash: &str) -> Result<UserRecord, StoreError>;

    /// One user with their roles, if they exist: the user of exactly this
    /// name, else the one whose name differs only in ASCII case (the first
    /// by name, should a store from before that rule hold several).
    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Every user with their roles, sorted by name.
    fn users(&self) -> Result<Vec<UserRecord>, StoreError>;

    /// How many users exist (0 on a new store: time to create the admin).
    fn user_count(&self) -> Result<u64, StoreError>;

    /// Replaces the user's roles with `roles` (repeats count once), in one
    /// transaction. [`StoreError::NotFound`] for an unknown user or role.
    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError>;

    /// Replaces the user's password hash. [`StoreError::NotFound`] for an unknown user.
    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError>;

    /// Disables or enables the user. [`StoreError::NotFound`] for an unknown user.
    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError>;

    /// Deletes the user with their roles, tokens and sessions.
    /// [`StoreError::NotFound`] for an unknown user.
    fn delete_user(&self, name: &str) -> Result<(), StoreError>;

    // --- API tokens --------------------------------------------------------

    /// Records a new token of `user` by the hash of its secret.
    /// [`StoreError::NotFound`] for an unknown user, [`StoreError::Conflict`]
    /// when the hash is already stored.
    fn create_token(
        &self,
        user: &str,
        token_hash: &str,
        label: &str,
    ) -> Result<TokenRecord, StoreError>;

    /// The token with this hash, unless it is unknown or revoked.
    fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Records that the token authenticated a request at `now`.
    /// [`StoreError::NotFound`] for an unknown token.
    fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), StoreError>;

    /// Revokes the token (its first revocation time is kept).
    /// [`StoreError::NotFound`] for an unknown token.
    fn revoke_token(&self, id: TokenId) -> Result<(), StoreError>;

    /// Every token of one user or of all, revoked ones included, sorted by id.
    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError>;

    // --- Console sessions --------------------------------------------------

    /// Records a session of `user`, accepted until `expires_utc`, by the hash
    /// of its secret. [`StoreError::NotFound`] for an unknown user.
    fn create_session(
        &self,
        id_hash: &str,
        user: &str,
        expires_utc: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The user of the session with this hash, if it exists and has not
    /// expired at `now`.
    fn session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError>;

    /// When a session expires, if it exists (expired or not).
    fn session_expires(&self, id_hash: &str) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Ends the session (logout); no error when there is none.
    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    /// Deletes the sessions expired at `now`; returns how many.
    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// The user's sessions that have not expired at `now`, oldest first.
    fn sessions(&self, user: &str, now: DateTime<Utc>) -> Result<Vec<SessionRecord>, StoreError>;
}

// ---------------------------------------------------------------------------
// Access-control records: plain data, no SQL.

/// A role as the store keeps it. The engine turns it into a
/// `tandem_core::access::Role`; the store does not interpret the grants.
#[derive(Debug, Clone, PartialEq)]
pub struct RoleRecord {
    /// The role's name.
    pub name: String,
    /// PTZ priority, 1 to 32000, higher wins.
    pub ptz_priority: u16,
    /// The grants: a JSON array of `tandem_core::access::Grant`.
    pub grants: Value,
}

/// A user as the store keeps them.
#[derive(Clone, PartialEq)]
pub struct UserRecord {
    /// The user's name.
    pub name: String,
    /// The password's argon2 PHC string (left out of `Debug`).
    pub password_hash: String,
    /// True when the user may not log in nor use tokens or sessions.
    pub disabled: bool,
    /// The names of the user's roles, sorted.
    pub roles: Vec<String>,
    /// When the user was created.
    pub created_utc: DateTime<Utc>,
}

impl fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hash allows offline guessing of the password: keep it out of logs.
        f.debug_struct("UserRecord")
            .field("name", &self.name)
            .field("password_hash", &"<redacted>")
            .field("disabled", &self.disabled)
            .field("roles", &self.roles)
            .field("created_utc", &self.created_utc)
            .finish()
    }
}

/// An API token's id: increasing, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An API token as the store keeps it: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// Its id.
    pub id: TokenId,
    /// The user it acts as.
    pub user: String,
    /// Lower-case hex SHA-256 of the secret.
    pub token_hash: String,
    /// What it is for.
    pub label: String,
    /// When it was issued.
    pub created_utc: DateTime<Utc>,
    /// When it was revoked; `None` while valid.
    pub revoked_utc: Option<DateTime<Utc>>,
    /// When it last authenticated a request; `None` if never.
    pub last_used_utc: Option<DateTime<Utc>>,
}

/// A console session as the store keeps it: never its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The first [`SESSION_ID_CHARS`] characters of the hash of its secret:
    /// enough to tell a user's sessions apart and end one, useless to log in.
    pub id: String,
    /// Whose.
    pub user: String,
    /// When it started (the login).
    pub created_utc: DateTime<Utc>,
    /// When it stops being accepted.
    pub expires_utc: DateTime<Utc>,
}

// ---------------------------------------------------------------------------
// What both backends share: checks and row conversions, no SQL.

/// Fails with [`StoreError::NotFound`] naming `what` when an UPDATE or
/// DELETE changed no row.
pub(crate) fn changed_one(changed: u64, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound(what()))
    } else {
        Ok(())
    }
}

/// The rules a role must follow before it is stored: a name, a priority
/// from 1 to 32000, grants that are a JSON array.
pub(crate) fn check_role(role: &RoleRecord) -> Result<(), StoreError> {
    if role.name.is_empty() {
        return Err(StoreError::Invalid("a role needs a name".into()));
    }
    if !(1..=32_000).contains(&role.ptz_priority) {
        return Err(StoreError::Invalid(format!(
            "role {:?}: PTZ priority {} is outside 1 to 32000",
            role.name, role.ptz_priority
        )));
    }
    if !role.grants.is_array() {
        return Err(StoreError::Invalid(format!(
            "role {:?}: grants must be a JSON array",
            role.name
        )));
    }
    Ok(())
}

/// A `role` row as the database returns it, before checks.
pub(crate) struct RoleRow {
    pub(crate) name: String,
    pub(crate) ptz_priority: i64,
    pub(crate) grants: String,
}

impl RoleRow {
    pub(crate) fn into_record(self) -> Result<RoleRecord, StoreError> {
        let ptz_priority = u16::try_from(self.ptz_priority).map_err(|_| {
            StoreError::Corrupt(format!(
                "role {:?}: ptz_priority {} is out of range",
                self.name, self.ptz_priority
            ))
        })?;
        Ok(RoleRecord {
            ptz_priority,
            grants: parse_json(&self.grants, "role.grants")?,
            name: self.name,
        })
    }
}

/// A `user` row as the database returns it, before checks; roles come separately.
pub(crate) struct UserRow {
    pub(crate) name: String,
    pub(crate) password_hash: String,
    pub(crate) disabled: bool,
    pub(crate) created_utc: String,
}

impl UserRow {
    pub(crate) fn into_record(self, roles: Vec<String>) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            created_utc: parse_utc(&self.created_utc, "user.created_utc")?,
            name: self.name,
            password_hash: self.password_hash,
            disabled: self.disabled,
            roles,
        })
    }
}

/// An `api_token` row as the database returns it, before checks.
pub(crate) struct TokenRow {
    pub(crate) id: i64,
    pub(crate) user: String,
    pub(crate) token_hash: String,
    pub(crate) label: String,
    pub(crate) created_utc: String,
    pub(crate) revoked_utc: Option<String>,
    pub(crate) last_used_utc: Option<String>,
}

impl TokenRow {
    pub(crate) fn into_record(self) -> Result<TokenRecord, StoreError> {
        Ok(TokenRecord {
            id: TokenId(self.id),
            user: self.user,
            token_hash: self.token_hash,
            label: self.label,
            created_utc: parse_utc(&self.created_utc, "api_token.created_utc")?,
            revoked_utc: self
                .revoked_utc
                .map(|t| parse_utc(&t, "api_token.revoked_utc"))
                .transpose()?,
            last_used_utc: self
                .last_used_utc
                .map(|t| parse_utc(&t, "api_token.last_used_utc"))
                .transpose()?,
        })
    }
}

/// The users of `rows` with their roles from `pairs` of (user, role), in
/// the order of `rows`; each user's roles in the order of `pairs`.
pub(crate) fn users_with_roles(
    rows: Vec<UserRow>,
    pairs: Vec<(String, String)>,
) -> Result<Vec<UserRecord>, StoreError> {
    let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (user, role) in pairs {
        roles.entry(user).or_default().push(role);
    }
    rows.into_iter()
        .map(|row| {
            let theirs = roles.remove(&row.name).unwrap_or_default();
            row.into_record(theirs)
        })
        .collect()
}
