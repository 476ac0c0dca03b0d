//! What can go wrong talking to an XProtect server, in tandem's fault classes.

/// A result of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// A failed call to an XProtect server.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server could not be reached or did not answer in time, or
    /// answered 5xx: worth trying again later.
    #[error("{0}")]
    Unavailable(String),
    /// The identity provider refused the credentials, or the server refused
    /// a fresh token.
    #[error("{0}")]
    Unauthorized(String),
    /// The user lacks the right (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such object (404).
    #[error("{0}")]
    NotFound(String),
    /// The server refused the request for good, in its own words (400 and
    /// other 4xx), or a task ended in `Error`.
    #[error("{0}")]
    Refused(String),
    /// The server's version lacks what was asked (e.g. recall before 2024 R2).
    #[error("{0}")]
    Unsupported(String),
    /// The answer is not what the documentation shows.
    #[error("{0}")]
    Protocol(String),
}

impl From<crate::tls::TrustError> for Error {
    /// A trust that cannot be used (a CA file that cannot be read): refused
    /// for good.
    fn from(e: crate::tls::TrustError) -> Self {
        Error::Refused(e.message().to_string())
    }
}

impl Error {
    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }

    /// The message, without the class.
    pub fn message(&self) -> &str {
        match self {
            Error::Unavailable(m)
            | Error::Unauthorized(m)
            | Error::Forbidden(m)
            | Error::NotFound(m)
            | Error::Refused(m)
            | Error::Unsupported(m)
            | Error::Protocol(m) => m,
        }
    }
}
