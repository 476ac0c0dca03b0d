//! Live PTZ: moves, stop, home, status on the active site, with failover;
//! manual control sessions with PTZ priority.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse as _;
use tandem_api::live::{
    CentreDto, ContinuousDto, ControlDto, RelativeDto, ServedDto, SnapshotQuery, StreamQuery,
    StreamsQuery,
};
use tandem_api::presets::PositionDto;
use tandem_api::problem::Problem;
use tandem_core::CameraId;
use tandem_engine::live::Command;

use super::convert::{position, position_dto};
use super::presets::camera;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::metrics::SiteLabels;
use crate::state::AppState;

/// The answer of a live command.
pub type LiveResult = ApiResult<Json<ServedDto>>;

/// Runs `who`'s live command through the engine (rights, manual control,
/// failover), recording its latency.
pub async fn run_live(
    state: &AppState,
    who: &Authed,
    camera: &CameraId,
    command: &Command,
) -> LiveResult {
    let started = Instant::now();
    let served = state.live.operate(&who.0, camera, command).await?;
    Ok(answer(state, started, served))
}

/// A served live command as the API answers it, its latency recorded.
fn answer(
    state: &AppState,
    started: Instant,
    served: tandem_engine::live::Served,
) -> Json<ServedDto> {
    state
        .metrics
        .live_commands
        .get_or_create(&SiteLabels {
            site: served.site.to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    Json(ServedDto {
        site: served.site.to_string(),
        failed_over_from: served
            .failed_over_from
            .iter()
            .map(ToString::to_string)
            .collect(),
        position: served.status.and_then(|s| s.position).map(position_dto),
        moving: served.status.map(|s| s.moving),
    })
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
    responses((status = 200, body = ServedDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem)))]
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
    run_live(
        &state,
        &who,
        &camera,
        &Command::ContinuousMove { velocity, timeout },
    )
    .await
}

/// Moves by a translation.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/relative", tag = "live", request_body = RelativeDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem)))]
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
    run_live(
        &state,
        &who,
        &camera,
        &Command::RelativeMove { translation },
    )
    .await
}

/// Brings a point of the live picture to its centre, optionally zooming
/// (click to centre; a dragged rectangle): computed from where the camera
/// points and the camera's optics, sent as one absolute move.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/centre", tag = "live", request_body = CentreDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn centre(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<CentreDto>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let b = body.0;
    let point = tandem_core::PicturePoint {
        x: b.x,
        y: b.y,
        aspect: b.aspect.unwrap_or(16.0 / 9.0),
        factor: b.factor.unwrap_or(1.0),
    };
    let started = Instant::now();
    let served = state.live.centre_on(&who.0, &camera, point).await?;
    Ok(answer(&state, started, served))
}

/// Moves to a position.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/absolute", tag = "live", request_body = PositionDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 502, body = Problem)))]
pub async fn absolute(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<PositionDto>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    let position = position(body.0)?;
    run_live(&state, &who, &camera, &Command::AbsoluteMove { position }).await
}

/// Stops pan, tilt and zoom.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/stop", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn stop(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    run_live(&state, &who, &camera, &Command::Stop).await
}

/// Goes to the active site's home position.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/ptz/home", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn home(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    run_live(&state, &who, &camera, &Command::GotoHome).await
}

/// Position and movement, from the active site.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/ptz/status", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ServedDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 502, body = Problem)))]
pub async fn status(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> LiveResult {
    let camera = camera(&state, &id)?;
    run_live(&state, &who, &camera, &Command::Status).await
}

/// The camera's current picture (JPEG), fetched by the service from the
/// device's `GetSnapshotUri` so that device credentials stay on the server;
/// the caller needs some permission on the camera.
/// The `x-tandem-site` header names the site it came from.
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/snapshot", tag = "live",
    params(("camera" = String, Path, description = "Camera id"), SnapshotQuery),
    responses((status = 200, description = "the JPEG picture", content_type = "image/jpeg"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 502, body = Problem)))]
