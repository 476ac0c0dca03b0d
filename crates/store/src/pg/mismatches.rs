//! Open mismatches, replaced by each scan: [`MismatchStore`] on PostgreSQL.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use postgres::Transaction;
use tandem_core::{CameraId, Mismatch};

use super::audit_log::append_audit_tx;
use super::{PgStore, fmt_utc, get, require_camera};
use crate::error::{Context, StoreError};
use crate::mismatches::{
    MismatchStore, mismatch_from_row, mismatch_json, mismatch_order, stored_mismatch_from_row,
};
use crate::record::{MismatchDelta, NewAudit, StoredMismatch};

/// Replaces one camera's open mismatches inside a transaction (see
/// [`MismatchStore::replace_mismatches`]).
fn replace_mismatches_tx(
    tx: &mut Transaction<'_>,
    camera: &CameraId,
    mismatches: &[Mismatch],
    now_text: &str,
) -> Result<MismatchDelta, StoreError> {
    const OPEN: &str = "reading open mismatches";
    require_camera(tx, camera)?;
    let rows = tx
        .query(
            "select key, kind, detail from mismatch where camera_id = $1",
            &[&camera.as_str()],
        )
        .context(OPEN)?;
    let mut open: BTreeMap<String, Mismatch> = BTreeMap::new();
    for r in &rows {
        let key: String = get(r, 0, OPEN)?;
        let kind: &str = get(r, 1, OPEN)?;
        let detail: &str = get(r, 2, OPEN)?;
        open.insert(key, mismatch_from_row(detail, kind)?);
    }

    let mut delta = MismatchDelta::default();
    let mut seen = HashSet::new();
    for m in mismatches {
        let key = m.key();
        if !seen.insert(key.clone()) {
            continue; // The same mismatch twice in one scan counts once.
        }
        let detail = mismatch_json(m)?;
        if open.remove(&key).is_some() {
            tx.execute(
                "update mismatch set kind = $3, detail = $4, last_seen_utc = $5 \
                 where camera_id = $1 and key = $2",
                &[&camera.as_str(), &key, &m.kind.as_str(), &detail, &now_text],
            )
            .context("updating an open mismatch")?;
            delta.still_open.push(m.clone());
        } else {
            tx.execute(
                "insert into mismatch \
                 (camera_id, key, kind, detail, first_seen_utc, last_seen_utc) \
                 values ($1, $2, $3, $4, $5, $5)",
                &[&camera.as_str(), &key, &m.kind.as_str(), &detail, &now_text],
            )
            .context("saving a new mismatch")?;
            delta.new.push(m.clone());
        }
    }
    for (key, m) in open {
        tx.execute(
            "delete from mismatch where camera_id = $1 and key = $2",
            &[&camera.as_str(), &key],
        )
        .context("removing a resolved mismatch")?;
        delta.gone.push(m);
    }
    delta.gone.sort_by_key(mismatch_order);
    Ok(delta)
}

impl MismatchStore for PgStore {
    fn replace_mismatches(
        &self,
        camera: &CameraId,
        mismatches: &[Mismatch],
        now: DateTime<Utc>,
    ) -> Result<MismatchDelta, StoreError> {
        let now_text = fmt_utc(now);
        self.write("saving a scan's mismatches", |tx, _| {
            replace_mismatches_tx(tx, camera, mismatches, &now_text)
        })
    }

    fn record_scans(
        &self,
        scans: &[(CameraId, Vec<Mismatch>)],
        now: DateTime<Utc>,
        audit: &(dyn Fn(&CameraId, &MismatchDelta) -> NewAudit + Sync),
    ) -> Result<Vec<MismatchDelta>, StoreError> {
        let now_text = fmt_utc(now);
        self.write("saving scans", |tx, at| {
            let mut deltas = Vec::with_capacity(scans.len());
            for (camera, mismatches) in scans {
                let delta = replace_mismatches_tx(tx, camera, mismatches, &now_text)?;
                append_audit_tx(tx, at, &audit(camera, &delta))?;
                deltas.push(delta);
            }
            Ok(deltas)
        })
    }

    fn mismatches(&self, camera: Option<&CameraId>) -> Result<Vec<StoredMismatch>, StoreError> {
        const WHAT: &str = "reading mismatches";
        let sql = "select camera_id, kind, detail, first_seen_utc, last_seen_utc from mismatch";
        self.read(WHAT, |client| {
            let rows = match camera {
                Some(c) => client.query(&format!("{sql} where camera_id = $1"), &[&c.as_str()]),
                None => client.query(sql, &[]),
            }
            .context(WHAT)?;
            let mut out = rows
                .iter()
                .map(|r| {
                    stored_mismatch_from_row(
                        get(r, 0, WHAT)?,
                        get(r, 1, WHAT)?,
                        get(r, 2, WHAT)?,
                        get(r, 3, WHAT)?,
                        get(r, 4, WHAT)?,
                    )
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            // The number lives inside the JSON detail, so sort here, not in SQL.
            out.sort_by_cached_key(|s| (s.camera.clone(), mismatch_order(&s.mismatch)));
            Ok(out)
        })
    }

    fn mismatch_count(&self) -> Result<u64, StoreError> {
        const WHAT: &str = "counting mismatches";
        self.read(WHAT, |client| {
            let row = client
                .query_one("select count(*) from mismatch", &[])
                .context(WHAT)?;
            let n: i64 = get(&row, 0, WHAT)?;
            Ok(n.max(0) as u64)
        })
    }
}
