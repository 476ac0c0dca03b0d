//! [`SqliteStore`]: the [`Store`] on one SQLite file.
//!
//! One connection behind a `std::sync::Mutex`: every call is a few short
//! statements, never held across an `.await`, so async callers may call it
//! directly. Writes run in IMMEDIATE transactions, which take SQLite's write
//! lock up front; a deferred transaction that reads and then writes can fail
//! with SQLITE_BUSY half-way when another process (the CLI) writes too.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde_json::Value;
use tandem_core::{
    CameraId, Mismatch, MismatchKind, Position, Preset, PresetName, PresetNumber, SiteId,
};

use crate::audit::{self, AuditFields, GENESIS_HASH, Verifier};
use crate::error::{Context, StoreError};
use crate::record::{
    AuditRecord, AuditVerification, CameraRecord, Claimed, Journal, MismatchDelta, NewAudit,
    NewOperation, Operation, OperationId, Origin, PresetWrite, SiteProgress, SiteState,
    StoredMismatch, TokenStyle, name_key,
};
use crate::schema;
use crate::{RoleRecord, Store, TokenId, TokenRecord, UserRecord};

/// How long a statement waits for another connection's lock before failing
/// with SQLITE_BUSY (which [`StoreError::is_retryable`] reports).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The source of "now" for rows the store timestamps itself.
type Clock = Box<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The [`Store`] on a SQLite database (a file in WAL mode, or in memory for tests).
pub struct SqliteStore {
    conn: Mutex<Connection>,
    clock: Clock,
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
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    fn setup(mut conn: Connection, path: Option<&Path>) -> Result<Self, StoreError> {
        // First, so that the pragmas below also wait for other connections.
        conn.busy_timeout(BUSY_TIMEOUT)
            .context("setting the busy timeout")?;
        // WAL lets readers (the CLI, a backup) run while tandem writes.
        let mode: String = conn
            .query_row("pragma journal_mode = wal", [], |r| r.get(0))
            .context("switching to WAL mode")?;
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
        schema::migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            clock: Box::new(Utc::now),
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
        (self.clock)().trunc_subsecs(6)
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
}

// ---------------------------------------------------------------------------
// Text and number conversions between rows and domain types.

/// The fixed-width RFC 3339 form of every `_utc` column (see schema/v1.sql).
fn fmt_utc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn parse_utc(text: &str, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?} is not RFC 3339: {e}")))
}

fn parse_json(text: &str, column: &str) -> Result<Value, StoreError> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Corrupt(format!("{column} is not valid JSON: {e}")))
}

fn number_from_row(n: i64, column: &str) -> Result<PresetNumber, StoreError> {
    u32::try_from(n)
        .ok()
        .and_then(|n| PresetNumber::new(n).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("{column} {n} is not a preset number")))
}

fn spelled<T>(text: &str, parse: fn(&str) -> Option<T>, column: &str) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("{column} {text:?} is not known")))
}

fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

fn require_camera(conn: &Connection, camera: &CameraId) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .query_row(
            "select 1 from camera where id = ?1",
            [camera.as_str()],
            |r| r.get(0),
        )
        .optional()
        .context("looking up a camera")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("camera {camera}"))),
    }
}

// ---------------------------------------------------------------------------
// Presets.

const PRESET_COLUMNS: &str = "number, name, pan, tilt, zoom, locked, is_default";

/// A `preset` row as SQLite returns it, before checks.
struct PresetRow {
    number: i64,
    name: String,
    pan: Option<f64>,
    tilt: Option<f64>,
    zoom: Option<f64>,
    locked: bool,
    is_default: bool,
}

impl PresetRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(PresetRow {
            number: r.get(0)?,
            name: r.get(1)?,
            pan: r.get(2)?,
            tilt: r.get(3)?,
            zoom: r.get(4)?,
            locked: r.get(5)?,
            is_default: r.get(6)?,
        })
    }

    fn into_preset(self) -> Result<Preset, StoreError> {
        let number = number_from_row(self.number, "preset.number")?;
        let name = PresetName::new(self.name)
            .map_err(|e| StoreError::Corrupt(format!("preset {number}: {e}")))?;
        let position = match (self.pan, self.tilt, self.zoom) {
            (Some(pan), Some(tilt), Some(zoom)) => Some(Position { pan, tilt, zoom }),
            (None, None, None) => None,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "preset {number} has a partial position"
                )));
            }
        };
        Ok(Preset {
            number,
            name,
            position,
            locked: self.locked,
            is_default: self.is_default,
        })
    }
}

fn check_preset(preset: &Preset) -> Result<(), StoreError> {
    match &preset.position {
        Some(p) => p
            .validate()
            .map_err(|e| StoreError::Invalid(format!("preset {}: {e}", preset.number))),
        None => Ok(()),
    }
}

