//! Leases with an owner and an expiry: [`LeaseStore`] on SQLite.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};
use tandem_core::CameraId;

use super::{SqliteStore, fmt_utc, parse_utc};
use crate::error::{Context, StoreError};
use crate::lease::{ControlRow, ControlWrite, Leader, LeaseStore};

impl LeaseStore for SqliteStore {
    fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.write_volatile("taking a lease", |tx, now| {
            let expires = now + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
            // Free, expired, or ours: take (or extend) it; otherwise leave it.
            let changed = tx
                .prepare_cached(
                    "insert into lease (name, owner, expires_utc, acquired_utc) \
                     values (?1, ?2, ?3, ?4) \
                     on conflict (name) do update set \
                       owner = excluded.owner, expires_utc = excluded.expires_utc, \
                       acquired_utc = case when lease.owner = excluded.owner \
                         then lease.acquired_utc else excluded.acquired_utc end \
                     where lease.owner = excluded.owner or lease.expires_utc <= ?4",
                )
                .and_then(|mut s| s.execute(params![name, owner, fmt_utc(expires), fmt_utc(now)]))
                .context("taking a lease")?;
            Ok(changed == 1)
        })
    }

    fn hold_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.write_volatile("renewing a lease", |tx, now| {
            let expires = now + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
            let changed = tx
                .prepare_cached(
                    "update lease set expires_utc = ?3 \
                     where name = ?1 and owner = ?2 and expires_utc > ?4",
                )
                .and_then(|mut s| s.execute(params![name, owner, fmt_utc(expires), fmt_utc(now)]))
                .context("renewing a lease")?;
            Ok(changed == 1)
        })
    }

    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write_volatile("releasing a lease", |tx, _| {
            tx.prepare_cached("delete from lease where name = ?1 and owner = ?2")
                .and_then(|mut s| s.execute(params![name, owner]))
                .context("releasing a lease")?;
            Ok(())
        })
    }

    fn lease_row(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let conn = self.conn();
        let row: Option<(String, String)> = conn
            .prepare_cached("select owner, expires_utc from lease where name = ?1")
            .and_then(|mut s| s.query_row([name], |r| Ok((r.get(0)?, r.get(1)?))))
            .optional()
            .context("reading a lease")?;
        row.map(|(owner, expires)| Ok((owner, parse_utc(&expires, "lease.expires_utc")?)))
            .transpose()
    }

    fn leases(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let now = fmt_utc(self.now());
        let conn = self.conn();
        let rows: Vec<(String, String, String)> = conn
            .prepare_cached(
                "select name, owner, expires_utc from lease where expires_utc > ?1 order by name",
            )
            .and_then(|mut s| {
                s.query_map([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .context("reading leases")?;
        rows.into_iter()
            .map(|(name, owner, expires)| {
                Ok((name, owner, parse_utc(&expires, "lease.expires_utc")?))
            })
            .collect()
    }

    fn lead(&self, owner: &str, ttl: Duration) -> Result<Option<u64>, StoreError> {
        self.write_volatile("taking the lead", |tx, now| {
            let expires = now + chrono::TimeDelta::from_std(ttl).unwrap_or(chrono::TimeDelta::MAX);
            tx.prepare_cached(
                "update leader set \
                   epoch = case when holder = ?1 then epoch else epoch + 1 end, \
                   holder = ?1, expires_utc = ?2 \
                 where id = 1 and (holder = ?1 or expires_utc <= ?3) returning epoch",
            )
            .and_then(|mut s| {
                s.query_row(params![owner, fmt_utc(expires), fmt_utc(now)], |r| {
                    r.get::<_, i64>(0)
                })
            })
            .optional()
            .context("taking the lead")
            .map(|epoch| epoch.map(|e| e.max(0) as u64))
        })
    }

    fn resign(&self, owner: &str) -> Result<(), StoreError> {
        self.write_volatile("giving up the lead", |tx, now| {
            tx.prepare_cached(
                "update leader set expires_utc = ?2 where id = 1 and holder = ?1 and expires_utc > ?2",
            )
            .and_then(|mut s| s.execute(params![owner, fmt_utc(now)]))
            .context("giving up the lead")?;
            Ok(())
        })
    }

    fn leader(&self) -> Result<Option<Leader>, StoreError> {
        let now = fmt_utc(self.now());
        let conn = self.conn();
        let row: Option<(String, i64, String)> = conn
            .prepare_cached(
                "select holder, epoch, expires_utc from leader where id = 1 and expires_utc > ?1",
            )
            .and_then(|mut s| s.query_row([now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))))
            .optional()
            .context("reading the leader")?;
        row.map(|(holder, epoch, expires)| {
            Ok(Leader {
                holder,
                epoch: epoch.max(0) as u64,
                expires_utc: parse_utc(&expires, "leader.expires_utc")?,
            })
        })
        .transpose()
    }

    fn claim_control(
        &self,
        camera: &CameraId,
        decide: &(dyn Fn(Option<&ControlRow>, DateTime<Utc>) -> ControlWrite + Sync),
    ) -> Result<(Option<ControlRow>, DateTime<Utc>), StoreError> {
        self.write_volatile("changing who steers a camera", |tx, now| {
            let before = control_row(tx, camera)?;
            match decide(before.as_ref(), now) {
                ControlWrite::Keep => {}
                ControlWrite::Remove => {
                    tx.prepare_cached("delete from camera_control where camera_id = ?1")
                        .and_then(|mut s| s.execute([camera.as_str()]))
                        .context("ending control of a camera")?;
                }
                ControlWrite::Put(row) => {
                    tx.prepare_cached(
                        "insert into camera_control (camera_id, holder, priority, reserved, until_utc) \
                         values (?1, ?2, ?3, ?4, ?5) on conflict (camera_id) do update set \
                         holder = excluded.holder, priority = excluded.priority, \
                         reserved = excluded.reserved, until_utc = excluded.until_utc",
                    )
                    .and_then(|mut s| {
                        s.execute(params![
                            camera.as_str(),
                            row.user,
                            i64::from(row.priority),
                            i64::from(row.reserved),
                            row.until_utc.map(fmt_utc)
                        ])
                    })
                    .context("taking control of a camera")?;
                }
            }
            Ok((before, now))
        })
    }

    fn control_of(
        &self,
        camera: &CameraId,
    ) -> Result<(Option<ControlRow>, DateTime<Utc>), StoreError> {
        let now = self.now();
        let conn = self.conn();
        Ok((control_row(&conn, camera)?, now))
    }
}

/// The camera's `camera_control` row, if any.
fn control_row(
    conn: &rusqlite::Connection,
    camera: &CameraId,
) -> Result<Option<ControlRow>, StoreError> {
    let row: Option<(String, i64, i64, Option<String>)> = conn
        .prepare_cached(
            "select holder, priority, reserved, until_utc from camera_control where camera_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([camera.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
        })
        .optional()
        .context("reading who steers a camera")?;
    row.map(|(user, priority, reserved, until)| {
        Ok(ControlRow {
            user,
            priority: u16::try_from(priority)
                .map_err(|_| StoreError::Corrupt(format!("camera_control.priority {priority}")))?,
            reserved: reserved != 0,
            until_utc: until
                .map(|t| parse_utc(&t, "camera_control.until_utc"))
                .transpose()?,
        })
    })
    .transpose()
}
