//! The audit log: query, export, verify (admins).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use tandem_api::audit::{AuditDto, AuditQuery, VerifyDto};
use tandem_api::problem::Problem;
use tandem_engine::queries::AuditFilter;

use crate::auth::Authed;
use crate::error::ApiResult;
use crate::state::AppState;

/// Audit entries (JSON, or CSV with `format=csv`).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditDto]), (status = 400, body = Problem),
        (status = 403, body = Problem)))]
pub async fn query(
    State(state): State<AppState>,
    who: Authed,
    Query(q): Query<AuditQuery>,
) -> ApiResult<axum::response::Response> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(crate::error::ApiError::bad_request(format!(
                "format {other:?}: use json or csv"
            )));
        }
    };
    let newest_first = match (q.order.as_deref(), q.before) {
        (None | Some("oldest"), None) => None,
        (None | Some("newest"), before) => Some(before),
        (Some("oldest"), Some(_)) => {
            return Err(crate::error::ApiError::bad_request(
                "before pages newest first: leave order out or use order=newest",
            ));
        }
        (Some(other), _) => {
            return Err(crate::error::ApiError::bad_request(format!(
                "order {other:?}: use oldest or newest"
            )));
        }
    };
    let entries = state.engine.audit_log(
        &who.0,
        &AuditFilter {
            after_seq: q.after.unwrap_or(0),
            newest_first,
            action_prefix: q.action.clone(),
            actor: q.actor.clone(),
            limit: q.limit.unwrap_or(100).min(1000),
        },
    )?;
    if !csv {
        let out: Vec<AuditDto> = entries
            .into_iter()
            .map(|e| AuditDto {
                seq: e.seq,
                at_utc: e.at_utc.to_rfc3339(),
                actor: e.actor,
                action: e.action,
                camera: e.camera.map(|c| c.to_string()),
                before: e.before,
                after: e.after,
                hash: e.hash,
            })
            .collect();
        return Ok(Json(out).into_response());
    }
    let mut text = format!("{}\n", tandem_store::AuditRecord::CSV_HEADER);
    for e in &entries {
        text.push_str(&e.csv_row());
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], text).into_response())
}

/// Verifies the hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyDto), (status = 403, body = Problem)))]
pub async fn verify(State(state): State<AppState>, who: Authed) -> ApiResult<Json<VerifyDto>> {
    let v = state.engine.verify_audit(&who.0)?;
    Ok(Json(VerifyDto {
        entries: v.entries,
        intact: v.first_bad.is_none(),
        first_bad: v.first_bad.map(|(seq, why)| format!("entry {seq}: {why}")),
        head: v.head.map(|(seq, hash)| format!("{seq}:{hash}")),
    }))
}
