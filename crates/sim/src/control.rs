//! The simulator's control API: HTTP JSON on loopback, to inspect the world
//! and inject faults while it runs. Site and camera numbers start at 1.
//!
//! - `GET  /api/sites`: sites with their faults, how many preset writes
//!   (`SetPreset`, `RemovePreset`), removals (`RemovePreset`) and command
//!   calls (preset requests aimed at a `commands=` number) each has
//!   answered, and its request counts ([`Requests`]: SOAP requests, clock
//!   reads, Digest challenges, `NotAuthorized` refusals)
//! - `GET  /api/sites/{site}/faults`, `PATCH /api/sites/{site}/faults` (a partial [`Faults`])
//! - `GET  /api/sites/{site}/clock`, `PUT /api/sites/{site}/clock` (a
//!   [`ClockPatch`], such as `{"skew_s": 7200}`): every camera's device clock
//!   on the site; `/api/sites/{site}/cameras/{camera}/clock` for one camera
//! - `GET  /api/sites/{site}/cameras/{camera}/presets`: the site's exact preset table
//! - `PATCH /api/sites/{site}/cameras/{camera}/presets/{token}` (a
//!   [`PresetChange`], such as `{"name": "Gate 2"}` or `{"pan": 0.4}`): one
//!   preset changed on that site only, as someone at the camera would
//! - `GET  /api/cameras/{camera}`: the physical position and movement
//! - `GET  /api/endpoints`: every endpoint with its device URL and credentials
//! - `GET  /api/sites/{site}/xprotect`: a site served as XProtect too: its
//!   address, knobs, counts and each camera's GUID, VMS presets and patrols;
//!   `PATCH` the same with a partial [`XpKnobsPatch`], such as
//!   `{"version": "24.1.0.5"}`, `{"fail_tasks": true}`, `{"revoke_tokens": true}`,
//!   `{"latency_ms": 200}` or `{"down": true}`

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Simulator;
use crate::world::{CameraOnSite, ClockPatch, Faults, FaultsPatch, Requests, Site};
use crate::xprotect::{XpKnobsPatch, XpSite};

/// The control API's router.
pub fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/api/sites", get(sites))
        .route(
            "/api/sites/{site}/faults",
            get(get_faults).patch(patch_faults).put(patch_faults),
        )
        .route(
            "/api/sites/{site}/clock",
            get(get_site_clock).put(put_site_clock),
        )
        .route(
            "/api/sites/{site}/cameras/{camera}/clock",
            get(get_camera_clock).put(put_camera_clock),
        )
        .route("/api/sites/{site}/cameras/{camera}/presets", get(presets))
        .route(
            "/api/sites/{site}/cameras/{camera}/presets/{token}",
            axum::routing::patch(change_preset),
        )
        .route("/api/cameras/{camera}", get(camera))
        .route("/api/endpoints", get(endpoints))
        .route(
            "/api/sites/{site}/xprotect",
            get(get_xprotect).patch(patch_xprotect),
        )
        .with_state(sim)
}

/// A control API error: a status and a message.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

fn site(sim: &Simulator, number: usize) -> Result<&Arc<Site>, ApiError> {
    sim.sites().get(number.wrapping_sub(1)).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no site {number}; sites are 1 to {}", sim.sites().len()),
        )
    })
}

fn camera_on(site: &Site, number: usize) -> Result<&CameraOnSite, ApiError> {
    site.camera(number.wrapping_sub(1)).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "no camera {number}; cameras are 1 to {}",
                site.cameras().len()
            ),
        )
    })
}

fn site_json(site: &Site) -> Value {
    let requests: Requests = site.requests();
    json!({
        "site": site.number,
        "name": site.name,
        "cameras": site.cameras().len(),
        "faults": site.faults(),
        "preset_writes": site.preset_writes(),
        "preset_removals": site.preset_removals(),
        "command_calls": site.command_calls(),
        "requests": requests,
    })
}

