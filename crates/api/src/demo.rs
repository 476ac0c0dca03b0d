//! `tandem demo` only (`/api/v1/demo/sites`): simulated site outages.

use serde::{Deserialize, Serialize};

/// A simulated site's outage switch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OutageDto {
    /// The site id.
    pub site: String,
    /// Whether every endpoint of the site refuses connections.
    pub down: bool,
}

/// A change of a simulated site's outage switch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OutageChangeDto {
    /// Down (true) or back up (false).
    pub down: bool,
}
