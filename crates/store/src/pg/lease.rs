//! Leases and the leader row: [`LeaseStore`] on PostgreSQL. Every expiry is
//! computed and compared with the database's `clock_timestamp()`, so the
//! callers' wall clocks (which may jump, or disagree between machines) never
//! decide who holds what.

use std::time::Duration;

use chrono::{DateTime, Utc};

use postgres::GenericClient;
use tandem_core::CameraId;

use super::{PgStore, fmt_utc, get, parse_utc};
use crate::error::{Context, StoreError};
use crate::lease::{ControlRow, ControlWrite, Leader, LeaseStore};

/// The database's now, as the store's fixed-width RFC 3339 text.
const DB_NOW: &str =
    "to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')";

/// The database's now plus `$n` milliseconds, as the same text.
fn db_now_plus(n: usize) -> String {
    format!(
        "to_char((clock_timestamp() + ${n}::bigint * interval '1 millisecond') at time zone 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
    )
}

fn millis(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
}

impl LeaseStore for PgStore {
    fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let sql = format!(
            "insert into lease (name, owner, expires_utc, acquired_utc) \
             values ($1, $2, {expires}, {DB_NOW}) \
             on conflict (name) do update set \
               owner = excluded.owner, expires_utc = excluded.expires_utc, \
               acquired_utc = case when lease.owner = excluded.owner \
                 then lease.acquired_utc else excluded.acquired_utc end \
             where lease.owner = excluded.owner or lease.expires_utc <= {DB_NOW}",
            expires = db_now_plus(3)
        );
        self.write_volatile("taking a lease", |tx, _| {
            let changed = tx
                .execute(sql.as_str(), &[&name, &owner, &millis(ttl)])
                .context("taking a lease")?;
            Ok(changed == 1)
        })
    }

    fn hold_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        let sql = format!(
            "update lease set expires_utc = {expires} \
             where name = $1 and owner = $2 and expires_utc > {DB_NOW}",
            expires = db_now_plus(3)
        );
        self.write_volatile("renewing a lease", |tx, _| {
            let changed = tx
                .execute(sql.as_str(), &[&name, &owner, &millis(ttl)])
                .context("renewing a lease")?;
            Ok(changed == 1)
        })
    }

    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write_volatile("releasing a lease", |tx, _| {
            tx.execute(
                "delete from lease where name = $1 and owner = $2",
                &[&name, &owner],
            )
            .context("releasing a lease")?;
            Ok(())
        })
    }

    fn lease_row(&self, name: &str) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        self.read("reading a lease", |client| {
            let Some(r) = client
                .query_opt(
                    "select owner, expires_utc from lease where name = $1",
                    &[&name],
                )
                .context("reading a lease")?
            else {
                return Ok(None);
            };
            let expires: String = get(&r, 1, "reading a lease")?;
            Ok(Some((
                get(&r, 0, "reading a lease")?,
                parse_utc(&expires, "lease.expires_utc")?,
            )))
        })
    }

    fn leases(&self) -> Result<Vec<(String, String, DateTime<Utc>)>, StoreError> {
        let sql = format!(
            "select name, owner, expires_utc from lease where expires_utc > {DB_NOW} order by name collate \"C\""
        );
        self.read("reading leases", |client| {
            client
                .query(sql.as_str(), &[])
                .context("reading leases")?
                .iter()
                .map(|r| {
                    let expires: String = get(r, 2, "reading leases")?;
                    Ok((
                        get(r, 0, "reading leases")?,
                        get(r, 1, "reading leases")?,
                        parse_utc(&expires, "lease.expires_utc")?,
                    ))
                })
                .collect()
        })
    }

    fn lead(&self, owner: &str, ttl: Duration) -> Result<Option<u64>, StoreError> {
        let sql = format!(
            "update leader set \
               epoch = case when holder = $1 then epoch else epoch + 1 end, \
               holder = $1, expires_utc = {expires} \
             where id = 1 and (holder = $1 or expires_utc <= {DB_NOW}) returning epoch",
            expires = db_now_plus(2)
        );
        self.write_volatile("taking the lead", |tx, _| {
            let row = tx
                .query_opt(sql.as_str(), &[&owner, &millis(ttl)])
                .context("taking the lead")?;
            row.map(|r| get::<i64>(&r, 0, "taking the lead").map(|e| e.max(0) as u64))
                .transpose()
        })
    }

    fn resign(&self, owner: &str) -> Result<(), StoreError> {
        let sql = format!(
            "update leader set expires_utc = {DB_NOW} \
             where id = 1 and holder = $1 and expires_utc > {DB_NOW}"
        );
        self.write_volatile("giving up the lead", |tx, _| {
            tx.execute(sql.as_str(), &[&owner])
                .context("giving up the lead")?;
            Ok(())
        })
    }

    fn leader(&self) -> Result<Option<Leader>, StoreError> {
        let sql = format!(
            "select holder, epoch, expires_utc from leader where id = 1 and expires_utc > {DB_NOW}"
        );
        self.read("reading the leader", |client| {
            let Some(r) = client
                .query_opt(sql.as_str(), &[])
                .context("reading the leader")?
            else {
                return Ok(None);
            };
            let epoch: i64 = get(&r, 1, "reading the leader")?;
            let expires: String = get(&r, 2, "reading the leader")?;
            Ok(Some(Leader {
                holder: get(&r, 0, "reading the leader")?,
                epoch: epoch.max(0) as u64,
                expires_utc: parse_utc(&expires, "leader.expires_utc")?,
            }))
        })
    }

    fn claim_control(
        &self,
        camera: &CameraId,
        decide: &(dyn Fn(Option<&ControlRow>, DateTime<Utc>) -> ControlWrite + Sync),
    ) -> Result<(Option<ControlRow>, DateTime<Utc>), StoreError> {
        let now_sql = format!("select {DB_NOW}");
        self.write_volatile("changing who steers a camera", |tx, _| {
            let now = db_now(tx, &now_sql)?;
            let before = control_row(tx, camera)?;
            match decide(before.as_ref(), now) {
                ControlWrite::Keep => {}
                ControlWrite::Remove => {
                    tx.execute(
                        "delete from camera_control where camera_id = $1",
                        &[&camera.as_str()],
                    )
                    .context("ending control of a camera")?;
                }
                ControlWrite::Put(row) => {
                    tx.execute(
                        "insert into camera_control (camera_id, holder, priority, reserved, until_utc) \
                         values ($1, $2, $3, $4, $5) on conflict (camera_id) do update set \
                         holder = excluded.holder, priority = excluded.priority, \
                         reserved = excluded.reserved, until_utc = excluded.until_utc",
                        &[
                            &camera.as_str(),
                            &row.user,
                            &i64::from(row.priority),
                            &i64::from(row.reserved),
                            &row.until_utc.map(fmt_utc),
                        ],
                    )
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
        let now_sql = format!("select {DB_NOW}");
        self.read("reading who steers a camera", |client| {
            let now = db_now(client, &now_sql)?;
            Ok((control_row(client, camera)?, now))
        })
    }
}

/// The database's now.
fn db_now(client: &mut impl GenericClient, sql: &str) -> Result<DateTime<Utc>, StoreError> {
    let row = client
        .query_one(sql, &[])
        .context("reading the database's clock")?;
    let text: String = get(&row, 0, "reading the database's clock")?;
    parse_utc(&text, "clock_timestamp()")
}

/// The camera's `camera_control` row, if any.
fn control_row(
    client: &mut impl GenericClient,
    camera: &CameraId,
) -> Result<Option<ControlRow>, StoreError> {
    let Some(r) = client
        .query_opt(
            "select holder, priority, reserved, until_utc from camera_control where camera_id = $1",
            &[&camera.as_str()],
        )
        .context("reading who steers a camera")?
    else {
        return Ok(None);
    };
    let priority: i64 = get(&r, 1, "reading who steers a camera")?;
    let reserved: i64 = get(&r, 2, "reading who steers a camera")?;
    let until: Option<String> = get(&r, 3, "reading who steers a camera")?;
    Ok(Some(ControlRow {
        user: get(&r, 0, "reading who steers a camera")?,
        priority: u16::try_from(priority)
            .map_err(|_| StoreError::Corrupt(format!("camera_control.priority {priority}")))?,
        reserved: reserved != 0,
        until_utc: until
            .map(|t| parse_utc(&t, "camera_control.until_utc"))
            .transpose()?,
    }))
}
