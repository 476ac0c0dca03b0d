//! Presets: list, create, update, delete (one action, both sites), recall.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse as _;
use tandem_api::presets::{NewPresetDto, OperationDto, PresetChangeDto, PresetDto};
use tandem_api::problem::Problem;
use tandem_core::{CameraId, PresetName, PresetNumber};
use tandem_engine::engine::{AddPreset, Outcome, PositionSource, UpdatePreset};
use tandem_engine::live::Command;

use super::convert::{operation_dto, position, preset_dto};
use super::live::{LiveResult, run_live};
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Audience};

pub(super) fn camera(state: &AppState, id: &str) -> ApiResult<CameraId> {
    let id = CameraId::from(id);
    state.engine.bindings().camera(&id)?;
    Ok(id)
}

fn number(n: u32) -> ApiResult<PresetNumber> {
    PresetNumber::new(n).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn name(n: String) -> ApiResult<PresetName> {
    PresetName::new(n).map_err(|e| ApiError::bad_request(e.to_string()))
}

/// 200 when every site applied it (or one did and another refused it: the
/// body says which), 202 when a part is pending, 409 problem+json with each
/// site's words when every site refused it (then nothing changed): the
/// devices' state does not allow it, which the caller can act on.
fn answer(
    state: &AppState,
    camera: &CameraId,
    outcome: &Outcome,
) -> ApiResult<(StatusCode, Json<OperationDto>)> {
    let dto = operation_dto(outcome);
    state.emit("operation", Audience::Camera(camera.clone()), &dto);
    if !outcome.is_complete() {
        return Ok((StatusCode::ACCEPTED, Json(dto)));
    }
    if outcome
        .sites
        .iter()
        .all(|s| s.state == tandem_store::SiteState::Failed)
    {
        let words: Vec<String> = dto
            .sites
            .iter()
            .map(|s| format!("{}: {}", s.site, s.error.as_deref().unwrap_or("refused")))
            .collect();
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "Refused by every site",
            format!(
                "operation {} was refused by every site; nothing changed. {}",
                outcome.operation,
                words.join("; ")
            ),
        )
        .with_code("site_refused"));
    }
    Ok((StatusCode::OK, Json(dto)))
}

/// A camera's presets.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/presets", tag = "presets",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = [PresetDto]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<PresetDto>>> {
    let camera = camera(&state, &id)?;
    let presets = state.engine.presets(&who.0, &camera)?;
    Ok(Json(presets.iter().map(preset_dto).collect()))
}

/// Adds a preset on both sites; without a position, saves the active site's current view.
///
/// On ONVIF sites storing a position moves the physical camera there; the
/// camera is returned to where it was afterwards, unless someone takes
/// control of it meanwhile (`moves_camera` in the answer).
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/presets", tag = "presets", request_body = NewPresetDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = OperationDto), (status = 202, body = OperationDto),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<NewPresetDto>,
) -> ApiResult<(StatusCode, Json<OperationDto>)> {
    let camera = camera(&state, &id)?;
    let body = body.0;
    let request = AddPreset {
        number: body.number.map(number).transpose()?,
        name: name(body.name)?,
        position: match body.position {
            Some(p) => PositionSource::Explicit(position(p)?),
            None => PositionSource::Current,
        },
    };
    let outcome = state.engine.add(&camera, request, &who.0).await?;
    answer(&state, &camera, &outcome)
}

