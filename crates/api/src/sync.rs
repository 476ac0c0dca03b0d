//! Scans (`/api/v1/scans`), mismatches (`/api/v1/mismatches`), repairs
//! (`/api/v1/cameras/{camera}/repair`) and the journal (`/api/v1/operations`).

use serde::{Deserialize, Serialize};

use crate::presets::{OperationDto, SitePartDto};

/// Which cameras to scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Camera ids; every camera when absent.
    pub cameras: Option<Vec<String>>,
}

/// One camera's scan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScanDto {
    /// The camera.
    pub camera: String,
    /// Open mismatches.
    pub open: usize,
    /// New since the previous scan.
    pub new: usize,
    /// Gone since the previous scan.
    pub gone: usize,
    /// Sites that could not be read, as `site (how): why` (see `unread`).
    pub unreachable: Vec<String>,
    /// Sites that could not be read: a scan with any is not done.
    #[serde(default)]
    pub unread: Vec<UnreadSiteDto>,
    /// Preset numbers not compared because an operation on them is still
    /// pending on some site (the sites differ there until it is applied; a
    /// repair would undo it): not mismatches, compared again by the next scan.
    #[serde(default)]
    pub pending: Vec<u32>,
    /// Patrols on one site (XProtect) that name a preset the other site lacks.
    #[serde(default)]
    pub patrol_gaps: Vec<PatrolGapDto>,
    /// Why the scan failed, if it did.
    pub error: Option<String>,
}

/// A patrol on one site that names a preset the other site lacks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PatrolGapDto {
    /// The site whose patrol it is.
    pub site: String,
    /// The patrol's name there.
    pub patrol: String,
    /// The preset it names, by name.
    pub preset: String,
    /// The preset's number, when tandem numbers it.
    pub number: Option<u32>,
    /// The site that lacks the preset.
    pub missing_on: String,
}

/// A site a scan could not read.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnreadSiteDto {
    /// The site.
    pub site: String,
    /// `unreachable` (no answer), `refused` (a fault, an HTTP error, refused
    /// credentials or clock) or `malformed` (an answer that is not ONVIF).
    pub failure: String,
    /// What went wrong, in the device's or the transport's words.
    pub message: String,
}

/// An open mismatch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MismatchDto {
    /// The camera.
    pub camera: String,
    /// Its identity across scans; pass it to a repair to repair just this one.
    pub key: String,
    /// `only_on_primary`, `only_on_secondary`, `name_differs`, `number_differs` or `position_differs`.
    pub kind: String,
    /// The primary's preset (null when only on the secondary).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub primary: serde_json::Value,
    /// The secondary's preset (null when only on the primary).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub secondary: serde_json::Value,
    /// Positions were not compared: a site reports none.
    pub position_unknown: bool,
    /// First seen (RFC 3339).
    pub first_seen_utc: String,
}

/// Filter of mismatches.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct MismatchQuery {
    /// Only this camera.
    pub camera: Option<String>,
}

/// A repair request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// `primary` (apply the primary to the secondary) or `secondary`.
    pub from: String,
    /// Only these mismatch keys; the whole camera when absent.
    pub mismatches: Option<Vec<String>>,
    /// Only show the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// A repair's plan and, unless dry run, its result.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RepairDto {
    /// The changes on the target side.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub changes: Vec<serde_json::Value>,
    /// Some change stores a position, which on ONVIF sites moves the physical
    /// camera; it is returned to where it was afterwards unless someone takes
    /// control of it meanwhile. Told by the dry run, before anything moves.
    #[serde(default)]
    pub moves_camera: bool,
    /// One operation per applied change.
    pub operations: Vec<OperationDto>,
    /// Changes that could not be made, with why.
    pub skipped: Vec<String>,
    /// Mismatches left after the re-scan (absent for a dry run).
    pub remaining: Option<usize>,
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JournalDto {
    /// Id.
    pub id: i64,
    /// Camera.
    pub camera: String,
    /// The action, as journaled.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub action: serde_json::Value,
    /// Who.
    pub actor: String,
    /// When (RFC 3339).
    pub created_utc: String,
    /// Per site.
    pub sites: Vec<SitePartDto>,
}

/// Journal filter.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    /// Only this camera.
    pub camera: Option<String>,
    /// Most recent N (default 100, at most 1000).
    pub limit: Option<usize>,
}
