//! [`ErrorKind`]: what kind of failure a request met, shared by every layer
//! that refuses requests (the engine, access control), so that the server maps
//! kinds to HTTP statuses in one table and the CLI to exit codes in another.

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request breaks a rule; fix the request.
    Invalid,
    /// The camera, preset, user, role or token does not exist.
    NotFound,
    /// A number or name is taken, or the state does not allow it now.
    Conflict,
    /// The caller's roles do not allow it.
    Forbidden,
    /// A site failed or refused.
    Site,
    /// Busy for now (another process holds the camera, the store is locked): try again.
    Unavailable,
    /// A bug or a damaged store.
    Internal,
}

impl ErrorKind {
    /// Every kind.
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Invalid,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Forbidden,
        ErrorKind::Site,
        ErrorKind::Unavailable,
        ErrorKind::Internal,
    ];

    /// The kind's name as the API's problem documents spell it (`"conflict"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::Site => "site",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind spelled `text`, if it is one.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}
