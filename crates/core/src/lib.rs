//! The pure domain model of tandem: preset numbers, names and positions, the
//! diff between two sites' presets, and the plan that repairs one side from
//! the other.
//!
//! - [`access`]: permissions, roles and the [`access::Principal`] the server checks.
//! - [`clock`]: [`clock::Clock`], the one way every layer reads the time (injected).
//! - [`audit`]: [`AuditAction`], the one list of what the audit log records.
//! - [`error`]: [`ErrorKind`], the kinds of failure every layer reports.
//! - [`preset`]: [`PresetNumber`], [`PresetName`], [`Position`], [`Preset`], [`SitePreset`].
//! - [`diff`]: [`diff::diff`] pairs two sites' presets and lists every [`Mismatch`].
//! - [`plan`]: [`plan::plan`] turns a repair direction into the changes on the target side.
//! - [`text`]: characters that hide themselves or reorder text, and untrusted text made safe to record.
//! - [`optics`]: [`Optics`], where a point of a camera's picture is (click to centre, area zoom).
//!
//! **Architecture invariant:** no I/O, no async, no SQL, no HTTP; every function
//! here is deterministic (the clock is declared here and read by callers only), and results are sorted so that equal inputs give equal outputs.

pub mod access;
pub mod audit;
pub mod clock;
pub mod diff;
pub mod error;
pub mod ids;
pub mod optics;
pub mod plan;
pub mod preset;
pub mod text;

pub use audit::AuditAction;
pub use diff::{Mismatch, MismatchKind, Tolerance};
pub use error::ErrorKind;
pub use ids::{CameraId, SiteId};
pub use optics::{Optics, PicturePoint};
pub use plan::{Change, Direction};
pub use preset::{
    InvalidInput, Position, Preset, PresetName, PresetNumber, SitePreset, TokenStyle,
};
