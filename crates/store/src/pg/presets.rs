//! Cameras, canonical presets, site token maps and token styles:
//! [`PresetStore`] on PostgreSQL.

use chrono::{DateTime, Utc};
use postgres::{GenericClient, IsolationLevel, Row, Transaction};
use tandem_core::{CameraId, Mismatch, Preset, PresetNumber, SiteId};

use super::audit_log::append_audit_tx;
use super::{PgStore, fmt_utc, get, number_from_row, require_camera, spelled};
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

/// A preset number as the `bigint` columns hold it.
fn num(n: PresetNumber) -> i64 {
    i64::from(n.get())
}

/// A `preset` row (columns [`PRESET_COLUMNS`]) as PostgreSQL returns it, before checks.
fn read_preset_row(r: &Row) -> Result<PresetRow, StoreError> {
    const WHAT: &str = "reading a preset";
    Ok(PresetRow {
        number: get(r, 0, WHAT)?,
        name: get(r, 1, WHAT)?,
        pan: get(r, 2, WHAT)?,
        tilt: get(r, 3, WHAT)?,
        zoom: get(r, 4, WHAT)?,
        locked: get::<i64>(r, 5, WHAT)? != 0,
        is_default: get::<i64>(r, 6, WHAT)? != 0,
    })
}

