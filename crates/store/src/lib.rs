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
//!
//! **Architecture invariant:** this is the only crate that knows SQL. It
//! stores the engine's actions as opaque JSON and never interprets them.

pub mod audit;
mod error;
mod record;
mod schema;
mod sqlite;

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, Mismatch, Preset, PresetNumber, SiteId};

pub use error::StoreError;
pub use record::{
    AuditRecord, AuditVerification, CameraRecord, MismatchDelta, NewAudit, NewOperation, Operation,
    OperationId, Origin, PresetWrite, SiteProgress, SiteState, StoredMismatch, TokenStyle,
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
    ) -> Result<OperationId, StoreError>;

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
}
