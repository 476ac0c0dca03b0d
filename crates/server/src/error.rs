//! The API's one error type. Every error answers `application/problem+json`
//! (RFC 9457); `ApiError::for_kind` is the single table that maps error kinds
//! (engine, access, store alike) to HTTP statuses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tandem_api::problem::Problem;
use tandem_engine::error::{EngineError, ErrorKind};

/// An error a handler returns.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    title: &'static str,
    /// [`Problem::code`].
    code: &'static str,
    detail: String,
    /// Extra headers (for example `Retry-After`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error with this status and detail; its code follows the status
    /// (see [`ApiError::with_code`]).
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            400 | 413 | 415 | 422 => "invalid",
            401 => "unauthorized",
            403 => "forbidden",
            404 => "not_found",
            409 => "conflict",
            429 => "too_many_requests",
            502 => "site",
            503 => "unavailable",
            _ => "internal",
        };
        ApiError {
            status,
            title,
            code,
            detail: detail.into(),
            headers: Vec::new(),
        }
    }

    /// The same error with another [`Problem::code`].
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
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

    /// 503 with `Retry-After`: the service is too busy for this now.
    pub fn busy(detail: impl Into<String>, retry_after_s: u64) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", detail);
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

impl ApiError {
    /// The one table from error kinds to HTTP statuses.
    fn for_kind(kind: ErrorKind, e: impl std::fmt::Display) -> Self {
        match kind {
            ErrorKind::Invalid => Self::bad_request(e.to_string()),
            ErrorKind::NotFound => Self::not_found(e.to_string()),
            ErrorKind::Conflict => Self::conflict(e.to_string()),
            ErrorKind::Forbidden => Self::new(StatusCode::FORBIDDEN, "Forbidden", e.to_string()),
            ErrorKind::Site => Self::new(StatusCode::BAD_GATEWAY, "Site error", e.to_string()),
            ErrorKind::Unavailable => {
                let mut answer = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", e.to_string());
                answer
                    .headers
                    .push((header::RETRY_AFTER, HeaderValue::from_static("1")));
                answer
            }
            ErrorKind::Internal => Self::internal(e),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        Self::for_kind(e.kind(), e)
    }
}

impl From<tandem_access::UsersError> for ApiError {
    /// Through the same table as engine errors.
    fn from(e: tandem_access::UsersError) -> Self {
        Self::for_kind(e.kind(), e)
    }
}

impl From<tandem_store::StoreError> for ApiError {
    /// Through the same table: a busy store is 503, a conflict 409.
    fn from(e: tandem_store::StoreError) -> Self {
        EngineError::Store(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = Problem {
            kind: "about:blank".into(),
            title: self.title.into(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.into(),
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
