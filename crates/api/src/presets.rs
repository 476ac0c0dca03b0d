//! Presets (`/api/v1/cameras/{camera}/presets`): one action, both sites.

use serde::{Deserialize, Serialize};

/// Pan and tilt in [-1, 1], zoom in [0, 1].
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PositionDto {
    /// Pan.
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub pan: f64,
    /// Tilt.
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub tilt: f64,
    /// Zoom.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub zoom: f64,
}

/// A preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresetDto {
    /// What keyboards recall.
    pub number: u32,
    /// The name.
    pub name: String,
    /// Where it points, when known.
    pub position: Option<PositionDto>,
    /// Only roles with `preset.manage_locked` may change it.
    pub locked: bool,
    /// The camera's default (home) preset.
    pub is_default: bool,
}

/// One site's part of an operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SitePartDto {
    /// The site.
    pub site: String,
    /// `pending`, `applied` or `failed`.
    pub state: String,
    /// The device's words when failed; the last transient error when pending.
    pub error: Option<String>,
}

/// The result of a preset operation: 200 when every site applied it, 202 when some part is pending.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OperationDto {
    /// The journaled operation's id.
    pub operation: i64,
    /// The preset afterwards (absent after a delete).
    pub preset: Option<PresetDto>,
    /// Per site.
    pub sites: Vec<SitePartDto>,
    /// The operation stores a position, which on ONVIF sites moves the
    /// physical camera there (a rename too: ONVIF stores the current
    /// position); the camera is returned to where it was afterwards unless
    /// someone takes control of it meanwhile.
    #[serde(default)]
    pub moves_camera: bool,
}

/// A new preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewPresetDto {
    /// The number; the lowest free one when absent.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9999))]
    pub number: Option<u32>,
    /// The name: 1 to 64 characters, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: String,
    /// Where it points; absent to save the current view of the active site.
    pub position: Option<PositionDto>,
}

/// A change to a preset; absent fields stay as they are.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PresetChangeDto {
    /// A new name: 1 to 64 characters, no control characters.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 64))]
    pub name: Option<String>,
    /// A new number.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 9999))]
    pub number: Option<u32>,
    /// A new position.
    pub position: Option<PositionDto>,
    /// Re-aim to the current view of the active site.
    #[serde(default)]
    pub current_view: bool,
}