fn preset_exists(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<bool, StoreError> {
    tx.query_opt(
        "select 1 from preset where camera_id = $1 and number = $2",
        &[&camera.as_str(), &num(number)],
    )
    .map(|found| found.is_some())
    .context("looking up a preset")
}

/// Inserts or replaces `preset`. A new default takes the flag from the old one
/// in the same transaction: "one default per camera" is a move, not a conflict.
fn upsert_preset(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    preset: &Preset,
) -> Result<(), StoreError> {
    check_preset(preset)?;
    if preset.is_default {
        tx.execute(
            "update preset set is_default = 0 \
             where camera_id = $1 and number <> $2 and is_default = 1",
            &[&camera.as_str(), &num(preset.number)],
        )
        .context("clearing the previous default preset")?;
    }
    let (pan, tilt, zoom) = match preset.position {
        Some(p) => (Some(p.pan), Some(p.tilt), Some(p.zoom)),
        None => (None, None, None),
    };
    tx.execute(
        "insert into preset (camera_id, number, name, pan, tilt, zoom, locked, is_default) \
         values ($1, $2, $3, $4, $5, $6, $7, $8) \
         on conflict (camera_id, number) do update set \
           name = excluded.name, pan = excluded.pan, tilt = excluded.tilt, \
           zoom = excluded.zoom, locked = excluded.locked, is_default = excluded.is_default",
        &[
            &camera.as_str(),
            &num(preset.number),
            &preset.name.as_str(),
            &pan,
            &tilt,
            &zoom,
            &i64::from(preset.locked),
            &i64::from(preset.is_default),
        ],
    )
    .context("writing a preset")?;
    Ok(())
}

/// One canonical preset, inside a transaction or not.
fn load_preset(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<Option<Preset>, StoreError> {
    tx.query_opt(
        &format!("select {PRESET_COLUMNS} from preset where camera_id = $1 and number = $2"),
        &[&camera.as_str(), &num(number)],
    )
    .context("reading a preset")?
    .map(|r| read_preset_row(&r)?.into_preset())
    .transpose()
}

/// The camera's canonical presets, by number, inside a transaction or not.
fn load_presets(tx: &mut impl GenericClient, camera: &CameraId) -> Result<Vec<Preset>, StoreError> {
    tx.query(
        &format!("select {PRESET_COLUMNS} from preset where camera_id = $1 order by number"),
        &[&camera.as_str()],
    )
    .context("reading presets")?
    .iter()
    .map(|r| read_preset_row(r)?.into_preset())
    .collect()
}

/// Every number the camera uses anywhere tandem knows of: canonical presets,
/// numbers mapped to a token on some site, and the presets open mismatches
/// report on either side (a preset only one site holds still holds its slot).
fn numbers_in_use(
    tx: &mut impl GenericClient,
    camera: &CameraId,
) -> Result<Vec<PresetNumber>, StoreError> {
    let mut numbers: Vec<i64> = tx
        .query(
            "select number from preset where camera_id = $1 \
             union select number from site_token where camera_id = $1",
            &[&camera.as_str()],
        )
        .context("reading the numbers in use")?
        .iter()
        .map(|r| get(r, 0, "reading the numbers in use"))
        .collect::<Result<_, _>>()?;
    numbers.extend(
        mismatch_numbers(&open_mismatches(tx, camera)?)
            .into_iter()
            .map(num),
    );
    numbers
        .into_iter()
        .map(|n| number_from_row(n, "number"))
        .collect()
}

/// The camera's open mismatches, as the last scan recorded them.
fn open_mismatches(
    tx: &mut impl GenericClient,
    camera: &CameraId,
) -> Result<Vec<Mismatch>, StoreError> {
    tx.query(
        "select detail, kind from mismatch where camera_id = $1",
        &[&camera.as_str()],
    )
    .context("reading open mismatches")?
    .iter()
    .map(|r| {
        let detail: String = get(r, 0, "reading open mismatches")?;
        let kind: String = get(r, 1, "reading open mismatches")?;
        mismatch_from_row(&detail, &kind)
    })
    .collect()
}

/// Refuses `number` when a site holds a preset of that number that is not
/// canonical (an open mismatch reports it): writing it would overwrite that
/// site's own preset (DESIGN.md, "Read before write").
fn check_unused_on_sites(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<(), StoreError> {
    if preset_exists(tx, camera, number)? {
        return Ok(()); // The canonical preset's own conflict is reported by the write.
    }
    check_not_in_mismatches(&open_mismatches(tx, camera)?, camera, number)
}

/// Inserts a new preset; a taken number is a conflict, never a replacement.
fn insert_preset(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    preset: &Preset,
) -> Result<(), StoreError> {
    if preset_exists(tx, camera, preset.number)? {
        return Err(preset_taken(camera, preset.number));
    }
    upsert_preset(tx, camera, preset)
}

/// Maps `number` to `token` on a site, replacing any mapping of the same
/// number or the same token: a site may reuse a token for another number
/// (after a reboot, or a delete and re-create), and the newest report wins.
/// SQLite's `insert or replace` deletes exactly the rows that would break the
/// key (camera, site, number) or the unique (camera, site, token);
/// PostgreSQL's `on conflict` handles one constraint only, so the same is two
/// statements here: delete those rows, then insert (always inside the
/// caller's transaction).
fn put_site_token(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    site: &SiteId,
    number: PresetNumber,
    token: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "delete from site_token where camera_id = $1 and site_id = $2 \
         and (number = $3 or token = $4)",
        &[&camera.as_str(), &site.as_str(), &num(number), &token],
    )
    .context("saving a site token")?;
    tx.execute(
        "insert into site_token (camera_id, site_id, number, token) values ($1, $2, $3, $4)",
        &[&camera.as_str(), &site.as_str(), &num(number), &token],
    )
    .context("saving a site token")?;
    Ok(())
}

/// Applies `write` to the canonical presets inside the journal's transaction
/// and says what it found and left.
pub(super) fn apply_preset_write(
    tx: &mut Transaction<'_>,
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
    tx: &mut impl GenericClient,
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
    let stale = tx
        .query_opt(
            "select site_id, token from site_token \
             where camera_id = $1 and number = $2 and token <> $3 \
             order by site_id collate \"C\" limit 1",
            &[&camera.as_str(), &num(to), &to.token()],
        )
        .context("looking up site tokens")?;
    if let Some(r) = stale {
        let site: String = get(&r, 0, "looking up site tokens")?;
        let token: String = get(&r, 1, "looking up site tokens")?;
        return Err(StoreError::Conflict(format!(
            "site {site} already maps preset number {to} of camera {camera} to \
             token {token:?}; remove that mapping first"
        )));
    }
    tx.execute(
        "delete from preset where camera_id = $1 and number = $2",
        &[&camera.as_str(), &num(from)],
    )
    .context("removing the renumbered preset's old number")?;
    upsert_preset(tx, camera, preset)?;
    // An opaque token follows its preset to the new number. A numeric slot
    // does not: the site's old slot stays mapped to the old number until that
    // site has stored the new slot and removed the old one.
    tx.execute(
        "update site_token set number = $3 where camera_id = $1 and number = $2 \
         and token <> $4 and site_id not in (select site_id from binding_state \
         where camera_id = $1 and token_style = 'numeric')",
        &[&camera.as_str(), &num(from), &num(to), &from.token()],
    )
    .context("moving site tokens to the new number")?;
    Ok(())
}

/// Deletes a canonical preset. Site tokens stay: each site's removal still
/// needs its token, and the engine forgets it once that site has removed it.
fn delete_preset(
    tx: &mut impl GenericClient,
    camera: &CameraId,
    number: PresetNumber,
) -> Result<(), StoreError> {
    tx.execute(
        "delete from preset where camera_id = $1 and number = $2",
        &[&camera.as_str(), &num(number)],
    )
    .context("deleting a preset")?;
    Ok(())
}

impl PresetStore for PgStore {
    fn upsert_camera(&self, camera: &CameraRecord) -> Result<(), StoreError> {
        check_camera(camera)?;
        self.write("saving a camera", |tx, _| {
            tx.execute(
                "insert into camera (id, name, tolerance) values ($1, $2, $3) \
                 on conflict (id) do update set name = excluded.name, tolerance = excluded.tolerance",
                &[&camera.id.as_str(), &camera.name, &camera.tolerance],
            )
            .context("saving a camera")?;
            Ok(())
        })
    }

    fn cameras(&self) -> Result<Vec<CameraRecord>, StoreError> {
        self.read("reading cameras", |client| {
            client
                // Ids sort as SQLite sorts them, byte by byte (`collate "C"`).
                .query(
                    "select id, name, tolerance from camera order by id collate \"C\"",
                    &[],
                )
                .context("reading cameras")?
                .iter()
                .map(|r| {
                    Ok(CameraRecord {
                        id: CameraId(get(r, 0, "reading cameras")?),
                        name: get(r, 1, "reading cameras")?,
                        tolerance: get(r, 2, "reading cameras")?,
                    })
                })
                .collect()
        })
    }

    fn presets(&self, camera: &CameraId) -> Result<Vec<Preset>, StoreError> {
        self.read("reading presets", |client| load_presets(client, camera))
    }

    fn camera_view(&self, camera: &CameraId, sites: &[SiteId]) -> Result<CameraView, StoreError> {
        self.read("reading a camera", |client| {
            // One snapshot for every statement (REPEATABLE READ), taking no
            // lock: a read whose parts agree, as SQLite's deferred transaction.
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .context("starting a read")?;
            let presets = load_presets(&mut tx, camera)?;
            let sites = sites
                .iter()
                .map(|site| {
                    Ok((
                        read_token_style(&mut tx, camera, site)?,
                        read_site_tokens(&mut tx, camera, site)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?;
            tx.commit().context("ending a read")?;
            Ok(CameraView { presets, sites })
        })
    }

    fn preset(
        &self,
        camera: &CameraId,
        number: PresetNumber,
    ) -> Result<Option<Preset>, StoreError> {
        self.read("reading a preset", |client| {
            load_preset(client, camera, number)
        })
    }

    fn site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<(PresetNumber, String)>, StoreError> {
        self.read("reading site tokens", |client| {
            read_site_tokens(client, camera, site)
        })
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

    /// On PostgreSQL: the current snapshot's `xmax` (one past the newest
    /// finished transaction id) and how many transactions below it are still
    /// running. Any transaction that wrote, in any process, is finished
    /// (committed or not) exactly when its id has left that running set: with
    /// `xmax` unchanged no new id can enter it, so it only shrinks, and the
    /// count changes with it. Transactions that write nothing take no id and
    /// change nothing; other databases of the cluster share the ids and may
    /// change the stamp without need, which costs a reread, never a stale one.
    fn change_stamp(&self) -> Result<(i64, i64), StoreError> {
        self.read("reading the change stamp", |client| {
            let r = client
                .query_one(
                    "select pg_snapshot_xmax(s)::text::bigint, \
                     (select count(*) from pg_snapshot_xip(s)) \
                     from pg_current_snapshot() s",
                    &[],
                )
                .context("reading the change stamp")?;
            Ok((
                get(&r, 0, "reading the change stamp")?,
                get(&r, 1, "reading the change stamp")?,
            ))
        })
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
        // Without waiting for the disk, as imports: what a scan adopted it
        // adopts again if a crash loses it, and any durable commit after it
        // (an operation that relies on it) writes it out first.
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
        // Without waiting for the disk: an import records what a site
        // already holds, and one lost to a crash is found again by the next
        // scan (the camera still has no canonical preset then). The next
        // durable commit writes it out; nothing durable can come before it
        // in the log.
        self.write_volatile("importing presets", |tx, now| {
            let now_text = fmt_utc(now);
            require_camera(tx, camera)?;
            // Decided in the transaction: an import racing an operator's add
            // (or another import) must not replace what was claimed meanwhile.
            let known: bool = tx
                .query_one(
                    "select exists (select 1 from preset where camera_id = $1)",
                    &[&camera.as_str()],
                )
                .context("checking for canonical presets")
                .and_then(|r| get(&r, 0, "checking for canonical presets"))?;
            if known {
                return Ok(());
            }
            // One operation and one audit entry for the camera, not one per
            // preset: they say what was taken over, and a first scan of
            // thousands of cameras stays one statement per preset and token.
            let action = import_action(presets);
            let id: i64 = tx
                .query_one(
                    "insert into operation (camera_id, action, origin, actor, created_utc) \
                     values ($1, $2, $3, $4, $5) returning id",
                    &[
                        &camera.as_str(),
                        &action.to_string(),
                        &Origin::Import.as_str(),
                        &actor,
                        &now_text,
                    ],
                )
                .context("journaling an import")
                .and_then(|r| get(&r, 0, "journaling an import"))?;
            tx.execute(
                "insert into operation_site (operation_id, site_id, ordinal, state, \
                 attempts, error, next_attempt_utc, updated_utc) \
                 values ($1, $2, 0, 'applied', 0, null, null, $3)",
                &[&id, &site.as_str(), &now_text],
            )
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
            tx.execute(
                "delete from site_token where camera_id = $1 and site_id = $2 and number = $3",
                &[&camera.as_str(), &site.as_str(), &num(number)],
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
        self.read("reading a token style", |client| {
            read_token_style(client, camera, site)
        })
    }

    fn put_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        jpeg: &[u8],
        taken: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        // Without waiting for the disk: a picture lost to a crash is taken
        // again by the preset's next write, and the operation's own durable
        // commit follows it.
        self.write_volatile("keeping a preset's picture", |tx, _| {
            require_camera(tx, camera)?;
            tx.execute(
                "insert into preset_picture (camera_id, site_id, number, jpeg, taken_utc) \
                 values ($1, $2, $3, $4, $5) \
                 on conflict (camera_id, site_id, number) do update set \
                   jpeg = excluded.jpeg, taken_utc = excluded.taken_utc",
                &[
                    &camera.as_str(),
                    &site.as_str(),
                    &num(number),
                    &jpeg,
                    &fmt_utc(taken),
                ],
            )
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
        self.read("reading a preset's picture", |client| {
            let Some(r) = client
                .query_opt(
                    "select jpeg, taken_utc from preset_picture \
                     where camera_id = $1 and site_id = $2 and number = $3",
                    &[&camera.as_str(), &site.as_str(), &num(number)],
                )
                .context("reading a preset's picture")?
            else {
                return Ok(None);
            };
            let jpeg: Vec<u8> = get(&r, 0, "reading a preset's picture")?;
            let taken: String = get(&r, 1, "reading a preset's picture")?;
            picture_from_row(jpeg, &taken).map(Some)
        })
    }

    fn remove_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError> {
        self.write_volatile("forgetting a preset's picture", |tx, _| {
            tx.execute(
                "delete from preset_picture where camera_id = $1 and site_id = $2 and number = $3",
                &[&camera.as_str(), &site.as_str(), &num(number)],
            )
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
            tx.execute(
                "insert into binding_state (camera_id, site_id, token_style) values ($1, $2, $3) \
                 on conflict (camera_id, site_id) do update set token_style = excluded.token_style",
                &[&camera.as_str(), &site.as_str(), &style.as_str()],
            )
            .context("saving a token style")?;
            Ok(())
        })
    }
}

/// The site's number-to-token map for the camera, sorted by number.
fn read_site_tokens(
    client: &mut impl GenericClient,
    camera: &CameraId,
    site: &SiteId,
) -> Result<Vec<(PresetNumber, String)>, StoreError> {
    client
        .query(
            "select number, token from site_token \
             where camera_id = $1 and site_id = $2 order by number",
            &[&camera.as_str(), &site.as_str()],
        )
        .context("reading site tokens")?
        .iter()
        .map(|r| {
            let n: i64 = get(r, 0, "reading site tokens")?;
            Ok((
                number_from_row(n, "site_token.number")?,
                get(r, 1, "reading site tokens")?,
            ))
        })
        .collect()
}

/// How the site names the camera's presets, once learned.
fn read_token_style(
    client: &mut impl GenericClient,
    camera: &CameraId,
    site: &SiteId,
) -> Result<Option<TokenStyle>, StoreError> {
    // No row, or a row that knows the device's clock but not yet this.
    let text: Option<String> = client
        .query_opt(
            "select token_style from binding_state where camera_id = $1 and site_id = $2",
            &[&camera.as_str(), &site.as_str()],
        )
        .context("reading a token style")?
        .map(|r| get::<Option<String>>(&r, 0, "reading a token style"))
        .transpose()?
        .flatten();
    text.map(|t| spelled(&t, TokenStyle::parse, "binding_state.token_style"))
        .transpose()
}
