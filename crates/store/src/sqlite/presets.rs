//! Cameras, canonical presets, site token maps and token styles: [`PresetStore`] on SQLite.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};
use tandem_core::{CameraId, Mismatch, Preset, PresetNumber, SiteId};

use super::audit_log::append_audit_tx;
use super::{SqliteStore, fmt_utc, number_from_row, require_camera, spelled};
use crate::error::{Context, StoreError};
use crate::mismatches::mismatch_from_row;
use crate::presets::{
    CameraView, PresetPicture, PresetRow, PresetStore, changed_preset, check_camera,
    check_not_in_mismatches, check_not_reserved, check_preset, import_action, import_audit,
    lowest_free_number, mismatch_numbers, picture_from_row, preset_taken,
};
use crate::record::{
    CameraRecord, Claimed, Origin, PresetWrite, TokenStyle, check_name_free, check_unlocked,
};

const PRESET_COLUMNS: &str = "number, name, pan, tilt, zoom, locked, is_default";

/// A `preset` row as SQLite returns it, before checks.
fn read_preset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PresetRow> {
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

fn preset_exists(
    tx: &Connection,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<bool, StoreError> {
    tx.prepare_cached("select 1 from preset where camera_id = ?1 and number = ?2")
        .and_then(|mut s| s.query_row(params![camera.as_str(), number.get()], |_| Ok(())))
        .optional()
        .map(|found| found.is_some())
        .context("looking up a preset")
}

/// Inserts or replaces `preset`. A new default takes the flag from the old one
/// in the same transaction: "one default per camera" is a move, not a conflict.
fn upsert_preset(tx: &Connection, camera: &CameraId, preset: &Preset) -> Result<(), StoreError> {
    check_preset(preset)?;
    if preset.is_default {
        tx.prepare_cached(
            "update preset set is_default = 0 \
             where camera_id = ?1 and number <> ?2 and is_default = 1",
        )
        .and_then(|mut s| s.execute(params![camera.as_str(), preset.number.get()]))
        .context("clearing the previous default preset")?;
    }
    let (pan, tilt, zoom) = match preset.position {
        Some(p) => (Some(p.pan), Some(p.tilt), Some(p.zoom)),
        None => (None, None, None),
    };
    tx.prepare_cached(
        "insert into preset (camera_id, number, name, pan, tilt, zoom, locked, is_default) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
         on conflict (camera_id, number) do update set \
           name = excluded.name, pan = excluded.pan, tilt = excluded.tilt, \
           zoom = excluded.zoom, locked = excluded.locked, is_default = excluded.is_default",
    )
    .and_then(|mut s| {
        s.execute(params![
            camera.as_str(),
            preset.number.get(),
            preset.name.as_str(),
            pan,
            tilt,
            zoom,
            preset.locked,
            preset.is_default
        ])
    })
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
        s.query_row(params![camera.as_str(), number.get()], read_preset_row)
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
        .and_then(|mut s| s.query_map([camera.as_str()], read_preset_row)?.collect())
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
    numbers.extend(
        mismatch_numbers(&open_mismatches(tx, camera)?)
            .into_iter()
            .map(|n| i64::from(n.get())),
    );
    numbers
        .into_iter()
        .map(|n| number_from_row(n, "number"))
        .collect()
}

/// The camera's open mismatches, as the last scan recorded them.
fn open_mismatches(tx: &Connection, camera: &CameraId) -> Result<Vec<Mismatch>, StoreError> {
    let details: Vec<(String, String)> = tx
        .prepare_cached("select detail, kind from mismatch where camera_id = ?1")
        .and_then(|mut s| {
            s.query_map([camera.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .context("reading open mismatches")?;
    details
        .iter()
        .map(|(detail, kind)| mismatch_from_row(detail, kind))
        .collect()
}

/// Refuses `number` when a site holds a preset of that number that is not
/// canonical (an open mismatch reports it): writing it would overwrite that
/// site's own preset (DESIGN.md, "Read before write").
fn check_unused_on_sites(
    tx: &Connection,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<(), StoreError> {
    if preset_exists(tx, camera, number)? {
        return Ok(()); // The canonical preset's own conflict is reported by the write.
    }
    check_not_in_mismatches(&open_mismatches(tx, camera)?, camera, number)
}

/// Inserts a new preset; a taken number is a conflict, never a replacement.
fn insert_preset(tx: &Connection, camera: &CameraId, preset: &Preset) -> Result<(), StoreError> {
    if preset_exists(tx, camera, preset.number)? {
        return Err(preset_taken(camera, preset.number));
    }
    upsert_preset(tx, camera, preset)
}

/// Maps `number` to `token` on a site, replacing any mapping of the same
/// number or the same token: a site may reuse a token for another number
/// (after a reboot, or a delete and re-create), and the newest report wins.
/// One statement: `insert or replace` deletes exactly the rows that would
/// break the key (camera, site, number) or the unique (camera, site, token).
fn put_site_token(
    tx: &Connection,
    camera: &CameraId,
    site: &SiteId,
    number: PresetNumber,
    token: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "insert or replace into site_token (camera_id, site_id, number, token) \
         values (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), number.get(), token]))
    .context("saving a site token")?;
    Ok(())
}

/// Applies `write` to the canonical presets inside the journal's transaction
/// and says what it found and left.
pub(super) fn apply_preset_write(
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
            reserved,
        } => {
            let presets = load_presets(tx, camera)?;
            if *unique_name {
                check_name_free(&presets, camera, name, None)?;
            }
            let number = match number {
                Some(n) => {
                    check_not_reserved(camera, *n, reserved)?;
                    check_unused_on_sites(tx, camera, *n)?;
                    *n
                }
                None => lowest_free_number(camera, numbers_in_use(tx, camera)?, reserved)?,
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
            let after = changed_preset(&before, name.as_ref(), *new_number, *position)?;
            if after.number == *number {
                upsert_preset(tx, camera, &after)?;
            } else {
                check_unused_on_sites(tx, camera, after.number)?;
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
        return Err(preset_taken(camera, to));
    }
    // A token already mapped to the new number denotes some preset on
    // that site; moving `from`'s token there would silently drop it. (The
    // new number's own numeric slot is that number's place anyway.)
    let stale: Option<(String, String)> = tx
        .prepare_cached(
            "select site_id, token from site_token \
             where camera_id = ?1 and number = ?2 and token <> ?3 order by site_id limit 1",
        )
        .and_then(|mut s| {
            s.query_row(params![camera.as_str(), to.get(), to.token()], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .optional()
        .context("looking up site tokens")?;
    if let Some((site, token)) = stale {
        return Err(StoreError::Conflict(format!(
            "site {site} already maps preset number {to} of camera {camera} to \
             token {token:?}; remove that mapping first"
        )));
    }
    tx.prepare_cached("delete from preset where camera_id = ?1 and number = ?2")
        .and_then(|mut s| s.execute(params![camera.as_str(), from.get()]))
        .context("removing the renumbered preset's old number")?;
    upsert_preset(tx, camera, preset)?;
    // An opaque token follows its preset to the new number. A numeric slot
    // does not: the site's old slot stays mapped to the old number until that
    // site has stored the new slot and removed the old one.
    tx.prepare_cached(
        "update site_token set number = ?3 where camera_id = ?1 and number = ?2 \
         and token <> ?4 and site_id not in (select site_id from binding_state \
         where camera_id = ?1 and token_style = 'numeric')",
    )
    .and_then(|mut s| s.execute(params![camera.as_str(), from.get(), to.get(), from.token()]))
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
    tx.prepare_cached("delete from preset where camera_id = ?1 and number = ?2")
        .and_then(|mut s| s.execute(params![camera.as_str(), number.get()]))
        .context("deleting a preset")?;
    Ok(())
}

impl PresetStore for SqliteStore {
    fn upsert_camera(&self, camera: &CameraRecord) -> Result<(), StoreError> {
        check_camera(camera)?;
        self.write("saving a camera", |tx, _| {
            tx.prepare_cached("insert into camera (id, name, tolerance) values (?1, ?2, ?3) \
                 on conflict (id) do update set name = excluded.name, tolerance = excluded.tolerance")
.and_then(|mut s| s.execute(params![camera.id.as_str(), camera.name, camera.tolerance]))
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
        load_presets(&self.conn(), camera)
    }

    fn camera_view(&self, camera: &CameraId, sites: &[SiteId]) -> Result<CameraView, StoreError> {
        let mut conn = self.conn();
        // Deferred: a read that sees one snapshot, taking no write lock.
        let tx = conn.transaction().context("starting a read")?;
        let presets = load_presets(&tx, camera)?;
        let sites = sites
            .iter()
            .map(|site| {
                Ok((
                    read_token_style(&tx, camera, site)?,
                    read_site_tokens(&tx, camera, site)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        tx.commit().context("ending a read")?;
        Ok(CameraView { presets, sites })
    }

    fn preset(
        &self,
        camera: &CameraId,
        number: PresetNumber,
    ) -> Result<Option<Preset>, StoreError> {
        let conn = self.conn();
        conn.prepare_cached(&format!(
            "select {PRESET_COLUMNS} from preset where camera_id = ?1 and number = ?2"
        ))
        .and_then(|mut s| s.query_row(params![camera.as_str(), number.get()], read_preset_row))
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
        read_site_tokens(&self.conn(), camera, site)
    }

    fn set_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        token: &str,
    ) -> Result<(), StoreError> {
        // Durable: the token of a preset tandem has just written to a device.
        self.write("saving a site token", |tx, _| {
            require_camera(tx, camera)?;
            put_site_token(tx, camera, site, number, token)
        })
    }

    fn change_stamp(&self) -> Result<(i64, i64), StoreError> {
        // total_changes(): rows written through this connection (the service's
        // only one), less those of volatile writes; data_version: changes
        // when another connection commits.
        let conn = self.conn();
        let (total, version): (i64, i64) = conn
            .prepare_cached("select total_changes(), data_version from pragma_data_version")
            .and_then(|mut s| s.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
            .context("reading the change stamp")?;
        let volatile = self
            .volatile_changes
            .load(std::sync::atomic::Ordering::Relaxed);
        Ok((total.wrapping_sub(volatile as i64), version))
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
        // Without an fsync of its own, as imports: what a scan adopted it
        // adopts again if a power cut loses it, and any durable commit after
        // it (an operation that relies on it) writes it out first.
        self.write_volatile("saving site tokens", |tx, _| {
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
        // Without an fsync of its own: an import records what a site
        // already holds, and one lost to a power cut is found again by the
        // next scan (the camera still has no canonical preset then). The
        // next durable commit writes it out; nothing durable can come
        // before it in the log.
        self.write_volatile("importing presets", |tx, now| {
            let now_text = fmt_utc(now);
            require_camera(tx, camera)?;
            // Decided in the transaction: an import racing an operator's add
            // (or another import) must not replace what was claimed meanwhile.
            let known: bool = tx
                .prepare_cached("select exists (select 1 from preset where camera_id = ?1)")
                .and_then(|mut s| s.query_row([camera.as_str()], |r| r.get(0)))
                .context("checking for canonical presets")?;
            if known {
                return Ok(());
            }
            // One operation and one audit entry for the camera, not one per
            // preset: they say what was taken over, and a first scan of
            // thousands of cameras stays one statement per preset and token.
            let action = import_action(presets);
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
            for (preset, token) in presets {
                upsert_preset(tx, camera, preset)?;
                put_site_token(tx, camera, site, preset.number, token)?;
            }
            append_audit_tx(tx, now, &import_audit(camera, actor, presets))?;
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
            tx.prepare_cached(
                "delete from site_token where camera_id = ?1 and site_id = ?2 and number = ?3",
            )
            .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), number.get()]))
            .context("removing a site token")?;
            Ok(())
        })
    }

    fn token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Option<TokenStyle>, StoreError> {
        read_token_style(&self.conn(), camera, site)
    }

    fn put_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        jpeg: &[u8],
        taken: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Without an fsync of its own: a picture lost to a power cut is taken
        // again by the preset's next write, and the operation's own durable
        // commit follows it.
        self.write_volatile("keeping a preset's picture", |tx, _| {
            require_camera(tx, camera)?;
            tx.prepare_cached(
                "insert or replace into preset_picture (camera_id, site_id, number, jpeg, taken_utc) \
                 values (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    camera.as_str(),
                    site.as_str(),
                    number.get(),
                    jpeg,
                    fmt_utc(taken)
                ])
            })
            .context("keeping a preset's picture")?;
            Ok(())
        })
    }

    fn preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<Option<PresetPicture>, StoreError> {
        let row: Option<(Vec<u8>, String)> = self
            .conn()
            .prepare_cached(
                "select jpeg, taken_utc from preset_picture \
                 where camera_id = ?1 and site_id = ?2 and number = ?3",
            )
            .and_then(|mut s| {
                s.query_row(params![camera.as_str(), site.as_str(), number.get()], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()
            })
            .context("reading a preset's picture")?;
        row.map(|(jpeg, taken)| picture_from_row(jpeg, &taken))
            .transpose()
    }

    fn remove_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError> {
        self.write_volatile("forgetting a preset's picture", |tx, _| {
            tx.prepare_cached(
                "delete from preset_picture where camera_id = ?1 and site_id = ?2 and number = ?3",
            )
            .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), number.get()]))
            .context("forgetting a preset's picture")?;
            Ok(())
        })
    }

    fn set_token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
        style: TokenStyle,
    ) -> Result<(), StoreError> {
        self.write("saving a token style", |tx, _| {
            require_camera(tx, camera)?;
            tx.prepare_cached(
                "insert into binding_state (camera_id, site_id, token_style) values (?1, ?2, ?3) \
                 on conflict (camera_id, site_id) do update set token_style = excluded.token_style",
            )
            .and_then(|mut s| s.execute(params![camera.as_str(), site.as_str(), style.as_str()]))
            .context("saving a token style")?;
            Ok(())
        })
    }
}

/// The site's number-to-token map for the camera, sorted by number.
fn read_site_tokens(
    conn: &Connection,
    camera: &CameraId,
    site: &SiteId,
) -> Result<Vec<(PresetNumber, String)>, StoreError> {
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

/// How the site names the camera's presets, once learned.
fn read_token_style(
    conn: &Connection,
    camera: &CameraId,
    site: &SiteId,
) -> Result<Option<TokenStyle>, StoreError> {
    // No row, or a row that knows the device's clock but not yet this.
    let text: Option<String> = conn
        .prepare_cached(
            "select token_style from binding_state where camera_id = ?1 and site_id = ?2",
        )
        .and_then(|mut s| {
            s.query_row([camera.as_str(), site.as_str()], |r| {
                r.get::<_, Option<String>>(0)
            })
            .optional()
        })
        .context("reading a token style")?
        .flatten();
    text.map(|t| spelled(&t, TokenStyle::parse, "binding_state.token_style"))
        .transpose()
}
