//! Cameras, their canonical presets and the sites' preset tokens:
//! [`PresetStore`].

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, Mismatch, Position, Preset, PresetName, PresetNumber, SiteId};

use crate::convert::number_from_row;
use crate::error::StoreError;
use crate::record::{CameraRecord, NewAudit, TokenStyle};

/// A camera as the store holds it: [`PresetStore::camera_view`].
#[derive(Debug, Clone, PartialEq)]
pub struct CameraView {
    /// The canonical presets, sorted by number.
    pub presets: Vec<Preset>,
    /// Each site asked for: its token style (once learned) and its
    /// number-to-token map, sorted by number.
    pub sites: Vec<SiteTokens>,
}

/// One site's token style (once learned) and number-to-token map.
pub type SiteTokens = (Option<TokenStyle>, Vec<(PresetNumber, String)>);

/// A picture of a preset where it points, taken on one site.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetPicture {
    /// The JPEG as the camera gave it.
    pub jpeg: Vec<u8>,
    /// When it was taken.
    pub taken: DateTime<Utc>,
}

/// Cameras, canonical presets, each site's number-to-token map and token
/// style, the presets' pictures: the part of the [`Store`](crate::Store)
/// that says what a camera's presets are and how each site names them.
pub trait PresetStore {
    // --- Cameras -----------------------------------------------------------

    /// Inserts the camera, or updates its name and tolerance.
    fn upsert_camera(&self, camera: &CameraRecord) -> Result<(), StoreError>;

    /// Every camera, sorted by id.
    fn cameras(&self) -> Result<Vec<CameraRecord>, StoreError>;

    // --- Canonical presets (written only through [`JournalStore::journal`]) ---

    /// The camera's canonical presets, sorted by number.
    fn presets(&self, camera: &CameraId) -> Result<Vec<Preset>, StoreError>;

    /// What a scan needs of a camera, in one read of the store (one lock,
    /// one read transaction, so the parts agree): its canonical presets and
    /// each of `sites`' token map and token style, in the order given.
    fn camera_view(&self, camera: &CameraId, sites: &[SiteId]) -> Result<CameraView, StoreError>;

    /// One canonical preset, if it exists.
    fn preset(&self, camera: &CameraId, number: PresetNumber)
    -> Result<Option<Preset>, StoreError>;

    // --- Site token maps ---------------------------------------------------

    /// The site's number-to-token map for the camera, sorted by number.
    fn site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Vec<(PresetNumber, String)>, StoreError>;

    /// Maps `number` to `token` on the site, replacing (in one transaction)
    /// any mapping of the same number or the same token.
    fn set_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        token: &str,
    ) -> Result<(), StoreError>;

    /// [`PresetStore::set_site_token`] for several numbers, in one transaction
    /// without an fsync of its own (a scan's adoptions: found again if lost).
    fn set_site_tokens(
        &self,
        camera: &CameraId,
        site: &SiteId,
        pairs: &[(PresetNumber, String)],
    ) -> Result<(), StoreError>;

    /// Takes presets found on `site` as canonical, in one transaction: one
    /// import operation already applied on that site (action `{"kind":
    /// "import", "numbers": [...]}`), one audit entry (`preset.import` by
    /// `actor`, after `{"presets": [...]}`), and each preset with its token.
    /// One transaction per camera, not per preset: a first scan of thousands
    /// of cameras imports hundreds of thousands of presets. Does nothing when
    /// the camera has canonical presets already (checked in the transaction).
    /// Not fsync'd on its own: a lost import is found again by the next scan.
    fn import_presets(
        &self,
        camera: &CameraId,
        site: &SiteId,
        presets: &[(Preset, String)],
        actor: &str,
    ) -> Result<(), StoreError>;

    /// A value that changes whenever the store is written, by this process or
    /// another: what was read from the store is still current while it stays
    /// the same (the service caches who a token or session is by it).
    /// Volatile bookkeeping (leases, the leader, pictures, learned bindings)
    /// may be left out: nothing cached by the stamp depends on it.
    fn change_stamp(&self) -> Result<(i64, i64), StoreError>;

    /// Forgets the site's token for `number`; no error when there is none.
    fn remove_site_token(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError>;

    /// Keeps `jpeg` as the picture of preset `number` on `site` (replacing
    /// the one before).
    fn put_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
        jpeg: &[u8],
        taken: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The picture of preset `number` on `site`, with when it was taken.
    fn preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<Option<PresetPicture>, StoreError>;

    /// Forgets the picture of preset `number` on `site`; no error when there is none.
    fn remove_preset_picture(
        &self,
        camera: &CameraId,
        site: &SiteId,
        number: PresetNumber,
    ) -> Result<(), StoreError>;

    /// How the site names the camera's presets, once learned.
    fn token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
    ) -> Result<Option<TokenStyle>, StoreError>;

    /// Records how the site names the camera's presets.
    fn set_token_style(
        &self,
        camera: &CameraId,
        site: &SiteId,
        style: TokenStyle,
    ) -> Result<(), StoreError>;
}

// --- Shared by both backends (no SQL) ---------------------------------------

/// A `preset` row as a backend returns it, before checks.
pub(crate) struct PresetRow {
    pub(crate) number: i64,
    pub(crate) name: String,
    pub(crate) pan: Option<f64>,
    pub(crate) tilt: Option<f64>,
    pub(crate) zoom: Option<f64>,
    pub(crate) locked: bool,
    pub(crate) is_default: bool,
}

