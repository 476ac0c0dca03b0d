//! The journal of operations and their per-site progress: [`JournalStore`] on PostgreSQL.

use chrono::{DateTime, Utc};
use postgres::GenericClient;
use postgres::types::ToSql;
use tandem_core::{CameraId, SiteId};

use super::audit_log::append_audit_tx;
use super::presets::apply_preset_write;
use super::{PgStore, fmt_utc, get, require_camera, sql_limit};
use crate::error::{Context, StoreError};
use crate::journal::{
    JournalStore, OPERATION_COLUMNS, OperationRow, SITE_COLUMNS, SiteRow, check_sites,
};
use crate::record::{Claimed, Journal, Operation, OperationId, PresetWrite, SiteState};

/// Reads the operations `select {OPERATION_COLUMNS} from operation {tail}`
/// returns, in that order, each with its sites.
fn load_operations(
    client: &mut impl GenericClient,
    tail: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Operation>, StoreError> {
    const OPERATIONS: &str = "reading operations";
    const SITES: &str = "reading operation sites";
    let rows = client
        .query(
            &format!("select {OPERATION_COLUMNS} from operation {tail}"),
            params,
        )
        .context(OPERATIONS)?
        .iter()
        .map(|r| {
            Ok(OperationRow {
                id: get(r, 0, OPERATIONS)?,
                camera: get(r, 1, OPERATIONS)?,
                action: get(r, 2, OPERATIONS)?,
                origin: get(r, 3, OPERATIONS)?,
                actor: get(r, 4, OPERATIONS)?,
                created_utc: get(r, 5, OPERATIONS)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sites = client
        .prepare(&format!(
            "select {SITE_COLUMNS} from operation_site where operation_id = $1 order by ordinal"
        ))
        .context(SITES)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let progress = client
            .query(&sites, &[&row.id])
            .context(SITES)?
            .iter()
            .map(|r| {
                SiteRow {
                    site: get(r, 0, SITES)?,
                    state: get(r, 1, SITES)?,
                    attempts: get(r, 2, SITES)?,
                    error: get(r, 3, SITES)?,
                    next_attempt_utc: get(r, 4, SITES)?,
                    updated_utc: get(r, 5, SITES)?,
                }
                .into_progress()
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        out.push(row.into_operation(progress)?);
    }
    Ok(out)
}

impl JournalStore for PgStore {
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
            let row = tx
                .query_one(
                    "insert into operation (camera_id, action, origin, actor, created_utc) \
                     values ($1, $2, $3, $4, $5) returning id",
                    &[
                        &op.camera.as_str(),
                        &op.action.to_string(),
                        &op.origin.as_str(),
                        &op.actor,
                        &now_text,
                    ],
                )
                .context("journaling an operation")?;
            let id: i64 = get(&row, 0, "journaling an operation")?;
            let insert_site = tx
                .prepare(
                    "insert into operation_site (operation_id, site_id, ordinal, state, \
                     attempts, error, next_attempt_utc, updated_utc) \
                     values ($1, $2, $3, 'pending', 0, null, $4, $4)",
                )
                .context("journaling an operation's sites")?;
            for (ordinal, site) in op.sites.iter().enumerate() {
                let ordinal = i64::try_from(ordinal).unwrap_or(i64::MAX);
                tx.execute(&insert_site, &[&id, &site.as_str(), &ordinal, &now_text])
                    .context("journaling an operation's sites")?;
            }
            append_audit_tx(tx, now, &audit)?;
            Ok((OperationId(id), claimed))
        })
    }

    fn operation(&self, id: OperationId) -> Result<Option<Operation>, StoreError> {
        self.read("reading an operation", |client| {
            Ok(load_operations(client, "where id = $1", &[&id.0])?
                .into_iter()
                .next())
        })
    }

    fn pending_for(&self, camera: &CameraId, site: &SiteId) -> Result<Vec<Operation>, StoreError> {
        self.read("reading pending operations", |client| {
            load_operations(
                client,
                "where camera_id = $1 and id in (select operation_id from operation_site \
                 where site_id = $2 and state = 'pending') order by id",
                &[&camera.as_str(), &site.as_str()],
            )
        })
    }

    fn due(&self, now: DateTime<Utc>) -> Result<Vec<(CameraId, SiteId)>, StoreError> {
        const WHAT: &str = "reading due operations";
        let now_text = fmt_utc(now);
        self.read(WHAT, |client| {
            // Text comparison is time comparison: `_utc` texts have a fixed
            // width and differ only in their digits, whatever the collation.
            // Ids sort as SQLite sorts them, byte by byte (`collate "C"`),
            // whatever the database's locale.
            client
                .query(
                    "select distinct o.camera_id collate \"C\", s.site_id collate \"C\" \
                     from operation_site s join operation o on o.id = s.operation_id \
                     where s.state = 'pending' and s.next_attempt_utc <= $1 \
                     order by 1, 2",
                    &[&now_text],
                )
                .context(WHAT)?
                .iter()
                .map(|r| Ok((CameraId(get(r, 0, WHAT)?), SiteId(get(r, 1, WHAT)?))))
                .collect()
        })
    }

    fn make_due(&self, site: &SiteId, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let now_text = fmt_utc(now);
        self.write("making a site's pending work due", |tx, _| {
            tx.execute(
                "update operation_site set next_attempt_utc = $2 \
                 where site_id = $1 and state = 'pending' \
                 and (next_attempt_utc is null or next_attempt_utc > $2)",
                &[&site.as_str(), &now_text],
            )
            .context("making a site's pending work due")?;
            let row = tx
                .query_one(
                    "select count(*) from operation_site where site_id = $1 and state = 'pending'",
                    &[&site.as_str()],
                )
                .context("counting a site's pending work")?;
            let pending: i64 = get(&row, 0, "counting a site's pending work")?;
            Ok(usize::try_from(pending).unwrap_or_default())
        })
    }

    fn pending_count(&self) -> Result<u64, StoreError> {
        const WHAT: &str = "counting pending operations";
        self.read(WHAT, |client| {
            let row = client
                .query_one(
                    "select count(*) from operation_site where state = 'pending'",
                    &[],
                )
                .context(WHAT)?;
            let n: i64 = get(&row, 0, WHAT)?;
            Ok(n.max(0) as u64)
        })
    }

    fn pending_by_camera(&self) -> Result<Vec<(CameraId, u64)>, StoreError> {
        const WHAT: &str = "counting pending operations per camera";
        self.read(WHAT, |client| {
            client
                .query(
                    "select o.camera_id, count(*) from operation_site s \
                     join operation o on o.id = s.operation_id \
                     where s.state = 'pending' group by o.camera_id \
                     order by o.camera_id collate \"C\"",
                    &[],
                )
                .context(WHAT)?
                .iter()
                .map(|r| {
                    let n: i64 = get(r, 1, WHAT)?;
                    Ok((CameraId(get(r, 0, WHAT)?), n.max(0) as u64))
                })
                .collect()
        })
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
                .execute(
                    "update operation_site set state = $3, attempts = attempts + 1, \
                     error = $4, next_attempt_utc = $5, updated_utc = $6 \
                     where operation_id = $1 and site_id = $2",
                    &[
                        &id.0,
                        &site.as_str(),
                        &state.as_str(),
                        &error,
                        &next.map(fmt_utc),
                        &fmt_utc(now),
                    ],
                )
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
        let limit = sql_limit(limit);
        self.read("reading operations", |client| match camera {
            Some(camera) => load_operations(
                client,
                "where camera_id = $1 order by id desc limit $2",
                &[&camera.as_str(), &limit],
            ),
            None => load_operations(client, "order by id desc limit $1", &[&limit]),
        })
    }
}