fn preset_exists(
    tx: &Connection,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<bool, StoreError> {
    tx.query_row(
        "select 1 from preset where camera_id = ?1 and number = ?2",
        params![camera.as_str(), number.get()],
        |_| Ok(()),
    )
    .optional()
    .map(|found| found.is_some())
    .context("looking up a preset")
}

/// Inserts or replaces `preset`. A new default takes the flag from the old one
/// in the same transaction: "one default per camera" is a move, not a conflict.
fn upsert_preset(tx: &Connection, camera: &CameraId, preset: &Preset) -> Result<(), StoreError> {
    check_preset(preset)?;
    if preset.is_default {
        tx.execute(
            "update preset set is_default = 0 \
             where camera_id = ?1 and number <> ?2 and is_default = 1",
            params![camera.as_str(), preset.number.get()],
        )
        .context("clearing the previous default preset")?;
    }
    let (pan, tilt, zoom) = match preset.position {
        Some(p) => (Some(p.pan), Some(p.tilt), Some(p.zoom)),
        None => (None, None, None),
    };
    tx.execute(
        "insert into preset (camera_id, number, name, pan, tilt, zoom, locked, is_default) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         on conflict (camera_id, number) do update set \
           name = excluded.name, pan = excluded.pan, tilt = excluded.tilt, \
           zoom = excluded.zoom, locked = excluded.locked, is_default = excluded.is_default",
        params![
            camera.as_str(),
            preset.number.get(),
            preset.name.as_str(),
            pan,
            tilt,
            zoom,
            preset.locked,
            preset.is_default
        ],
    )
    .context("writing a preset")?;
    Ok(())
}

/// One canonical preset inside a transaction.
fn load_preset(
    tx: &Connection,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<Option<Preset>, StoreError> {
    tx.prepare_cached(&format!(
        "select {PRESET_COLUMNS} from preset where camera_id = ?1 and number = ?2"
    ))
    .and_then(|mut s| {
        s.query_row(params![camera.as_str(), number.get()], PresetRow::read)
            .optional()
    })
    .context("reading a preset")?
    .map(PresetRow::into_preset)
    .transpose()
}

/// The camera's canonical presets inside a transaction, by number.
fn load_presets(tx: &Connection, camera: &CameraId) -> Result<Vec<Preset>, StoreError> {
    let rows: Vec<PresetRow> = tx
        .prepare_cached(&format!(
            "select {PRESET_COLUMNS} from preset where camera_id = ?1 order by number"
        ))
        .and_then(|mut s| s.query_map([camera.as_str()], PresetRow::read)?.collect())
        .context("reading presets")?;
    rows.into_iter().map(PresetRow::into_preset).collect()
}

/// Every number the camera uses anywhere tandem knows of: canonical presets,
/// numbers mapped to a token on some site, and the presets open mismatches
/// report on either side (a preset only one site holds still holds its slot).
fn numbers_in_use(tx: &Connection, camera: &CameraId) -> Result<Vec<PresetNumber>, StoreError> {
    let mut numbers: Vec<i64> = tx
        .prepare_cached(
            "select number from preset where camera_id = ?1 \
             union select number from site_token where camera_id = ?1",
        )
        .and_then(|mut s| s.query_map([camera.as_str()], |r| r.get(0))?.collect())
        .context("reading the numbers in use")?;
    let details: Vec<(String, String)> = tx
        .prepare_cached("select detail, kind from mismatch where camera_id = ?1")
        .and_then(|mut s| {
            s.query_map([camera.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .context("reading open mismatches")?;
    for (detail, kind) in details {
        let m = mismatch_from_row(&detail, &kind)?;
        for side in [&m.primary, &m.secondary].into_iter().flatten() {
            if let Some(n) = side.number {
                numbers.push(i64::from(n.get()));
            }
        }
    }
    numbers
        .into_iter()
        .map(|n| number_from_row(n, "number"))
        .collect()
}

/// Refuses `name` when another preset of the camera (not `except`) has the same name.
fn check_name_free(
    presets: &[Preset],
    camera: &CameraId,
    name: &PresetName,
    except: Option<PresetNumber>,
) -> Result<(), StoreError> {
    let key = name_key(name.as_str());
    match presets
        .iter()
        .find(|p| Some(p.number) != except && name_key(p.name.as_str()) == key)
    {
        Some(taken) => Err(StoreError::Conflict(format!(
            "camera {camera} already has a preset named {:?} (number {}); choose another name",
            taken.name.as_str(),
            taken.number
        ))),
        None => Ok(()),
    }
}

/// Refuses to change a locked preset without the right to.
fn check_unlocked(
    camera: &CameraId,
    preset: &Preset,
    may_change_locked: bool,
) -> Result<(), StoreError> {
    if preset.locked && !may_change_locked {
        return Err(StoreError::Locked(format!(
            "preset {} \"{}\" of camera {camera} is locked; changing it needs the \
             preset.manage_locked permission",
            preset.number,
            preset.name.as_str()
        )));
    }
    Ok(())
}

/// Inserts a new preset; a taken number is a conflict, never a replacement.
fn insert_preset(tx: &Connection, camera: &CameraId, preset: &Preset) -> Result<(), StoreError> {
    if preset_exists(tx, camera, preset.number)? {
        return Err(StoreError::Conflict(format!(
            "camera {camera} already has a preset {}; choose another number or update that preset",
            preset.number
        )));
    }
    upsert_preset(tx, camera, preset)
}

/// Replaces one camera's open mismatches inside a transaction (see
/// [`Store::replace_mismatches`]).
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
            tx.execute(
                "update mismatch set kind = ?3, detail = ?4, last_seen_utc = ?5 \
                     where camera_id = ?1 and key = ?2",
                params![camera.as_str(), key, m.kind.as_str(), detail, now_text],
            )
            .context("updating an open mismatch")?;
            delta.still_open.push(m.clone());
        } else {
            tx.execute(
                "insert into mismatch \
                     (camera_id, key, kind, detail, first_seen_utc, last_seen_utc) \
                     values (?1, ?2, ?3, ?4, ?5, ?5)",
                params![camera.as_str(), key, m.kind.as_str(), detail, now_text],
            )
            .context("saving a new mismatch")?;
            delta.new.push(m.clone());
        }
    }
    for (key, m) in open {
        tx.execute(
            "delete from mismatch where camera_id = ?1 and key = ?2",
            params![camera.as_str(), key],
        )
        .context("removing a resolved mismatch")?;
        delta.gone.push(m);
    }
    delta.gone.sort_by_key(mismatch_order);
    Ok(delta)
}

/// Maps `number` to `token` on a site, replacing any mapping of the same
/// number or the same token: a site may reuse a token for another number
/// (after a reboot, or a delete and re-create), and the newest report wins.
fn put_site_token(
    tx: &Transaction<'_>,
    camera: &CameraId,
    site: &SiteId,
    number: PresetNumber,
    token: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "delete from site_token where camera_id = ?1 and site_id = ?2 \
         and (number = ?3 or token = ?4)",
    )
    .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), number.get(), token]))
    .context("replacing a site token")?;
    tx.prepare_cached(
        "insert into site_token (camera_id, site_id, number, token) values (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), number.get(), token]))
    .context("saving a site token")?;
    Ok(())
}

