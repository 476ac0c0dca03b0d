//! Sites: health, the active site, failover history, manual failback; cameras.

use axum::Json;
use axum::extract::State;
use tandem_api::problem::Problem;
use tandem_api::sites::{CameraDto, InstanceDto, SiteDto, SwitchDto};
use tandem_engine::live::Health;

use crate::auth::Authed;
use crate::error::ApiResult;
use crate::state::AppState;

fn health_name(h: Health) -> String {
    match h {
        Health::Up => "up",
        Health::Degraded => "degraded",
        Health::Down => "down",
    }
    .into()
}

/// This instance and who leads the instances sharing the store (some permission needed).
#[utoipa::path(get, path = "/api/v1/instance", tag = "sites",
    responses((status = 200, body = InstanceDto), (status = 403, body = Problem)))]
pub async fn instance(State(state): State<AppState>, who: Authed) -> ApiResult<Json<InstanceDto>> {
    let live = state.live.clone();
    // The store call blocks (PostgreSQL): off the async workers.
    let status = tokio::task::spawn_blocking(move || live.instance(&who.0))
        .await
        .map_err(|e| crate::error::ApiError::internal(format!("reading the instance: {e}")))??;
    let (leader, epoch, until) = match status.leader {
        Some((holder, epoch, until)) => (Some(holder), Some(epoch), Some(until.to_rfc3339())),
        None => (None, None, None),
    };
    Ok(Json(InstanceDto {
        instance: status.instance,
        leading: status.leading,
        leader,
        epoch,
        lead_until_utc: until,
    }))
}

/// The sites, their health and which is active (some permission needed).
#[utoipa::path(get, path = "/api/v1/sites", tag = "sites",
    responses((status = 200, body = [SiteDto]), (status = 403, body = Problem)))]
pub async fn list(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Vec<SiteDto>>> {
    let sites = state
        .live
        .sites(&who.0)?
        .into_iter()
        .map(|s| SiteDto {
            id: s.id.to_string(),
            priority: s.priority,
            health: health_name(s.health),
            active: s.active,
            kind: s.kind.to_string(),
            active_since_utc: s.active_since.as_ref().map(|(at, _)| at.to_rfc3339()),
            active_reason: s.active_since.map(|(_, why)| why),
            failback_in_s: s.failback_in.map(|d| d.as_secs_f64().ceil() as u64),
        })
        .collect();
    Ok(Json(sites))
}

/// Every switch of the active site since the service started (some permission needed).
#[utoipa::path(get, path = "/api/v1/sites/history", tag = "sites",
    responses((status = 200, body = [SwitchDto]), (status = 403, body = Problem)))]
pub async fn history(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<SwitchDto>>> {
    Ok(Json(
        state
            .live
            .switches(&who.0)?
            .into_iter()
            .map(|s| SwitchDto {
                at_utc: s.at_utc.to_rfc3339(),
                from: s.from.to_string(),
                to: s.to.to_string(),
                reason: s.reason,
            })
            .collect(),
    ))
}

/// Returns live control to the primary now (admins), when it is up.
#[utoipa::path(post, path = "/api/v1/sites/failback", tag = "sites",
    responses((status = 200, body = [SiteDto]), (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn failback(State(state): State<AppState>, who: Authed) -> ApiResult<Json<Vec<SiteDto>>> {
    state.live.failback(&who.0)?;
    list(State(state), who).await
}

/// The cameras the caller may see (some permission on each).
#[utoipa::path(get, path = "/api/v1/cameras", tag = "cameras", responses((status = 200, body = [CameraDto])))]
pub async fn cameras(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<CameraDto>>> {
    Ok(Json(
        state
            .engine
            .cameras(&who.0)?
            .into_iter()
            .map(|c| CameraDto {
                id: c.id.to_string(),
                name: c.name,
                groups: c.groups,
                presets: c.presets,
                mismatches: c.mismatches,
                pending: c.pending,
                optics: Some(tandem_api::sites::OpticsDto {
                    wide_hfov_deg: c.optics.wide_hfov_deg,
                    tele_hfov_deg: c.optics.tele_hfov_deg,
                    pan_range_deg: c.optics.pan_range_deg,
                    tilt_range_deg: c.optics.tilt_range_deg,
                }),
            })
            .collect(),
    ))
}
