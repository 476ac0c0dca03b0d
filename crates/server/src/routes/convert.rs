//! Between the API's wire shapes (`tandem_api`) and the domain's types: the
//! server is the one crate that knows both, so the conversions live here, as
//! functions (the orphan rule forbids `From` impls between two other crates' types).

use std::fmt::Display;

use tandem_api::presets::{OperationDto, PositionDto, PresetDto, SitePartDto};
use tandem_core::{Position, Preset};
use tandem_engine::engine::Outcome;
use tandem_store::SiteState;

use crate::error::{ApiError, ApiResult};

/// A position as the API shows it.
pub fn position_dto(p: Position) -> PositionDto {
    PositionDto {
        pan: p.pan,
        tilt: p.tilt,
        zoom: p.zoom,
    }
}

/// A position the API received, checked: 400 when out of range.
pub fn position(p: PositionDto) -> ApiResult<Position> {
    Position::new(p.pan, p.tilt, p.zoom).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// A canonical preset as the API shows it.
pub fn preset_dto(p: &Preset) -> PresetDto {
    PresetDto {
        number: p.number.get(),
        name: p.name.to_string(),
        position: p.position.map(position_dto),
        locked: p.locked,
        is_default: p.is_default,
    }
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

/// One site's part of an operation, from an outcome or from the journal.
pub fn site_part_dto(site: &impl Display, state: SiteState, error: &Option<String>) -> SitePartDto {
    SitePartDto {
        site: site.to_string(),
        state: state_name(state),
        error: error.clone(),
    }
}

/// The answer of a preset operation.
pub fn operation_dto(o: &Outcome) -> OperationDto {
    OperationDto {
        operation: o.operation,
        preset: o.preset.as_ref().map(preset_dto),
        sites: o
            .sites
            .iter()
            .map(|s| site_part_dto(&s.site, s.state, &s.error))
            .collect(),
        moves_camera: o.moves_camera,
    }
}
