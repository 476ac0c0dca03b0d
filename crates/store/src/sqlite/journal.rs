//! The journal of operations and their per-site progress: [`JournalStore`] on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, params};
use tandem_core::{CameraId, SiteId};

use super::audit_log::append_audit_tx;
use super::presets::apply_preset_write;
use super::{SqliteStore, fmt_utc, require_camera, sql_limit};
use crate::error::{Context, StoreError};
use crate::journal::{
    JournalStore, OPERATION_COLUMNS, OperationRow, SITE_COLUMNS, SiteRow, check_sites,
};
use crate::record::{Claimed, Journal, Operation, OperationId, PresetWrite, SiteState};

fn read_operation(r: &rusqlite::Row<'_>) -> rusqlite::Result<OperationRow> {
    Ok(OperationRow {
        id: r.get(0)?,
        camera: r.get(1)?,
        action: r.get(2)?,
        origin: r.get(3)?,
        actor: r.get(4)?,
        created_utc: r.get(5)?,
    })
}

fn read_site(r: &rusqlite::Row<'_>) -> rusqlite::Result<SiteRow> {
    Ok(SiteRow {
        site: r.get(0)?,
        state: r.get(1)?,
        attempts: r.get(2)?,
        error: r.get(3)?,
        next_attempt_utc: r.get(4)?,
        updated_utc: r.get(5)?,
    })
}

/// Reads the operations `select {OPERATION_COLUMNS} from operation {tail}`
/// returns, in that order, each with its sites.
fn load_operations(
    conn: &Connection,
    tail: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<Operation>, StoreError> {
    let rows: Vec<OperationRow> = conn
        .prepare_cached(&format!("select {OPERATION_COLUMNS} from operation {tail}"))
        .and_then(|mut s| s.query_map(params, read_operation)?.collect())
        .context("reading operations")?;
    let mut sites = conn
        .prepare_cached(&format!(
            "select {SITE_COLUMNS} from operation_site where operation_id = ?1 order by ordinal"
        ))
        .context("reading operation sites")?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let site_rows: Vec<SiteRow> = sites
            .query_map([row.id], read_site)
            .and_then(|rows| rows.collect())
            .context("reading operation sites")?;
        let progress = site_rows
            .into_iter()
            .map(SiteRow::into_progress)
            .collect::<Result<Vec<_>, _>>()?;
        out.push(row.into_operation(progress)?);
    }
    Ok(out)
}

