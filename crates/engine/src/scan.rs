//! Scans: read both sites' presets of a camera concurrently, resolve numbers,
//! diff (pure, in `tandem-core`), and keep the set of open mismatches.
//!
//! What a site lists that is not a preset (empty slots, reserved numbers) is
//! dropped as it is read; differences about presets with pending work are
//! held back until that work is applied (see `exclude`).

use std::sync::Arc;

use tandem_core::AuditAction;
use tandem_core::access::{self, Principal};
use tandem_core::diff::{Tolerance, diff};
use tandem_core::{CameraId, Mismatch, Preset, PresetName, PresetNumber, SiteId, SitePreset};
use tandem_store::NewAudit;
use tokio::task::JoinSet;

use tandem_onvif::types::Preset as OnvifPreset;

use crate::engine::Engine;
use crate::error::DeviceFailure;
use crate::error::EngineError;
use crate::sites::from_vector;
use crate::tokens::TokenMap;

/// The result of scanning one camera.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanReport {
    /// The camera.
    pub camera: CameraId,
    /// Every open mismatch after the scan.
    pub mismatches: Vec<Mismatch>,
    /// How many of them are new since the last scan.
    pub new: usize,
    /// How many earlier mismatches are gone.
    pub gone: usize,
    /// Sites that could not be read, and how (the previous mismatches are
    /// kept then): a scan with any is not done.
    pub unread: Vec<UnreadSite>,
    /// Numbers whose differences were not reported because an operation on
    /// them is still pending on some site: the sites differ there until it
    /// is applied, and a repair would undo it. The next scan compares them.
    pub pending: Vec<PresetNumber>,
    /// Patrols on one site that name a preset the other site lacks
    /// (XProtect sites keep patrols; a preset missing on the other site
    /// leaves a hole in the same patrol there).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub patrol_gaps: Vec<PatrolGap>,
}

/// A patrol on one site that names a preset the other site lacks.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PatrolGap {
    /// The site whose patrol it is.
    pub site: SiteId,
    /// The patrol's name there.
    pub patrol: String,
    /// The preset it names, by name.
    pub preset: String,
    /// Its number, when tandem numbers it.
    pub number: Option<PresetNumber>,
    /// The site that lacks it.
    pub missing_on: SiteId,
}

/// A site whose presets a scan could not read.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnreadSite {
    /// The site.
    pub site: SiteId,
    /// No answer, a refusal, or an answer that is not ONVIF.
    pub failure: DeviceFailure,
    /// What went wrong, in the device's or the transport's words.
    pub message: String,
}

/// Cameras whose scan results are recorded in one transaction.
pub const RECORD_BATCH: usize = 256;

/// One camera compared: the sites' difference, or why it could not be.
enum Compared {
    /// Both sites read; the mismatches to record.
    Diffed(Diffed),
    /// A site could not be read; the open mismatches stay as they were.
    Unreachable(ScanReport),
}

/// One camera whose sites were both read.
struct Diffed {
    camera: CameraId,
    /// The mismatches to record.
    mismatches: Vec<Mismatch>,
    /// Numbers whose differences wait for pending work ([`ScanReport::pending`]).
    pending: Vec<PresetNumber>,
    /// Patrols naming presets the other site lacks ([`ScanReport::patrol_gaps`]).
    patrol_gaps: Vec<PatrolGap>,
}

/// A way to recognise a site's preset as a canonical one.
type Rule<'a> = dyn Fn(&SitePreset, &Preset) -> bool + 'a;

