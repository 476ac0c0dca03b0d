//! The audit log (`/api/v1/audit`, `/api/v1/audit/verify`).

use serde::{Deserialize, Serialize};

/// Audit query.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Entries after this sequence number (default 0).
    pub after: Option<u64>,
    /// Entries before this sequence number (implies `order=newest`).
    pub before: Option<u64>,
    /// `oldest` first (default) or `newest` first.
    pub order: Option<String>,
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
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<serde_json::Value>,
    /// After (null when the action removed something).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<serde_json::Value>,
    /// This entry's hash in the chain.
    pub hash: String,
}

/// The chain's verification.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