pub async fn snapshot(
    State(state): State<AppState>,
    who: Authed,
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
    let (site, jpeg) = state.live.snapshot(&who.0, &camera, site.as_ref()).await?;
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

/// The camera's view at a position, and the camera back where it was: moves
/// it there through the active site (as the caller, who takes manual
/// control), waits until it stops, takes a picture, then returns it unless
/// someone took control meanwhile. `x-tandem-site` names the picture's site,
/// `x-tandem-returned` says whether the camera was sent back.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/look", tag = "live", request_body = PositionDto,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, description = "the JPEG picture at the position", content_type = "image/jpeg"),
        (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 502, body = Problem)))]
pub async fn look(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<PositionDto>,
) -> ApiResult<axum::response::Response> {
    let camera = camera(&state, &id)?;
    let position = position(body.0)?;
    let look = state.live.look(&who.0, &camera, position).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/jpeg".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (
                header::HeaderName::from_static("x-tandem-site"),
                look.site.to_string(),
            ),
            (
                header::HeaderName::from_static("x-tandem-returned"),
                look.returned.to_string(),
            ),
        ],
        look.jpeg,
    )
        .into_response())
}

/// The multipart boundary of a picture stream.
const STREAM_BOUNDARY: &str = "tandemframe";

/// Cameras one grid stream may carry (a 4×4 grid).
const MAX_STREAM_CAMERAS: usize = 16;

/// The camera's live picture, pushed: `multipart/x-mixed-replace` of JPEG
/// parts from the active site (failing over like live commands), each with
/// an `X-Tandem-Site` header; when no site gives one, a JSON part
/// (`{"error": "..."}`) says why, and the stream goes on trying. It ends
/// when the caller's session or rights end. Each camera streamed takes one
/// of [`MAX_STREAMS`] places (503 when none is left).
///
/// [`MAX_STREAMS`]: crate::state::MAX_STREAMS
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/stream", tag = "live",
    params(("camera" = String, Path, description = "Camera id"), StreamQuery),
    responses((status = 200, description = "JPEG parts", content_type = "multipart/x-mixed-replace"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
pub async fn stream(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    Query(query): Query<StreamQuery>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    let camera = camera(&state, &id)?;
    pictures(state, who, vec![camera], query.fps, headers, false).await
}

/// Several cameras' live pictures in one pushed stream (a grid of tiles
/// over one connection: browsers open only six to a server): as
/// `/cameras/{camera}/stream`, each part also naming its camera in
/// `X-Tandem-Camera`. At most 16 cameras.
#[utoipa::path(get, path = "/api/v1/streams", tag = "live",
    params(StreamsQuery),
    responses((status = 200, description = "JPEG parts", content_type = "multipart/x-mixed-replace"),
        (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 503, body = Problem)))]
pub async fn streams(
    State(state): State<AppState>,
    who: Authed,
    Query(query): Query<StreamsQuery>,
    headers: axum::http::HeaderMap,
) -> ApiResult<axum::response::Response> {
    let ids: Vec<&str> = query.cameras.split(',').filter(|c| !c.is_empty()).collect();
    if ids.is_empty() || ids.len() > MAX_STREAM_CAMERAS {
        return Err(ApiError::bad_request(format!(
            "cameras: name 1 to {MAX_STREAM_CAMERAS} cameras, separated by commas"
        )));
    }
    let mut cameras = Vec::new();
    for id in ids {
        let c = camera(&state, id)?;
        if !cameras.contains(&c) {
            cameras.push(c);
        }
    }
    pictures(state, who, cameras, query.fps, headers, true).await
}

