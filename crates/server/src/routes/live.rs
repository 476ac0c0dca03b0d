//! Live PTZ: moves, stop, home, status on the active site, with failover;
//! manual control sessions with PTZ priority.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse as _;
use serde::{Deserialize, Serialize};
use tandem_core::access::Permission;
use tandem_core::{CameraId, Position};
use tandem_engine::live::Command;
use utoipa::ToSchema;

use super::dto::PositionDto;
use super::presets::camera;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::metrics::SiteLabels;
use crate::state::AppState;

/// Which site served a live command.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// The answer of a live command.
pub type LiveResult = ApiResult<Json<ServedDto>>;

/// Runs a live command with failover, recording latency and events.
pub async fn run_live(state: &AppState, camera: &CameraId, command: &Command) -> LiveResult {
    let started = Instant::now();
    let served = state.live.command(camera, command).await?;
    state
        .metrics
        .live_commands
        .get_or_create(&SiteLabels {
            site: served.site.to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    let status = served.status.as_ref();
    Ok(Json(ServedDto {
        site: served.site.to_string(),
        failed_over_from: served
            .failed_over_from
            .iter()
            .map(ToString::to_string)
            .collect(),
        position: status
            .and_then(|s| s.position.as_ref())
            .and_then(tandem_engine::sites::from_vector)
            .map(Into::into),
        moving: status.map(|s| !s.is_idle()),
    }))
}

/// Takes or renews manual control for the caller, or answers 409 with who holds it.
fn take_control(state: &AppState, who: &Authed, camera: &CameraId) -> ApiResult<()> {
    // 403 unless a role grants PTZ control on this camera (the same check as `require`).
    let priority = who.ptz_priority(state, camera)?;
    let now = Instant::now();
    let before = state.sessions.holder(camera, now);
    match state
        .sessions
        .acquire(camera, who.user(), priority, state.control_idle, now)
    {
        Ok(()) => {
            if before.as_ref().is_none_or(|h| h.user != who.user()) {
                state.emit("control", serde_json::json!({ "camera": camera, "user": who.user(), "taken_from": before.map(|h| h.user) }));
            }
            Ok(())
        }
        Err(busy) => {
            let left = busy
                .0
                .until
                .map(|t| t.saturating_duration_since(now).as_secs());
            let until = left
                .map(|s| format!(" for {s} more seconds unless they keep moving it"))
                .unwrap_or_default();
            Err(ApiError::conflict(format!(
                "{busy}{until}; a role with a higher PTZ priority takes over at once"
            )))
        }
    }
}

/// A continuous move.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinuousDto {
    /// Pan velocity in [-1, 1].
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub pan: f64,
    /// Tilt velocity in [-1, 1].
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub tilt: f64,
    /// Zoom velocity in [-1, 1].
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub zoom: f64,
    /// The camera stops by itself after this long (default 1000, at most 60000).
    pub timeout_ms: Option<u64>,
}

/// A relative move.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RelativeDto {
    /// Pan translation in [-2, 2].
    #[schema(minimum = -2.0, maximum = 2.0)]
    pub pan: f64,
    /// Tilt translation in [-2, 2].
    #[schema(minimum = -2.0, maximum = 2.0)]
    pub tilt: f64,
    /// Zoom translation in [-1, 1].
    #[schema(minimum = -1.0, maximum = 1.0)]
    pub zoom: f64,
}

fn in_range(v: f64, lo: f64, hi: f64, what: &str) -> ApiResult<f64> {
    if v.is_finite() && (lo..=hi).contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::bad_request(format!(
            "{what} {v} is outside [{lo}, {hi}]"
        )))
    }
}

/// Moves at a velocity until stopped or the timeout.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/continuous", tag = "live", request_body = ContinuousDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn continuous(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<ContinuousDto>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let b = body.0;
    let velocity = [
        in_range(b.pan, -1.0, 1.0, "pan")?,
        in_range(b.tilt, -1.0, 1.0, "tilt")?,
        in_range(b.zoom, -1.0, 1.0, "zoom")?,
    ];
    let timeout = Duration::from_millis(b.timeout_ms.unwrap_or(1000).clamp(1, 60_000));
    take_control(&state, &who, &camera)?;
    run_live(
        &state,
        &camera,
        &Command::ContinuousMove { velocity, timeout },
    )
    .await
}