impl PresetRow {
    /// The preset the row holds; [`StoreError::Corrupt`] when it breaks a rule.
    pub(crate) fn into_preset(self) -> Result<Preset, StoreError> {
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

/// Refuses a preset whose position is out of range before it is written.
pub(crate) fn check_preset(preset: &Preset) -> Result<(), StoreError> {
    match &preset.position {
        Some(p) => p
            .validate()
            .map_err(|e| StoreError::Invalid(format!("preset {}: {e}", preset.number))),
        None => Ok(()),
    }
}

/// Refuses a camera whose tolerance is not a finite number >= 0.
pub(crate) fn check_camera(camera: &CameraRecord) -> Result<(), StoreError> {
    if !camera.tolerance.is_finite() || camera.tolerance < 0.0 {
        return Err(StoreError::Invalid(format!(
            "camera {}: tolerance {} is not a finite number >= 0",
            camera.id, camera.tolerance
        )));
    }
    Ok(())
}

/// The conflict of a number the camera already has a canonical preset of.
pub(crate) fn preset_taken(camera: &CameraId, number: PresetNumber) -> StoreError {
    StoreError::Conflict(format!(
        "camera {camera} already has a preset {number}; choose another number or update that preset"
    ))
}

/// The preset numbers open mismatches report, on either side (a preset only
/// one site holds still holds its slot).
pub(crate) fn mismatch_numbers(mismatches: &[Mismatch]) -> Vec<PresetNumber> {
    mismatches
        .iter()
        .flat_map(|m| [&m.primary, &m.secondary])
        .flatten()
        .filter_map(|side| side.number)
        .collect()
}

/// Refuses `number` when one of the camera's open mismatches reports a site
/// preset of that number (one tandem has not adopted).
pub(crate) fn check_not_in_mismatches(
    mismatches: &[Mismatch],
    camera: &CameraId,
    number: PresetNumber,
) -> Result<(), StoreError> {
    for m in mismatches {
        for (side, preset) in [("primary", &m.primary), ("secondary", &m.secondary)] {
            if let Some(p) = preset.as_ref().filter(|p| p.number == Some(number)) {
                let name = p.name.as_deref().unwrap_or("a preset without a name");
                return Err(StoreError::Conflict(format!(
                    "preset number {number} of camera {camera} is in use on the {side} by \
                     \"{name}\", which tandem has not adopted (an open mismatch): resolve the \
                     mismatch or choose another number"
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a number the device treats as a command.
pub(crate) fn check_not_reserved(
    camera: &CameraId,
    number: PresetNumber,
    reserved: &[PresetNumber],
) -> Result<(), StoreError> {
    if reserved.contains(&number) {
        return Err(StoreError::Invalid(format!(
            "preset number {number} is reserved on camera {camera}: the device treats it \
             as a command; choose another number"
        )));
    }
    Ok(())
}

/// The lowest number neither `taken` nor `reserved`.
pub(crate) fn lowest_free_number(
    camera: &CameraId,
    mut taken: Vec<PresetNumber>,
    reserved: &[PresetNumber],
) -> Result<PresetNumber, StoreError> {
    taken.extend(reserved.iter().copied());
    PresetNumber::lowest_free(taken)
        .ok_or_else(|| StoreError::Conflict(format!("camera {camera} has no free preset number")))
}

/// `before` with a change's new name, number and position; refused when the
/// result has no known position.
pub(crate) fn changed_preset(
    before: &Preset,
    name: Option<&PresetName>,
    new_number: Option<PresetNumber>,
    position: Option<Position>,
) -> Result<Preset, StoreError> {
    let after = Preset {
        number: new_number.unwrap_or(before.number),
        name: name.cloned().unwrap_or_else(|| before.name.clone()),
        position: position.or(before.position),
        ..before.clone()
    };
    if after.position.is_none() {
        return Err(StoreError::Invalid(format!(
            "preset {} has no known position; give one (or use the current view) \
             with the change",
            before.number
        )));
    }
    Ok(after)
}

/// An import's journaled action: `{"kind": "import", "numbers": [...]}`.
pub(crate) fn import_action(presets: &[(Preset, String)]) -> serde_json::Value {
    let numbers: Vec<u32> = presets.iter().map(|(p, _)| p.number.get()).collect();
    serde_json::json!({ "kind": "import", "numbers": numbers })
}

/// An import's audit entry: `preset.import` by `actor`, after `{"presets": [...]}`.
pub(crate) fn import_audit(
    camera: &CameraId,
    actor: &str,
    presets: &[(Preset, String)],
) -> NewAudit {
    NewAudit {
        actor: actor.into(),
        action: tandem_core::AuditAction::PresetImport.as_str().into(),
        camera: Some(camera.clone()),
        before: None,
        after: Some(serde_json::json!({
            "presets": presets.iter().map(|(p, _)| p).collect::<Vec<_>>(),
        })),
    }
}

/// A stored picture with its `taken_utc` text read back.
pub(crate) fn picture_from_row(jpeg: Vec<u8>, taken: &str) -> Result<PresetPicture, StoreError> {
    DateTime::parse_from_rfc3339(taken)
        .map(|t| PresetPicture {
            jpeg,
            taken: t.with_timezone(&Utc),
        })
        .map_err(|e| StoreError::Corrupt(format!("a preset picture's time {taken:?}: {e}")))
}