/// Applies `write` to the canonical presets inside the journal's transaction
/// and says what it found and left.
fn apply_preset_write(
    tx: &Connection,
    camera: &CameraId,
    write: &PresetWrite,
) -> Result<Claimed, StoreError> {
    match write {
        PresetWrite::None => Ok(Claimed::default()),
        PresetWrite::Upsert(preset) => {
            let before = load_preset(tx, camera, preset.number)?;
            upsert_preset(tx, camera, preset)?;
            Ok(Claimed {
                before,
                after: Some(preset.clone()),
            })
        }
        PresetWrite::Renumber { from, preset } => {
            let before = load_preset(tx, camera, *from)?
                .ok_or_else(|| StoreError::NotFound(format!("preset {from} of camera {camera}")))?;
            renumber(tx, camera, *from, preset)?;
            Ok(Claimed {
                before: Some(before),
                after: Some(preset.clone()),
            })
        }
        PresetWrite::Delete(number) => {
            let before = load_preset(tx, camera, *number)?;
            delete_preset(tx, camera, *number)?;
            Ok(Claimed {
                before,
                after: None,
            })
        }
        PresetWrite::Add {
            number,
            name,
            position,
            unique_name,
        } => {
            let presets = load_presets(tx, camera)?;
            if *unique_name {
                check_name_free(&presets, camera, name, None)?;
            }
            let number = match number {
                Some(n) => *n,
                None => {
                    PresetNumber::lowest_free(numbers_in_use(tx, camera)?).ok_or_else(|| {
                        StoreError::Conflict(format!("camera {camera} has no free preset number"))
                    })?
                }
            };
            let preset = Preset {
                number,
                name: name.clone(),
                position: Some(*position),
                locked: false,
                is_default: false,
            };
            insert_preset(tx, camera, &preset)?;
            Ok(Claimed {
                before: None,
                after: Some(preset),
            })
        }
        PresetWrite::Change {
            number,
            name,
            new_number,
            position,
            may_change_locked,
        } => {
            let presets = load_presets(tx, camera)?;
            let before = presets
                .iter()
                .find(|p| p.number == *number)
                .cloned()
                .ok_or_else(|| {
                    StoreError::NotFound(format!("camera {camera} has no preset {number}"))
                })?;
            check_unlocked(camera, &before, *may_change_locked)?;
            if let Some(name) = name {
                check_name_free(&presets, camera, name, Some(*number))?;
            }
            let after = Preset {
                number: new_number.unwrap_or(*number),
                name: name.clone().unwrap_or_else(|| before.name.clone()),
                position: position.or(before.position),
                ..before.clone()
            };
            if after.position.is_none() {
                return Err(StoreError::Invalid(format!(
                    "preset {number} has no known position; give one (or use the current view) \
                     with the change"
                )));
            }
            if after.number == *number {
                upsert_preset(tx, camera, &after)?;
            } else {
                renumber(tx, camera, *number, &after)?;
            }
            Ok(Claimed {
                before: Some(before),
                after: Some(after),
            })
        }
        PresetWrite::Remove {
            number,
            may_change_locked,
        } => {
            let before = load_preset(tx, camera, *number)?.ok_or_else(|| {
                StoreError::NotFound(format!("camera {camera} has no preset {number}"))
            })?;
            check_unlocked(camera, &before, *may_change_locked)?;
            delete_preset(tx, camera, *number)?;
            Ok(Claimed {
                before: Some(before),
                after: None,
            })
        }
    }
}

