//! Authentication: the [`Authed`] extractor accepts an API token
//! (`Authorization: Bearer ...`) or the console's session cookie. Its rejection
//! is the 401, so a handler that takes `Authed` cannot run anonymously.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use tandem_access::AuthError;
use tandem_core::access::Principal;

use crate::error::ApiError;
use crate::state::AppState;

/// The console's session cookie.
pub const SESSION_COOKIE: &str = "tandem_session";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Authed(pub Principal);

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let result = match bearer {
            Some(secret) => state.users.principal_for_token(secret),
            None => match session_cookie(&parts.headers) {
                Some(secret) => state.users.principal_for_session(&secret),
                None => return Err(ApiError::unauthorized()),
            },
        };
        match result {
            Ok(principal) => Ok(Authed(principal)),
            // A busy store is a 503 like anywhere else, not a failed login.
            Err(AuthError::Users(e)) => Err(e.into()),
            Err(e) => Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "Unauthorized",
                e.to_string(),
            )),
        }
    }
}

/// The session secret from the `Cookie` header, if any.
pub fn session_cookie(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_string())
}

impl Authed {
    /// The user's name.
    pub fn user(&self) -> &str {
        &self.0.user
    }
}