fn clock_json(site: &Site, camera: &CameraOnSite) -> Value {
    let clock = camera.clock();
    json!({
        "site": site.number,
        "camera": camera.index + 1,
        "skew_s": clock.skew_s,
        "reported_skew_s": clock.reported_skew_s,
    })
}

fn site_clock_json(site: &Site) -> Value {
    json!({
        "site": site.number,
        "cameras": site.cameras().iter().map(|c| clock_json(site, c)).collect::<Vec<_>>(),
    })
}

type ClockBody = Result<Json<ClockPatch>, axum::extract::rejection::JsonRejection>;

/// Applies a clock patch to some cameras of a site, all or none.
fn patch_clocks(site: &Site, cameras: &[&CameraOnSite], body: ClockBody) -> Result<(), ApiError> {
    let Json(patch) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let clocks = cameras
        .iter()
        .map(|c| c.clock().patched(patch))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    for (camera, clock) in cameras.iter().zip(clocks) {
        camera.set_clock(clock);
        tracing::info!(
            site = site.number,
            camera = camera.index + 1,
            ?clock,
            "clock changed"
        );
    }
    Ok(())
}

async fn get_site_clock(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(site_clock_json(site(&sim, number)?)))
}

async fn put_site_clock(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
    body: ClockBody,
) -> Result<Json<Value>, ApiError> {
    let site = site(&sim, number)?;
    let cameras: Vec<&CameraOnSite> = site.cameras().iter().collect();
    patch_clocks(site, &cameras, body)?;
    Ok(Json(site_clock_json(site)))
}

async fn get_camera_clock(
    State(sim): State<Arc<Simulator>>,
    Path((number, camera)): Path<(usize, usize)>,
) -> Result<Json<Value>, ApiError> {
    let site = site(&sim, number)?;
    Ok(Json(clock_json(site, camera_on(site, camera)?)))
}

async fn put_camera_clock(
    State(sim): State<Arc<Simulator>>,
    Path((number, camera)): Path<(usize, usize)>,
    body: ClockBody,
) -> Result<Json<Value>, ApiError> {
    let site = site(&sim, number)?;
    let camera = camera_on(site, camera)?;
    patch_clocks(site, &[camera], body)?;
    Ok(Json(clock_json(site, camera)))
}

async fn sites(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(Value::Array(
        sim.sites().iter().map(|s| site_json(s)).collect(),
    ))
}

async fn get_faults(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
) -> Result<Json<Faults>, ApiError> {
    Ok(Json(site(&sim, number)?.faults()))
}

async fn patch_faults(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
    body: Result<Json<FaultsPatch>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Faults>, ApiError> {
    let Json(patch) = body.map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.body_text()))?;
    let site = site(&sim, number)?;
    let faults = site
        .faults()
        .patched(patch)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    site.set_faults(faults);
    tracing::info!(site = site.number, ?faults, "faults changed");
    Ok(Json(faults))
}

async fn presets(
    State(sim): State<Arc<Simulator>>,
    Path((number, camera)): Path<(usize, usize)>,
) -> Result<Json<Value>, ApiError> {
    let site = site(&sim, number)?;
    let cam = site
        .camera(camera.wrapping_sub(1))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no camera {camera}")))?;
    let entries = cam.presets().entries().to_vec();
    Ok(Json(
        json!({ "site": number, "camera": camera, "profile": cam.quirks.profile_name(), "presets": entries }),
    ))
}

/// A change to one preset on one site: what is given replaces what it held.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PresetChange {
    /// A new name.
    pub name: Option<String>,
    /// A new pan in [-1, 1].
    pub pan: Option<f64>,
    /// A new tilt in [-1, 1].
    pub tilt: Option<f64>,
    /// A new zoom in [0, 1].
    pub zoom: Option<f64>,
}