impl JournalStore for SqliteStore {
    fn journal_claim(
        &self,
        camera: &CameraId,
        presets: &PresetWrite,
        build: &(dyn Fn(&Claimed) -> Result<Journal, StoreError> + Sync),
    ) -> Result<(OperationId, Claimed), StoreError> {
        self.write("journaling an operation", |tx, now| {
            let now_text = fmt_utc(now);
            require_camera(tx, camera)?;
            let claimed = apply_preset_write(tx, camera, presets)?;
            let Journal {
                operation: op,
                audit,
            } = build(&claimed)?;
            if op.camera != *camera {
                return Err(StoreError::Invalid(format!(
                    "operation for camera {} journaled under camera {camera}",
                    op.camera
                )));
            }
            check_sites(&op)?;
            tx.prepare_cached(
                "insert into operation (camera_id, action, origin, actor, created_utc) \
                 values (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    op.camera.as_str(),
                    op.action.to_string(),
                    op.origin.as_str(),
                    op.actor,
                    now_text
                ])
            })
            .context("journaling an operation")?;
            let id = tx.last_insert_rowid();
            let mut insert_site = tx
                .prepare_cached(
                    "insert into operation_site (operation_id, site_id, ordinal, state, \
                     attempts, error, next_attempt_utc, updated_utc) \
                     values (?1, ?2, ?3, 'pending', 0, null, ?4, ?4)",
                )
                .context("journaling an operation's sites")?;
            for (ordinal, site) in op.sites.iter().enumerate() {
                insert_site
                    .execute(params![id, site.as_str(), ordinal as i64, now_text])
                    .context("journaling an operation's sites")?;
            }
            append_audit_tx(tx, now, &audit)?;
            Ok((OperationId(id), claimed))
        })
    }

    fn operation(&self, id: OperationId) -> Result<Option<Operation>, StoreError> {
        let conn = self.conn();
        Ok(load_operations(&conn, "where id = ?1", [id.0])?
            .into_iter()
            .next())
    }

    fn pending_for(&self, camera: &CameraId, site: &SiteId) -> Result<Vec<Operation>, StoreError> {
        let conn = self.conn();
        load_operations(
            &conn,
            "where camera_id = ?1 and id in (select operation_id from operation_site \
             where site_id = ?2 and state = 'pending') order by id",
            [camera.as_str(), site.as_str()],
        )
    }

    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(CameraId, SiteId)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "select distinct o.camera_id, s.site_id from operation_site s \
                 join operation o on o.id = s.operation_id \
                 where s.state = 'pending' and s.next_attempt_utc <= ?1 \
                 order by o.camera_id, s.site_id",
            )
            .context("reading due operations")?;
        // Text comparison is time comparison: `_utc` texts have a fixed width.
        stmt.query_map([fmt_utc(now)], |r| {
            Ok((CameraId(r.get(0)?), SiteId(r.get(1)?)))
        })
        .and_then(|rows| rows.collect())
        .context("reading due operations")
    }

    fn make_due(&self, site: &SiteId, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.write("making a site's pending work due", |tx, _| {
            tx.prepare_cached(
                "update operation_site set next_attempt_utc = ?2 \
                 where site_id = ?1 and state = 'pending' \
                 and (next_attempt_utc is null or next_attempt_utc > ?2)",
            )
            .and_then(|mut s| s.execute(params![site.as_str(), fmt_utc(now)]))
            .context("making a site's pending work due")?;
            let pending: i64 = tx
                .prepare_cached(
                    "select count(*) from operation_site where site_id = ?1 and state = 'pending'",
                )
                .and_then(|mut s| s.query_row([site.as_str()], |r| r.get(0)))
                .context("counting a site's pending work")?;
            Ok(usize::try_from(pending).unwrap_or_default())
        })
    }

    fn pending_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .prepare_cached("select count(*) from operation_site where state = 'pending'")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .context("counting pending operations")?;
        Ok(n.max(0) as u64)
    }

    fn pending_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(
                "select o.camera_id, count(*) from operation_site s \
                 join operation o on o.id = s.operation_id \
                 where s.state = 'pending' group by o.camera_id order by o.camera_id",
            )
            .context("counting pending operations per camera")?;
        stmt.query_map([], |r| {
            Ok((CameraId(r.get(0)?), r.get::<_, i64>(1)?.max(0) as u64))
        })
        .and_then(|rows| rows.collect())
        .context("counting pending operations per camera")
    }

    fn mark(
        &self,
        id: OperationId,
        site: &SiteId,
        state: SiteState,
        error: Option<&str>,
        next_attempt_utc: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write("recording an operation's progress", |tx, now| {
            // A pending row must say when it is due; without a time, "now".
            let next = match (state, next_attempt_utc) {
                (SiteState::Pending, None) => Some(now),
                (_, next) => next,
            };
            let changed = tx
                .prepare_cached(
                    "update operation_site set state = ?3, attempts = attempts + 1, \
                     error = ?4, next_attempt_utc = ?5, updated_utc = ?6 \
                     where operation_id = ?1 and site_id = ?2",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        id.0,
                        site.as_str(),
                        state.as_str(),
                        error,
                        next.map(fmt_utc),
                        fmt_utc(now)
                    ])
                })
                .context("recording an operation's progress")?;
            if changed == 0 {
                return Err(StoreError::NotFound(format!(
                    "operation {id} on site {site}"
                )));
            }
            Ok(())
        })
    }

    fn operations(
        &self,
        camera: Option<&CameraId>,
        limit: usize,
    ) -> Result<Vec<Operation>, StoreError> {
        let conn = self.conn();
        match camera {
            Some(camera) => load_operations(
                &conn,
                "where camera_id = ?1 order by id desc limit ?2",
                params![camera.as_str(), sql_limit(limit)],
            ),
            None => load_operations(&conn, "order by id desc limit ?1", [sql_limit(limit)]),
        }
    }
}
