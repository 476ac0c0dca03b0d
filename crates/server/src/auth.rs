//! Authentication: the [`Authed`] extractor accepts an API token
//! (`Authorization: Bearer ...`, the scheme in any case as RFC 7235 says) or
//! the console's session cookie. Its rejection is the 401, so a handler that
//! takes `Authed` cannot run anonymously.

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
            .and_then(bearer_token);
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

/// The token of an `Authorization` value of the Bearer scheme, whose name
/// is case-insensitive (RFC 7235 section 2.1): `Bearer`, `bearer`, `BEARER`.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in [
            "Bearer tdm_x",
            "bearer tdm_x",
            "BEARER  tdm_x ",
            "bEaReR tdm_x",
        ] {
            assert_eq!(bearer_token(value), Some("tdm_x"), "{value:?}");
        }
        for value in ["Basic dXNlcjpwdw==", "Bearertdm_x", "tdm_x", ""] {
            assert_eq!(bearer_token(value), None, "{value:?}");
        }
    }
}
