//! Roles, their permissions and PTZ priorities, and users' roles (admins).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tandem_api::access::{GrantDto, RoleDto, UserRolesDto};
use tandem_api::problem::Problem;
use tandem_core::access::{Grant, Permission, Role, Scope};

use crate::auth::Authed;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn dto(role: &Role) -> RoleDto {
    RoleDto {
        name: role.name().to_string(),
        ptz_priority: role.ptz_priority(),
        grants: role
            .grants()
            .iter()
            .map(|g| GrantDto {
                permission: g.permission.as_str().to_string(),
                group: match &g.scope {
                    Scope::AllCameras => None,
                    Scope::Group(group) => Some(group.clone()),
                },
            })
            .collect(),
    }
}

/// Every role.
#[utoipa::path(get, path = "/api/v1/roles", tag = "session",
    responses((status = 200, body = [RoleDto]), (status = 403, body = Problem)))]
pub async fn list_roles(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<RoleDto>>> {
    let roles = state.users.list_roles(&who.0)?;
    Ok(Json(roles.iter().map(dto).collect()))
}

/// Creates or replaces a role.
#[utoipa::path(put, path = "/api/v1/roles/{name}", tag = "session", request_body = RoleDto,
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, body = RoleDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn put_role(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    body: super::JsonBody<RoleDto>,
) -> ApiResult<Json<RoleDto>> {
    let mut grants = Vec::new();
    for g in body.0.grants {
        let permission: Permission = g
            .permission
            .parse()
            .map_err(|e: tandem_core::access::AccessError| ApiError::bad_request(e.to_string()))?;
        let scope = match g.group {
            None => Scope::AllCameras,
            Some(group) => Scope::group(group).map_err(|e| ApiError::bad_request(e.to_string()))?,
        };
        grants.push(Grant { permission, scope });
    }
    let role = Role::new(name, grants, body.0.ptz_priority)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let summary = serde_json::to_value(dto(&role)).unwrap_or_default();
    state.users.put_role(&who.0, &role, summary)?;
    Ok(Json(dto(&role)))
}

/// Deletes a role (not `admin`); its users lose it.
#[utoipa::path(delete, path = "/api/v1/roles/{name}", tag = "session", params(("name" = String, Path, description = "Role name")),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_role(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.users.remove_role(&who.0, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a user's roles.
#[utoipa::path(put, path = "/api/v1/users/{name}/roles", tag = "session", request_body = UserRolesDto,
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "replaced"), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem)))]
pub async fn put_user_roles(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    body: super::JsonBody<UserRolesDto>,
) -> ApiResult<StatusCode> {
    state.users.set_roles(&who.0, &name, &body.0.roles)?;
    Ok(StatusCode::NO_CONTENT)
}