async fn change_preset(
    State(sim): State<Arc<Simulator>>,
    Path((number, camera, token)): Path<(usize, usize, String)>,
    Json(change): Json<PresetChange>,
) -> Result<Json<Value>, ApiError> {
    let site = site(&sim, number)?;
    let cam = site
        .camera(camera.wrapping_sub(1))
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no camera {camera}")))?;
    let mut table = cam.presets();
    let Some(entry) = table.get(&token).cloned() else {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no preset {token:?} on camera {camera} of site {number}"),
        ));
    };
    let at = entry.position.unwrap_or([0.0, 0.0, 0.0]);
    let position = [
        change.pan.unwrap_or(at[0]),
        change.tilt.unwrap_or(at[1]),
        change.zoom.unwrap_or(at[2]),
    ];
    let ok = (-1.0..=1.0).contains(&position[0])
        && (-1.0..=1.0).contains(&position[1])
        && (0.0..=1.0).contains(&position[2]);
    if !ok {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "pan and tilt in [-1, 1], zoom in [0, 1]".into(),
        ));
    }
    let name = change.name.or(entry.name);
    table
        .set(&cam.quirks, name.as_deref(), Some(&token), position)
        .map_err(|f| ApiError(StatusCode::CONFLICT, f.reason))?;
    let entries = table.entries().to_vec();
    Ok(Json(
        json!({ "site": number, "camera": camera, "presets": entries }),
    ))
}

async fn camera(
    State(sim): State<Arc<Simulator>>,
    Path(camera): Path<usize>,
) -> Result<Json<Value>, ApiError> {
    let world = sim.world();
    if camera == 0 || camera > world.len() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no camera {camera}"),
        ));
    }
    let motion = world.camera(camera - 1).motion();
    let now = Instant::now();
    let p = motion.position(now);
    let (pan_tilt, zoom) = motion.moving(now);
    Ok(Json(json!({
        "camera": camera,
        "pan": p[0], "tilt": p[1], "zoom": p[2],
        "moving": { "pan_tilt": pan_tilt, "zoom": zoom },
    })))
}

async fn endpoints(State(sim): State<Arc<Simulator>>) -> Json<Value> {
    Json(serde_json::to_value(sim.endpoints()).unwrap_or(Value::Null))
}

fn xprotect_of(sim: &Simulator, number: usize) -> Result<&Arc<XpSite>, ApiError> {
    site(sim, number)?;
    sim.xprotect(number).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("site {number} is not served as XProtect (start the simulator with --xprotect {number})"),
        )
    })
}

fn xprotect_json(xp: &XpSite) -> Value {
    let counts = xp.counts();
    let cameras: Vec<Value> = xp
        .cameras()
        .iter()
        .map(|c| {
            let presets: Vec<Value> = c
                .presets()
                .iter()
                .map(|p| {
                    json!({
                        "id": p.id, "name": p.name, "pan": p.position[0], "tilt": p.position[1],
                        "zoom": p.position[2], "locked": p.locked, "device": p.device,
                    })
                })
                .collect();
            let patrols: Vec<Value> = c
                .patrols()
                .iter()
                .map(|p| {
                    let stops: Vec<&str> = p.entries.iter().map(|e| e.preset.as_str()).collect();
                    json!({ "id": p.id, "name": p.name, "presets": stops, "end_preset": p.end_preset })
                })
                .collect();
            json!({ "camera": c.index + 1, "id": c.id, "name": c.name,
                    "default_preset": c.default_preset(), "presets": presets, "patrols": patrols })
        })
        .collect();
    json!({
        "url": xp.url(),
        "knobs": xp.knobs().to_json(),
        "counts": { "logins": counts.logins, "refused": counts.refused, "cleanups": counts.cleanups },
        "cameras": cameras,
    })
}

async fn get_xprotect(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(xprotect_json(xprotect_of(&sim, number)?)))
}

async fn patch_xprotect(
    State(sim): State<Arc<Simulator>>,
    Path(number): Path<usize>,
    Json(patch): Json<XpKnobsPatch>,
) -> Result<Json<Value>, ApiError> {
    let xp = xprotect_of(&sim, number)?;
    let knobs = xp
        .knobs()
        .patched(patch)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?;
    xp.set_knobs(knobs);
    Ok(Json(xprotect_json(xp)))
}