impl Engine {
    /// One site's presets of a camera, with numbers resolved: from tandem's
    /// token map, else from numeric tokens on sites that use them. Empty
    /// slots and reserved numbers are left out: they are not presets.
    pub async fn read_site(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<SitePreset>, EngineError> {
        let presets = self.read_device(camera, site).await?;
        let map = TokenMap::load(self.store().as_ref(), camera, site)?;
        self.resolve(camera, &map, presets)
    }

    /// One site's presets of a camera as the device lists them. A scan calls
    /// each device once: the connection is not kept for a next call.
    async fn read_device(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<OnvifPreset>, EngineError> {
        self.bindings()
            .get(camera, site)?
            .adapter()
            .read_presets()
            .await
    }

    /// A site's listed presets with their numbers resolved through `map`,
    /// empty slots and reserved numbers left out.
    fn resolve(
        &self,
        camera: &CameraId,
        map: &TokenMap,
        presets: Vec<OnvifPreset>,
    ) -> Result<Vec<SitePreset>, EngineError> {
        let presets = presets
            .into_iter()
            .map(|p| SitePreset {
                number: map.number(&p.token),
                name: p.name,
                position: p.position.as_ref().and_then(from_vector),
                token: p.token,
            })
            .collect();
        self.presets_only(camera, presets)
    }

    /// Scans one camera: reads both sites concurrently, diffs, records the
    /// open mismatches and an audit entry.
    pub async fn scan_camera(
        self: &Arc<Self>,
        camera: &CameraId,
    ) -> Result<ScanReport, EngineError> {
        let compared = self.read_and_diff(camera).await;
        self.bindings().flush_learned();
        match compared? {
            Compared::Unreachable(report) => Ok(report),
            Compared::Diffed(diffed) => {
                let mut reports = self.record_compared(vec![diffed])?;
                reports
                    .pop()
                    .ok_or_else(|| EngineError::Internal("a scan recorded nothing".into()))
            }
        }
    }

    /// Reads both sites of a camera concurrently and diffs them; records
    /// nothing but imports and adopted tokens. The store is read once for a
    /// camera tandem knows (its presets and both token maps together).
    async fn read_and_diff(self: &Arc<Self>, camera: &CameraId) -> Result<Compared, EngineError> {
        let spec = self.bindings().camera(camera)?;
        let (p_id, s_id) = self.bindings().pair()?;
        let (primary, secondary, p_patrols, s_patrols) = tokio::join!(
            self.read_device(camera, p_id),
            self.read_device(camera, s_id),
            self.read_patrols(camera, p_id),
            self.read_patrols(camera, s_id),
        );
        let (canonical, [p_map, s_map]) = self.stored(camera)?;
        // What could be read is recorded even when the other site could not
        // be: the primary's presets imported on a first read, each read
        // site's presets adopted (read before write needs both).
        let mut unread = Vec::new();
        let mut read =
            |site: &SiteId, map: &TokenMap, result: Result<Vec<OnvifPreset>, EngineError>| {
                match result.and_then(|presets| self.resolve(camera, map, presets)) {
                    Ok(presets) => Some(presets),
                    Err(e) => {
                        unread.push(UnreadSite {
                            site: site.clone(),
                            failure: e.device_failure().unwrap_or(DeviceFailure::Refused),
                            message: e.to_string(),
                        });
                        None
                    }
                }
            };
        let (primary, secondary) = (read(p_id, &p_map, primary), read(s_id, &s_map, secondary));
        // A camera never read takes the primary's presets as canonical; the
        // secondary's while the primary cannot be read, so that a first
        // operation then knows the numbers in use there (the primary's own
        // presets are reported once it answers, never overwritten).
        if canonical.is_empty() {
            let imported = match (&primary, &secondary) {
                (Some(presets), other) => self.import(camera, p_id, presets, other.as_deref())?,
                (None, Some(presets)) => self.import(camera, s_id, presets, None)?,
                (None, None) => false,
            };
            if imported {
                // Imported (or taken by a concurrent first operation): read
                // again, numbers as the new maps give them (an import maps
                // the tokens it took).
                let (canonical, [p_map, s_map]) = self.stored(camera)?;
                let renumber = |presets: Option<Vec<SitePreset>>, map: &TokenMap| {
                    presets.map(|mut presets| {
                        for p in &mut presets {
                            p.number = map.number(&p.token);
                        }
                        presets
                    })
                };
                let (primary, secondary) = (renumber(primary, &p_map), renumber(secondary, &s_map));
                return self.diff_read(
                    camera,
                    spec.tolerance,
                    primary,
                    secondary,
                    unread,
                    &canonical,
                    [&p_map, &s_map],
                    [p_patrols, s_patrols],
                );
            }
        }
        self.diff_read(
            camera,
            spec.tolerance,
            primary,
            secondary,
            unread,
            &canonical,
            [&p_map, &s_map],
            [p_patrols, s_patrols],
        )
    }

    /// A camera as the store holds it, in one read: its canonical presets
    /// and the primary's and the secondary's token maps.
    fn stored(&self, camera: &CameraId) -> Result<(Vec<Preset>, [TokenMap; 2]), EngineError> {
        let (p_id, s_id) = self.bindings().pair()?;
        let view = self
            .store()
            .camera_view(camera, &[p_id.clone(), s_id.clone()])?;
        let mut maps = view
            .sites
            .into_iter()
            .map(|(style, pairs)| TokenMap::new(style, pairs));
        match (maps.next(), maps.next()) {
            (Some(p_map), Some(s_map)) => Ok((view.presets, [p_map, s_map])),
            _ => Err(EngineError::Internal(
                "the store answered for fewer sites".into(),
            )),
        }
    }

    /// Adopts each read site's tokens and diffs the two sites; with a site
    /// unread, keeps the open mismatches as they were.
    #[allow(clippy::too_many_arguments)]
    fn diff_read(
        &self,
        camera: &CameraId,
        tolerance: f64,
        primary: Option<Vec<SitePreset>>,
        secondary: Option<Vec<SitePreset>>,
        unread: Vec<UnreadSite>,
        canonical: &[Preset],
        [p_map, s_map]: [&TokenMap; 2],
        [p_patrols, s_patrols]: [Vec<Patrol>; 2],
    ) -> Result<Compared, EngineError> {
        let (p_id, s_id) = self.bindings().pair()?;
        let mut primary = primary;
        let mut secondary = secondary;
        if let Some(presets) = &mut secondary {
            self.adopt_tokens(camera, s_id, presets, canonical, s_map)?;
        }
        if let Some(presets) = &mut primary {
            self.adopt_tokens(camera, p_id, presets, canonical, p_map)?;
        }
        let (Some(primary), Some(secondary)) = (primary, secondary) else {
            let open = self
                .store()
                .mismatches(Some(camera))?
                .into_iter()
                .map(|m| m.mismatch)
                .collect();
            let (open, pending) = self.hold_back_pending(camera, open)?;
            return Ok(Compared::Unreachable(ScanReport {
                camera: camera.clone(),
                mismatches: open,
                new: 0,
                gone: 0,
                unread,
                pending,
                patrol_gaps: Vec::new(),
            }));
        };
        let mut patrol_gaps = gaps(p_id, &p_patrols, &primary, s_id, &secondary);
        patrol_gaps.extend(gaps(s_id, &s_patrols, &secondary, p_id, &primary));
        let mismatches = diff(&primary, &secondary, Tolerance(tolerance));
        // Read after the sites: work journaled while they were read is held back too.
        let (mismatches, pending) = self.hold_back_pending(camera, mismatches)?;
        Ok(Compared::Diffed(Diffed {
            camera: camera.clone(),
            mismatches,
            pending,
            patrol_gaps,
        }))
    }

    /// A site's patrols (only XProtect sites have them). Advisory: a site
    /// whose patrols cannot be read is scanned all the same.
    async fn read_patrols(&self, camera: &CameraId, site: &SiteId) -> Vec<Patrol> {
        let Ok(binding) = self.bindings().get(camera, site) else {
            return Vec::new();
        };
        match binding.adapter().patrols().await {
            Ok(patrols) => patrols,
            Err(e) => {
                tracing::warn!(%camera, %site, error = %e, "cannot read the site's patrols");
                Vec::new()
            }
        }
    }

    /// Records the open mismatches of compared cameras, each with its audit
    /// entry, in one transaction.
    fn record_compared(&self, compared: Vec<Diffed>) -> Result<Vec<ScanReport>, EngineError> {
        let audit = |camera: &CameraId, delta: &tandem_store::MismatchDelta| NewAudit {
            actor: "tandem".into(),
            action: AuditAction::Scan.as_str().into(),
            camera: Some(camera.clone()),
            before: None,
            after: Some(serde_json::json!({
                "open": delta.new.len() + delta.still_open.len(),
                "new": delta.new.len(),
                "gone": delta.gone.len(),
            })),
        };
        let mut diffed = Vec::with_capacity(compared.len());
        let mut pending = Vec::with_capacity(compared.len());
        for d in compared {
            diffed.push((d.camera, d.mismatches));
            pending.push((d.pending, d.patrol_gaps));
        }
        let deltas = self.store().record_scans(&diffed, self.utc(), &audit)?;
        Ok(diffed
            .into_iter()
            .zip(deltas)
            .zip(pending)
            .map(
                |(((camera, mismatches), delta), (pending, patrol_gaps))| ScanReport {
                    camera,
                    new: delta.new.len(),
                    gone: delta.gone.len(),
                    mismatches,
                    unread: Vec::new(),
                    pending,
                    patrol_gaps,
                },
            )
            .collect())
    }

    /// [`Engine::scan`] for a user: `who` needs `preset.recall` or
    /// `mismatch.resolve` on every camera, checked before any is scanned.
    /// Without a list, every camera `who` may scan; refused when there is none.
    /// Answers the cameras scanned with their reports, in order.
    pub async fn scan_for(
        self: &Arc<Self>,
        who: &Principal,
        cameras: Option<Vec<CameraId>>,
        concurrency: usize,
    ) -> Result<Vec<(CameraId, Result<ScanReport, EngineError>)>, EngineError> {
        let may_scan = |groups: &[String]| {
            who.may(access::Action::RecallPreset, groups)
                || who.may(access::Action::ResolveMismatch, groups)
        };
        let cameras = match cameras {
            Some(cameras) => {
                for camera in &cameras {
                    if !may_scan(&self.bindings().camera(camera)?.groups) {
                        return Err(EngineError::Forbidden(format!(
                            "{} may not scan camera {camera}: it needs preset.recall or \
                             mismatch.resolve",
                            who.user
                        )));
                    }
                }
                cameras
            }
            None => {
                let mine: Vec<CameraId> = self
                    .bindings()
                    .camera_ids()
                    .into_iter()
                    .filter(|c| self.bindings().camera(c).is_ok_and(|s| may_scan(&s.groups)))
                    .collect();
                if mine.is_empty() {
                    return Err(EngineError::Forbidden(format!(
                        "{} may not scan any camera: it needs preset.recall or mismatch.resolve",
                        who.user
                    )));
                }
                mine
            }
        };
        let reports = self.scan(cameras.clone(), concurrency, |_, _| {}).await;
        Ok(cameras.into_iter().zip(reports).collect())
    }

    /// Scans cameras with at most `concurrency` cameras in flight (each reads
    /// one preset list per site, so this bounds the calls in flight per site),
    /// calling `progress(done, total)` after each. Results are recorded in
    /// batches of [`RECORD_BATCH`] cameras, one transaction each.
    pub async fn scan(
        self: &Arc<Self>,
        cameras: Vec<CameraId>,
        concurrency: usize,
        progress: impl Fn(usize, usize) + Send + Sync + 'static,
    ) -> Vec<Result<ScanReport, EngineError>> {
        let total = cameras.len();
        // At most `concurrency` tasks exist at a time: thousands of futures
        // spawned up front would hold their memory for the whole scan.
        let mut waiting = cameras.into_iter().enumerate();
        let mut work = JoinSet::new();
        let mut results: Vec<Option<Result<ScanReport, EngineError>>> =
            (0..total).map(|_| None).collect();
        let mut batch: Vec<(usize, Diffed)> = Vec::new();
        let mut done = 0;
        loop {
            while work.len() < concurrency.max(1) {
                let Some((index, camera)) = waiting.next() else {
                    break;
                };
                let engine = self.clone();
                work.spawn(async move { (index, engine.read_and_diff(&camera).await) });
            }
            let Some(joined) = work.join_next().await else {
                break;
            };
            done += 1;
            progress(done, total);
            match joined {
                Ok((index, Ok(Compared::Diffed(diffed)))) => batch.push((index, diffed)),
                Ok((index, Ok(Compared::Unreachable(report)))) => results[index] = Some(Ok(report)),
                Ok((index, Err(e))) => results[index] = Some(Err(e)),
                Err(_) => {} // A panicked task: reported below.
            }
            let last = work.is_empty() && waiting.len() == 0;
            if batch.len() >= RECORD_BATCH || (last && !batch.is_empty()) {
                let indices: Vec<usize> = batch.iter().map(|(i, _)| *i).collect();
                let diffed = batch.drain(..).map(|(_, d)| d).collect();
                match self.record_compared(diffed) {
                    Ok(reports) => {
                        for (index, report) in indices.into_iter().zip(reports) {
                            results[index] = Some(Ok(report));
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e.detail(), "recording scans");
                        for index in indices {
                            // A busy store is worth a retry, and says so.
                            results[index] = Some(Err(if e.is_retryable() {
                                EngineError::Busy(
                                    "the store is busy; the scan was not recorded".into(),
                                )
                            } else {
                                EngineError::Internal(format!("recording the scan failed: {e}"))
                            }));
                        }
                    }
                }
            }
        }
        // What the bindings learned is written with the scan, not after it.
        self.bindings().flush_learned();
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(EngineError::Internal("scan task panicked".into()))))
            .collect()
    }

