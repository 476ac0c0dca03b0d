//! Open mismatches, replaced by each scan: [`MismatchStore`] on SQLite.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use rusqlite::{Transaction, params};
use tandem_core::{CameraId, Mismatch};

use super::audit_log::append_audit_tx;
use super::{SqliteStore, fmt_utc, require_camera};
use crate::error::{Context, StoreError};
use crate::mismatches::{
    MismatchStore, mismatch_from_row, mismatch_json, mismatch_order, stored_mismatch_from_row,
};
use crate::record::{MismatchDelta, NewAudit, StoredMismatch};

/// Replaces one camera's open mismatches inside a transaction (see
/// [`MismatchStore::replace_mismatches`]).
fn replace_mismatches_tx(
    tx: &Transaction<'_>,
    camera: &CameraId,
    mismatches: &[Mismatch],
    now_text: &str,
) -> Result<MismatchDelta, StoreError> {
    require_camera(tx, camera)?;
    let rows: Vec<(String, String, String)> = tx
        .prepare_cached("select key, kind, detail from mismatch where camera_id = ?1")
        .and_then(|mut s| {
            s.query_map([camera.as_str()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .context("reading open mismatches")?;
    let mut open: BTreeMap<String, Mismatch> = BTreeMap::new();
    for (key, kind, detail) in rows {
        open.insert(key, mismatch_from_row(&detail, &kind)?);
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
            tx.prepare_cached(
                "update mismatch set kind = ?3, detail = ?4, last_seen_utc = ?5 \
                     where camera_id = ?1 and key = ?2",
            )
            .and_then(|mut s| {
                s.execute(params![
                    camera.as_str(),
                    key,
                    m.kind.as_str(),
                    detail,
                    now_text
                ])
            })
            .context("updating an open mismatch")?;
            delta.still_open.push(m.clone());
        } else {
            tx.prepare_cached(
                "insert into mismatch \
                     (camera_id, key, kind, detail, first_seen_utc, last_seen_utc) \
                     values (?1, ?2, ?3, ?4, ?5, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    camera.as_str(),
                    key,
                    m.kind.as_str(),
                    detail,
                    now_text
                ])
            })
            .context("saving a new mismatch")?;
            delta.new.push(m.clone());
        }
    }
    for (key, m) in open {
        tx.prepare_cached("delete from mismatch where camera_id = ?1 and key = ?2")
            .and_then(|mut s| s.execute(params![camera.as_str(), key]))
            .context("removing a resolved mismatch")?;
        delta.gone.push(m);
    }
    delta.gone.sort_by_key(mismatch_order);
    Ok(delta)
}

impl MismatchStore for SqliteStore {
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
        let conn = self.conn();
        type Row = (String, String, String, String, String);
        let read = |r: &rusqlite::Row<'_>| -> rusqlite::Result<Row> {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        };
        let sql = "select camera_id, kind, detail, first_seen_utc, last_seen_utc from mismatch";
        let rows: Vec<Row> = match camera {
            Some(c) => conn
                .prepare_cached(&format!("{sql} where camera_id = ?1"))
                .and_then(|mut s| s.query_map([c.as_str()], read)?.collect()),
            None => conn
                .prepare_cached(sql)
                .and_then(|mut s| s.query_map([], read)?.collect()),
        }
        .context("reading mismatches")?;
        let mut out = rows
            .into_iter()
            .map(|(camera, kind, detail, first, last)| {
                stored_mismatch_from_row(camera, &kind, &detail, &first, &last)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The number lives inside the JSON detail, so sort here, not in SQL.
        out.sort_by_cached_key(|s| (s.camera.clone(), mismatch_order(&s.mismatch)));
        Ok(out)
    }

    fn mismatch_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .prepare_cached("select count(*) from mismatch")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .context("counting mismatches")?;
        Ok(n.max(0) as u64)
    }
}
