//! Scans, mismatches, repairs, and the journal of operations.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use tandem_core::CameraId;
use tandem_core::plan::Direction;
use utoipa::{IntoParams, ToSchema};

use super::dto::{OperationDto, state_name};
use super::presets::camera;
use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Which cameras to scan.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanRequest {
    /// Camera ids; every camera when absent.
    pub cameras: Option<Vec<String>>,
}

/// One camera's scan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ScanDto {
    /// The camera.
    pub camera: String,
    /// Open mismatches.
    pub open: usize,
    /// New since the previous scan.
    pub new: usize,
    /// Gone since the previous scan.
    pub gone: usize,
    /// Sites that could not be read, with why.
    pub unreachable: Vec<String>,
    /// Why the scan failed, if it did.
    pub error: Option<String>,
}

/// Scans cameras now (32 in flight per site).
#[utoipa::path(post, path = "/api/v1/scans", tag = "mismatches", request_body = ScanRequest,
    responses((status = 200, body = [ScanDto]), (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn scan(
    State(state): State<AppState>,
    who: Authed,
    body: super::JsonBody<ScanRequest>,
) -> ApiResult<Json<Vec<ScanDto>>> {
    let cameras: Vec<CameraId> = match body.0.cameras {
        Some(ids) => ids
            .iter()
            .map(|id| camera(&state, id))
            .collect::<ApiResult<_>>()?,
        None => state.engine.bindings().camera_ids(),
    };
    let ids = cameras.clone();
    let reports = state.engine.scan_for(&who.0, cameras, 32).await?;
    let out: Vec<ScanDto> = ids
        .iter()
        .zip(reports)
        .map(|(id, r)| match r {
            Ok(r) => ScanDto {
                camera: id.to_string(),
                open: r.mismatches.len(),
                new: r.new,
                gone: r.gone,
                unreachable: r
                    .unreachable
                    .iter()
                    .map(|(s, e)| format!("{s}: {e}"))
                    .collect(),
                error: None,
            },
            Err(e) => ScanDto {
                camera: id.to_string(),
                open: 0,
                new: 0,
                gone: 0,
                unreachable: Vec::new(),
                error: Some(e.to_string()),
            },
        })
        .collect();
    state.emit("mismatches", &out);
    Ok(Json(out))
}

/// An open mismatch.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MismatchDto {
    /// The camera.
    pub camera: String,
    /// Its identity across scans; pass it to a repair to repair just this one.
    pub key: String,
    /// `only_on_primary`, `only_on_secondary`, `name_differs`, `number_differs` or `position_differs`.
    pub kind: String,
    /// The primary's preset (null when only on the secondary).
    #[schema(value_type = Option<Object>)]
    pub primary: serde_json::Value,
    /// The secondary's preset (null when only on the primary).
    #[schema(value_type = Option<Object>)]
    pub secondary: serde_json::Value,
    /// Positions were not compared: a site reports none.
    pub position_unknown: bool,
    /// First seen (RFC 3339).
    pub first_seen_utc: String,
}

/// Filter of mismatches.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MismatchQuery {
    /// Only this camera.
    pub camera: Option<String>,
}

/// The open mismatches.
#[utoipa::path(get, path = "/api/v1/mismatches", tag = "mismatches", params(MismatchQuery),
    responses((status = 200, body = [MismatchDto]), (status = 400, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn mismatches(
    State(state): State<AppState>,
    _who: Authed,
    Query(q): Query<MismatchQuery>,
) -> ApiResult<Json<Vec<MismatchDto>>> {
    let camera = q.camera.as_deref().map(|c| camera(&state, c)).transpose()?;
    let open = state.engine.mismatches(camera.as_ref())?;
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

/// A repair request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepairRequest {
    /// `primary` (apply the primary to the secondary) or `secondary`.
    pub from: String,
    /// Only these mismatch keys; the whole camera when absent.
    pub mismatches: Option<Vec<String>>,
    /// Only show the plan.
    #[serde(default)]
    pub dry_run: bool,
}

/// A repair's plan and, unless dry run, its result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RepairDto {
    /// The changes on the target side.
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<serde_json::Value>,
    /// One operation per applied change.
    pub operations: Vec<OperationDto>,
    /// Changes that could not be made, with why.
    pub skipped: Vec<String>,
    /// Mismatches left after the re-scan (absent for a dry run).
    pub remaining: Option<usize>,
}

/// Plans (dry run) or applies a repair of one camera in the chosen direction.
#[utoipa::path(post, path = "/api/v1/cameras/{camera}/repair", tag = "mismatches", request_body = RepairRequest,
    params(("camera" = String, Path, description = "Camera id")),
    responses((status = 200, body = RepairDto), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
        (status = 502, body = crate::error::Problem)))]
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
        operations: report.outcomes.iter().map(Into::into).collect(),
        skipped: report
            .skipped
            .iter()
            .map(|(c, why)| format!("{}: {why}", change_json(c)))
            .collect(),
        remaining: Some(report.remaining.len()),
    };
    state.emit("mismatches", serde_json::json!({ "camera": camera, "repaired": dto.changes.len(), "remaining": dto.remaining }));
    Ok(Json(dto))
}

/// A journal entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct JournalDto {
    /// Id.
    pub id: i64,
    /// Camera.
    pub camera: String,
    /// The action, as journaled.
    #[schema(value_type = Object)]
    pub action: serde_json::Value,
    /// Who.
    pub actor: String,
    /// When (RFC 3339).
    pub created_utc: String,
    /// Per site.
    pub sites: Vec<super::dto::SitePartDto>,
}

/// Journal filter.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JournalQuery {
    /// Only this camera.
    pub camera: Option<String>,
    /// Most recent N (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// The journal of operations, newest first.
#[utoipa::path(get, path = "/api/v1/operations", tag = "operations", params(JournalQuery),
    responses((status = 200, body = [JournalDto]), (status = 400, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem)))]
pub async fn operations(
    State(state): State<AppState>,
    _who: Authed,
    Query(q): Query<JournalQuery>,
) -> ApiResult<Json<Vec<JournalDto>>> {
    let camera = q.camera.as_deref().map(|c| camera(&state, c)).transpose()?;
    let ops = state
        .engine
        .operations(camera.as_ref(), q.limit.unwrap_or(100).min(1000))?;
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
                    .map(|s| super::dto::SitePartDto {
                        site: s.site.to_string(),
                        state: state_name(s.state),
                        error: s.error.clone(),
                    })
                    .collect(),
            })
            .collect(),
    ))
}