    /// A camera tandem has never seen takes one site's presets as its
    /// canonical list (numbers from that site, unnamed ones named "Preset N").
    /// `presets` come from [`Engine::resolve`]: no empty slot or reserved
    /// number is among them. The store takes them only while the camera has
    /// no canonical preset (decided in its transaction). True when the
    /// camera's presets may have changed.
    fn import(
        &self,
        camera: &CameraId,
        site: &SiteId,
        presets: &[SitePreset],
        other: Option<&[SitePreset]>,
    ) -> Result<bool, EngineError> {
        let mut found = Vec::new();
        // An XProtect site has no preset numbers: each of its presets takes
        // the number the other site gives a preset of the same name, else
        // the lowest number no site uses (so that it never pairs with
        // another preset there), and keeps it in the site's token map.
        let numbering = self
            .bindings()
            .get(camera, site)?
            .adapter()
            .numbered_on_import();
        let other = other.unwrap_or_default();
        let mut taken: std::collections::BTreeSet<PresetNumber> = presets
            .iter()
            .chain(other)
            .filter_map(|p| p.number)
            .collect();
        taken.extend(self.bindings().camera(camera)?.reserved.iter().copied());
        let mut given = std::collections::BTreeSet::new();
        for p in presets {
            let number = match p.number {
                Some(n) => n,
                None if numbering => {
                    let same_name = other
                        .iter()
                        .filter(|o| o.name.is_some() && o.name == p.name)
                        .find_map(|o| o.number.filter(|n| !given.contains(n)));
                    let Some(n) =
                        same_name.or_else(|| PresetNumber::lowest_free(taken.iter().copied()))
                    else {
                        continue;
                    };
                    taken.insert(n);
                    given.insert(n);
                    n
                }
                None => continue,
            };
            let name = p
                .name
                .as_deref()
                .and_then(|n| PresetName::new(n).ok())
                .or_else(|| PresetName::new(format!("Preset {number}")).ok());
            let Some(name) = name else { continue };
            let preset = Preset {
                number,
                name,
                position: p.position,
                locked: false,
                is_default: false,
            };
            found.push((preset, p.token.clone()));
        }
        if found.is_empty() {
            return Ok(false);
        }
        // Journaled against the site, where they already are.
        self.store()
            .import_presets(camera, site, &found, "tandem")?;
        Ok(true)
    }

