//! Appending to and reading the hash-chained audit log: [`AuditStore`] on SQLite
//! (the chain itself is in [`crate::audit`]).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use serde_json::Value;
use tandem_core::CameraId;

use super::{SqliteStore, fmt_utc, parse_json, parse_utc, sql_limit};
use crate::audit::{self, AuditFields, GENESIS_HASH, Verifier};
use crate::audit_log::AuditStore;
use crate::error::{Context, StoreError};
use crate::record::{AuditRecord, AuditVerification, NewAudit};

/// Appends `entry` after the newest audit row, inside the caller's transaction.
pub(super) fn append_audit_tx(
    tx: &Connection,
    at: DateTime<Utc>,
    entry: &NewAudit,
) -> Result<AuditRecord, StoreError> {
    let last: Option<(i64, String)> = tx
        .prepare_cached("select seq, hash from audit order by seq desc limit 1")
        .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
        .optional()
        .context("reading the newest audit entry")?;
    let (last_seq, prev_hash) = match last {
        Some((seq, hash)) => (
            u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt(format!("audit.seq {seq} is negative")))?,
            hash,
        ),
        None => (0, GENESIS_HASH.to_string()),
    };
    let seq = last_seq + 1;
    let at_utc = fmt_utc(at);
    // `Value`'s Display is serde_json's compact form and cannot fail.
    let before = entry.before.as_ref().map(Value::to_string);
    let after = entry.after.as_ref().map(Value::to_string);
    let camera = entry.camera.as_ref().map(CameraId::as_str);
    let hash = audit::hash(&AuditFields {
        seq,
        at_utc: &at_utc,
        actor: &entry.actor,
        action: &entry.action,
        camera,
        before: before.as_deref(),
        after: after.as_deref(),
        prev_hash: &prev_hash,
    });
    tx.prepare_cached(
        "insert into audit (seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            seq as i64,
            at_utc,
            entry.actor,
            entry.action,
            camera,
            before,
            after,
            prev_hash,
            hash
        ])
    })
    .context("appending an audit entry")?;
    Ok(AuditRecord {
        seq,
        at_utc: at,
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        camera: entry.camera.clone(),
        before: entry.before.clone(),
        after: entry.after.clone(),
        prev_hash,
        hash,
    })
}

/// An `audit` row as stored, texts verbatim.
struct AuditRow {
    seq: i64,
    at_utc: String,
    actor: String,
    action: String,
    camera: Option<String>,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

const AUDIT_COLUMNS: &str = "seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash";

impl AuditRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(AuditRow {
            seq: r.get(0)?,
            at_utc: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            camera: r.get(4)?,
            before: r.get(5)?,
            after: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    }

    fn seq(&self) -> Result<u64, StoreError> {
        u64::try_from(self.seq)
            .map_err(|_| StoreError::Corrupt(format!("audit.seq {} is negative", self.seq)))
    }

    fn into_record(self) -> Result<AuditRecord, StoreError> {
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

impl AuditStore for SqliteStore {
    fn append_audit(&self, entry: &NewAudit) -> Result<AuditRecord, StoreError> {
        self.write("appending an audit entry", |tx, now| {
            append_audit_tx(tx, now, entry)
        })
    }

    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<AuditRow> = conn
            .prepare_cached(&format!(
                "select {AUDIT_COLUMNS} from audit where seq > ?1 order by seq limit ?2"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![
                        i64::try_from(after_seq).unwrap_or(i64::MAX),
                        sql_limit(limit)
                    ],
                    AuditRow::read,
                )?
                .collect()
            })
            .context("reading audit entries")?;
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    fn audit_entries_before(
        &self,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<AuditRow> = conn
            .prepare_cached(&format!(
                "select {AUDIT_COLUMNS} from audit where seq < ?1 order by seq desc limit ?2"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![
                        i64::try_from(before_seq).unwrap_or(i64::MAX),
                        sql_limit(limit)
                    ],
                    AuditRow::read,
                )?
                .collect()
            })
            .context("reading audit entries")?;
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("select {AUDIT_COLUMNS} from audit order by seq"))
            .context("reading the audit log")?;
        let mut rows = stmt.query([]).context("reading the audit log")?;
        let mut verifier = Verifier::default();
        // Row by row: the log grows without bound, so it is never loaded whole.
        while let Some(r) = rows.next().context("reading the audit log")? {
            let row = AuditRow::read(r).context("reading the audit log")?;
            verifier.check(
                &AuditFields {
                    seq: row.seq()?,
                    at_utc: &row.at_utc,
                    actor: &row.actor,
                    action: &row.action,
                    camera: row.camera.as_deref(),
                    before: row.before.as_deref(),
                    after: row.after.as_deref(),
                    prev_hash: &row.prev_hash,
                },
                &row.hash,
            );
        }
        Ok(verifier.finish())
    }
}
