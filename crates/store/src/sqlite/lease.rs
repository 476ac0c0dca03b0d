//! Leases with an owner and an expiry: [`LeaseStore`] on SQLite.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{SqliteStore, fmt_utc, parse_utc};
use crate::error::{Context, StoreError};
use crate::lease::LeaseStore;

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

    fn release_lease(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write_volatile("releasing a lease", |tx, _| {
            tx.prepare_cached("delete from lease where name = ?1 and owner = ?2")
                .and_then(|mut s| s.execute(params![name, owner]))
                .context("releasing a lease")?;
            Ok(())
        })
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
}
