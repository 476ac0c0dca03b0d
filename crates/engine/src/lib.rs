//! tandem's engine: what composes the ONVIF client, the pure domain model and
//! the store into a service that keeps two sites' PTZ presets identical.
//!
//! - [`config`]: the TOML configuration ([`config::Config`]): two sites, cameras and
//!   their per-site bindings, checked with every problem located by file, line,
//!   column and field.
//! - [`probe`]: reaches every binding and reports what tandem will rely on
//!   (authentication, clock offset, PTZ node, profile, token style, identity).
//! - [`pairing`]: finds which endpoints of the two sites are the same camera,
//!   by serial number, and writes them as configuration.
//! - [`sites`]: the [`sites::Topology`] (sites, cameras, bindings) and the
//!   devices that reach them, with a bound on calls in flight per site.
//! - [`engine`]: the [`engine::Engine`]: operations journaled, then applied to
//!   every site, in order per camera and site, retried, replayed after restarts.
//! - [`action`]: the journaled, idempotent [`action::Action`]; [`apply`]: its
//!   ONVIF steps on one site, under the camera's [`hold::CameraHold`].
//! - [`health`]: [`health::SiteHealth`], whether each site answers: one prober,
//!   read by live control and the watcher alike.
//! - [`tokens`]: [`tokens::TokenMap`], the one number ↔ token rule per site.
//! - [`lease`]: leases in the store, so that one process at a time moves a
//!   camera for preset work or applies a camera's queue on a site.
//! - [`scan`], [`repair`]: mismatch detection and operator-chosen repair;
//!   `exclude`: what is not a preset (empty slots, reserved numbers) and what
//!   a scan holds back while work on it is pending.
//! - [`watch`]: background duties: retries, scheduled scans, scans when a site returns.
//! - [`live`]: live PTZ control on the active site with failover and failback,
//!   each command checked against the caller's rights and [`control`]: who
//!   steers each camera, with PTZ priority and admin reservations.
//! - `denials`: refused requests, audited once per user, route and minute.
//! - [`queries`]: everything the server and the CLI read (presets, operations,
//!   mismatches, audit, cameras), so that nothing above the engine reads the store.
//!
//! **Architecture invariant:** the engine talks to devices only through
//! `tandem-onvif`'s `Device` and to storage only through `tandem-store`'s
//! `Store` trait; it knows nothing of HTTP servers or JSON DTOs.

mod action;
mod apply;
pub mod config;
pub mod control;
mod denials;
pub mod engine;
pub mod error;
mod exclude;
pub mod health;
mod hold;
mod lease;
pub mod live;
pub mod pairing;
pub mod probe;
pub mod queries;
pub mod repair;
pub mod scan;
pub mod sites;
pub(crate) mod slot;
pub mod tokens;
pub mod watch;
mod xprotect;
