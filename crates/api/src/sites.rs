//! Sites (`/api/v1/sites`, `/history`, `/failback`) and cameras (`/api/v1/cameras`).

use serde::{Deserialize, Serialize};

/// This `tandem serve` among the instances sharing its store.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InstanceDto {
    /// This instance's id.
    pub instance: String,
    /// Whether this instance runs the background duties (retries, scans) now.
    pub leading: bool,
    /// The instance that leads, as the store records it; absent while none does.
    pub leader: Option<String>,
    /// The leader's epoch: raised by one each time the lead changes hands.
    pub epoch: Option<u64>,
    /// When the lead ends unless the leader renews it (RFC 3339).
    pub lead_until_utc: Option<String>,
}

/// A site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SiteDto {
    /// Its id.
    pub id: String,
    /// 1 for the primary.
    pub priority: u32,
    /// `up`, `degraded` or `down`.
    pub health: String,
    /// Whether live control goes to it now.
    pub active: bool,
    /// `onvif` (each camera over ONVIF) or `xprotect` (a Milestone XProtect
    /// installation through its REST API).
    #[serde(default = "onvif")]
    pub kind: String,
    /// On the active site: when it became active (RFC 3339), if not at the start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_since_utc: Option<String>,
    /// On the active site: why it became active ("primary down"...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_reason: Option<String>,
    /// On the primary while another site is active and the primary is up:
    /// seconds until automatic failback.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failback_in_s: Option<u64>,
}

fn onvif() -> String {
    "onvif".into()
}

/// One switch of the active site.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SwitchDto {
    /// When (RFC 3339, UTC).
    pub at_utc: String,
    /// From.
    pub from: String,
    /// To.
    pub to: String,
    /// Why.
    pub reason: String,
}

/// A camera and its sync state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CameraDto {
    /// Its id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Camera groups (role grants may be limited to groups).
    pub groups: Vec<String>,
    /// Number of presets.
    pub presets: usize,
    /// Open mismatches as of the last scan.
    pub mismatches: usize,
    /// Operation parts still pending on some site.
    pub pending: u64,
    /// Its optics, for positions in degrees and the field of view.
    #[serde(default)]
    pub optics: Option<OpticsDto>,
}

/// A camera's lens and the degrees its generic pan and tilt span.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OpticsDto {
    /// Horizontal field of view at zoom 0, in degrees.
    pub wide_hfov_deg: f64,
    /// Horizontal field of view at zoom 1, in degrees.
    pub tele_hfov_deg: f64,
    /// Degrees from pan -1 to pan 1.
    pub pan_range_deg: f64,
    /// Degrees from tilt -1 to tilt 1.
    pub tilt_range_deg: f64,
}
