//! The store alone, in one process, on a database file as `tandem serve`
//! opens it: a first scan's import (each camera's 64 presets taken as
//! canonical, journaled, audited and mapped to the site's tokens) and a
//! repeat scan's read of one camera (its presets and both sites' tokens).
//! No ONVIF, no HTTP: what the store adds to a scan.

use std::hint::black_box;
use std::time::Instant;

use tandem_core::{CameraId, Position, Preset, PresetName, PresetNumber, SiteId};
use tandem_store::prelude::*;
use tandem_store::{CameraRecord, SqliteStore};

use super::PartFuture;
use crate::Scale;
use crate::report::{Row, Verdict};
use crate::rig;

/// Target: a first scan imports at least this many presets per second.
const TARGET_IMPORT_PER_S: f64 = 200_000.0;
/// Presets per camera.
const PRESETS: u32 = 64;

/// Runs the benchmark.
pub fn run(scale: Scale) -> PartFuture {
    Box::pin(async move { measure(scale) })
}

/// Camera `i`'s presets as a site reports them, with that site's tokens.
fn found(i: usize) -> anyhow::Result<Vec<(Preset, String)>> {
    (1..=PRESETS)
        .map(|n| {
            let f = f64::from(n) + i as f64;
            Ok((
                Preset {
                    number: PresetNumber::new(n)?,
                    name: PresetName::new(format!("Gate {n} — north approach"))?,
                    position: Some(Position {
                        pan: (f * 0.0311).sin(),
                        tilt: (f * 0.017).cos() * 0.8,
                        zoom: f64::from(n) / f64::from(PRESETS),
                    }),
                    locked: false,
                    is_default: false,
                },
                format!("tok-{n}"),
            ))
        })
        .collect()
}

fn measure(scale: Scale) -> anyhow::Result<Vec<Row>> {
    let dir = rig::scratch("store")?;
    let store = SqliteStore::open(dir.join("tandem.db"))?;
    let cameras = scale.scan_cameras;
    let ids: Vec<CameraId> = (0..cameras)
        .map(|i| CameraId::from(format!("cam-{i}").as_str()))
        .collect();
    for id in &ids {
        store.upsert_camera(&CameraRecord {
            id: id.clone(),
            name: format!("Camera {id}"),
            tolerance: 0.001,
        })?;
    }
    let batches = (0..cameras)
        .map(found)
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (primary, secondary) = (SiteId::from("primary"), SiteId::from("secondary"));

    let started = Instant::now();
    for (id, presets) in ids.iter().zip(&batches) {
        store.import_presets(id, &primary, presets, "tandem")?;
    }
    let import = started.elapsed().as_secs_f64();
    // The secondary's tokens, as a first scan adopts them.
    for (id, presets) in ids.iter().zip(&batches) {
        let pairs: Vec<(PresetNumber, String)> =
            presets.iter().map(|(p, t)| (p.number, t.clone())).collect();
        store.set_site_tokens(id, &secondary, &pairs)?;
    }
    let imported = cameras * PRESETS as usize;
    anyhow::ensure!(
        store.presets(&ids[cameras - 1])?.len() == PRESETS as usize,
        "the last camera's presets were not imported"
    );
    let per_s = imported as f64 / import;

    let sites = [primary, secondary];
    let started = Instant::now();
    for id in &ids {
        let view = store.camera_view(black_box(id), &sites)?;
        black_box(view);
    }
    let view_us = started.elapsed().as_secs_f64() * 1e6 / cameras as f64;

    Ok(vec![
        Row::new(
            "first-scan import into the store",
            format!("{:.0}k presets/s", per_s / 1000.0),
            format!("≥ {:.0}k presets/s", TARGET_IMPORT_PER_S / 1000.0),
            Verdict::target(per_s >= TARGET_IMPORT_PER_S),
            format!(
                "{imported} presets ({cameras} cameras × {PRESETS}) in {import:.2} s: per camera one \
                 transaction with its operation, audit entry, presets and tokens, on a database file"
            ),
        ),
        Row::new(
            "a scan's read of one camera from the store",
            format!("{view_us:.1} µs"),
            "-",
            Verdict::Info,
            format!("its {PRESETS} canonical presets and both sites' tokens, {cameras} cameras"),
        ),
    ])
}