/// Moves by a translation.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/relative", tag = "live", request_body = RelativeDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn relative(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<RelativeDto>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let b = body.0;
    let translation = [
        in_range(b.pan, -2.0, 2.0, "pan")?,
        in_range(b.tilt, -2.0, 2.0, "tilt")?,
        in_range(b.zoom, -1.0, 1.0, "zoom")?,
    ];
    take_control(&state, &who, &camera)?;
    run_live(&state, &camera, &Command::RelativeMove { translation }).await
}

/// Moves to a position.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/absolute", tag = "live", request_body = PositionDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn absolute(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<PositionDto>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let position = Position::new(body.0.pan, body.0.tilt, body.0.zoom)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    take_control(&state, &who, &camera)?;
    run_live(&state, &camera, &Command::AbsoluteMove { position }).await
}

/// Stops pan, tilt and zoom.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/stop", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 502, body = crate::error::Problem)))]
pub async fn stop(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    take_control(&state, &who, &camera)?;
    run_live(&state, &camera, &Command::Stop).await
}

/// Goes to the active site's home position.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/home", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
        (status = 502, body = crate::error::Problem)))]
pub async fn home(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    take_control(&state, &who, &camera)?;
    run_live(&state, &camera, &Command::GotoHome).await
}

/// Position and movement, from the active site.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/ptz/status", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn status(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    who.require(&state, Permission::PtzControl, Some(&camera))
        .or_else(|_| who.require(&state, Permission::PresetRecall, Some(&camera)))?;
    run_live(&state, &camera, &Command::Status).await
}

/// Which site to take a snapshot from.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SnapshotQuery {
    /// A site id; absent for the active site (failing over like live commands).
    pub site: Option<String>,
}

/// The camera's current picture (JPEG), fetched by the service from the
/// device's `GetSnapshotUri` so that device credentials stay on the server.
/// The `x-tandem-site` header names the site it came from.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/snapshot", tag = "live",
    params(("camera" = String, Path, description = "Camera id"), SnapshotQuery),
    responses((status = 200, description = "the JPEG picture", content_type = "image/jpeg"),
        (status = 404, body = crate::error::Problem), (status = 502, body = crate::error::Problem)))]
pub async fn snapshot(
    State(state): State<AppState>,
    _who: Authed,
    Path(id): Path<String>,
    Query(query): Query<SnapshotQuery>,
) -> ApiResult<axum::response::Response> {
    let camera = camera(&state, &id)?;
    let site = match &query.site {
        Some(name) => Some(
            state
                .engine
                .bindings()
                .sites()
                .iter()
                .find(|s| s.id.as_str() == name)
                .map(|s| s.id.clone())
                .ok_or_else(|| ApiError::not_found(format!("no site {name:?}")))?,
        ),
        None => None,
    };
    let (site, jpeg) = state.live.snapshot(&camera, site.as_ref()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-tandem-site"),
                site.to_string(),
            ),
        ],
        jpeg,
    )
        .into_response())
}

/// Who controls a camera.
#[derive(Debug, Clone, Serialize, ToSchema)]
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

/// Who holds manual control of a camera.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/control", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 404, body = crate::error::Problem)))]
pub async fn control(
    State(state): State<AppState>,
    _who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    let now = Instant::now();
    let h = state.sessions.holder(&camera, now);
    Ok(Json(ControlDto {
        user: h.as_ref().map(|h| h.user.clone()),
        priority: h.as_ref().map(|h| h.priority),
        reserved: h.as_ref().is_some_and(|h| h.reserved),
        expires_in_s: h
            .and_then(|h| h.until)
            .map(|t| t.saturating_duration_since(now).as_secs()),
    }))
}

/// Releases the caller's manual control (or reservation).
#[utoipa::path(delete, path = "/api/v1/cameras/{camera}/control", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 404, body = crate::error::Problem)))]
pub async fn release(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    state.sessions.release(&camera, who.user());
    state.emit(
        "control",
        serde_json::json!({ "camera": camera, "released_by": who.user() }),
    );
    control(State(state), who, Path(id)).await
}

/// Reserves a camera for preset work (admins): exclusive until released.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/reserve", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn reserve(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    who.require(&state, Permission::Admin, Some(&camera))?;
    state
        .sessions
        .reserve(&camera, who.user(), Instant::now())
        .map_err(|b| ApiError::conflict(b.to_string()))?;
    state.emit(
        "control",
        serde_json::json!({ "camera": camera, "reserved_by": who.user() }),
    );
    control(State(state), who, Path(id)).await
}
