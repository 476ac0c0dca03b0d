//! The audit log: query, export, verify (admins).

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tandem_engine::queries::AuditFilter;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Authed;
use crate::error::ApiResult;
use crate::state::AppState;

/// Audit query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this sequence number (default 0).
    pub after: Option<u64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<usize>,
    /// Only entries whose action starts with this (`preset.`, `login`...).
    pub action: Option<String>,
    /// Only this user's entries.
    pub actor: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// An audit entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditDto {
    /// Sequence number.
    pub seq: u64,
    /// When (RFC 3339).
    pub at_utc: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which camera.
    pub camera: Option<String>,
    /// Before (null when the action created something).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// After (null when the action removed something).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    /// This entry's hash in the chain.
    pub hash: String,
}

/// Audit entries (JSON, or CSV with `format=csv`).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = [AuditDto]), (status = 400, body = crate::error::Problem),
        (status = 403, body = crate::error::Problem)))]
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
    let entries = state.engine.audit_log(
        &who.0,
        &AuditFilter {
            after_seq: q.after.unwrap_or(0),
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

/// The chain's verification.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyDto {
    /// Entries checked.
    pub entries: u64,
    /// Whether every entry is intact.
    pub intact: bool,
    /// The first bad entry and what is wrong with it.
    pub first_bad: Option<String>,
    /// The newest entry's hash: keep it elsewhere to detect a truncated log later.
    pub head: Option<String>,
}

/// Verifies the hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit",
    responses((status = 200, body = VerifyDto), (status = 403, body = crate::error::Problem)))]
pub async fn verify(State(state): State<AppState>, who: Authed) -> ApiResult<Json<VerifyDto>> {
    let v = state.engine.verify_audit(&who.0)?;
    Ok(Json(VerifyDto {
        entries: v.entries,
        intact: v.first_bad.is_none(),
        first_bad: v.first_bad.map(|(seq, why)| format!("entry {seq}: {why}")),
        head: v.head.map(|(seq, hash)| format!("{seq}:{hash}")),
    }))
}
