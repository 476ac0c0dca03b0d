//! The simulator's control API: HTTP JSON on loopback, to inspect the world
//! and inject faults while it runs. Site and camera numbers start at 1.
//!
//! - `GET  /api/sites`: sites with their faults and how many preset writes
//!   (`SetPreset`, `RemovePreset`), removals (`RemovePreset`) and command
//!   calls (preset requests aimed at a `commands=` number) each has answered
//! - `GET  /api/sites/{site}/faults`, `PATCH /api/sites/{site}/faults` (a partial [`Faults`])
//! - `GET  /api/sites/{site}/cameras/{camera}/presets`: the site's exact preset table
//! - `GET  /api/cameras/{camera}`: the physical position and movement
//! - `GET  /api/endpoints`: every endpoint with its device URL and credentials

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use crate::Simulator;
use crate::world::{Faults, FaultsPatch, Site};

/// The control API's router.
pub fn router(sim: Arc<Simulator>) -> Router {
    Router::new()
        .route("/api/sites", get(sites))
        .route(
            "/api/sites/{site}/faults",
            get(get_faults).patch(patch_faults).put(patch_faults),
        )
        .route("/api/sites/{site}/cameras/{camera}/presets", get(presets))
        .route("/api/cameras/{camera}", get(camera))
        .route("/api/endpoints", get(endpoints))
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

fn site_json(site: &Site) -> Value {
    json!({
        "site": site.number,
        "name": site.name,
        "cameras": site.cameras().len(),
        "faults": site.faults(),
        "preset_writes": site.preset_writes(),
        "preset_removals": site.preset_removals(),
        "command_calls": site.command_calls(),
    })
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
