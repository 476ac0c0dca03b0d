//! Login and logout (the console's session cookie), API tokens, users.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tandem_access::LoginError;
use tandem_api::access::{LoginDto, MeDto, NewTokenDto, NewUserDto, TokenDto, UserDto};
use tandem_api::problem::Problem;
use tandem_core::access::Permission;

use crate::auth::{Authed, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

fn me_of(p: &tandem_core::access::Principal) -> MeDto {
    use Permission::*;
    let all = [
        PtzControl,
        PresetRecall,
        PresetManage,
        PresetManageLocked,
        MismatchResolve,
        Admin,
    ];
    MeDto {
        user: p.user.clone(),
        roles: p.roles.iter().map(|r| r.name().to_string()).collect(),
        permissions: all
            .iter()
            .filter(|x| p.allows(**x, &[]))
            .map(|x| x.as_str().to_string())
            .collect(),
    }
}

/// Logs in: sets the session cookie (HttpOnly, SameSite=Strict). Failed
/// attempts are limited per user and per client address.
#[utoipa::path(post, path = "/api/v1/login", tag = "session", security(()), request_body = LoginDto,
    responses((status = 200, body = MeDto), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    body: super::JsonBody<LoginDto>,
) -> ApiResult<Response> {
    // The peer address, when served with connect info (always, except in router tests).
    let address = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let LoginDto { username, password } = body.0;
    let users = state.users.clone();
    let ttl = state.session_ttl;
    // argon2 is deliberately slow: keep it off the async workers.
    let result =
        tokio::task::spawn_blocking(move || users.login(&username, &password, address, ttl))
            .await
            .map_err(ApiError::internal)?;
    let (principal, secret) = match result {
        Ok(done) => done,
        Err(LoginError::Refused(refused)) => {
            return Err(ApiError::too_many(
                refused.to_string(),
                refused.retry_after.as_secs().max(1),
            ));
        }
        Err(LoginError::Auth(e)) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                e.to_string(),
            ));
        }
        Err(LoginError::Users(e)) => return Err(e.into()),
    };
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        state.session_ttl.as_secs()
    );
    let mut response = Json(me_of(&principal)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Logs out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/api/v1/logout", tag = "session", responses((status = 204, description = "logged out")))]
pub async fn logout(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let secret = crate::auth::session_cookie(&headers);
    state.users.logout(&who.0, secret.as_deref())?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    let clear = format!("{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The caller.
#[utoipa::path(get, path = "/api/v1/me", tag = "session", responses((status = 200, body = MeDto)))]
pub async fn me(who: Authed) -> Json<MeDto> {
    Json(me_of(&who.0))
}

fn token_dto(t: &tandem_store::TokenRecord, secret: Option<String>) -> TokenDto {
    TokenDto {
        id: t.id.0,
        user: t.user.clone(),
        label: t.label.clone(),
        created_utc: t.created_utc.to_rfc3339(),
        revoked_utc: t.revoked_utc.map(|r| r.to_rfc3339()),
        secret,
    }
}

/// Issues an API token acting as the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "session", request_body = NewTokenDto,
    responses((status = 201, body = TokenDto), (status = 400, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    who: Authed,
    body: super::JsonBody<NewTokenDto>,
) -> ApiResult<(StatusCode, Json<TokenDto>)> {
    let (secret, record) = state.users.create_token(&who.0, &body.0.label)?;
    Ok((StatusCode::CREATED, Json(token_dto(&record, Some(secret)))))
}

/// The caller's tokens (every user's for admins).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "session", responses((status = 200, body = [TokenDto])))]
pub async fn list_tokens(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = state.users.tokens_of(&who.0)?;
    Ok(Json(tokens.iter().map(|t| token_dto(t, None)).collect()))
}

/// Revokes a token (the caller's own, or any for admins).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "session", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "revoked"), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    who: Authed,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    state.users.revoke(&who.0, id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every user (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "session",
    responses((status = 200, body = [UserDto]), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<Json<Vec<UserDto>>> {
    let users = state.users.list_users(&who.0)?;
    Ok(Json(
        users
            .into_iter()
            .map(|u| UserDto {
                name: u.name,
                roles: u.roles,
                disabled: u.disabled,
            })
            .collect(),
    ))
}

/// Creates a user (admins).
#[utoipa::path(post, path = "/api/v1/users", tag = "session", request_body = NewUserDto,
    responses((status = 201, body = UserDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    who: Authed,
    body: super::JsonBody<NewUserDto>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let b = body.0;
    let users = state.users.clone();
    let caller = who.0.clone();
    let created = tokio::task::spawn_blocking(move || {
        users.add_user(&caller, &b.name, &b.password, &b.roles)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((
        StatusCode::CREATED,
        Json(UserDto {
            name: created.name,
            roles: created.roles,
            disabled: created.disabled,
        }),
    ))
}

/// Deletes a user (admins; not yourself).
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "session", params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn delete_user(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.users.remove_user(&who.0, &name)?;
    Ok(StatusCode::NO_CONTENT)
}
