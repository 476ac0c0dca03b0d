//! Appending to and reading the hash-chained audit log: [`AuditStore`] on SQLite
//! (the chain itself is in [`crate::audit`]).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, sql_limit};
use crate::audit::Verifier;
use crate::audit_log::{AUDIT_COLUMNS, AuditLink, AuditRow, AuditStore};
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
    let link = AuditLink::after(last, at, entry)?;
    tx.prepare_cached(
        "insert into audit (seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )
    .and_then(|mut s| {
        s.execute(params![
            link.seq,
            link.at_utc,
            entry.actor,
            entry.action,
            link.camera,
            link.before,
            link.after,
            link.prev_hash,
            link.hash
        ])
    })
    .context("appending an audit entry")?;
    Ok(link.into_record(at, entry))
}

/// Reads an `audit` row selected as [`AUDIT_COLUMNS`].
fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
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
                    read_row,
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
                    read_row,
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
            let row = read_row(r).context("reading the audit log")?;
            verifier.check(&row.fields()?, &row.hash);
        }
        Ok(verifier.finish())
    }
}
