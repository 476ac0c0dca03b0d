//! [`SqliteStore`]: the [`Store`](crate::Store) on one SQLite file.
//!
//! One connection behind a `std::sync::Mutex`: every call is a few short
//! statements, never held across an `.await`, so async callers may call it
//! directly. Writes run in IMMEDIATE transactions, which take SQLite's write
//! lock up front; a deferred transaction that reads and then writes can fail
//! with SQLITE_BUSY half-way when another process (the CLI) writes too.
//!
//! One file per domain, each with that domain's private helpers and its
//! part of the [`Store`](crate::Store): [`presets`] (cameras, canonical
//! presets, site token maps), [`journal`] (operations and their per-site
//! progress), [`mismatches`], [`audit_log`] (appending to and reading the
//! hash-chained log), [`access`] (camera groups, roles, users, API tokens,
//! console sessions), [`lease`] and [`binding`] (what bindings learned of
//! their devices). This file holds the connection, the
//! `write` transaction and the row conversions they all share. A domain's
//! helper that another domain calls inside its transaction (appending to the
//! audit log, applying a preset write, reading a mismatch row) stays in its
//! domain's file, `pub(super)`.

use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use tandem_core::CameraId;
use tandem_core::clock::{self, Clock};

use crate::error::{Context, StoreError};
use crate::schema;
// The row conversions both backends share; the domain files reach them as `super::…`.
#[allow(unused_imports)]
use crate::convert::{fmt_utc, number_from_row, parse_json, parse_utc, spelled, sql_limit};

mod access;
mod audit_log;
mod binding;
mod journal;
mod lease;
mod mismatches;
mod presets;

/// How long a statement waits for another connection's lock before failing
/// with SQLITE_BUSY (which [`StoreError::is_retryable`] reports).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 256;

/// The [`Store`](crate::Store) on a SQLite database (a file in WAL mode, or in memory for tests).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    clock: Arc<dyn Clock>,
    /// Rows changed by volatile writes (leases, the leader, pictures,
    /// learned bindings, adopted tokens): left out of the change stamp, which
    /// what is cached by it (who a session is) does not depend on. The
    /// leader's renewal alone would otherwise empty that cache every 2 s.
    volatile_changes: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and migrates its schema.
    ///
    /// Fails with [`StoreError::SchemaTooNew`] when a newer tandem wrote the file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let conn = Connection::open(path)
            .map_err(|e| StoreError::db(format!("opening {}", path.display()), e))?;
        Self::setup(conn, Some(path))
    }

    /// A fresh store in memory, gone when dropped: for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().context("opening an in-memory database")?;
        Self::setup(conn, None)
    }

    /// Replaces the wall clock used for `created_utc`, `updated_utc`, `at_utc`
    /// and the first `next_attempt_utc`: tests use a fixed or stepped clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn setup(mut conn: Connection, path: Option<&Path>) -> Result<Self, StoreError> {
        // First, so that the pragmas below also wait for other connections.
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting the busy timeout")?;
        // Every statement the store runs stays prepared: rusqlite keeps 16
        // by default, fewer than the store has, and a scan or an import runs
        // the same few thousands of times.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // WAL lets readers (the CLI, a backup) run while tandem writes.
        // Switching a new file to WAL needs it alone, and SQLite answers BUSY
        // at once, without the busy timeout, while another process does the
        // same: several CLI runs started together on a fresh store. Retry.
        let mode: String = retry_while_busy(|| {
            conn.query_row("pragma journal_mode = wal", [], |r| r.get(0))
                .context("switching to WAL mode")
        })?;
        if let Some(path) = path
            && !mode.eq_ignore_ascii_case("wal")
        {
            return Err(StoreError::Invalid(format!(
                "{}: SQLite kept journal mode {mode:?} instead of WAL; put the store on a \
                 local file system",
                path.display()
            )));
        }
        // FULL: every commit fsyncs the WAL before returning. With NORMAL a
        // commit survives a crash of tandem but not a power loss, and the
        // journal's commit is what tells the operator "saved": an acknowledged
        // operation must survive power loss.
        conn.pragma_update(None, "synchronous", "FULL")
            .context("setting synchronous = FULL")?;
        // SQLite leaves foreign keys off unless asked, per connection.
        conn.pragma_update(None, "foreign_keys", "ON")
            .context("enabling foreign keys")?;
        retry_while_busy(|| schema::migrate(&mut conn))?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            clock: clock::system(),
            volatile_changes: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The connection. A panic while it was held cannot leave a transaction
    /// half-applied (an unfinished `Transaction` rolls back when dropped during
    /// unwinding), so a poisoned lock is safe to take over.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Now, at the microsecond precision the store keeps, so a value returned
    /// to the caller equals the value read back later.
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.wall()).trunc_subsecs(6)
    }

    /// Runs `f` in an IMMEDIATE transaction and commits when it succeeds; on
    /// an error the transaction is dropped, which rolls it back.
    ///
    /// `f` gets "now", read once the write lock is held, so that timestamps
    /// follow the order of commits (ids and audit `seq` included).
    fn write<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Transaction<'_>, DateTime<Utc>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .context(&format!("starting a transaction for {what}"))?;
        let out = f(&tx, self.now())?;
        tx.commit().context(&format!("committing {what}"))?;
        Ok(out)
    }

    /// [`SqliteStore::write`] without waiting for the disk: for rows that
    /// mean nothing after a power loss (a lease dies with every process that
    /// held it), so that taking and releasing them adds no fsync to each
    /// operation. The next durable commit writes them out with its own.
    fn write_volatile<T>(
        &self,
        what: &str,
        f: impl FnOnce(&Transaction<'_>, DateTime<Utc>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        conn.pragma_update(None, "synchronous", "NORMAL")
            .context("relaxing synchronous for a volatile write")?;
        let before = conn.total_changes();
        let out = (|| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .context(&format!("starting a transaction for {what}"))?;
            let out = f(&tx, self.now())?;
            tx.commit().context(&format!("committing {what}"))?;
            Ok(out)
        })();
        // Counted whether it committed or not: total_changes counts both.
        self.volatile_changes.fetch_add(
            conn.total_changes().saturating_sub(before),
            std::sync::atomic::Ordering::Relaxed,
        );
        // Back to FULL whatever happened: every other commit is an acknowledgement.
        conn.pragma_update(None, "synchronous", "FULL")
            .context("restoring synchronous = FULL")?;
        out
    }
}