    /// Records which of a site's presets are tandem's (read before write:
    /// only those may be overwritten or removed later). A preset whose
    /// numeric token pairs with a canonical number is that preset on this
    /// site: read now, adopted. On a site with opaque tokens, an unmapped
    /// preset is recognised as a canonical number that has no token there
    /// yet: first by exact name, then (for a renamed preset) by position within
    /// the camera's tolerance. Only an unambiguous match is taken.
    fn adopt_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
        presets: &mut [SitePreset],
        canonical: &[Preset],
        map: &TokenMap,
    ) -> Result<(), EngineError> {
        let mut adopted: Vec<(PresetNumber, String)> = presets
            .iter()
            .filter_map(|p| Some((p.number?, p)))
            .filter(|(n, p)| {
                map.mapped(*n).is_none()
                    && !map.has_token(&p.token)
                    && canonical.iter().any(|c| c.number == *n)
            })
            .map(|(n, p)| (n, p.token.clone()))
            .collect();
        if presets.iter().any(|p| p.number.is_none()) {
            let tolerance = self.bindings().camera(camera)?.tolerance;
            let mut taken: Vec<PresetNumber> = map.numbers().collect();
            // A reserved number is no preset, whatever the canonical list kept from before.
            taken.extend(self.reserved_numbers(camera)?);
            let by_name = |p: &SitePreset, c: &Preset| p.name.as_deref() == Some(c.name.as_str());
            let by_position = |p: &SitePreset, c: &Preset| match (&p.position, &c.position) {
                (Some(a), Some(b)) => a.within(b, tolerance),
                _ => false,
            };
            let rules: [&Rule; 2] = [&by_name, &by_position];
            for rule in rules {
                for p in presets.iter_mut().filter(|p| p.number.is_none()) {
                    let mut candidates = canonical
                        .iter()
                        .filter(|c| !taken.contains(&c.number) && rule(p, c));
                    if let (Some(c), None) = (candidates.next(), candidates.next()) {
                        adopted.push((c.number, p.token.clone()));
                        p.number = Some(c.number);
                        taken.push(c.number);
                    }
                }
            }
        }
        self.store().set_site_tokens(camera, site, &adopted)?;
        Ok(())
    }
}

