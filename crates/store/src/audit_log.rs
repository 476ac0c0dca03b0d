//! Appending to, reading and verifying the audit log: [`AuditStore`]. The
//! hash chain itself (encoding, verification) is in [`crate::audit`].

use crate::error::StoreError;
use crate::record::{AuditRecord, AuditVerification, NewAudit};

/// The hash-chained audit log: the part of the [`Store`](crate::Store) that
/// records who did what.
pub trait AuditStore {
    // --- Audit log ---------------------------------------------------------

    /// Appends an entry to the hash-chained audit log.
    fn append_audit(&self, entry: &NewAudit) -> Result<AuditRecord, StoreError>;

    /// Up to `limit` entries with `seq > after_seq`, oldest first (page with
    /// the last seq seen).
    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Up to `limit` entries with `seq < before_seq`, newest first (page
    /// backwards with the last seq seen).
    fn audit_entries_before(
        &self,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;

    /// Checks the whole chain; see [`audit`](crate::audit) for what it can detect. Reads
    /// every entry while holding the store, so other calls wait meanwhile.
    fn verify_audit(&self) -> Result<AuditVerification, StoreError>;
}
