//! Login and logout (the console's session cookie), one's own password, API
//! tokens, users with their passwords, sessions, tokens and disabled flag.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::Json;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tandem_access::LoginError;
use tandem_api::access::{
    DisabledDto, LoginDto, MeDto, NewTokenDto, NewUserDto, PasswordChangeDto, PasswordDto,
    SessionDto, SessionsEndedDto, TokenDto, UserDto,
};
use tandem_api::problem::Problem;
use tandem_core::access::Permission;

use crate::auth::{Authed, SESSION_COOKIE};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The peer address, when served with connect info (always, except in router tests).
fn peer(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// A refused login or password change as the API answers it.
fn login_error(e: LoginError, wrong: &'static str) -> ApiError {
    match e {
        LoginError::Refused(refused) => {
            ApiError::too_many(refused.to_string(), refused.retry_after.as_secs().max(1))
        }
        LoginError::Auth(e) if wrong.is_empty() => {
            ApiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", e.to_string())
        }
        LoginError::Auth(_) => ApiError::new(StatusCode::FORBIDDEN, "Forbidden", wrong),
        LoginError::Users(e) => e.into(),
    }
}

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

/// Logs in: sets the session cookie (HttpOnly, SameSite=Strict). Attempts
/// are counted before the password is checked: per (address, user) with a
/// growing wait, per address, and per user from addresses it never logged in
/// from (429 with `Retry-After`). At most a few passwords are checked at once;
/// beyond a short queue the answer is 503 with `Retry-After`.
#[utoipa::path(post, path = "/api/v1/login", tag = "session", security(()), request_body = LoginDto,
    responses((status = 200, body = MeDto), (status = 401, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem, description = "too many password checks at once; retry")))]
pub async fn login(
    State(state): State<AppState>,
    extensions: Extensions,
    body: super::JsonBody<LoginDto>,
) -> ApiResult<Response> {
    let LoginDto { username, password } = body.0;
    // Counted before anything is hashed: a burst cannot outrun the limit.
    let attempt = state
        .users
        .begin_login(&username, peer(&extensions))
        .map_err(|e| login_error(e, ""))?;
    let users = state.users.clone();
    let ttl = state.session_ttl;
    // argon2 is deliberately slow: off the async workers, a few at a time.
    let (principal, secret) = state
        .hashes
        .run(move || users.finish_login(attempt, &password, ttl))
        .await?
        .map_err(|e| login_error(e, ""))?;
    let cookie = format!(
        "{SESSION_COOKIE}={secret}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        state.session_ttl.as_secs(),
        secure(&state)
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
    let clear = format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{}",
        secure(&state)
    );
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

/// Creates a user (admins). The password must have at least 12 characters,
/// not contain the user name and not be a common one; names are unique
/// whatever their case.
#[utoipa::path(post, path = "/api/v1/users", tag = "session", request_body = NewUserDto,
    responses((status = 201, body = UserDto), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem),
        (status = 503, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    who: Authed,
    body: super::JsonBody<NewUserDto>,
) -> ApiResult<(StatusCode, Json<UserDto>)> {
    let b = body.0;
    let users = state.users.clone();
    let caller = who.0.clone();
    let created = state
        .hashes
        .run(move || users.add_user(&caller, &b.name, &b.password, &b.roles))
        .await??;
    Ok((
        StatusCode::CREATED,
        Json(UserDto {
            name: created.name,
            roles: created.roles,
            disabled: created.disabled,
        }),
    ))
}

/// Deletes a user with their tokens and sessions (admins; not yourself, nor
/// the last administrator).
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

/// Changes the caller's own password: the current one is checked (counted
/// like a login attempt), the new one must meet the policy. Ends the
/// caller's other sessions (not the one this request came with); API tokens
/// stay.
#[utoipa::path(put, path = "/api/v1/me/password", tag = "session", request_body = PasswordChangeDto,
    responses((status = 200, body = SessionsEndedDto), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "the current password is not right"),
        (status = 429, body = Problem), (status = 503, body = Problem)))]
pub async fn change_password(
    State(state): State<AppState>,
    who: Authed,
    extensions: Extensions,
    headers: HeaderMap,
    body: super::JsonBody<PasswordChangeDto>,
) -> ApiResult<Json<SessionsEndedDto>> {
    let PasswordChangeDto {
        current_password,
        new_password,
    } = body.0;
    let keep = crate::auth::session_cookie(&headers);
    let address = peer(&extensions);
    let users = state.users.clone();
    let sessions_ended = state
        .hashes
        .run(move || {
            users.change_password(
                &who.0,
                &current_password,
                &new_password,
                address,
                keep.as_deref(),
            )
        })
        .await?
        .map_err(|e| login_error(e, "the current password is not right"))?;
    Ok(Json(SessionsEndedDto { sessions_ended }))
}

