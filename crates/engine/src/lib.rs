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
//! - `action`: the journaled, idempotent `Action`.
//! - `adapter`: the site adapter boundary, what the engine asks of one camera
//!   on one site whatever its kind: `adapter::onvif` (storing a preset turns
//!   the camera, under its `hold::CameraHold` and lease) and
//!   `adapter::xprotect` (Milestone XProtect's REST API; nothing moves).
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
//! **Architecture invariant:** the engine reaches sites only through
//! `adapter` (which alone uses `tandem-onvif`'s `Device` for preset work and
//! live control, and `tandem-xprotect`'s `Server`; [`probe`] and [`pairing`]
//! speak to endpoints named in a configuration before any binding exists) and storage only through
//! `tandem-store`'s `Store` trait; it knows nothing of HTTP servers or JSON DTOs.

mod action;
mod adapter;
pub mod config;
pub mod control;
mod denials;
pub mod engine;
pub mod error;
mod exclude;
pub mod health;
mod hold;
pub mod leader;
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
