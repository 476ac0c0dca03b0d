//! tandem's durable store: the journal of preset operations, the canonical
//! presets, the site token maps, open mismatches and the audit log.
//!
//! - [`Store`]: the interface the engine and server use; SQL stays behind it
//!   so that a PostgreSQL backend can follow.
//! - [`SqliteStore`]: the implementation on one SQLite file (WAL,
//!   `synchronous = FULL`), with its schema migrations compiled in
//!   (`src/schema/v1.sql`, commented column by column).
//! - [`Store::journal`]: the acknowledgement. One transaction inserts the
//!   [`Operation`] with a pending row per site, applies its [`PresetWrite`] to
//!   the canonical presets and appends its audit entry; when it returns, all
//!   of that is on disk and survives a power loss.
//! - [`StoreError`]: the one error type, with [`StoreError::is_retryable`].
//! - [`audit`]: the audit log's hash chain (encoding, verification) and
//!   what it can and cannot detect.
//! - Access control: camera groups, roles ([`RoleRecord`]), users
//!   ([`UserRecord`]), API tokens ([`TokenRecord`]) and console sessions.
//!   The store keeps only hashes of passwords, tokens and session ids, made
//!   by the engine; it knows nothing of argon2 nor of what a grant means.
//!
//! **Architecture invariant:** this is the only crate that knows SQL. It
//! stores the engine's actions as opaque JSON and never interprets them.

pub mod audit;
mod error;
mod record;
mod schema;
mod sqlite;

use std::fmt;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tandem_core::{CameraId, Mismatch, Preset, PresetNumber, SiteId};

pub use error::StoreError;
pub use record::{
    AuditRecord, AuditVerification, CameraRecord, Claimed, Journal, MismatchDelta, NewAudit,
    NewOperation, Operation, OperationId, Origin, PresetWrite, SiteProgress, SiteState,
    StoredMismatch, TokenStyle, name_key,
};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use sqlite::SqliteStore;

/// The durable store. Every call is short and blocking; implementations are
/// shared between tasks (`Arc<dyn Store>`).
pub trait Store: Send + Sync {
    // --- Cameras -----------------------------------------------------------

    /// Inserts the camera, or updates its name and tolerance.
    fn upsert_camera(&self, camera: &CameraRecord) -> Result<(), StoreError>;

    /// Every camera, sorted by id.
    fn cameras(&self) -> Result<Vec<CameraRecord>, StoreError>;

    // --- Canonical presets (written only through [`Store::journal`]) -------

    /// The camera's canonical presets, sorted by number.
    fn presets(&self, camera: &CameraId) -> Result<Vec<Preset>, StoreError>;

    /// One canonical preset, if it exists.
    fn preset(&self, camera: &CameraId, number: PresetNumber)
    -> Result<Option<Preset>, StoreError>;

    // --- Site token maps ---------------------------------------------------

    /// The site's number-to-token map for the camera, sorted by number.
    fn site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<(PresetNumber, String)>, StoreError>;