/// Sets another user's password (admins): it must meet the policy. Ends all
/// their sessions and clears their failed logins; their API tokens stay.
#[utoipa::path(put, path = "/api/v1/users/{name}/password", tag = "session", request_body = PasswordDto,
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "set"), (status = 400, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 503, body = Problem)))]
pub async fn reset_password(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    body: super::JsonBody<PasswordDto>,
) -> ApiResult<StatusCode> {
    let users = state.users.clone();
    let password = body.0.password;
    state
        .hashes
        .run(move || users.reset_password(&who.0, &name, &password))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}

/// Disables or enables a user (admins). A disabled user cannot log in, their
/// sessions end at once and their API tokens are refused until enabled
/// again. Not yourself, nor the last administrator.
#[utoipa::path(put, path = "/api/v1/users/{name}/disabled", tag = "session", request_body = DisabledDto,
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "set"), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn set_disabled(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    body: super::JsonBody<DisabledDto>,
) -> ApiResult<StatusCode> {
    state.users.set_disabled(&who.0, &name, body.0.disabled)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Clears a user's failed logins (admins), so that they may log in again at
/// once from anywhere. Addresses keep their own counts.
#[utoipa::path(post, path = "/api/v1/users/{name}/unlock", tag = "session",
    params(("name" = String, Path, description = "User name")),
    responses((status = 204, description = "cleared"), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn unlock(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    state.users.unlock(&who.0, &name)?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's console sessions that have not expired (your own, or anyone's for admins).
#[utoipa::path(get, path = "/api/v1/users/{name}/sessions", tag = "session",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = [SessionDto]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn list_sessions(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<Vec<SessionDto>>> {
    let current =
        crate::auth::session_cookie(&headers).map(|s| tandem_access::users::session_id(&s));
    let sessions = state.users.sessions_of(&who.0, &name)?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionDto {
                current: current.as_deref() == Some(s.id.as_str()),
                id: s.id,
                user: s.user,
                created_utc: s.created_utc.to_rfc3339(),
                expires_utc: s.expires_utc.to_rfc3339(),
            })
            .collect(),
    ))
}

/// Ends a user's console sessions (your own, or anyone's for admins): all but
/// the one this request came with. Log out to end that one.
#[utoipa::path(delete, path = "/api/v1/users/{name}/sessions", tag = "session",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = SessionsEndedDto), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn end_sessions(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Json<SessionsEndedDto>> {
    let keep = crate::auth::session_cookie(&headers);
    let sessions_ended = state
        .users
        .end_sessions(&who.0, &name, None, keep.as_deref())?;
    Ok(Json(SessionsEndedDto { sessions_ended }))
}

/// Ends one console session of a user (your own, or anyone's for admins).
#[utoipa::path(delete, path = "/api/v1/users/{name}/sessions/{id}", tag = "session",
    params(("name" = String, Path, description = "User name"),
        ("id" = String, Path, description = "Session id, as listed")),
    responses((status = 200, body = SessionsEndedDto), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn end_session(
    State(state): State<AppState>,
    who: Authed,
    Path((name, id)): Path<(String, String)>,
) -> ApiResult<Json<SessionsEndedDto>> {
    let sessions_ended = state.users.end_sessions(&who.0, &name, Some(&id), None)?;
    Ok(Json(SessionsEndedDto { sessions_ended }))
}

/// A user's API tokens, revoked ones included (your own, or anyone's for
/// admins); revoke one with `DELETE /api/v1/tokens/{id}`.
#[utoipa::path(get, path = "/api/v1/users/{name}/tokens", tag = "session",
    params(("name" = String, Path, description = "User name")),
    responses((status = 200, body = [TokenDto]), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
pub async fn user_tokens(
    State(state): State<AppState>,
    who: Authed,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<TokenDto>>> {
    let tokens = state.users.tokens_of_user(&who.0, &name)?;
    Ok(Json(tokens.iter().map(|t| token_dto(t, None)).collect()))
}

/// The cookie attribute that keeps the session off plain HTTP, when the
/// service speaks HTTPS.
fn secure(state: &AppState) -> &'static str {
    if state.tls.is_some() { "; Secure" } else { "" }
}