// ---------------------------------------------------------------------------
// Text and number conversions between rows and domain types.

/// Runs `step` again while SQLite answers BUSY, for up to [`BUSY_TIMEOUT`]:
/// for the steps the busy timeout does not cover (see `setup`).
fn retry_while_busy<T>(mut step: impl FnMut() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    loop {
        match step() {
            Err(e) if e.is_retryable() && std::time::Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

fn require_camera(conn: &Connection, camera: &CameraId) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .prepare_cached("select 1 from camera where id = ?1")
        .and_then(|mut s| s.query_row([camera.as_str()], |r| r.get(0)))
        .optional()
        .context("looking up a camera")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("camera {camera}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_is_durable_and_checks_foreign_keys() {
        let path = std::env::temp_dir().join(format!(
            "tandem-store-unit-pragmas-{}.db",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let store = SqliteStore::open(&path).expect("open");
        // Leases are written without fsync; every other commit stays FULL after them.
        use crate::LeaseStore as _;
        assert!(
            store
                .try_lease("camera:c", "me", Duration::from_secs(5))
                .expect("lease")
        );
        store.release_lease("camera:c", "me").expect("release");
        {
            let conn = store.conn();
            let get = |pragma: &str| -> String {
                conn.query_row(&format!("pragma {pragma}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .expect("pragma")
            };
            assert_eq!(get("journal_mode"), "Text(\"wal\")");
            assert_eq!(get("synchronous"), "Integer(2)", "2 is FULL");
            assert_eq!(get("foreign_keys"), "Integer(1)");
            assert_eq!(get("busy_timeout"), "Integer(5000)");
        }
        drop(store);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    }

    #[test]
    fn utc_text_has_a_fixed_width_so_text_order_is_time_order() {
        let a = fmt_utc(DateTime::from_timestamp(1_700_000_000, 0).expect("valid"));
        let b = fmt_utc(DateTime::from_timestamp(1_700_000_000, 5_000).expect("valid"));
        assert_eq!(a, "2023-11-14T22:13:20.000000Z");
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert_eq!(
            parse_utc(&b, "x").expect("parse"),
            DateTime::from_timestamp(1_700_000_000, 5_000).expect("valid")
        );
    }
}
