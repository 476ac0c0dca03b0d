//! The body of every error answer (`application/problem+json`, RFC 9457).

use serde::{Deserialize, Serialize};

/// A failed request, as the client sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
    /// The kind of error, for programs: `invalid`, `not_found`, `conflict`,
    /// `forbidden`, `site`, `site_refused`, `unavailable`, `internal`,
    /// `unauthorized` or `too_many_requests` (the CLI's exit codes follow it).
    pub code: String,
    /// This answer's id: the service's log names it beside what the answer
    /// does not show (device addresses, operating-system and database
    /// errors). Quote it when reporting a problem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_id: Option<String>,
}
