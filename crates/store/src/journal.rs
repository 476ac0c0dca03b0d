//! The journal of preset operations and their progress on each site:
//! [`JournalStore`].

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, SiteId};

use crate::convert::{parse_json, parse_utc, spelled};
use crate::error::StoreError;
use crate::record::{
    Claimed, Journal, NewAudit, NewOperation, Operation, OperationId, Origin, PresetWrite,
    SiteProgress, SiteState,
};

/// The journal: operations acknowledged in one transaction with the canonical
/// presets and the audit log, then applied site by site; the part of the
/// [`Store`](crate::Store) the engine's retry loop works from.
pub trait JournalStore {
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
        build: &(dyn Fn(&Claimed) -> Result<Journal, StoreError> + Sync),
    ) -> Result<(OperationId, Claimed), StoreError>;

    /// One operation with its per-site progress.
    fn operation(&self, id: OperationId) -> Result<Option<Operation>, StoreError>;

    /// The camera's operations still pending on `site`, oldest first: the
    /// order in which they must be applied there.
    fn pending_for(&self, camera: &CameraId, site: &SiteId) -> Result<Vec<Operation>, StoreError>;

    /// The distinct (camera, site) pairs with a pending row due at `now`
    /// (`next_attempt_utc <= now`), sorted.
    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(CameraId, SiteId)>, StoreError>;

    /// Makes every part pending on `site` due at `now`, whatever its backoff,
    /// and answers how many there are: a site that answers again gets its
    /// pending work before anything compares it with the other site.
    fn make_due(&self, site: &SiteId, now: DateTime<Utc>) -> Result<usize, StoreError>;

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
}

// Checks and row conversions both backends share.

/// An operation names at least one site, each once.
pub(crate) fn check_sites(op: &NewOperation) -> Result<(), StoreError> {
    if op.sites.is_empty() {
        return Err(StoreError::Invalid(
            "an operation needs at least one site".into(),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = op.sites.iter().find(|s| !seen.insert(*s)) {
        return Err(StoreError::Invalid(format!(
            "site {dup} is listed twice in the operation"
        )));
    }
    Ok(())
}

/// The columns of an `operation` row, in [`OperationRow`]'s order.
pub(crate) const OPERATION_COLUMNS: &str = "id, camera_id, action, origin, actor, created_utc";

/// The columns of an `operation_site` row, in [`SiteRow`]'s order.
pub(crate) const SITE_COLUMNS: &str =
    "site_id, state, attempts, error, next_attempt_utc, updated_utc";

/// An `operation` row as the database returns it, before checks.
pub(crate) struct OperationRow {
    pub(crate) id: i64,
    pub(crate) camera: String,
    pub(crate) action: String,
    pub(crate) origin: String,
    pub(crate) actor: String,
    pub(crate) created_utc: String,
}

impl OperationRow {
    /// The operation, with its sites' progress in the operation's order.
    pub(crate) fn into_operation(self, sites: Vec<SiteProgress>) -> Result<Operation, StoreError> {
        Ok(Operation {
            id: OperationId(self.id),
            camera: CameraId(self.camera),
            action: parse_json(&self.action, "operation.action")?,
            origin: spelled(&self.origin, Origin::parse, "operation.origin")?,
            actor: self.actor,
            created_utc: parse_utc(&self.created_utc, "operation.created_utc")?,
            sites,
        })
    }
}

/// An `operation_site` row as the database returns it, before checks.
pub(crate) struct SiteRow {
    pub(crate) site: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) error: Option<String>,
    pub(crate) next_attempt_utc: Option<String>,
    pub(crate) updated_utc: String,
}

impl SiteRow {
    /// The site's progress.
    pub(crate) fn into_progress(self) -> Result<SiteProgress, StoreError> {
        let attempts = self.attempts;
        Ok(SiteProgress {
            site: SiteId(self.site),
            state: spelled(&self.state, SiteState::parse, "operation_site.state")?,
            attempts: u32::try_from(attempts)
                .map_err(|_| StoreError::Corrupt(format!("operation_site.attempts {attempts}")))?,
            error: self.error,
            next_attempt_utc: self
                .next_attempt_utc
                .map(|t| parse_utc(&t, "operation_site.next_attempt_utc"))
                .transpose()?,
            updated_utc: parse_utc(&self.updated_utc, "operation_site.updated_utc")?,
        })
    }
}