/// Moves preset `from` to `preset.number` with `preset`'s fields; its site tokens follow.
fn renumber(
    tx: &Connection,
    camera: &CameraId,
    from: PresetNumber,
    preset: &Preset,
) -> Result<(), StoreError> {
    let to = preset.number;
    if !preset_exists(tx, camera, from)? {
        return Err(StoreError::NotFound(format!(
            "preset {from} of camera {camera}"
        )));
    }
    if to == from {
        return upsert_preset(tx, camera, preset);
    }
    if preset_exists(tx, camera, to)? {
        return Err(StoreError::Conflict(format!(
            "camera {camera} already has a preset {to}; choose another number or update that preset"
        )));
    }
    // A token already mapped to the new number denotes some preset on
    // that site; moving `from`'s token there would silently drop it.
    let stale: Option<(String, String)> = tx
        .query_row(
            "select site_id, token from site_token \
             where camera_id = ?1 and number = ?2 order by site_id limit 1",
            params![camera.as_str(), to.get()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .context("looking up site tokens")?;
    if let Some((site, token)) = stale {
        return Err(StoreError::Conflict(format!(
            "site {site} already maps preset number {to} of camera {camera} to \
             token {token:?}; remove that mapping first"
        )));
    }
    tx.execute(
        "delete from preset where camera_id = ?1 and number = ?2",
        params![camera.as_str(), from.get()],
    )
    .context("removing the renumbered preset's old number")?;
    upsert_preset(tx, camera, preset)?;
    tx.execute(
        "update site_token set number = ?3 where camera_id = ?1 and number = ?2",
        params![camera.as_str(), from.get(), to.get()],
    )
    .context("moving site tokens to the new number")?;
    Ok(())
}

/// Deletes a canonical preset. Site tokens stay: each site's removal still
/// needs its token, and the engine forgets it once that site has removed it.
fn delete_preset(
    tx: &Connection,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<(), StoreError> {
    tx.execute(
        "delete from preset where camera_id = ?1 and number = ?2",
        params![camera.as_str(), number.get()],
    )
    .context("deleting a preset")?;
    Ok(())
}

/// An operation names at least one site, each once.
fn check_sites(op: &NewOperation) -> Result<(), StoreError> {
    if op.sites.is_empty() {
        return Err(StoreError::Invalid(
            "an operation needs at least one site".into(),
        ));
    }
    let mut seen = HashSet::new();
    if let Some(dup) = op.sites.iter().find(|s| !seen.insert(*s)) {
        return Err(StoreError::Invalid(format!(
            "site {dup} is listed twice in the operation"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Operations.

const OPERATION_COLUMNS: &str = "id, camera_id, action, origin, actor, created_utc";

/// An `operation` row as SQLite returns it, before checks.
struct OperationRow {
    id: i64,
    camera: String,
    action: String,
    origin: String,
    actor: String,
    created_utc: String,
}

impl OperationRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(OperationRow {
            id: r.get(0)?,
            camera: r.get(1)?,
            action: r.get(2)?,
            origin: r.get(3)?,
            actor: r.get(4)?,
            created_utc: r.get(5)?,
        })
    }
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
        .and_then(|mut s| s.query_map(params, OperationRow::read)?.collect())
        .context("reading operations")?;
    let mut sites = conn
        .prepare_cached(
            "select site_id, state, attempts, error, next_attempt_utc, updated_utc \
             from operation_site where operation_id = ?1 order by ordinal",
        )
        .context("reading operation sites")?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        type SiteRow = (String, String, i64, Option<String>, Option<String>, String);
        let site_rows: Vec<SiteRow> = sites
            .query_map([row.id], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .and_then(|rows| rows.collect())
            .context("reading operation sites")?;
        let mut progress = Vec::with_capacity(site_rows.len());
        for (site, state, attempts, error, next, updated) in site_rows {
            progress.push(SiteProgress {
                site: SiteId(site),
                state: spelled(&state, SiteState::parse, "operation_site.state")?,
                attempts: u32::try_from(attempts).map_err(|_| {
                    StoreError::Corrupt(format!("operation_site.attempts {attempts}"))
                })?,
                error,
                next_attempt_utc: next
                    .map(|t| parse_utc(&t, "operation_site.next_attempt_utc"))
                    .transpose()?,
                updated_utc: parse_utc(&updated, "operation_site.updated_utc")?,
            });
        }
        out.push(Operation {
            id: OperationId(row.id),
            camera: CameraId(row.camera),
            action: parse_json(&row.action, "operation.action")?,
            origin: spelled(&row.origin, Origin::parse, "operation.origin")?,
            actor: row.actor,
            created_utc: parse_utc(&row.created_utc, "operation.created_utc")?,
            sites: progress,
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Mismatches.

fn mismatch_order(m: &Mismatch) -> (Option<PresetNumber>, MismatchKind, String) {
    // The order `tandem_core::diff` returns: number, kind, then key.
    (m.number(), m.kind, m.key())
}

/// Parses a `mismatch` row's detail and checks it against its `kind` column.
fn mismatch_from_row(detail: &str, kind: &str) -> Result<Mismatch, StoreError> {
    let m: Mismatch = serde_json::from_str(detail)
        .map_err(|e| StoreError::Corrupt(format!("mismatch.detail is not a mismatch: {e}")))?;
    if m.kind.as_str() != kind {
        return Err(StoreError::Corrupt(format!(
            "mismatch.kind {kind:?} disagrees with its detail ({})",
            m.kind.as_str()
        )));
    }
    Ok(m)
}

fn mismatch_json(m: &Mismatch) -> Result<String, StoreError> {
    serde_json::to_string(m)
        .map_err(|e| StoreError::Invalid(format!("mismatch cannot be written as JSON: {e}")))
}

// ---------------------------------------------------------------------------
// Audit.

/// Appends `entry` after the newest audit row, inside the caller's transaction.
fn append_audit_tx(
    tx: &Connection,
    at: DateTime<Utc>,
    entry: &NewAudit,
) -> Result<AuditRecord, StoreError> {
    let last: Option<(i64, String)> = tx
        .query_row(
            "select seq, hash from audit order by seq desc limit 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
        .context("reading the newest audit entry")?;
    let (last_seq, prev_hash) = match last {
        Some((seq, hash)) => (
            u64::try_from(seq)
                .map_err(|_| StoreError::Corrupt(format!("audit.seq {seq} is negative")))?,
            hash,
        ),
        None => (0, GENESIS_HASH.to_string()),
    };
    let seq = last_seq + 1;
    let at_utc = fmt_utc(at);
    // `Value`'s Display is serde_json's compact form and cannot fail.
    let before = entry.before.as_ref().map(Value::to_string);
    let after = entry.after.as_ref().map(Value::to_string);
    let camera = entry.camera.as_ref().map(CameraId::as_str);
    let hash = audit::hash(&AuditFields {
        seq,
        at_utc: &at_utc,
        actor: &entry.actor,
        action: &entry.action,
        camera,
        before: before.as_deref(),
        after: after.as_deref(),
        prev_hash: &prev_hash,
    });
    tx.execute(
        "insert into audit (seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            seq as i64,
            at_utc,
            entry.actor,
            entry.action,
            camera,
            before,
            after,
            prev_hash,
            hash
        ],
    )
    .context("appending an audit entry")?;
    Ok(AuditRecord {
        seq,
        at_utc: at,
        actor: entry.actor.clone(),
        action: entry.action.clone(),
        camera: entry.camera.clone(),
        before: entry.before.clone(),
        after: entry.after.clone(),
        prev_hash,
        hash,
    })
}

/// An `audit` row as stored, texts verbatim.
struct AuditRow {
    seq: i64,
    at_utc: String,
    actor: String,
    action: String,
    camera: Option<String>,
    before: Option<String>,
    after: Option<String>,
    prev_hash: String,
    hash: String,
}

const AUDIT_COLUMNS: &str = "seq, at_utc, actor, action, camera_id, before, after, prev_hash, hash";

impl AuditRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(AuditRow {
            seq: r.get(0)?,
            at_utc: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            camera: r.get(4)?,
            before: r.get(5)?,
            after: r.get(6)?,
            prev_hash: r.get(7)?,
            hash: r.get(8)?,
        })
    }

    fn seq(&self) -> Result<u64, StoreError> {
        u64::try_from(self.seq)
            .map_err(|_| StoreError::Corrupt(format!("audit.seq {} is negative", self.seq)))
    }

    fn into_record(self) -> Result<AuditRecord, StoreError> {
        Ok(AuditRecord {
            seq: self.seq()?,
            at_utc: parse_utc(&self.at_utc, "audit.at_utc")?,
            actor: self.actor,
            action: self.action,
            camera: self.camera.map(CameraId),
            before: self
                .before
                .map(|t| parse_json(&t, "audit.before"))
                .transpose()?,
            after: self
                .after
                .map(|t| parse_json(&t, "audit.after"))
                .transpose()?,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

// ---------------------------------------------------------------------------
// Access control: camera groups, roles, users, tokens, sessions.

fn require_user(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .query_row("select 1 from user where name = ?1", [name], |r| r.get(0))
        .optional()
        .context("looking up a user")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("user {name:?}"))),
    }
}

fn require_role(conn: &Connection, name: &str) -> Result<(), StoreError> {
    let found: Option<i64> = conn
        .query_row("select 1 from role where name = ?1", [name], |r| r.get(0))
        .optional()
        .context("looking up a role")?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound(format!("role {name:?}"))),
    }
}

/// Fails with [`StoreError::NotFound`] naming `what` when an UPDATE or
/// DELETE changed no row.
fn changed_one(changed: usize, what: impl FnOnce() -> String) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound(what()))
    } else {
        Ok(())
    }
}

/// A `role` row as SQLite returns it, before checks.
struct RoleRow {
    name: String,
    ptz_priority: i64,
    grants: String,
}

impl RoleRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RoleRow {
            name: r.get(0)?,
            ptz_priority: r.get(1)?,
            grants: r.get(2)?,
        })
    }

    fn into_record(self) -> Result<RoleRecord, StoreError> {
        let ptz_priority = u16::try_from(self.ptz_priority).map_err(|_| {
            StoreError::Corrupt(format!(
                "role {:?}: ptz_priority {} is out of range",
                self.name, self.ptz_priority
            ))
        })?;
        Ok(RoleRecord {
            ptz_priority,
            grants: parse_json(&self.grants, "role.grants")?,
            name: self.name,
        })
    }
}

/// A `user` row as SQLite returns it, before checks; roles come separately.
struct UserRow {
    name: String,
    password_hash: String,
    disabled: bool,
    created_utc: String,
}

const USER_COLUMNS: &str = "name, password_hash, disabled, created_utc";

impl UserRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(UserRow {
            name: r.get(0)?,
            password_hash: r.get(1)?,
            disabled: r.get(2)?,
            created_utc: r.get(3)?,
        })
    }

    fn into_record(self, roles: Vec<String>) -> Result<UserRecord, StoreError> {
        Ok(UserRecord {
            created_utc: parse_utc(&self.created_utc, "user.created_utc")?,
            name: self.name,
            password_hash: self.password_hash,
            disabled: self.disabled,
            roles,
        })
    }
}

