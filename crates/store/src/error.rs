//! [`StoreError`]: the one error type of the store, with kinds the server maps
//! to HTTP statuses and the engine uses to decide whether to retry.

use rusqlite::ErrorCode;

/// Everything a [`Store`](crate::Store) call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The thing asked for (a camera, a preset, an operation's site) does not exist.
    #[error("not found: {0}")]
    NotFound(String),

    /// The write collides with what is stored, e.g. a preset number already
    /// taken; nothing was changed.
    #[error("conflict: {0}")]
    Conflict(String),

    /// The preset is locked and the caller may not change locked presets;
    /// nothing was changed.
    #[error("{0}")]
    Locked(String),

    /// An argument breaks a rule the store enforces (a NaN tolerance, an
    /// operation without sites); nothing was changed.
    #[error("invalid: {0}")]
    Invalid(String),

    /// A stored row cannot be read back (bad JSON, unknown enum text, an
    /// out-of-range number). The database was changed outside tandem or by a
    /// bug; restore it from a backup or repair the row by hand.
    #[error("corrupt store: {0}")]
    Corrupt(String),

    /// The database file was written by a newer tandem than this one.
    #[error(
        "the store's schema is version {found}, but this tandem knows versions up to \
         {known} only; upgrade tandem (a newer tandem wrote this database)"
    )]
    SchemaTooNew {
        /// The file's `PRAGMA user_version`.
        found: i64,
        /// The newest version this binary can migrate to.
        known: i64,
    },

    /// PostgreSQL failed; `context` says what the store was doing.
    #[error("database error while {context}: {source}")]
    Postgres {
        /// What the store was doing.
        context: String,
        /// The client's error (its SQLSTATE, when the server sent one).
        #[source]
        source: postgres::Error,
    },

    /// No connection to the database could be had in time (PostgreSQL down,
    /// restarting or unreachable); the same call may succeed later.
    #[error("the database is unavailable while {context}: {detail}")]
    Unavailable {
        /// What the store was doing.
        context: String,
        /// Why no connection could be had.
        detail: String,
    },

    /// The caller's lease (or leadership) has ended: another process may now
    /// own the work, so this one must not touch a device for it.
    #[error("{0}")]
    Fenced(String),

    /// SQLite failed; `context` says what the store was doing.
    #[error("database error while {context}: {source}")]
    Database {
        /// What the store was doing, e.g. "journaling an operation".
        context: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// The error's kind, for the tables that map kinds to HTTP statuses and exit codes.
    pub fn kind(&self) -> tandem_core::ErrorKind {
        use tandem_core::ErrorKind;
        match self {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Locked(_) => ErrorKind::Forbidden,
            StoreError::Invalid(_) => ErrorKind::Invalid,
            StoreError::Fenced(_) => ErrorKind::Unavailable,
            e if e.is_retryable() => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    /// True when the same call may succeed if retried: SQLite was busy or a
    /// table was locked by another connection (another tandem process, the
    /// CLI); PostgreSQL could not be reached, dropped the connection (a
    /// restart) or refused a transaction it could not serialise.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Unavailable { .. } => true,
            StoreError::Postgres { source, .. } => postgres_retryable(source),
            StoreError::Database {
                source: rusqlite::Error::SqliteFailure(e, _),
                ..
            } => matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked),
            _ => false,
        }
    }

    /// Wraps a SQLite error. A primary-key or unique violation becomes
    /// [`StoreError::Conflict`]: the store checks the conflicts it expects
    /// first, for clearer messages, and this catches the rest.
    pub(crate) fn db(context: impl Into<String>, source: rusqlite::Error) -> Self {
        let context = context.into();
        if let rusqlite::Error::SqliteFailure(e, msg) = &source
            && matches!(
                e.extended_code,
                rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            )
        {
            let detail = msg.clone().unwrap_or_else(|| e.to_string());
            return StoreError::Conflict(format!("{context}: {detail}"));
        }
        StoreError::Database { context, source }
    }
}

/// Whether PostgreSQL's error is one a later attempt may not meet: the
/// connection is gone (a restart, a cut network), the server is shutting
/// down or starting, or a transaction lost a serialisation or deadlock race.
fn postgres_retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            [
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(code)
                || code.code().starts_with("08")
        }
        // No SQLSTATE: a socket that failed (the server went away under a
        // statement) is worth another try; the client's own errors (a row
        // that does not convert) are not.
        None => std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>()),
    }
}

impl StoreError {
    /// Wraps a PostgreSQL error. A unique or primary-key violation becomes
    /// [`StoreError::Conflict`], as [`StoreError::db`] does for SQLite.
    pub(crate) fn pg(context: impl Into<String>, source: postgres::Error) -> Self {
        let context = context.into();
        if source.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
            let detail = source
                .as_db_error()
                .map(|d| d.message().to_string())
                .unwrap_or_else(|| source.to_string());
            return StoreError::Conflict(format!("{context}: {detail}"));
        }
        StoreError::Postgres { context, source }
    }
}

impl<T> Context<T> for Result<T, postgres::Error> {
    fn context(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::pg(context, e))
    }
}

/// Adds context to a rusqlite result, as [`StoreError::db`] does.
pub(crate) trait Context<T> {
    /// Wraps the error with what the store was doing.
    fn context(self, context: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for rusqlite::Result<T> {
    fn context(self, context: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::db(context, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None)
    }

    #[test]
    fn busy_and_locked_are_retryable_and_nothing_else() {
        assert!(StoreError::db("x", failure(rusqlite::ffi::SQLITE_BUSY)).is_retryable());
        assert!(StoreError::db("x", failure(rusqlite::ffi::SQLITE_LOCKED)).is_retryable());
        assert!(!StoreError::db("x", failure(rusqlite::ffi::SQLITE_CORRUPT)).is_retryable());
        assert!(!StoreError::NotFound("camera".into()).is_retryable());
    }

    #[test]
    fn unique_violations_are_conflicts() {
        let e = StoreError::db("x", failure(rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE));
        assert!(matches!(e, StoreError::Conflict(_)), "{e:?}");
    }

    #[test]
    fn schema_too_new_tells_the_user_to_upgrade() {
        let msg = StoreError::SchemaTooNew { found: 9, known: 1 }.to_string();
        assert!(msg.contains("upgrade tandem"), "{msg}");
    }
}