/// Renames, renumbers or re-aims a preset on both sites.
///
/// On ONVIF sites every change stores the preset again, which moves the
/// physical camera to its position (a rename too); the camera is returned to
/// where it was afterwards, unless someone takes control of it meanwhile.
#[utoipa::path(patch, path = "/api/v1/cameras/{camera}/presets/{number}", tag = "presets", request_body = PresetChangeDto,
    params(("camera" = String, Path, description = "Camera id"), ("number" = u32, Path, minimum = 1, maximum = 9999, description = "Preset number")),
    responses((status = 200, body = OperationDto), (status = 202, body = OperationDto),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn update(
    State(state): State<AppState>,
    who: Authed,
    Path((id, n)): Path<(String, u32)>,
    body: super::JsonBody<PresetChangeDto>,
) -> ApiResult<(StatusCode, Json<OperationDto>)> {
    let camera = camera(&state, &id)?;
    let n = number(n)?;
    let body = body.0;
    let position = match (body.position, body.current_view) {
        (Some(_), true) => {
            return Err(ApiError::bad_request(
                "give a position or current_view, not both",
            ));
        }
        (Some(p), false) => Some(PositionSource::Explicit(position(p)?)),
        (None, true) => Some(PositionSource::Current),
        (None, false) => None,
    };
    let request = UpdatePreset {
        name: body.name.map(name).transpose()?,
        number: body.number.map(number).transpose()?,
        position,
    };
    let outcome = state.engine.update(&camera, n, request, &who.0).await?;
    answer(&state, &camera, &outcome)
}

/// Deletes a preset on both sites.
#[utoipa::path(delete, path = "/api/v1/cameras/{camera}/presets/{number}", tag = "presets",
    params(("camera" = String, Path, description = "Camera id"), ("number" = u32, Path, minimum = 1, maximum = 9999, description = "Preset number")),
    responses((status = 200, body = OperationDto), (status = 202, body = OperationDto),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    who: Authed,
    Path((id, n)): Path<(String, u32)>,
) -> ApiResult<(StatusCode, Json<OperationDto>)> {
    let camera = camera(&state, &id)?;
    let n = number(n)?;
    let outcome = state.engine.delete(&camera, n, &who.0).await?;
    answer(&state, &camera, &outcome)
}

/// The picture of a preset where it points, on `site` (or the first site
/// that has one), taken when an operation stored it there; 404 when none was.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/presets/{number}/picture", tag = "presets",
    params(("camera" = String, Path, description = "Camera id"), ("number" = u32, Path, minimum = 1, maximum = 9999, description = "Preset number"),
        tandem_api::live::PictureQuery),
    responses((status = 200, description = "the JPEG picture", content_type = "image/jpeg"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn picture(
    State(state): State<AppState>,
    who: Authed,
    Path((id, n)): Path<(String, u32)>,
    Query(query): Query<tandem_api::live::PictureQuery>,
) -> ApiResult<axum::response::Response> {
    let camera = camera(&state, &id)?;
    let n = number(n)?;
    let site = query.site.map(tandem_core::SiteId);
    let Some((site, picture)) = state
        .engine
        .preset_picture(&who.0, &camera, n, site.as_ref())?
    else {
        return Err(ApiError::not_found(format!(
            "no picture of preset {n} yet: one is taken when an ONVIF site stores it"
        )));
    };
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "image/jpeg".to_string()),
            (
                axum::http::header::CACHE_CONTROL,
                "private, max-age=5".to_string(),
            ),
            (
                axum::http::header::HeaderName::from_static("x-tandem-site"),
                site.to_string(),
            ),
            (
                axum::http::header::HeaderName::from_static("x-tandem-taken"),
                picture.taken.to_rfc3339(),
            ),
        ],
        picture.jpeg,
    )
        .into_response())
}

/// Recalls a preset by number on the active site (each site's own token).
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/presets/{number}/recall", tag = "presets",
    params(("camera" = String, Path, description = "Camera id"), ("number" = u32, Path, minimum = 1, maximum = 9999, description = "Preset number")),
    responses((status = 200, body = tandem_api::live::ServedDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 502, body = Problem)))]
pub async fn recall(
    State(state): State<AppState>,
    who: Authed,
    Path((id, n)): Path<(String, u32)>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let n = number(n)?;
    run_live(&state, &who, &camera, &Command::RecallPreset(n)).await
}
