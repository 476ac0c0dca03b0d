//! The engine's error type; each kind maps to one HTTP status in the server.

pub use tandem_core::ErrorKind;
use tandem_core::{CameraId, InvalidInput, PresetNumber, SiteId};

/// A failed engine request.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The input breaks a domain rule (name, number, position).
    #[error("{0}")]
    Invalid(#[from] InvalidInput),
    /// No such camera in the configuration.
    #[error("unknown camera \"{0}\"")]
    UnknownCamera(CameraId),
    /// No such preset on the camera.
    #[error("camera {camera} has no preset {number}")]
    UnknownPreset {
        /// The camera.
        camera: CameraId,
        /// The number asked for.
        number: PresetNumber,
    },
    /// The number is taken by another preset.
    #[error(
        "camera {camera} already has a preset {number}; choose another number or update that preset"
    )]
    NumberTaken {
        /// The camera.
        camera: CameraId,
        /// The number asked for.
        number: PresetNumber,
    },
    /// The camera reserves this number: the device treats it as a command
    /// (DESIGN.md, "Empty slots and command presets are not presets").
    #[error(
        "preset number {number} is reserved on camera {camera}{}: the device treats it as a command, so tandem never writes, recalls, deletes or compares it; choose another number",
        vendor.as_ref().map(|v| format!(" (vendor profile {v:?} or the camera's own reserved list)")).unwrap_or_default()
    )]
    Reserved {
        /// The camera.
        camera: CameraId,
        /// The number asked for.
        number: PresetNumber,
        /// The vendor profile the camera names, if any.
        vendor: Option<String>,
    },
    /// Another preset of the camera has this name (compared as
    /// `tandem_store::name_key` does), or the state does not allow the
    /// request now; nothing was changed.
    #[error("{0}")]
    Conflict(String),
    /// The caller's roles do not allow it (a locked preset without
    /// `preset.manage_locked`); nothing was changed.
    #[error("{0}")]
    Forbidden(String),
    /// Another process holds what this request needs (a camera's lease) for
    /// longer than the request may wait; retried like a transient fault.
    #[error("busy: {0}")]
    Busy(String),
    /// A device call failed. Its `Display` is what operators may read (the
    /// API, the journal); [`EngineError::detail`] adds what is for the log.
    #[error("site {site}, camera {camera}: {message}")]
    Device {
        /// The site.
        site: SiteId,
        /// The camera.
        camera: CameraId,
        /// What failed, in words operators may read: no device address,
        /// port or operating-system error number.
        message: String,
        /// The full technical account (the address called, the OS's words),
        /// for the log, when it says more than `message`.
        detail: Option<String>,
        /// Whether retrying later may succeed.
        retryable: bool,
        /// The SOAP fault, when the device answered with one.
        fault: Option<Box<tandem_onvif::Fault>>,
        /// How the call failed: no answer, a refusal, or an answer that is not ONVIF.
        failure: DeviceFailure,
    },
    /// No site could serve a request that needs one (reading the current position).
    #[error("no site can reach camera {0}: {1}")]
    NoSite(CameraId, String),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] tandem_store::StoreError),
    /// A bug or an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

/// How a device call failed, as a scan report tells it apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceFailure {
    /// No answer: connection refused or reset, or no answer in time.
    Unreachable,
    /// An answer that says no: a SOAP fault, an HTTP error, refused
    /// credentials or clock, a missing service.
    Refused,
    /// An answer that is not a valid ONVIF answer: malformed, oversized, hostile.
    Malformed,
}

impl DeviceFailure {
    /// How `e` failed.
    pub fn of(e: &tandem_onvif::Error) -> Self {
        use tandem_onvif::Error as E;
        match e {
            E::Transport { .. } | E::Timeout { .. } => DeviceFailure::Unreachable,
            E::Malformed(_) | E::TooLarge { .. } => DeviceFailure::Malformed,
            _ => DeviceFailure::Refused,
        }
    }

    /// The spelling in reports (`unreachable`, `refused`, `malformed`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceFailure::Unreachable => "unreachable",
            DeviceFailure::Refused => "refused",
            DeviceFailure::Malformed => "malformed",
        }
    }
}

impl EngineError {
    /// How a device call failed, when this is a device's error.
    pub fn device_failure(&self) -> Option<DeviceFailure> {
        match self {
            EngineError::Device { failure, .. } => Some(*failure),
            _ => None,
        }
    }

    /// What the error says to a user of the API or a reader of the journal:
    /// its `Display`, except for a store or internal failure, whose account
    /// (SQL, file paths) is only for the log.
    pub fn public_message(&self) -> String {
        match self.kind() {
            ErrorKind::Unavailable if matches!(self, EngineError::Store(_)) => {
                "the store is busy; try again in a moment".into()
            }
            ErrorKind::Internal => "an internal error occurred".into(),
            _ => self.to_string(),
        }
    }

    /// The full technical account, for the log: a device error's address and
    /// OS error, or the `Display` of any other error.
    pub fn detail(&self) -> String {
        match self {
            EngineError::Device {
                site,
                camera,
                detail: Some(detail),
                ..
            } => format!("site {site}, camera {camera}: {detail}"),
            other => other.to_string(),
        }
    }

    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::Invalid(_) | EngineError::Reserved { .. } => ErrorKind::Invalid,
            EngineError::UnknownCamera(_) | EngineError::UnknownPreset { .. } => {
                ErrorKind::NotFound
            }
            EngineError::NumberTaken { .. } | EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::Forbidden(_) => ErrorKind::Forbidden,
            EngineError::Busy(_) => ErrorKind::Unavailable,
            EngineError::Device { .. } | EngineError::NoSite(..) => ErrorKind::Site,
            EngineError::Store(e) => e.kind(),
            EngineError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// True when the device answered with a fault carrying this code (`"PresetExist"`).
    pub fn is_fault(&self, local: &str) -> bool {
        matches!(self, EngineError::Device { fault: Some(f), .. } if f.is(local))
    }

    /// Whether the same request may succeed later.
    pub fn is_retryable(&self) -> bool {
        match self {
            EngineError::Device { retryable, .. } => *retryable,
            EngineError::Store(e) => e.is_retryable(),
            EngineError::NoSite(..) | EngineError::Busy(_) => true,
            _ => false,
        }
    }
}
