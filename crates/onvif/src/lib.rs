//! The ONVIF layer: SOAP 1.2 envelopes, WS-Security and HTTP Digest, the typed
//! device, media and PTZ calls tandem makes, and structured faults.
//!
//! - [`soap`], [`message`], [`types`]: pure functions from values to XML and back,
//!   shared by the [`client`] and the simulator (which uses the types, never the client).
//! - [`auth`]: UsernameToken digests and HTTP Digest, for both sides.
//! - [`client::Device`]: one device (or VMS bridge) endpoint, with its clock offset,
//!   service addresses, authentication mode, timeouts and size cap. It owns how
//!   tandem authenticates: the offset read on first contact and again on a
//!   refusal, the mode that worked ([`Learned`], which the engine keeps).
//! - [`tls`]: which certificates an HTTPS server may present (public roots,
//!   a CA file, or one pinned certificate), for devices, XProtect servers and
//!   the CLI alike.
//! - [`Error`]: one error type that knows whether a failure is retryable.
//!
//! **Architecture invariant:** nothing here knows about presets numbers, sites or
//! the store; those are `tandem-core` and `tandem-engine` concepts.

pub mod auth;
#[cfg(feature = "client")]
pub mod client;
mod error;
pub mod message;
pub mod ns;
pub mod soap;
#[cfg(feature = "client")]
pub mod tls;
pub mod types;
pub mod xml;

pub use auth::{AuthMode, Credentials};
#[cfg(feature = "client")]
pub use client::{ClientConfig, Device, Learned};
pub use error::{AuthAdvice, Error, Fault, QName, Result};
