//! tandem's durable store: the journal of preset operations, the canonical
//! presets, the site token maps, open mismatches and the audit log.
//!
//! - [`Store`]: the interface the engine and server use; SQL stays behind it
//!   so that a PostgreSQL backend can follow. It is the sum of one trait per
//!   domain, each in its own module; call their methods with
//!   `use tandem_store::prelude::*;` in scope:
//!   - `presets`: [`PresetStore`], cameras, canonical presets, site token
//!     maps and token styles, and the import of a site's presets;
//!   - `journal`: [`JournalStore`], operations and their progress per site;
//!   - `mismatches`: [`MismatchStore`], the open mismatches scans find;
//!   - `audit_log`: [`AuditStore`], appending to, reading and verifying the
//!     audit log;
//!   - `access`: [`AccessStore`], access control (below), with its records;
//!   - `lease`: [`LeaseStore`], exclusive work claimed across processes;
//!   - `binding`: [`BindingStore`], what tandem learned about each binding's
//!     device (its clock offset, the authentication that worked), so that a
//!     process starts from what another learned.
//! - [`SqliteStore`]: the implementation on one SQLite file (WAL,
//!   `synchronous = FULL`), with its schema migrations compiled in
//!   (`src/schema/v1.sql`, commented column by column). Its code is split the
//!   same way: `src/sqlite/mod.rs` holds the connection and the transaction
//!   helper, `src/sqlite/<domain>.rs` each domain's SQL.
//! - [`JournalStore::journal`]: the acknowledgement. One transaction inserts the
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
//! - Plain data the store reads and writes (no SQL) is in `record`, and the
//!   schema's migrations in `schema`.
//!
//! **Architecture invariant:** this is the only crate that knows SQL. It
//! stores the engine's actions as opaque JSON and never interprets them.

mod access;
pub mod audit;
mod audit_log;
mod binding;
mod convert;
mod error;
mod journal;
mod lease;
mod mismatches;
mod pg;
mod presets;
mod record;
mod schema;
mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::{
    AccessStore, AccessTx, RoleRecord, SESSION_ID_CHARS, SessionRecord, TokenId, TokenRecord,
    UserRecord,
};
pub use audit_log::AuditStore;
pub use binding::{BindingLearned, BindingStore, LearnedChange};
pub use error::StoreError;
pub use journal::JournalStore;
pub use lease::{ControlRow, ControlWrite, Leader, LeaseStore};
pub use mismatches::MismatchStore;
pub use pg::PgStore;
pub use presets::{CameraView, PresetPicture, PresetStore, SiteTokens};
pub use record::{
    AuditRecord, AuditVerification, CameraRecord, Claimed, Journal, MismatchDelta, NewAudit,
    NewOperation, Operation, OperationId, Origin, PresetWrite, SiteProgress, SiteState,
    StoredMismatch, TokenStyle, check_name_free, check_unlocked, name_key,
};
pub use schema::CURRENT_VERSION as SCHEMA_VERSION;
pub use sqlite::SqliteStore;

/// The durable store. Every call is short and blocking; implementations are
/// shared between tasks (`Arc<dyn Store>`).
///
/// Its methods are those of its parts, one trait per domain; anything that
/// implements them all (and is `Send + Sync`) is a `Store`. Bring them into
/// scope with `use tandem_store::prelude::*;`.
pub trait Store:
    PresetStore
    + JournalStore
    + MismatchStore
    + AuditStore
    + AccessStore
    + LeaseStore
    + BindingStore
    + Send
    + Sync
{
}

impl<T> Store for T where
    T: PresetStore
        + JournalStore
        + MismatchStore
        + AuditStore
        + AccessStore
        + LeaseStore
        + BindingStore
        + Send
        + Sync
        + ?Sized
{
}

/// The store's traits, for their methods: `use tandem_store::prelude::*;`
/// lets a caller call every [`Store`] method on an `Arc<dyn Store>` or a
/// [`SqliteStore`] without naming the trait each comes from.
pub mod prelude {
    pub use crate::access::AccessStore as _;
    pub use crate::audit_log::AuditStore as _;
    pub use crate::binding::BindingStore as _;
    pub use crate::journal::JournalStore as _;
    pub use crate::lease::LeaseStore as _;
    pub use crate::mismatches::MismatchStore as _;
    pub use crate::presets::PresetStore as _;
}