/// The stream of `cameras`' pictures for `who` at `fps` (1 to 15, default
/// 5); `tagged`: each part names its camera.
async fn pictures(
    state: AppState,
    who: Authed,
    cameras: Vec<CameraId>,
    fps: Option<u32>,
    headers: axum::http::HeaderMap,
    tagged: bool,
) -> ApiResult<axum::response::Response> {
    let fps = fps.unwrap_or(5);
    if !(1..=15).contains(&fps) {
        return Err(ApiError::bad_request(format!("fps {fps}: use 1 to 15")));
    }
    // Rights first: a refusal is an answer, not a stream. Then the places,
    // before any site is asked for a picture.
    for camera in &cameras {
        state.engine.require_sight(&who.0, camera)?;
    }
    let places = u32::try_from(cameras.len()).unwrap_or(u32::MAX);
    let permit = state
        .streams
        .clone()
        .try_acquire_many_owned(places)
        .map_err(|_| ApiError::busy("too many picture streams are open; close some views", 5))?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::convert::Infallible>>(
        2 * cameras.len(),
    );
    let permit = std::sync::Arc::new(permit);
    // One task per camera, all started at once: a grid opens in the time of
    // its slowest camera, not of all of them in turn.
    for camera in cameras {
        let (state, tx, headers, principal, permit) = (
            state.clone(),
            tx.clone(),
            headers.clone(),
            who.0.clone(),
            permit.clone(),
        );
        tokio::spawn(async move {
            let _permit = permit;
            let tag = tagged.then(|| camera.to_string());
            let every = Duration::from_secs(1) / fps;
            let mut checked = tokio::time::Instant::now();
            loop {
                let started = tokio::time::Instant::now();
                let (part, failed) = match state.live.snapshot(&principal, &camera, None).await {
                    Ok((site, jpeg)) => (
                        frame("image/jpeg", tag.as_deref(), Some(site.as_str()), &jpeg),
                        false,
                    ),
                    Err(e) => (
                        frame(
                            "application/json",
                            tag.as_deref(),
                            None,
                            serde_json::json!({ "error": e.to_string() })
                                .to_string()
                                .as_bytes(),
                        ),
                        true,
                    ),
                };
                if tx.send(Ok(part)).await.is_err() {
                    return;
                }
                if checked.elapsed() >= crate::routes::system::RECHECK_EVERY {
                    checked = tokio::time::Instant::now();
                    if crate::security::caller(&state, &headers).await.as_ref() != Some(&principal)
                    {
                        return;
                    }
                }
                // A failed picture is said once a second, not at the frame rate.
                let pause = if failed {
                    Duration::from_secs(1)
                } else {
                    every
                };
                tokio::select! {
                    _ = tx.closed() => return,
                    _ = tokio::time::sleep_until(started + pause) => {}
                }
            }
        });
    }
    drop(tx);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                format!("multipart/x-mixed-replace; boundary={STREAM_BOUNDARY}"),
            ),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        axum::body::Body::from_stream(tokio_stream::wrappers::ReceiverStream::new(rx)),
    )
        .into_response())
}

/// One part of a picture stream.
fn frame(
    content_type: &str,
    camera: Option<&str>,
    site: Option<&str>,
    body: &[u8],
) -> axum::body::Bytes {
    let mut part = format!(
        "--{STREAM_BOUNDARY}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(camera) = camera {
        part.push_str(&format!("X-Tandem-Camera: {camera}\r\n"));
    }
    if let Some(site) = site {
        part.push_str(&format!("X-Tandem-Site: {site}\r\n"));
    }
    part.push_str("\r\n");
    let mut bytes = Vec::with_capacity(part.len() + body.len() + 2);
    bytes.extend_from_slice(part.as_bytes());
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(b"\r\n");
    bytes.into()
}

/// Who holds manual control of a camera (some permission on it needed).
#[utoipa::path(get, path = "/api/v1/cameras/{camera}/control", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn control(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    let h = state.live.holder(&who.0, &camera)?;
    Ok(Json(ControlDto {
        user: h.as_ref().map(|h| h.user.clone()),
        priority: h.as_ref().map(|h| h.priority),
        reserved: h.as_ref().is_some_and(|h| h.reserved),
        expires_in_s: h.and_then(|h| h.expires_in).map(|d| d.as_secs()),
    }))
}

/// Releases the caller's manual control (or reservation).
#[utoipa::path(delete, path = "/api/v1/cameras/{camera}/control", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn release(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    state.live.release(&who.0, &camera)?;
    control(State(state), who, Path(id)).await
}

/// Takes manual control of a camera without moving it (`ptz.control`): at
/// once from nobody or from a lower PTZ priority, 409 otherwise.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/control", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn take(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    state.live.take(&who.0, &camera)?;
    control(State(state), who, Path(id)).await
}

/// Reserves a camera for preset work (admins): exclusive until released.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/reserve", tag = "live",
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = ControlDto), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn reserve(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
) -> ApiResult<Json<ControlDto>> {
    let camera = camera(&state, &id)?;
    state.live.reserve(&who.0, &camera)?;
    control(State(state), who, Path(id)).await
}
