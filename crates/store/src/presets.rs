//! Cameras, their canonical presets and the sites' preset tokens:
//! [`PresetStore`].

use chrono::{DateTime, Utc};
use tandem_core::{CameraId, Preset, PresetNumber, SiteId};

use crate::error::StoreError;
use crate::record::{CameraRecord, TokenStyle};

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
