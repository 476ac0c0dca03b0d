//! [`PgStore`]: the [`Store`](crate::Store) on PostgreSQL, for several
//! `tandem serve` instances sharing one database.
//!
//! Same tables, rules and semantics as [`SqliteStore`](crate::SqliteStore),
//! so the engine cannot tell them apart:
//!
//! - **One writer at a time.** Every write transaction first takes one
//!   transaction-scoped advisory lock ([`WRITE_LOCK`]), then runs at READ
//!   COMMITTED, so each of its statements sees every commit made before the
//!   lock was granted. That is exactly SQLite's IMMEDIATE transaction: the
//!   claims that depend on what is stored (the lowest free number, a free
//!   name, the audit chain's head) stay race-free across instances without a
//!   retry loop. Writes are short (a few statements), so one lock costs
//!   little; reads take none.
//! - **Lease time is the database's.** Leases and the leader row are written
//!   with `clock_timestamp()`, so a caller's wall clock, however wrong,
//!   cannot make two owners.
//! - **Blocking calls, like rusqlite's.** The `postgres` client runs a small
//!   runtime of its own and blocks on it, which tokio forbids on its worker
//!   threads; every call therefore runs on one of the store's own threads
//!   (a rayon pool, whose `install` lends them the caller's borrows) with a
//!   connection from an r2d2 pool.
//!
//! One file per domain, as for SQLite: [`presets`], [`journal`],
//! [`mismatches`], [`audit_log`], [`access`], [`lease`], [`binding`].

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use postgres::{Client, NoTls, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use tandem_core::CameraId;
use tandem_core::clock::{self, Clock};

use crate::error::{Context, StoreError};
// The row conversions both backends share; the domain files reach them as `super::…`.
#[allow(unused_imports)]
use crate::convert::{fmt_utc, number_from_row, parse_json, parse_utc, spelled, sql_limit};

mod access;
mod audit_log;
mod binding;
mod events;
mod journal;
mod lease;
mod mismatches;
mod presets;

/// The advisory lock every write transaction takes first (a constant key,
/// "tandem" in ASCII): one writer at a time, as on SQLite.
const WRITE_LOCK: i64 = 0x74_61_6e_64_65_6d;
/// The advisory lock a schema migration holds, so that instances starting
/// together migrate once.
const MIGRATE_LOCK: i64 = WRITE_LOCK + 1;
/// Connections (and threads) per process: the engine's calls are short, and
/// the server runs at most a few at once.
const POOL_SIZE: u32 = 8;
/// How long a call waits for a connection before failing as unavailable:
/// short, since callers (async request handlers among them) block meanwhile;
/// a database that is away answers 503 soon rather than late.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The schema, one step per version; version 1 is the SQLite store's v8.
/// Released steps never change.
const MIGRATIONS: &[&str] = &[include_str!("schema/v1.sql")];

/// The [`Store`](crate::Store) on a PostgreSQL database.
pub struct PgStore {
    /// Always `Some` but while dropping (see `Drop`).
    pool: Option<r2d2::Pool<PostgresConnectionManager<NoTls>>>,
    threads: rayon::ThreadPool,
    clock: Arc<dyn Clock>,
    /// Where the database is, without its password: for messages.
    target: String,
    /// How to connect, for the event listener's own connection.
    config: postgres::Config,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://user@host:port/db`, or
    /// libpq's `key=value` form), with `password` when given (read from a
    /// file or the environment by the caller, never from tandem's TOML), and
    /// migrates its schema.
    ///
    /// Fails with [`StoreError::Unavailable`] when the database cannot be
    /// reached within a few seconds, and with [`StoreError::SchemaTooNew`]
    /// when a newer tandem wrote it.
    pub fn open(url: &str, password: Option<&str>) -> Result<Self, StoreError> {
        let mut config: postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("store url: {e}")))?;
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("tandem");
        let target = describe(&config);
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            // A checkout test would cost a round trip per call; a connection
            // that broke is found by its first failing statement instead
            // (`on_pool` retries once), and r2d2 drops it as closed.
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(PostgresConnectionManager::new(config.clone(), NoTls));
        let threads = rayon::ThreadPoolBuilder::new()
            .num_threads(POOL_SIZE as usize)
            .thread_name(|i| format!("tandem-pg-{i}"))
            .build()
            .map_err(|e| StoreError::Invalid(format!("starting the store's threads: {e}")))?;
        let store = PgStore {
            pool: Some(pool),
            threads,
            clock: clock::system(),
            target,
            config,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Replaces the wall clock used for `created_utc`, `updated_utc` and
    /// `at_utc` (lease and leader times are always the database's).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the database is (host, port, database, user), for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    fn migrate(&self) -> Result<(), StoreError> {
        self.on_pool("migrating the schema", |client| {
            let mut tx = client
                .transaction()
                .context("starting a schema migration")?;
            tx.execute("select pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])
                .context("waiting for another instance's migration")?;
            tx.batch_execute(
                "create table if not exists schema_version (\
                   id bigint primary key check (id = 1), version bigint not null)",
            )
            .context("creating the schema version table")?;
            let found: i64 = tx
                .query_opt("select version from schema_version where id = 1", &[])
                .context("reading the schema version")?
                .map(|r| r.try_get(0))
                .transpose()
                .context("reading the schema version")?
                .unwrap_or(0);
            let known = MIGRATIONS.len() as i64;
            if found > known {
                return Err(StoreError::SchemaTooNew { found, known });
            }
            for (i, step) in MIGRATIONS.iter().enumerate().skip(found.max(0) as usize) {
                let next = i as i64 + 1;
                tx.batch_execute(step)
                    .context(&format!("migrating the schema to version {next}"))?;
                tx.execute(
                    "insert into schema_version (id, version) values (1, $1) \
                     on conflict (id) do update set version = excluded.version",
                    &[&next],
                )
                .context("recording the schema version")?;
            }
            tx.commit().context("committing the schema")?;
            Ok(())
        })
    }

    /// Now, at the microsecond precision the store keeps.
    fn now(&self) -> DateTime<Utc> {
        DateTime::<Utc>::from(self.clock.wall()).trunc_subsecs(6)
    }

    /// Runs `f` with a pooled connection on one of the store's threads.
    ///
    /// When the connection turns out to be closed (PostgreSQL restarted, or
    /// the pool kept a connection the server has since dropped), `f` runs
    /// once more on a fresh one: nothing it did on the dead one committed.
    fn on_pool<T: Send>(
        &self,
        what: &str,
        f: impl Fn(&mut Client) -> Result<T, StoreError> + Sync,
    ) -> Result<T, StoreError> {
        self.threads.install(|| {
            let mut attempt = 0;
            loop {
                let pool = self.pool.as_ref().ok_or_else(|| StoreError::Unavailable {
                    context: what.to_string(),
                    detail: "the store is closing".into(),
                })?;
                let mut client = pool.get().map_err(|e| StoreError::Unavailable {
                    context: what.to_string(),
                    detail: format!(
                        "no connection to {} within {CONNECT_TIMEOUT:?}: {e}",
                        self.target
                    ),
                })?;
                let out = f(&mut client);
                match out {
                    Err(StoreError::Postgres { ref source, .. })
                        if source.is_closed() && attempt == 0 =>
                    {
                        attempt += 1;
                    }
                    other => return other,
                }
            }
        })
    }

    /// Runs `f` in a write transaction and commits when it succeeds; on an
    /// error the transaction is dropped, which rolls it back.
    ///
    /// The transaction holds [`WRITE_LOCK`] before `f` runs, and `f` gets
    /// "now", read once the lock is held, so that timestamps follow the
    /// order of commits, as on SQLite.
    fn write<T: Send>(
        &self,
        what: &str,
        f: impl Fn(&mut Transaction<'_>, DateTime<Utc>) -> Result<T, StoreError> + Sync,
    ) -> Result<T, StoreError> {
        self.on_pool(what, |client| {
            let mut tx = client
                .transaction()
                .context(&format!("starting a transaction for {what}"))?;
            tx.execute("select pg_advisory_xact_lock($1)", &[&WRITE_LOCK])
                .context(&format!("waiting for the write lock for {what}"))?;
            let out = f(&mut tx, self.now())?;
            tx.commit().context(&format!("committing {what}"))?;
            Ok(out)
        })
    }

    /// [`PgStore::write`] without waiting for the disk
    /// (`synchronous_commit = off` for this transaction only): for rows that
    /// mean nothing after a crash of the database (leases end by themselves),
    /// as on SQLite.
    fn write_volatile<T: Send>(
        &self,
        what: &str,
        f: impl Fn(&mut Transaction<'_>, DateTime<Utc>) -> Result<T, StoreError> + Sync,
    ) -> Result<T, StoreError> {
        self.write(what, |tx, now| {
            tx.batch_execute("set local synchronous_commit = off")
                .context("relaxing synchronous_commit for a volatile write")?;
            f(tx, now)
        })
    }

    /// Runs `f` with a connection outside any transaction (each statement
    /// sees what was committed when it started), for reads.
    fn read<T: Send>(
        &self,
        what: &str,
        f: impl Fn(&mut Client) -> Result<T, StoreError> + Sync,
    ) -> Result<T, StoreError> {
        self.on_pool(what, f)
    }
}

impl Drop for PgStore {
    /// Closes the pooled connections on a thread of their own: closing a
    /// client blocks on its runtime, which tokio forbids on its workers (a
    /// store dropped in async code).
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// `host:port/db as user` of a configuration, without its password.
fn describe(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{host}:{port}/{} as {}",
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)")
    )
}

/// Fails with [`StoreError::NotFound`] unless the camera exists.
fn require_camera(
    client: &mut impl postgres::GenericClient,
    camera: &CameraId,
) -> Result<(), StoreError> {
    match client
        .query_opt("select 1 from camera where id = $1", &[&camera.as_str()])
        .context("looking up a camera")?
    {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("camera {camera}"))),
    }
}

/// The `i64` in column `i` of `row`, with the store's error.
fn get<'a, T: postgres::types::FromSql<'a>>(
    row: &'a postgres::Row,
    i: usize,
    what: &str,
) -> Result<T, StoreError> {
    row.try_get(i).context(what)
}
