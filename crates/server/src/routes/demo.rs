//! `tandem demo` only: take a simulated site down and bring it back, to watch
//! failover from the console. Every route answers 404 outside the demo.

use axum::Json;
use axum::extract::{Path, State};
use tandem_api::demo::{OutageChangeDto, OutageDto};
use tandem_api::problem::Problem;

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, SimulatedSites};

fn simulated(state: &AppState) -> ApiResult<&dyn SimulatedSites> {
    state.simulated.as_deref().ok_or_else(|| {
        ApiError::not_found("the sites are not simulated (only `tandem demo` has this)")
    })
}

fn outages(sim: &dyn SimulatedSites) -> Json<Vec<OutageDto>> {
    Json(
        sim.outages()
            .into_iter()
            .map(|(site, down)| OutageDto { site, down })
            .collect(),
    )
}

/// The simulated sites and whether each is down.
#[utoipa::path(get, path = "/api/v1/demo/sites", tag = "demo",
    responses((status = 200, body = [OutageDto]), (status = 404, body = Problem)))]
pub async fn list(State(state): State<AppState>, _who: Authed) -> ApiResult<Json<Vec<OutageDto>>> {
    Ok(outages(simulated(&state)?))
}

/// Takes a simulated site down or brings it back (admins).
#[utoipa::path(put, path = "/api/v1/demo/sites/{site}", tag = "demo", request_body = OutageChangeDto,
    params(("site" = String, Path, description = "Site id")),
    responses((status = 200, body = [OutageDto]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn set(
    State(state): State<AppState>,
    who: Authed,
    Path(site): Path<String>,
    body: super::JsonBody<OutageChangeDto>,
) -> ApiResult<Json<Vec<OutageDto>>> {
    let sim = simulated(&state)?;
    if !sim.outages().iter().any(|(s, _)| *s == site) {
        return Err(ApiError::not_found(format!("no simulated site {site:?}")));
    }
    // Checks the caller's rights and audits before the site goes down.
    state.engine.record_outage(&who.0, &site, body.0.down)?;
    sim.set_down(&site, body.0.down);
    Ok(outages(sim))
}