/// The user's role names, sorted.
fn user_roles(conn: &Connection, name: &str) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached("select role_name from user_role where user_name = ?1 order by role_name")
        .and_then(|mut s| s.query_map([name], |r| r.get(0))?.collect())
        .context("reading a user's roles")
}

const TOKEN_COLUMNS: &str =
    "id, user_name, token_hash, label, created_utc, revoked_utc, last_used_utc";

/// An `api_token` row as SQLite returns it, before checks.
struct TokenRow {
    id: i64,
    user: String,
    token_hash: String,
    label: String,
    created_utc: String,
    revoked_utc: Option<String>,
    last_used_utc: Option<String>,
}

impl TokenRow {
    fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(TokenRow {
            id: r.get(0)?,
            user: r.get(1)?,
            token_hash: r.get(2)?,
            label: r.get(3)?,
            created_utc: r.get(4)?,
            revoked_utc: r.get(5)?,
            last_used_utc: r.get(6)?,
        })
    }

    fn into_record(self) -> Result<TokenRecord, StoreError> {
        Ok(TokenRecord {
            id: TokenId(self.id),
            user: self.user,
            token_hash: self.token_hash,
            label: self.label,
            created_utc: parse_utc(&self.created_utc, "api_token.created_utc")?,
            revoked_utc: self
                .revoked_utc
                .map(|t| parse_utc(&t, "api_token.revoked_utc"))
                .transpose()?,
            last_used_utc: self
                .last_used_utc
                .map(|t| parse_utc(&t, "api_token.last_used_utc"))
                .transpose()?,
        })
    }
}

// ---------------------------------------------------------------------------

impl Store for SqliteStore {
    fn upsert_camera(&self, camera: &CameraRecord) -> Result<(), StoreError> {
        if !camera.tolerance.is_finite() || camera.tolerance < 0.0 {
            return Err(StoreError::Invalid(format!(
                "camera {}: tolerance {} is not a finite number >= 0",
                camera.id, camera.tolerance
            )));
        }
        self.write("saving a camera", |tx, _| {
            tx.execute(
                "insert into camera (id, name, tolerance) values (?1, ?2, ?3) \
                 on conflict (id) do update set name = excluded.name, tolerance = excluded.tolerance",
                params![camera.id.as_str(), camera.name, camera.tolerance],
            )
            .context("saving a camera")?;
            Ok(())
        })
    }

