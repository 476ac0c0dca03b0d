//! Live PTZ (`/api/v1/cameras/{camera}/ptz/...`, `/snapshot`, `/control`,
//! `/reserve`): commands on the active site with failover, manual control.

use serde::{Deserialize, Serialize};

use crate::presets::PositionDto;

/// Which site served a live command.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ServedDto {
    /// The site that served it.
    pub site: String,
    /// Sites tried first that did not answer (a failover happened when not empty).
    pub failed_over_from: Vec<String>,
    /// The position, for status requests.
    pub position: Option<PositionDto>,
    /// Whether the camera moves, for status requests.
    pub moving: Option<bool>,
}

/// A continuous move.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ContinuousDto {
    /// Pan velocity in [-1, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub pan: f64,
    /// Tilt velocity in [-1, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub tilt: f64,
    /// Zoom velocity in [-1, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub zoom: f64,
    /// The camera stops by itself after this long (default 1000, at most 60000).
    pub timeout_ms: Option<u64>,
}

/// A relative move.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RelativeDto {
    /// Pan translation in [-2, 2].
    #[cfg_attr(feature = "openapi", schema(minimum = -2.0, maximum = 2.0))]
    pub pan: f64,
    /// Tilt translation in [-2, 2].
    #[cfg_attr(feature = "openapi", schema(minimum = -2.0, maximum = 2.0))]
    pub tilt: f64,
    /// Zoom translation in [-1, 1].
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub zoom: f64,
}

/// A point of the live picture to bring to its centre, and how much closer
/// to look (click to centre; a rectangle dragged to zoom).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CentreDto {
    /// Across the picture, -1 (left edge) to 1 (right edge).
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub x: f64,
    /// Down the picture, -1 (top edge) to 1 (bottom edge).
    #[cfg_attr(feature = "openapi", schema(minimum = -1.0, maximum = 1.0))]
    pub y: f64,
    /// The picture's width over its height (default 16/9).
    #[cfg_attr(feature = "openapi", schema(minimum = 0.2, maximum = 5.0))]
    pub aspect: Option<f64>,
    /// Magnification: above 1 zooms in that many times, below 1 out (default 1).
    #[cfg_attr(feature = "openapi", schema(minimum = 0.05, maximum = 50.0))]
    pub factor: Option<f64>,
}

/// Which site to take a snapshot from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct SnapshotQuery {
    /// A site id; absent for the active site (failing over like live commands).
    pub site: Option<String>,
}

/// Which site's picture of a preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct PictureQuery {
    /// A site id; absent for the first site, in priority order, that has one.
    pub site: Option<String>,
    /// Any number: ignored, so that a page can ask for a fresh copy.
    pub v: Option<u64>,
}

/// Picture stream query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct StreamQuery {
    /// Pictures per second, 1 to 15 (default 5); fewer when the site is slower.
    pub fps: Option<u32>,
}

/// Several cameras' picture stream query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct StreamsQuery {
    /// Camera ids separated by commas (1 to 16).
    pub cameras: String,
    /// Pictures per second of each, 1 to 15 (default 5).
    pub fps: Option<u32>,
}

/// Who controls a camera.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ControlDto {
    /// The user holding manual control, if anyone.
    pub user: Option<String>,
    /// Their PTZ priority.
    pub priority: Option<u16>,
    /// Reserved for preset work by an admin.
    pub reserved: bool,
    /// Seconds until the hold lapses without commands.
    pub expires_in_s: Option<u64>,
}
