//! The API's one error type. Every error answers `application/problem+json`
//! (RFC 9457); `ApiError::for_kind` is the single table that maps error kinds
//! (engine, access, store alike) to HTTP statuses.
//!
//! Every answer carries an error id; what the answer must not show (device
//! addresses, operating-system and database errors, the cause of a 500) is
//! logged under that id, so an administrator finds it from what a user quotes.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

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
    /// What is logged under the answer's error id but not shown.
    internal: Option<String>,
    /// Extra headers (for example `Retry-After`).
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

/// The detail of a 403 answer, kept in the response's extensions so that
/// the audit of refusals (`crate::security`) can say why.
#[derive(Debug, Clone)]
pub struct Refusal(pub String);

/// A fresh error id: 12 hex digits, unique within the process and
/// different after each restart (a counter hashed with keys random per
/// process), so an id quoted by a user names one log line.
fn new_error_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hash = KEYS.get_or_init(RandomState::new).hash_one(n);
    format!("{:012x}", hash & 0xffff_ffff_ffff)
}

impl ApiError {
    /// An error with this status and detail; its code follows the status
    /// (see [`ApiError::with_code`]).
    pub fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        let code = match status.as_u16() {
            400 | 408 | 413 | 415 | 422 => "invalid",
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
            internal: None,
            headers: Vec::new(),
        }
    }

    /// The same error with what is logged under its id but not shown.
    pub fn with_internal(mut self, internal: impl Into<String>) -> Self {
        self.internal = Some(internal.into());
        self
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

    /// 500 with a generic body; the cause is logged under the error id, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "an internal error occurred; the service log has its cause under this answer's \
             error_id",
        )
        .with_internal(cause.to_string())
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl ApiError {
    /// The one table from error kinds to HTTP statuses. `public` is what the
    /// answer says, `internal` what is logged under its id; a store that is
    /// busy or failed is never described to the caller.
    fn for_kind(kind: ErrorKind, public: String, internal: String) -> Self {
        let answer = match kind {
            ErrorKind::Invalid => Self::bad_request(public),
            ErrorKind::NotFound => Self::not_found(public),
            ErrorKind::Conflict => Self::conflict(public),
            ErrorKind::Forbidden => Self::new(StatusCode::FORBIDDEN, "Forbidden", public),
            ErrorKind::Site => Self::new(StatusCode::BAD_GATEWAY, "Site error", public),
            ErrorKind::Unavailable => {
                let mut answer = Self::new(StatusCode::SERVICE_UNAVAILABLE, "Busy", public);
                answer
                    .headers
                    .push((header::RETRY_AFTER, HeaderValue::from_static("1")));
                answer
            }
            ErrorKind::Internal => return Self::internal(internal),
        };
        if internal == answer.detail {
            answer
        } else {
            answer.with_internal(internal)
        }
    }
}

impl From<EngineError> for ApiError {
    /// Shows the error's public message; logs its detail (a device's address
    /// and OS error, the store's SQL error) under the error id.
    fn from(e: EngineError) -> Self {
        Self::for_kind(e.kind(), e.public_message(), e.detail())
    }
}

impl From<tandem_access::UsersError> for ApiError {
    /// Through the same table as engine errors.
    fn from(e: tandem_access::UsersError) -> Self {
        let public = match e.kind() {
            ErrorKind::Unavailable => "the store is busy; try again in a moment".to_string(),
            _ => e.to_string(),
        };
        Self::for_kind(e.kind(), public, e.to_string())
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
        let id = new_error_id();
        let status = self.status.as_u16();
        let internal = self.internal.as_deref().unwrap_or("");
        if self.status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error_id = %id, status, detail = %self.detail, internal, "request failed");
        } else if self.status.is_server_error() || self.internal.is_some() {
            tracing::warn!(error_id = %id, status, detail = %self.detail, internal, "request not served");
        } else {
            tracing::debug!(error_id = %id, status, detail = %self.detail, "request refused");
        }
        let refusal = (self.status == StatusCode::FORBIDDEN).then(|| Refusal(self.detail.clone()));
        let problem = Problem {
            kind: "about:blank".into(),
            title: self.title.into(),
            status,
            detail: self.detail,
            code: self.code.into(),
            error_id: Some(id),
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
        if let Some(refusal) = refusal {
            response.extensions_mut().insert(refusal);
        }
        response
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
