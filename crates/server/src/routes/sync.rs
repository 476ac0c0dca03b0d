//! Scans, mismatches, repairs, and the journal of operations.

use axum::Json;
use axum::extract::{Path, Query, State};
use tandem_api::problem::Problem;
use tandem_api::sync::{
    JournalDto, JournalQuery, MismatchDto, MismatchQuery, PatrolGapDto, RepairDto, RepairRequest,
    ScanDto, ScanRequest, UnreadSiteDto,
};
use tandem_core::CameraId;
use tandem_core::plan::Direction;

use super::convert::{operation_dto, site_part_dto};
use super::presets::camera;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, Audience};

/// Scans cameras now (32 in flight per site): the ones listed, or every
/// camera the caller may scan.
#[utoipa::path(post, path = "/api/v1/scans", tag = "mismatches", request_body = ScanRequest,
    responses((status = 200, body = [ScanDto]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn scan(
    State(state): State<AppState>,
    who: Authed,
    body: super::JsonBody<ScanRequest>,
) -> ApiResult<Json<Vec<ScanDto>>> {
    let cameras: Option<Vec<CameraId>> = body
        .0
        .cameras
        .map(|ids| {
            ids.iter()
                .map(|id| camera(&state, id))
                .collect::<ApiResult<_>>()
        })
        .transpose()?;
    let reports = state.engine.scan_for(&who.0, cameras, 32).await?;
    let out: Vec<ScanDto> = reports
        .into_iter()
        .map(|(id, r)| match r {
            Ok(r) => ScanDto {
                camera: id.to_string(),
                open: r.mismatches.len(),
                new: r.new,
                gone: r.gone,
                unreachable: r
                    .unread
                    .iter()
                    .map(|u| format!("{} ({}): {}", u.site, u.failure.as_str(), u.message))
                    .collect(),
                unread: r
                    .unread
                    .iter()
                    .map(|u| UnreadSiteDto {
                        site: u.site.to_string(),
                        failure: u.failure.as_str().to_string(),
                        message: u.message.clone(),
                    })
                    .collect(),
                pending: r.pending.iter().map(|n| n.get()).collect(),
                patrol_gaps: r
                    .patrol_gaps
                    .iter()
                    .map(|g| PatrolGapDto {
                        site: g.site.to_string(),
                        patrol: g.patrol.clone(),
                        preset: g.preset.clone(),
                        number: g.number.map(|n| n.get()),
                        missing_on: g.missing_on.to_string(),
                    })
                    .collect(),
                error: None,
            },
            Err(e) => {
                // The answer shows the public message; the log keeps the rest.
                tracing::warn!(camera = %id, error = %e.detail(), "scan failed");
                ScanDto {
                    camera: id.to_string(),
                    open: 0,
                    new: 0,
                    gone: 0,
                    unreachable: Vec::new(),
                    unread: Vec::new(),
                    pending: Vec::new(),
                    patrol_gaps: Vec::new(),
                    error: Some(e.public_message()),
                }
            }
        })
        .collect();
    state.emit("mismatches", Audience::EachCamera, &out);
    Ok(Json(out))
}

/// The open mismatches as of the last scan, of the cameras the caller may
/// see, without those about a preset whose operation is still pending on
/// some site (a repair would undo it).
#[utoipa::path(get, path = "/api/v1/mismatches", tag = "mismatches", params(MismatchQuery),
    responses((status = 200, body = [MismatchDto]), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn mismatches(
    State(state): State<AppState>,
    who: Authed,
    Query(q): Query<MismatchQuery>,
) -> ApiResult<Json<Vec<MismatchDto>>> {
    let camera = q.camera.as_deref().map(|c| camera(&state, c)).transpose()?;
    let open = state.engine.mismatches(&who.0, camera.as_ref())?;
    Ok(Json(
        open.into_iter()
            .map(|m| MismatchDto {
                camera: m.camera.to_string(),
                key: m.mismatch.key(),
                kind: m.mismatch.kind.as_str().into(),
                primary: serde_json::to_value(&m.mismatch.primary).unwrap_or_default(),
                secondary: serde_json::to_value(&m.mismatch.secondary).unwrap_or_default(),
                position_unknown: m.mismatch.position_unknown,
                first_seen_utc: m.first_seen_utc.to_rfc3339(),
            })
            .collect(),
    ))
}

/// Plans (dry run) or applies a repair of one camera in the chosen direction.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/repair", tag = "mismatches", request_body = RepairRequest,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = RepairDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 502, body = Problem)))]
pub async fn repair(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<String>,
    body: super::JsonBody<RepairRequest>,
) -> ApiResult<Json<RepairDto>> {
    let camera = camera(&state, &id)?;
    let b = body.0;
    let direction = match b.from.as_str() {
        "primary" => Direction::PrimaryToSecondary,
        "secondary" => Direction::SecondaryToPrimary,
        other => {
            return Err(ApiError::bad_request(format!(
                "from must be \"primary\" or \"secondary\", not {other:?}"
            )));
        }
    };
    let only = b.mismatches.as_deref();
    let change_json = |c: &tandem_core::plan::Change| serde_json::to_value(c).unwrap_or_default();
    if b.dry_run {
        let plan = state
            .engine
            .plan_repair(&who.0, &camera, direction, only)
            .await?;
        return Ok(Json(RepairDto {
            changes: plan.changes.iter().map(change_json).collect(),
            moves_camera: plan.moves_camera(),
            operations: Vec::new(),
            skipped: Vec::new(),
            remaining: None,
        }));
    }
    let report = state
        .engine
        .repair(&camera, direction, only, &who.0)
        .await?;
    let dto = RepairDto {
        changes: report.plan.changes.iter().map(change_json).collect(),
        moves_camera: report.plan.moves_camera(),
        operations: report.outcomes.iter().map(operation_dto).collect(),
        skipped: report
            .skipped
            .iter()
            .map(|(c, why)| format!("{}: {why}", change_json(c)))
            .collect(),
        remaining: Some(report.remaining.len()),
    };
    state.emit(
        "mismatches",
        Audience::Camera(camera.clone()),
        serde_json::json!({ "camera": camera, "repaired": dto.changes.len(), "remaining": dto.remaining }),
    );
    Ok(Json(dto))
}

/// The journal of operations of the cameras the caller may see, newest first.
#[utoipa::path(get, path = "/api/v1/operations", tag = "operations", params(JournalQuery),
    responses((status = 200, body = [JournalDto]), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn operations(
    State(state): State<AppState>,
    who: Authed,
    Query(q): Query<JournalQuery>,
) -> ApiResult<Json<Vec<JournalDto>>> {
    let camera = q.camera.as_deref().map(|c| camera(&state, c)).transpose()?;
    let ops = state
        .engine
        .operations(&who.0, camera.as_ref(), q.limit.unwrap_or(100).min(1000))?;
    Ok(Json(
        ops.into_iter()
            .map(|o| JournalDto {
                id: o.id.0,
                camera: o.camera.to_string(),
                action: o.action,
                actor: o.actor,
                created_utc: o.created_utc.to_rfc3339(),
                sites: o
                    .sites
                    .iter()
                    .map(|s| site_part_dto(&s.site, s.state, &s.error))
                    .collect(),
            })
            .collect(),
    ))
}
