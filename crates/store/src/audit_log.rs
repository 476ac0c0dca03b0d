//! Appending to, reading and verifying the audit log: [`AuditStore`]. The
//! hash chain itself (encoding, verification) is in [`crate::audit`].

use chrono::{DateTime, Utc};
use serde_json::Value;
use tandem_core::CameraId;

use crate::audit::{self, AuditFields, GENESIS_HASH};
use crate::convert::{fmt_utc, parse_json, parse_utc};
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

// Row conversions both backends share: the chain must hash the same texts
// whichever database stores them.

/// The columns of an `audit` row, in [`AuditRow`]'s order.
pub(crate) const AUDIT_COLUMNS: &str =
    "seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash";

/// An `audit` row as stored, texts verbatim.
pub(crate) struct AuditRow {
    pub(crate) seq: i64,
    pub(crate) at_utc: String,
    pub(crate) actor: String,
    pub(crate) action: String,
    pub(crate) camera: Option<String>,
    pub(crate) before: Option<String>,
    pub(crate) after: Option<String>,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

impl AuditRow {
    fn seq(&self) -> Result<u64, StoreError> {
        audit_seq(self.seq)
    }

    /// The fields the row's hash covers, for [`Verifier::check`](audit::Verifier::check).
    pub(crate) fn fields(&self) -> Result<AuditFields<'_>, StoreError> {
        Ok(AuditFields {
            seq: self.seq()?,
            at_utc: &self.at_utc,
            actor: &self.actor,
            action: &self.action,
            camera: self.camera.as_deref(),
            before: self.before.as_deref(),
            after: self.after.as_deref(),
            prev_hash: &self.prev_hash,
        })
    }

    pub(crate) fn into_record(self) -> Result<AuditRecord, StoreError> {
        Ok(AuditRecord {
            seq: self.seq()?,
            at_utc: parse_utc(&self.at_utc, "audit.at_utc")?,
            actor: self.actor,
            action: self.action,
            camera: self.camera.map(CameraId),
            before: self
                .before
                .map(|t| parse_json(&t, "audit.before"))
                .transpose()?,
            after: self
                .after
                .map(|t| parse_json(&t, "audit.after"))
                .transpose()?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn audit_seq(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt(format!("audit.seq {seq} is negative")))
}

/// The next entry of the chain, ready to insert: its texts and hash, made
/// from the newest stored row.
pub(crate) struct AuditLink {
    /// Its place in the chain, as stored.
    pub(crate) seq: i64,
    /// The `at_utc` text.
    pub(crate) at_utc: String,
    /// The camera id, if any.
    pub(crate) camera: Option<String>,
    /// The JSON text of the state before, if any.
    pub(crate) before: Option<String>,
    /// The JSON text of the state after, if any.
    pub(crate) after: Option<String>,
    /// The newest row's hash, or the genesis hash.
    pub(crate) prev_hash: String,
    /// This entry's hash.
    pub(crate) hash: String,
}

impl AuditLink {
    /// The entry `entry`, written at `at`, after `last` (the newest row's seq
    /// and hash; `None` when the log is empty).
    pub(crate) fn after(
        last: Option<(i64, String)>,
        at: DateTime<Utc>,
        entry: &NewAudit,
    ) -> Result<Self, StoreError> {
        let (last_seq, prev_hash) = match last {
            Some((seq, hash)) => (audit_seq(seq)?, hash),
            None => (0, GENESIS_HASH.to_string()),
        };
        let seq = last_seq + 1;
        let stored_seq = i64::try_from(seq).map_err(|_| {
            StoreError::Corrupt(format!(
                "audit.seq {last_seq} leaves no room for another entry"
            ))
        })?;
        let at_utc = fmt_utc(at);
        // `Value`'s Display is serde_json's compact form and cannot fail.
        let before = entry.before.as_ref().map(Value::to_string);
        let after = entry.after.as_ref().map(Value::to_string);
        let camera = entry.camera.as_ref().map(|c| c.as_str().to_string());
        let hash = audit::hash(&AuditFields {
            seq,
            at_utc: &at_utc,
            actor: &entry.actor,
            action: &entry.action,
            camera: camera.as_deref(),
            before: before.as_deref(),
            after: after.as_deref(),
            prev_hash: &prev_hash,
        });
        Ok(AuditLink {
            seq: stored_seq,
            at_utc,
            camera,
            before,
            after,
            prev_hash,
            hash,
        })
    }

    /// The record of the entry once inserted.
    pub(crate) fn into_record(self, at: DateTime<Utc>, entry: &NewAudit) -> AuditRecord {
        AuditRecord {
            seq: self.seq.max(0) as u64,
            at_utc: at,
            actor: entry.actor.clone(),
            action: entry.action.clone(),
            camera: entry.camera.clone(),
            before: entry.before.clone(),
            after: entry.after.clone(),
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}