    fn cameras(&self) -> Result<Vec<CameraRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("select id, name, tolerance from camera order by id")
            .context("reading cameras")?;
        stmt.query_map([], |r| {
            Ok(CameraRecord {
                id: CameraId(r.get(0)?),
                name: r.get(1)?,
                tolerance: r.get(2)?,
            })
        })
        .and_then(|rows| rows.collect())
        .context("reading cameras")
    }

    fn presets(&self, camera: &CameraId) -> Result<Vec<Preset>, StoreError> {
        let conn = self.conn();
        let rows: Vec<PresetRow> = conn
            .prepare_cached(&format!(
                "select {PRESET_COLUMNS} from preset where camera_id = ?1 order by number"
            ))
            .and_then(|mut s| s.query_map([camera.as_str()], PresetRow::read)?.collect())
            .context("reading presets")?;
        rows.into_iter().map(PresetRow::into_preset).collect()
    }

    fn preset(
        &self,
        camera: &CameraId,
        number: PresetNumber,
    ) -> Result<Option<Preset>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            &format!("select {PRESET_COLUMNS} from preset where camera_id = ?1 and number = ?2"),
            params![camera.as_str(), number.get()],
            PresetRow::read,
        )
        .optional()
        .context("reading a preset")?
        .map(PresetRow::into_preset)
        .transpose()
    }

    fn site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<(PresetNumber, String)>, StoreError> {
        let conn = self.conn();
        let rows: Vec<(i64, String)> = conn
            .prepare_cached(
                "select number, token from site_token \
                 where camera_id = ?1 and site_id = ?2 order by number",
            )
            .and_then(|mut s| {
                s.query_map([camera.as_str(), site.as_str()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect()
            })
            .context("reading site tokens")?;
        rows.into_iter()
            .map(|(n, token)| Ok((number_from_row(n, "site_token.number")?, token)))
            .collect()
    }

    fn set_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        token: &str,
    ) -> Result<(), StoreError> {
        self.set_site_tokens(camera, site, &[(number, token.to_string())])
    }

    fn change_stamp(&self) -> Result<(i64, i64), StoreError> {
        // total_changes(): rows written through this connection (the service's
        // only one); data_version: changes when another connection commits.
        let conn = self.conn();
        conn.prepare_cached("select total_changes(), data_version from pragma_data_version")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .context("reading the change stamp")
    }

    fn set_site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
        pairs: &[(PresetNumber, String)],
    ) -> Result<(), StoreError> {
        if pairs.is_empty() {
            return Ok(());
        }
        self.write("saving site tokens", |tx, _| {
            require_camera(tx, camera)?;
            for (number, token) in pairs {
                put_site_token(tx, camera, site, *number, token)?;
            }
            Ok(())
        })
    }

    fn import_presets(
        &self,
        camera: &CameraId,
        site: &SiteId,
        presets: &[(Preset, String)],
        actor: &str,
    ) -> Result<(), StoreError> {
        if presets.is_empty() {
            return Ok(());
        }
        self.write("importing presets", |tx, now| {
            let now_text = fmt_utc(now);
            require_camera(tx, camera)?;
            for (preset, token) in presets {
                let action = serde_json::json!({ "kind": "import", "number": preset.number });
                tx.prepare_cached(
                    "insert into operation (camera_id, action, origin, actor, created_utc) \
                     values (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        camera.as_str(),
                        action.to_string(),
                        Origin::Import.as_str(),
                        actor,
                        now_text
                    ])
                })
                .context("journaling an import")?;
                let id = tx.last_insert_rowid();
                tx.prepare_cached(
                    "insert into operation_site (operation_id, site_id, ordinal, state, \
                     attempts, error, next_attempt_utc, updated_utc) \
                     values (?1, ?2, 0, 'applied', 0, null, null, ?3)",
                )
                .and_then(|mut s| s.execute(params![id, site.as_str(), now_text]))
                .context("journaling an import")?;
                apply_preset_write(tx, camera, &PresetWrite::Upsert(preset.clone()))?;
                let audit = NewAudit {
                    actor: actor.into(),
                    action: "preset.import".into(),
                    camera: Some(camera.clone()),
                    before: None,
                    after: Some(serde_json::to_value(preset).unwrap_or_default()),
                };
                append_audit_tx(tx, now, &audit)?;
                put_site_token(tx, camera, site, preset.number, token)?;
            }
            Ok(())
        })
    }

    fn remove_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError> {
        self.write("removing a site token", |tx, _| {
            tx.execute(
                "delete from site_token where camera_id = ?1 and site_id = ?2 and number = ?3",
                params![camera.as_str(), site.as_str(), number.get()],
            )
            .context("removing a site token")?;
            Ok(())
        })
    }

    fn token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Option<TokenStyle>, StoreError> {
        let conn = self.conn();
        let text: Option<String> = conn
            .query_row(
                "select token_style from binding_state where camera_id = ?1 and site_id = ?2",
                [camera.as_str(), site.as_str()],
                |r| r.get(0),
            )
            .optional()
            .context("reading a token style")?;
        text.map(|t| spelled(&t, TokenStyle::parse, "binding_state.token_style"))
            .transpose()
    }

    fn set_token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
        style: TokenStyle,
    ) -> Result<(), StoreError> {
        self.write("saving a token style", |tx, _| {
            require_camera(tx, camera)?;
            tx.execute(
                "insert into binding_state (camera_id, site_id, token_style) values (?1, ?2, ?3) \
                 on conflict (camera_id, site_id) do update set token_style = excluded.token_style",
                params![camera.as_str(), site.as_str(), style.as_str()],
            )
            .context("saving a token style")?;
            Ok(())
        })
    }

    fn journal_claim(
        &self,
        camera: &CameraId,
        presets: &PresetWrite,
        build: &dyn Fn(&Claimed) -> Result<Journal, StoreError>,
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
            tx.execute(
                "insert into operation (camera_id, action, origin, actor, created_utc) \
                 values (?1, ?2, ?3, ?4, ?5)",
                params![
                    op.camera.as_str(),
                    op.action.to_string(),
                    op.origin.as_str(),
                    op.actor,
                    now_text
                ],
            )
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

    fn try_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.write("taking a lease", |tx, now| {
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
        self.write("releasing a lease", |tx, _| {
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

    fn pending_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .query_row(
                "select count(*) from operation_site where state = 'pending'",
                [],
                |r| r.get(0),
            )
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
                .execute(
                    "update operation_site set state = ?3, attempts = attempts + 1, \
                     error = ?4, next_attempt_utc = ?5, updated_utc = ?6 \
                     where operation_id = ?1 and site_id = ?2",
                    params![
                        id.0,
                        site.as_str(),
                        state.as_str(),
                        error,
                        next.map(fmt_utc),
                        fmt_utc(now)
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
        audit: &dyn Fn(&CameraId, &MismatchDelta) -> NewAudit,
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
                Ok(StoredMismatch {
                    camera: CameraId(camera),
                    mismatch: mismatch_from_row(&detail, &kind)?,
                    first_seen_utc: parse_utc(&first, "mismatch.first_seen_utc")?,
                    last_seen_utc: parse_utc(&last, "mismatch.last_seen_utc")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // The number lives inside the JSON detail, so sort here, not in SQL.
        out.sort_by_cached_key(|s| (s.camera.clone(), mismatch_order(&s.mismatch)));
        Ok(out)
    }

    fn mismatch_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .query_row("select count(*) from mismatch", [], |r| r.get(0))
            .context("counting mismatches")?;
        Ok(n.max(0) as u64)
    }

    fn append_audit(&self, entry: &NewAudit) -> Result<AuditRecord, StoreError> {
        self.write("appending an audit entry", |tx, now| {
            append_audit_tx(tx, now, entry)
        })
    }

    fn audit_entries(&self, after_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<AuditRow> = conn
            .prepare_cached(&format!(
                "select {AUDIT_COLUMNS} from audit where seq > ?1 order by seq limit ?2"
            ))
            .and_then(|mut s| {
                s.query_map(
                    params![
                        i64::try_from(after_seq).unwrap_or(i64::MAX),
                        sql_limit(limit)
                    ],
                    AuditRow::read,
                )?
                .collect()
            })
            .context("reading audit entries")?;
        rows.into_iter().map(AuditRow::into_record).collect()
    }

    fn verify_audit(&self) -> Result<AuditVerification, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("select {AUDIT_COLUMNS} from audit order by seq"))
            .context("reading the audit log")?;
        let mut rows = stmt.query([]).context("reading the audit log")?;
        let mut verifier = Verifier::default();
        // Row by row: the log grows without bound, so it is never loaded whole.
        while let Some(r) = rows.next().context("reading the audit log")? {
            let row = AuditRow::read(r).context("reading the audit log")?;
            verifier.check(
                &AuditFields {
                    seq: row.seq()?,
                    at_utc: &row.at_utc,
                    actor: &row.actor,
                    action: &row.action,
                    camera: row.camera.as_deref(),
                    before: row.before.as_deref(),
                    after: row.after.as_deref(),
                    prev_hash: &row.prev_hash,
                },
                &row.hash,
            );
        }
        Ok(verifier.finish())
    }

    fn set_camera_groups(&self, camera: &CameraId, groups: &[String]) -> Result<(), StoreError> {
        self.write("saving a camera's groups", |tx, _| {
            require_camera(tx, camera)?;
            tx.execute(
                "delete from camera_group where camera_id = ?1",
                [camera.as_str()],
            )
            .context("replacing a camera's groups")?;
            let mut insert = tx
                .prepare_cached(
                    "insert or ignore into camera_group (camera_id, group_name) values (?1, ?2)",
                )
                .context("saving a camera's groups")?;
            for group in groups {
                insert
                    .execute(params![camera.as_str(), group])
                    .context("saving a camera's groups")?;
            }
            Ok(())
        })
    }

    fn camera_groups(&self, camera: &CameraId) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(
            "select group_name from camera_group where camera_id = ?1 order by group_name",
        )
        .and_then(|mut s| s.query_map([camera.as_str()], |r| r.get(0))?.collect())
        .context("reading a camera's groups")
    }

    fn upsert_role(&self, role: &RoleRecord) -> Result<(), StoreError> {
        if role.name.is_empty() {
            return Err(StoreError::Invalid("a role needs a name".into()));
        }
        if !(1..=32_000).contains(&role.ptz_priority) {
            return Err(StoreError::Invalid(format!(
                "role {:?}: PTZ priority {} is outside 1 to 32000",
                role.name, role.ptz_priority
            )));
        }
        if !role.grants.is_array() {
            return Err(StoreError::Invalid(format!(
                "role {:?}: grants must be a JSON array",
                role.name
            )));
        }
        self.write("saving a role", |tx, _| {
            tx.execute(
                "insert into role (name, ptz_priority, grants) values (?1, ?2, ?3) \
                 on conflict (name) do update set \
                   ptz_priority = excluded.ptz_priority, grants = excluded.grants",
                params![role.name, role.ptz_priority, role.grants.to_string()],
            )
            .context("saving a role")?;
            Ok(())
        })
    }

    fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<RoleRow> = conn
            .prepare_cached("select name, ptz_priority, grants from role order by name")
            .and_then(|mut s| s.query_map([], RoleRow::read)?.collect())
            .context("reading roles")?;
        rows.into_iter().map(RoleRow::into_record).collect()
    }

    fn delete_role(&self, name: &str) -> Result<(), StoreError> {
        self.write("deleting a role", |tx, _| {
            // `user_role` rows go with it (on delete cascade).
            let changed = tx
                .execute("delete from role where name = ?1", [name])
                .context("deleting a role")?;
            changed_one(changed, || format!("role {name:?}"))
        })
    }

    fn create_user(&self, name: &str, password_hash: &str) -> Result<UserRecord, StoreError> {
        if name.is_empty() || password_hash.is_empty() {
            return Err(StoreError::Invalid(
                "a user needs a name and a password hash".into(),
            ));
        }
        self.write("creating a user", |tx, now| {
            if require_user(tx, name).is_ok() {
                return Err(StoreError::Conflict(format!(
                    "user {name:?} already exists"
                )));
            }
            tx.execute(
                "insert into user (name, password_hash, disabled, created_utc) \
                 values (?1, ?2, 0, ?3)",
                params![name, password_hash, fmt_utc(now)],
            )
            .context("creating a user")?;
            Ok(UserRecord {
                name: name.to_string(),
                password_hash: password_hash.to_string(),
                disabled: false,
                roles: Vec::new(),
                created_utc: now,
            })
        })
    }

    fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!("select {USER_COLUMNS} from user where name = ?1"),
                [name],
                UserRow::read,
            )
            .optional()
            .context("reading a user")?;
        match row {
            Some(row) => Ok(Some(row.into_record(user_roles(&conn, name)?)?)),
            None => Ok(None),
        }
    }

    fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let conn = self.conn();
        let rows: Vec<UserRow> = conn
            .prepare_cached(&format!("select {USER_COLUMNS} from user order by name"))
            .and_then(|mut s| s.query_map([], UserRow::read)?.collect())
            .context("reading users")?;
        let pairs: Vec<(String, String)> = conn
            .prepare_cached("select user_name, role_name from user_role order by role_name")
            .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .context("reading users' roles")?;
        let mut roles: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (user, role) in pairs {
            roles.entry(user).or_default().push(role);
        }
        rows.into_iter()
            .map(|row| {
                let theirs = roles.remove(&row.name).unwrap_or_default();
                row.into_record(theirs)
            })
            .collect()
    }

    fn user_count(&self) -> Result<u64, StoreError> {
        let conn = self.conn();
        let n: i64 = conn
            .query_row("select count(*) from user", [], |r| r.get(0))
            .context("counting users")?;
        Ok(n.max(0) as u64)
    }

    fn set_user_roles(&self, name: &str, roles: &[String]) -> Result<(), StoreError> {
        self.write("saving a user's roles", |tx, _| {
            require_user(tx, name)?;
            for role in roles {
                require_role(tx, role)?;
            }
            tx.execute("delete from user_role where user_name = ?1", [name])
                .context("replacing a user's roles")?;
            let mut insert = tx
                .prepare_cached(
                    "insert or ignore into user_role (user_name, role_name) values (?1, ?2)",
                )
                .context("saving a user's roles")?;
            for role in roles {
                insert
                    .execute([name, role])
                    .context("saving a user's roles")?;
            }
            Ok(())
        })
    }

    fn set_user_password(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
        if password_hash.is_empty() {
            return Err(StoreError::Invalid("the password hash is empty".into()));
        }
        self.write("changing a password", |tx, _| {
            let changed = tx
                .execute(
                    "update user set password_hash = ?2 where name = ?1",
                    [name, password_hash],
                )
                .context("changing a password")?;
            changed_one(changed, || format!("user {name:?}"))
        })
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<(), StoreError> {
        self.write("disabling or enabling a user", |tx, _| {
            let changed = tx
                .execute(
                    "update user set disabled = ?2 where name = ?1",
                    params![name, disabled],
                )
                .context("disabling or enabling a user")?;
            changed_one(changed, || format!("user {name:?}"))
        })
    }

    fn delete_user(&self, name: &str) -> Result<(), StoreError> {
        self.write("deleting a user", |tx, _| {
            // Roles, tokens and sessions go with it (on delete cascade).
            let changed = tx
                .execute("delete from user where name = ?1", [name])
                .context("deleting a user")?;
            changed_one(changed, || format!("user {name:?}"))
        })
    }

    fn create_token(
        &self,
        user: &str,
        token_hash: &str,
        label: &str,
    ) -> Result<TokenRecord, StoreError> {
        if token_hash.is_empty() {
            return Err(StoreError::Invalid("the token hash is empty".into()));
        }
        self.write("issuing an API token", |tx, now| {
            require_user(tx, user)?;
            tx.execute(
                "insert into api_token (user_name, token_hash, label, created_utc) \
                 values (?1, ?2, ?3, ?4)",
                params![user, token_hash, label, fmt_utc(now)],
            )
            .context("issuing an API token")?;
            Ok(TokenRecord {
                id: TokenId(tx.last_insert_rowid()),
                user: user.to_string(),
                token_hash: token_hash.to_string(),
                label: label.to_string(),
                created_utc: now,
                revoked_utc: None,
                last_used_utc: None,
            })
        })
    }

    fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn();
        conn.query_row(
            &format!(
                "select {TOKEN_COLUMNS} from api_token \
                 where token_hash = ?1 and revoked_utc is null"
            ),
            [token_hash],
            TokenRow::read,
        )
        .optional()
        .context("looking up an API token")?
        .map(TokenRow::into_record)
        .transpose()
    }

    fn touch_token(&self, id: TokenId, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.write("recording an API token's use", |tx, _| {
            let changed = tx
                .execute(
                    "update api_token set last_used_utc = ?2 where id = ?1",
                    params![id.0, fmt_utc(now)],
                )
                .context("recording an API token's use")?;
            changed_one(changed, || format!("API token {id}"))
        })
    }

    fn revoke_token(&self, id: TokenId) -> Result<(), StoreError> {
        self.write("revoking an API token", |tx, now| {
            let changed = tx
                .execute(
                    "update api_token set revoked_utc = coalesce(revoked_utc, ?2) where id = ?1",
                    params![id.0, fmt_utc(now)],
                )
                .context("revoking an API token")?;
            changed_one(changed, || format!("API token {id}"))
        })
    }

    fn tokens(&self, user: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let sql = format!("select {TOKEN_COLUMNS} from api_token");
        let rows: Vec<TokenRow> = match user {
            Some(user) => conn
                .prepare_cached(&format!("{sql} where user_name = ?1 order by id"))
                .and_then(|mut s| s.query_map([user], TokenRow::read)?.collect()),
            None => conn
                .prepare_cached(&format!("{sql} order by id"))
                .and_then(|mut s| s.query_map([], TokenRow::read)?.collect()),
        }
        .context("reading API tokens")?;
        rows.into_iter().map(TokenRow::into_record).collect()
    }

    fn create_session(
        &self,
        id_hash: &str,
        user: &str,
        expires_utc: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if id_hash.is_empty() {
            return Err(StoreError::Invalid("the session id hash is empty".into()));
        }
        self.write("starting a session", |tx, now| {
            require_user(tx, user)?;
            tx.execute(
                "insert into session (id_hash, user_name, created_utc, expires_utc) \
                 values (?1, ?2, ?3, ?4)",
                params![id_hash, user, fmt_utc(now), fmt_utc(expires_utc)],
            )
            .context("starting a session")?;
            Ok(())
        })
    }

    fn session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<Option<String>, StoreError> {
        let conn = self.conn();
        // Text comparison is time comparison: `_utc` texts have a fixed width.
        conn.query_row(
            "select user_name from session where id_hash = ?1 and expires_utc > ?2",
            [id_hash, &fmt_utc(now)],
            |r| r.get(0),
        )
        .optional()
        .context("looking up a session")
    }

    fn session_expires(&self, id_hash: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let conn = self.conn();
        let text: Option<String> = conn
            .query_row(
                "select expires_utc from session where id_hash = ?1",
                [id_hash],
                |r| r.get(0),
            )
            .optional()
            .context("looking up a session's expiry")?;
        text.map(|t| parse_utc(&t, "session.expires_utc"))
            .transpose()
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.write("ending a session", |tx, _| {
            tx.execute("delete from session where id_hash = ?1", [id_hash])
                .context("ending a session")?;
            Ok(())
        })
    }

    fn purge_sessions(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        self.write("purging expired sessions", |tx, _| {
            let n = tx
                .execute(
                    "delete from session where expires_utc <= ?1",
                    [fmt_utc(now)],
                )
                .context("purging expired sessions")?;
            Ok(n as u64)
        })
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
