//! The JSON shapes of the API: the only place that knows them, so that the
//! domain types can change without changing the contract by accident.

use serde::{Deserialize, Serialize};
use tandem_core::{Position, Preset};
use tandem_engine::engine::Outcome;
use tandem_store::SiteState;
use utoipa::ToSchema;

/// Pan and tilt in [-1, 1], zoom in [0, 1].
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PositionDto {
    /// Pan.
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub pan: f64,
    /// Tilt.
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub tilt: f64,
    /// Zoom.
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub zoom: f64,
}

impl From<Position> for PositionDto {
    fn from(p: Position) -> Self {
        PositionDto {
            pan: p.pan,
            tilt: p.tilt,
            zoom: p.zoom,
        }
    }
}

/// A preset.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

impl From<&Preset> for PresetDto {
    fn from(p: &Preset) -> Self {
        PresetDto {
            number: p.number.get(),
            name: p.name.to_string(),
            position: p.position.map(Into::into),
            locked: p.locked,
            is_default: p.is_default,
        }
    }
}

/// One site's part of an operation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SitePartDto {
    /// The site.
    pub site: String,
    /// `pending`, `applied` or `failed`.
    pub state: String,
    /// The device's words when failed; the last transient error when pending.
    pub error: Option<String>,
}

/// The result of a preset operation: 200 when every site applied it, 202 when some part is pending.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OperationDto {
    /// The journaled operation's id.
    pub operation: i64,
    /// The preset afterwards (absent after a delete).
    pub preset: Option<PresetDto>,
    /// Per site.
    pub sites: Vec<SitePartDto>,
}

/// `pending`, `applied` or `failed`.
pub fn state_name(s: SiteState) -> String {
    match s {
        SiteState::Pending => "pending",
        SiteState::Applied => "applied",
        SiteState::Failed => "failed",
    }
    .into()
}

impl From<&Outcome> for OperationDto {
    fn from(o: &Outcome) -> Self {
        OperationDto {
            operation: o.operation,
            preset: o.preset.as_ref().map(Into::into),
            sites: o
                .sites
                .iter()
                .map(|s| SitePartDto {
                    site: s.site.to_string(),
                    state: state_name(s.state),
                    error: s.error.clone(),
                })
                .collect(),
        }
    }
}

/// A new preset.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPresetDto {
    /// The number; the lowest free one when absent.
    #[schema(minimum = 1, maximum = 9999)]
    pub number: Option<u32>,
    /// The name: 1 to 64 characters, no control characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: String,
    /// Where it points; absent to save the current view of the active site.
    pub position: Option<PositionDto>,
}

/// A change to a preset; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresetChangeDto {
    /// A new name: 1 to 64 characters, no control characters.
    #[schema(min_length = 1, max_length = 64)]
    pub name: Option<String>,
    /// A new number.
    #[schema(minimum = 1, maximum = 9999)]
    pub number: Option<u32>,
    /// A new position.
    pub position: Option<PositionDto>,
    /// Re-aim to the current view of the active site.
    #[serde(default)]
    pub current_view: bool,
}
