//! The API's one error type. Every error answers `application/problem+json`
//! (RFC 9457); [`ApiError::from`] for engine errors is the single table that
//! maps error kinds to HTTP statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tandem_engine::error::EngineError;

/// A failed request, as the client sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI reference naming the problem type (`about:blank` when only the status matters).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the problem type.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What happened and how to fix it.
    pub detail: String,
}

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    detail: String,
    /// Extra headers (for example `Retry-After`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with this status and detail.
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            title,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// 400: the request is malformed or breaks a rule.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", detail)
    }

    /// 401: no valid credentials.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "log in (POST /api/v1/login) or send `Authorization: Bearer <API token>`",
        )
    }

    /// 403: authenticated, but the roles do not allow it.
    pub fn forbidden(permission: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("your roles do not grant {permission} on this camera"),
        )
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    /// 409: the state does not allow it now.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "Conflict", detail)
    }

    /// 429 with `Retry-After`.
    pub fn too_many(detail: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "Too many requests", detail);
        if let Ok(v) = HeaderValue::from_str(&retry_after_s.to_string()) {
            e.headers.push((header::RETRY_AFTER, v));
        }
        e
    }

    /// 500 with a generic body; the cause is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "an internal error occurred; see the service log",
        )
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<EngineError> for ApiError {
    /// The one place where engine error kinds become HTTP statuses.
    fn from(e: EngineError) -> Self {
        match &e {
            EngineError::Invalid(_) => Self::bad_request(e.to_string()),
            EngineError::UnknownCamera(_) | EngineError::UnknownPreset { .. } => {
                Self::not_found(e.to_string())
            }
            EngineError::NumberTaken { .. } => Self::conflict(e.to_string()),
            EngineError::Device { .. } | EngineError::NoSite(..) => {
                Self::new(StatusCode::BAD_GATEWAY, "Site error", e.to_string())
            }
            EngineError::Store(_) | EngineError::Internal(_) => Self::internal(e),
        }
    }
}

impl From<tandem_store::StoreError> for ApiError {
    fn from(e: tandem_store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank".into(),
            title: self.title.into(),
            status: self.status.as_u16(),
            detail: self.detail,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
