//! Seeding preset tables: a standard set per camera, deliberate differences
//! between sites (one of every mismatch kind), or presets from a TOML file.

use std::path::Path;

use serde::Deserialize;

use crate::quirks::TokenStyle;
use crate::world::Site;

/// One preset to put on one or more sites and cameras.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPreset {
    /// 1-based site; absent for every site.
    pub site: Option<usize>,
    /// 1-based camera; absent for every camera.
    pub camera: Option<usize>,
    /// Preset number: the token on numeric-token sites; ignored on GUID sites,
    /// which choose their own tokens.
    pub number: u32,
    /// The name, if any.
    pub name: Option<String>,
    /// Pan in [-1, 1].
    pub pan: f64,
    /// Tilt in [-1, 1].
    pub tilt: f64,
    /// Zoom in [0, 1].
    pub zoom: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    #[serde(default)]
    preset: Vec<SeedPreset>,
}

/// Reads `[[preset]]` tables from a TOML file.
pub fn load(path: &Path) -> anyhow::Result<Vec<SeedPreset>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read seed file {}: {e}", path.display()))?;
    let file: SeedFile =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))?;
    for p in &file.preset {
        let ok = (-1.0..=1.0).contains(&p.pan)
            && (-1.0..=1.0).contains(&p.tilt)
            && (0.0..=1.0).contains(&p.zoom);
        if !ok || p.number == 0 {
            anyhow::bail!(
                "seed file {}: preset {} has a number below 1 or a position outside pan/tilt [-1, 1], zoom [0, 1]",
                path.display(),
                p.number
            );
        }
    }
    Ok(file.preset)
}

const NAMES: [&str; 12] = [
    "Gate",
    "Parking",
    "Dock 3",
    "Lobby",
    "Loading bay",
    "Fence north",
    "Entrance",
    "Roof",
    "Car park exit",
    "Yard",
    "Reception",
    "Platform 2",
];

/// `per_camera` presets on every camera of every site, at distinct positions.
pub fn standard(per_camera: u32) -> Vec<SeedPreset> {
    (1..=per_camera)
        .map(|n| {
            let name = match NAMES.get(n as usize - 1) {
                Some(name) => name.to_string(),
                None => format!("Preset {n}"),
            };
            let k = f64::from(n);
            SeedPreset {
                site: None,
                camera: None,
                number: n,
                name: Some(name),
                pan: ((k * 0.37).fract() * 2.0 - 1.0) * 0.9,
                tilt: ((k * 0.23).fract() * 2.0 - 1.0) * 0.5,
                zoom: (k * 0.11).fract(),
            }
        })
        .collect()
}

/// Deliberate differences on `site` (usually the secondary), one kind per
/// camera on cameras 1 to 6, given a standard seed of at least 5 presets:
/// a renamed preset, a moved preset, a missing one, an extra one, a renumbered
/// one, and a move within the default tolerance (not a mismatch).
pub fn drift(site: usize, per_camera: u32) -> (Vec<SeedPreset>, Vec<(usize, u32)>) {
    let base = standard(per_camera.max(5));
    let at = |n: u32| base[n as usize - 1].clone();
    let on = |camera: usize, mut p: SeedPreset| {
        p.site = Some(site);
        p.camera = Some(camera);
        p
    };
    let mut renamed = at(2);
    renamed.name = Some("Parking lot".into());
    let mut moved = at(3);
    moved.pan = (moved.pan + 0.2).clamp(-1.0, 1.0);
    let mut extra = at(1);
    extra.number = per_camera.max(5) + 4;
    extra.name = Some("Dock 9".into());
    extra.pan = -extra.pan;
    let mut renumbered = at(4);
    renumbered.number = per_camera.max(5) + 1;
    let mut nudged = at(5);
    nudged.pan += 0.0004;
    let seeds = vec![
        on(1, renamed),
        on(2, moved),
        on(4, extra),
        on(5, renumbered),
        on(6, nudged),
    ];
    // Presets the standard seed puts on `site` that must be removed: (camera, number).
    let removed = vec![(3, 4), (5, 4)];
    (seeds, removed)
}

/// The presets `seeds` give camera `camera` (1-based) of site `site`, by
/// number (a later seed of a number replaces an earlier one), without the
/// removed ones: what a VMS that keeps its own presets starts with.
pub fn for_camera(
    seeds: &[SeedPreset],
    removed: &[(usize, u32)],
    site: usize,
    camera: usize,
) -> Vec<SeedPreset> {
    let mut out: Vec<SeedPreset> = Vec::new();
    for seed in seeds {
        if seed.site.is_some_and(|s| s != site) || seed.camera.is_some_and(|c| c != camera) {
            continue;
        }
        if removed.contains(&(camera, seed.number)) && seed.site.is_none() {
            continue;
        }
        out.retain(|p| p.number != seed.number);
        out.push(seed.clone());
    }
    out.sort_by_key(|p| p.number);
    out
}

/// Applies seeds to a site: later seeds overwrite earlier ones of the same
/// number on numeric sites. Returns how many presets were stored.
pub fn apply(site: &Site, seeds: &[SeedPreset], removed: &[(usize, u32)]) -> anyhow::Result<usize> {
    let mut stored = 0;
    for camera in site.cameras() {
        let number = camera.index + 1;
        let mut table = camera.presets();
        // GUID sites keep a number -> token map here, as a VMS would keep its own ids.
        let mut tokens: Vec<(u32, String)> = Vec::new();
        for seed in seeds {
            if seed.site.is_some_and(|s| s != site.number)
                || seed.camera.is_some_and(|c| c != number)
            {
                continue;
            }
            if removed.contains(&(number, seed.number)) && seed.site.is_none() {
                continue;
            }
            let token = match camera.quirks.tokens {
                TokenStyle::Numeric => Some(seed.number.to_string()),
                TokenStyle::Guid => tokens
                    .iter()
                    .find(|(n, _)| *n == seed.number)
                    .map(|(_, t)| t.clone()),
            };
            let position = [seed.pan, seed.tilt, seed.zoom];
            match table.set(
                &camera.quirks,
                seed.name.as_deref(),
                token.as_deref(),
                position,
            ) {
                Ok(token) => {
                    tokens.retain(|(n, _)| *n != seed.number);
                    tokens.push((seed.number, token));
                    stored += 1;
                }
                // A quirk may refuse a seed (a preset limit, fixed slots): the
                // device would refuse it too, so the seed is skipped, not fatal.
                Err(fault) => {
                    tracing::debug!(site = site.number, camera = number, %fault.reason, "seed refused")
                }
            }
        }
    }
    Ok(stored)
}