/// A patrol as a scan reads it: its name and the presets it names (stops
/// and end), by the site's token.
#[derive(Debug, Clone)]
pub(crate) struct Patrol {
    pub(crate) name: String,
    pub(crate) presets: Vec<String>,
}

/// The patrols of site `site` that name a preset `other` lacks: by number
/// when the preset has one, else by name.
fn gaps(
    site: &SiteId,
    patrols: &[Patrol],
    listed: &[SitePreset],
    other: &SiteId,
    other_listed: &[SitePreset],
) -> Vec<PatrolGap> {
    let mut out = Vec::new();
    for patrol in patrols {
        let mut seen = std::collections::BTreeSet::new();
        for token in &patrol.presets {
            if !seen.insert(token.to_lowercase()) {
                continue;
            }
            let Some(preset) = listed.iter().find(|p| p.token.eq_ignore_ascii_case(token)) else {
                continue;
            };
            let there = match preset.number {
                Some(n) => other_listed.iter().any(|p| p.number == Some(n)),
                None => other_listed.iter().any(|p| p.name == preset.name),
            };
            if !there {
                out.push(PatrolGap {
                    site: site.clone(),
                    patrol: patrol.name.clone(),
                    preset: preset.name.clone().unwrap_or_else(|| token.clone()),
                    number: preset.number,
                    missing_on: other.clone(),
                });
            }
        }
    }
    out
}
