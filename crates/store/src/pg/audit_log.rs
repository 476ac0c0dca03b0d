//! Appending to and reading the hash-chained audit log: [`AuditStore`] on
//! PostgreSQL (the chain itself is in [`crate::audit`]).

use chrono::{DateTime, Utc};
use postgres::{GenericClient, Row, Transaction};

use super::{PgStore, get, sql_limit};
use crate::audit::Verifier;
use crate::audit_log::{AUDIT_COLUMNS, AuditLink, AuditRow, AuditStore};
use crate::error::{Context, StoreError};
use crate::record::{AuditRecord, AuditVerification, NewAudit};

/// Rows `verify_audit` fetches at a time: the log is never loaded whole.
const VERIFY_BATCH: i32 = 1000;

/// Appends `entry` after the newest audit row, inside the caller's
/// transaction. Race-free: the transaction holds the store's write lock, so
/// no other append runs between the read of the head and the insert.
pub(super) fn append_audit_tx(
    tx: &mut Transaction<'_>,
    at: DateTime<Utc>,
    entry: &NewAudit,
) -> Result<AuditRecord, StoreError> {
    const NEWEST: &str = "reading the newest audit entry";
    let last: Option<(i64, String)> = tx
        .query_opt("select seq, hash from audit order by seq desc limit 1", &[])
        .context(NEWEST)?
        .map(|r| Ok::<_, StoreError>((get(&r, 0, NEWEST)?, get(&r, 1, NEWEST)?)))
        .transpose()?;
    let link = AuditLink::after(last, at, entry)?;
    tx.execute(
        "insert into audit (seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            &link.seq,
            &link.at_utc,
            &entry.actor,
            &entry.action,
            &link.camera,
            &link.before,
            &link.after,
            &link.prev_hash,
            &link.hash,
        ],
    )
    .context("appending an audit entry")?;
    Ok(link.into_record(at, entry))
}

/// Reads an `audit` row selected as [`AUDIT_COLUMNS`].
fn read_row(r: &Row, what: &str) -> Result<AuditRow, StoreError> {
    Ok(AuditRow {
        seq: get(r, 0, what)?,
        at_utc: get(r, 1, what)?,
        actor: get(r, 2, what)?,
        action: get(r, 3, what)?,
        camera: get(r, 4, what)?,
        before: get(r, 5, what)?,
        after: get(r, 6, what)?,
        prev_hash: get(r, 7, what)?,
        hash: get(r, 8, what)?,
    })
}

/// The entries `select {AUDIT_COLUMNS} from audit {tail}` returns, in order.
fn load_entries(
    client: &mut impl GenericClient,
    tail: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<AuditRecord>, StoreError> {
    const WHAT: &str = "reading audit entries";
    client
        .query(&format!("select {AUDIT_COLUMNS} from audit {tail}"), params)
        .context(WHAT)?
        .iter()
        .map(|r| read_row(r, WHAT)?.into_record())
        .collect()
}

impl AuditStore for PgStore {
    fn append_audit(&self, entry: &NewAudit) -> Result<AuditRecord, StoreError> {
        self.write("appending an audit entry", |tx, now| {
            append_audit_tx(tx, now, entry)
        })
    }

    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let after = i64::try_from(after_seq).unwrap_or(i64::MAX);
        let limit = sql_limit(limit);
        self.read("reading audit entries", |client| {
            load_entries(
                client,
                "where seq > $1 order by seq limit $2",
                &[&after, &limit],
            )
        })
    }

    fn audit_entries_before(
        &self,
        before_seq: u64,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let before = i64::try_from(before_seq).unwrap_or(i64::MAX);
        let limit = sql_limit(limit);
        self.read("reading audit entries", |client| {
            load_entries(
                client,
                "where seq < $1 order by seq desc limit $2",
                &[&before, &limit],
            )
        })
    }

    fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        const WHAT: &str = "reading the audit log";
        self.read(WHAT, |client| {
            // A read-only transaction for its portal, from which the rows
            // come a batch at a time: the log grows without bound, so it is
            // never loaded whole. Takes no lock: writers go on meanwhile, and
            // the portal's snapshot is the log when the check began.
            let mut tx = client
                .build_transaction()
                .read_only(true)
                .start()
                .context(WHAT)?;
            let portal = tx
                .bind(
                    &format!("select {AUDIT_COLUMNS} from audit order by seq"),
                    &[],
                )
                .context(WHAT)?;
            let mut verifier = Verifier::default();
            loop {
                let rows = tx.query_portal(&portal, VERIFY_BATCH).context(WHAT)?;
                for r in &rows {
                    let row = read_row(r, WHAT)?;
                    verifier.check(&row.fields()?, &row.hash);
                }
                if rows.len() < VERIFY_BATCH as usize {
                    break;
                }
            }
            tx.commit().context(WHAT)?;
            Ok(verifier.finish())
        })
    }
}