    /// Maps `number` to `token` on the site, replacing (in one transaction)
    /// any mapping of the same number or the same token.
    fn set_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        token: &str,
    ) -> Result<(), StoreError>;

    /// [`Store::set_site_token`] for several numbers, in one transaction.
    fn set_site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
        pairs: &[(PresetNumber, String)],
    ) -> Result<(), StoreError>;

    /// Takes presets found on `site` as canonical, in one transaction: each
    /// one an import operation already applied on that site, its canonical
    /// preset, its audit entry (`preset.import` by `actor`) and its token.
    /// One transaction per camera, not per preset: a first scan of thousands
    /// of cameras imports hundreds of thousands of presets.
    fn import_presets(
        &self,
        camera: &CameraId,
        site: &SiteId,
        presets: &[(Preset, String)],
        actor: &str,
    ) -> Result<(), StoreError>;

    /// A value that changes whenever the store is written, by this process or
    /// another: what was read from the store is still current while it stays
    /// the same (the service caches who a token or session is by it).
    fn change_stamp(&self) -> Result<(i64, i64), StoreError>;

    /// Forgets the site's token for `number`; no error when there is none.
    fn remove_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError>;

    /// How the site names the camera's presets, once learned.
    fn token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Option<TokenStyle>, StoreError>;

    /// Records how the site names the camera's presets.
    fn set_token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
        style: TokenStyle,
    ) -> Result<(), StoreError>;

    // --- The journal -------------------------------------------------------

    /// Journals an operation: in ONE transaction, inserts it with a `pending`
    /// row per site (due now), applies `presets` to the canonical presets and
    /// appends `audit`. The commit before returning is the acknowledgement:
    /// on `Ok`, all of it survives a crash or power loss; on `Err`, none of it
    /// happened (a [`StoreError::Conflict`] from the preset write rolls the
    /// operation back too).
    fn journal(
        &self,
        op: &NewOperation,
        presets: &PresetWrite,
        audit: &NewAudit,
    ) -> Result<OperationId, StoreError> {
        self.journal_claim(&op.camera, presets, &|_| {
            Ok(Journal {
                operation: op.clone(),
                audit: audit.clone(),
            })
        })
        .map(|(id, _)| id)
    }

    /// Journals an operation whose content depends on what `presets` claims:
    /// in ONE transaction, applies `presets` to the camera's canonical presets
    /// (deciding a free number, checking names, locks and existence against
    /// what is stored *now*), asks `build` for the operation and its audit
    /// entry from the result, and inserts both. Two concurrent claims can
    /// therefore never take the same number or name. On `Err` nothing happened.
    fn journal_claim(
        &self,
        camera: &CameraId,
        presets: &PresetWrite,
        build: &dyn Fn(&Claimed) -> Result<Journal, StoreError>,
    ) -> Result<(OperationId, Claimed), StoreError>;

    /// One operation with its per-site progress.
    fn operation(&self, id: OperationId) -> Result<Option<Operation>, StoreError>;

    /// The camera's operations still pending on `site`, oldest first: the
    /// order in which they must be applied there.
    fn pending_for(&self, camera: &CameraId, site: &SiteId) -> Result<Vec<Operation>, StoreError>;

    /// The distinct (camera, site) pairs with a pending row due at `now`
    /// (`next_attempt_utc <= now`), sorted.
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(CameraId, SiteId)>, StoreError>;

    /// How many (operation, site) parts are pending, over all cameras.
    fn pending_count(&self) -> Result<u64, StoreError>;

    /// How many (operation, site) parts are pending, per camera that has any.
    fn pending_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError>;

    /// Records an attempt on one site: the new state, the error in the site's
    /// words (`None` clears it) and when to try next. Increments `attempts`.
    /// A `Pending` state without a time is due now.
    fn mark(
        &self,
        id: OperationId,
        site: &SiteId,
        state: SiteState,
        error: Option<&str>,
        next_attempt_utc: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;

    /// The newest `limit` operations, of one camera or all, newest first.
    fn operations(
        &self,
        camera: Option<&CameraId>,
        limit: usize,
    ) -> Result<Vec<Operation>, StoreError>;

    // --- Leases ------------------------------------------------------------

    /// Takes the lease `name` for `owner` until `now + ttl`, when it is free,
    /// expired, or already `owner`'s (then it is extended). Answers whether
    /// `owner` holds it now; never waits.
    fn try_lease(
        &self,
        name: &str,
        owner: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, StoreError>;

    /// Ends `owner`'s lease `name`; no error when `owner` does not hold it.
    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError>;

    /// Every lease not yet expired: (name, owner, expires), sorted by name.
    fn leases(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError>;

    // --- Mismatches --------------------------------------------------------

    /// Replaces the camera's open mismatches with a scan's result, matching
    /// them by [`Mismatch::key`] and keeping the first-seen time of those
    /// still open; in one transaction.
    fn replace_mismatches(
        &self,
        camera: &CameraId,
        mismatches: &[Mismatch],
        now: DateTime<Utc>,
    ) -> Result<MismatchDelta, StoreError>;

    /// [`Store::replace_mismatches`] for the cameras of a scan, each with the
    /// audit entry `audit` makes of its result, all in one transaction: a scan
    /// of thousands of cameras commits a few times, not twice per camera.
    fn record_scans(
        &self,
        scans: &[(CameraId, Vec<Mismatch>)],
        now: DateTime<Utc>,
        audit: &dyn Fn(&CameraId, &MismatchDelta) -> NewAudit,
    ) -> Result<Vec<MismatchDelta>, StoreError>;

    /// Open mismatches of one camera or all, sorted by camera, then as
    /// `tandem_core::diff` sorts them (number, kind, key).
    fn mismatches(&self, camera: Option<&CameraId>) -> Result<Vec<StoredMismatch>, StoreError>;

    /// How many mismatches are open, over all cameras.
    fn mismatch_count(&self) -> Result<u64, StoreError>;

    // --- Audit log ---------------------------------------------------------

    /// Appends an entry to the hash-chained audit log.
    fn append_audit(&self, entry: &NewAudit) -> Result<AuditRecord, StoreError>;

    /// Up to `limit` entries with `seq > after_seq`, oldest first (page with
    /// the last seq seen).
    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Checks the whole chain; see [`audit`] for what it can detect. Reads
    /// every entry while holding the store, so other calls wait meanwhile.
    fn verify_audit(&self) -> Result<AuditVerification, StoreError>;

    // --- Camera groups -----------------------------------------------------

    /// Replaces the camera's groups with `groups` (repeats count once).
    /// [`StoreError::NotFound`] when the camera does not exist.
    fn set_camera_groups(&self, camera: &CameraId, groups: &[String]) -> Result<(), StoreError>;

    /// The camera's groups, sorted; empty for an unknown camera.
    fn camera_groups(&self, camera: &CameraId) -> Result<Vec<String>, StoreError>;

    // --- Roles -------------------------------------------------------------

    /// Inserts the role, or replaces the priority and grants of the one with
    /// the same name (its users keep it). [`StoreError::Invalid`] when the
    /// priority is outside 1 to 32000 or the grants are not a JSON array.
    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError>;

    /// Every role, sorted by name.
    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// Deletes the role and takes it away from every user holding it.
    /// [`StoreError::NotFound`] when there is no such role.
    fn delete_role(&self, name: &str) -> Result<(), StoreError>;

    // --- Users -------------------------------------------------------------

    /// Creates an enabled user without roles. `password_hash` is stored as
    /// given (the engine's argon2 PHC string). [`StoreError::Conflict`] when
    /// the name is taken.
    fn create_user(&self, name: &str, password_hash: &str) -> Result<UserRecord, StoreError>;

    /// One user with their roles, if they exist.
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
