//! Login and logout (`/api/v1/login`, `/logout`, `/me`, `/me/password`), API
//! tokens (`/api/v1/tokens`), users with their passwords, sessions and tokens
//! (`/api/v1/users`) and roles (`/api/v1/roles`).

use serde::{Deserialize, Serialize};

/// Login.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LoginDto {
    /// User name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeDto {
    /// User name.
    pub user: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Permissions granted on all cameras.
    pub permissions: Vec<String>,
}

/// A new API token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTokenDto {
    /// What it is for.
    pub label: String,
}

/// An API token (the secret only once, when created).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenDto {
    /// Id (to revoke it).
    pub id: i64,
    /// Whose.
    pub user: String,
    /// What it is for.
    pub label: String,
    /// Created (RFC 3339).
    pub created_utc: String,
    /// Revoked (RFC 3339), if it was.
    pub revoked_utc: Option<String>,
    /// The secret: shown once, at creation; send it as `Authorization: Bearer <secret>`.
    pub secret: Option<String>,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserDto {
    /// Name.
    pub name: String,
    /// Role names.
    pub roles: Vec<String>,
    /// Whether the user may not log in.
    pub disabled: bool,
}

/// A new user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewUserDto {
    /// Name.
    pub name: String,
    /// Password.
    pub password: String,
    /// Role names (existing roles).
    pub roles: Vec<String>,
}

/// One grant: a permission on all cameras or on a camera group.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GrantDto {
    /// `ptz.control`, `preset.recall`, `preset.manage`, `preset.manage_locked`, `mismatch.resolve` or `admin`.
    pub permission: String,
    /// A camera group; all cameras when absent.
    pub group: Option<String>,
}

/// A role.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RoleDto {
    /// Its name (set from the path when writing).
    #[serde(default)]
    pub name: String,
    /// PTZ priority, 1 to 32000; higher takes control from lower.
    pub ptz_priority: u16,
    /// What it allows.
    pub grants: Vec<GrantDto>,
}

/// A user's roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UserRolesDto {
    /// Role names (existing roles).
    pub roles: Vec<String>,
}

/// A change of the caller's own password (`PUT /api/v1/me/password`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordChangeDto {
    /// The password now.
    pub current_password: String,
    /// The new one: at least 12 characters, not containing the user name,
    /// not a common password.
    pub new_password: String,
}

/// A password an administrator sets for another user (`PUT /api/v1/users/{name}/password`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasswordDto {
    /// The new password, under the same policy as any new password.
    pub password: String,
}

/// Whether a user is disabled (`PUT /api/v1/users/{name}/disabled`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DisabledDto {
    /// True: the user cannot log in, their sessions end and their API
    /// tokens are refused until enabled again.
    pub disabled: bool,
}

/// A console session (never its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionDto {
    /// Its id, to end it (`DELETE /api/v1/users/{name}/sessions/{id}`).
    pub id: String,
    /// Whose.
    pub user: String,
    /// Started: the login (RFC 3339).
    pub created_utc: String,
    /// Stops being accepted (RFC 3339).
    pub expires_utc: String,
    /// Whether it is the session this request came with.
    pub current: bool,
}

/// How many console sessions a change ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SessionsEndedDto {
    /// Sessions ended.
    pub sessions_ended: u64,
}
