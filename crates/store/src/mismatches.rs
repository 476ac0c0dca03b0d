//! The open mismatches between sites, as the latest scans found them:
//! [`MismatchStore`].

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, Mismatch};

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
        audit: &dyn Fn(&CameraId, &MismatchDelta) -> NewAudit,
    ) -> Result<Vec<MismatchDelta>, StoreError>;

    /// Open mismatches of one camera or all, sorted by camera, then as
    /// `tandem_core::diff` sorts them (number, kind, key).
    fn mismatches(&self, camera: Option<&CameraId>) -> Result<Vec<StoredMismatch>, StoreError>;

    /// How many mismatches are open, over all cameras.
    fn mismatch_count(&self) -> Result<u64, StoreError>;
}
