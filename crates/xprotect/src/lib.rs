//! Milestone XProtect's MIP VMS RESTful API (configuration API v1, through
//! the API Gateway): the part tandem uses to keep PTZ presets that live in
//! the VMS's database, not on the camera.
//!
//! - [`types`]: the JSON shapes, as `docs/design/xprotect.md` records them
//!   with their sources (and `fixtures/` holds examples written from the
//!   documentation, which the tests check both this client and the simulator
//!   against).
//! - [`Server`]: one XProtect installation: the bearer token (asked with
//!   the password grant, renewed before it expires and once on a 401), the
//!   product version, cameras, presets and tasks.
//! - [`Trust`]: which certificates an HTTPS server may present (public
//!   roots, an internal CA's file, or one pinned certificate).
//! - [`Error`]: one error type that says which fault class a failure is.
//!
//! **Architecture invariant:** like tandem-onvif, nothing here knows preset
//! numbers, sites, the journal or the store; and nothing here retries a
//! request except the one a 401 refused (not executed), sent once more with
//! a new token.

#![warn(missing_docs)]

mod error;
mod server;
pub mod tls;
pub mod types;

pub use error::{Error, Result};
pub use server::{CAMERA_NAMESPACE, Credentials, Rights, Server, ServerConfig, Version};
pub use tls::{Fingerprint, Trust};
