//! The exit codes, in one table: a local command and the same command through
//! `--server` end with the same code for the same outcome.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done on every site |
//! | 1 | runtime failure (a site or the store failed; see the message) |
//! | 2 | bad usage, configuration or input; unknown camera or preset |
//! | 3 | journaled, but some site is still pending |
//! | 4 | a site refused the operation for good |
//! | 5 | mismatches remain |
//! | 6 | the audit log is broken |
//! | 7 | conflict: a number or name is taken, or the state does not allow it now |
//! | 8 | forbidden: the roles (or a preset's lock) do not allow it |
//! | 9 | busy: another process holds what is needed; try again |
//! | 10 | a site could not be read (scan): nothing can be said of that site |

use tandem_engine::error::ErrorKind;

/// A runtime failure.
pub const FAILURE: u8 = 1;
/// Bad usage, configuration or input.
pub const USAGE: u8 = 2;
/// Journaled, some site still pending.
pub const PENDING: u8 = 3;
/// A site refused the operation for good.
pub const REFUSED: u8 = 4;
/// Mismatches remain.
pub const MISMATCHES: u8 = 5;
/// The audit log is broken.
pub const AUDIT_BROKEN: u8 = 6;
/// A number or name is taken; the state does not allow it now.
pub const CONFLICT: u8 = 7;
/// Not allowed.
pub const FORBIDDEN: u8 = 8;
/// Busy: try again.
pub const BUSY: u8 = 9;
/// A scan could not read some site: not done.
pub const UNREAD: u8 = 10;

/// The exit code of an engine error's kind.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Invalid | ErrorKind::NotFound => USAGE,
        ErrorKind::Conflict => CONFLICT,
        ErrorKind::Forbidden => FORBIDDEN,
        ErrorKind::Unavailable => BUSY,
        ErrorKind::Site | ErrorKind::Internal => FAILURE,
    }
}

/// The exit code of an API problem's `code`: the engine's kinds, plus what
/// only the API says (`unauthorized`, `too_many_requests`, `site_refused`).
pub fn for_api_code(code: &str) -> u8 {
    match code {
        "site_refused" => REFUSED,
        "unauthorized" => USAGE,
        "too_many_requests" => BUSY,
        other => ErrorKind::parse(other).map_or(FAILURE, for_kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_reads_back_from_its_api_code_to_the_same_exit_code() {
        for kind in ErrorKind::ALL {
            assert_eq!(for_api_code(kind.as_str()), for_kind(kind), "{kind:?}");
        }
        assert_eq!(for_api_code("site_refused"), REFUSED);
        assert_eq!(for_api_code("something new"), FAILURE);
    }
}
