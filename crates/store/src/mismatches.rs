//! The open mismatches between sites, as the latest scans found them:
//! [`MismatchStore`].

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, Mismatch, MismatchKind, PresetNumber};

use crate::convert::parse_utc;
use crate::error::StoreError;
use crate::record::{MismatchDelta, NewAudit, StoredMismatch};

/// Open mismatches, replaced camera by camera by each scan's result: the part
/// of the [`Store`](crate::Store) behind the mismatch list and repairs.
pub trait MismatchStore {
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

    /// [`MismatchStore::replace_mismatches`] for the cameras of a scan, each with the
    /// audit entry `audit` makes of its result, all in one transaction: a scan
    /// of thousands of cameras commits a few times, not twice per camera.
    fn record_scans(
        &self,
        scans: &[(CameraId, Vec<Mismatch>)],
        now: DateTime<Utc>,
        audit: &(dyn Fn(&CameraId, &MismatchDelta) -> NewAudit + Sync),
    ) -> Result<Vec<MismatchDelta>, StoreError>;

    /// Open mismatches of one camera or all, sorted by camera, then as
    /// `tandem_core::diff` sorts them (number, kind, key).
    fn mismatches(&self, camera: Option<&CameraId>) -> Result<Vec<StoredMismatch>, StoreError>;

    /// How many mismatches are open, over all cameras.
    fn mismatch_count(&self) -> Result<u64, StoreError>;
}

// Row conversions both backends share.

pub(crate) fn mismatch_order(m: &Mismatch) -> (Option<PresetNumber>, MismatchKind, String) {
    // The order `tandem_core::diff` returns: number, kind, then key.
    (m.number(), m.kind, m.key())
}

/// Parses a `mismatch` row's detail and checks it against its `kind` column.
pub(crate) fn mismatch_from_row(detail: &str, kind: &str) -> Result<Mismatch, StoreError> {
    let m: Mismatch = serde_json::from_str(detail)
        .map_err(|e| StoreError::Corrupt(format!("mismatch.detail is not a mismatch: {e}")))?;
    if m.kind.as_str() != kind {
        return Err(StoreError::Corrupt(format!(
            "mismatch.kind {kind:?} disagrees with its detail ({})",
            m.kind.as_str()
        )));
    }
    Ok(m)
}

pub(crate) fn mismatch_json(m: &Mismatch) -> Result<String, StoreError> {
    serde_json::to_string(m)
        .map_err(|e| StoreError::Invalid(format!("mismatch cannot be written as JSON: {e}")))
}

/// A `mismatch` row (camera_id, kind, detail, first_seen_utc, last_seen_utc)
/// as the open mismatch it holds.
pub(crate) fn stored_mismatch_from_row(
    camera: String,
    kind: &str,
    detail: &str,
    first_seen_utc: &str,
    last_seen_utc: &str,
) -> Result<StoredMismatch, StoreError> {
    Ok(StoredMismatch {
        camera: CameraId(camera),
        mismatch: mismatch_from_row(detail, kind)?,
        first_seen_utc: parse_utc(first_seen_utc, "mismatch.first_seen_utc")?,
        last_seen_utc: parse_utc(last_seen_utc, "mismatch.last_seen_utc")?,
    })
}
