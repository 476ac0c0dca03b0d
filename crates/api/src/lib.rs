//! The REST API's request and answer types (`/api/v1/...`), shared by the
//! server, its clients (the CLI's `--server` commands, `tandem-bench`) and the
//! `api_json` fuzz target, so that all of them read and write the same JSON.
//!
//! - [`presets`]: presets, positions and the result of a preset operation.
//! - [`live`]: live PTZ commands, their answer, manual control, snapshots.
//! - [`sync`]: scans, mismatches, repairs and the journal of operations.
//! - [`access`]: login, the caller, API tokens, users and roles.
//! - [`audit`]: the audit log and its verification.
//! - [`sites`]: sites, failover history and cameras.
//! - [`demo`]: the simulated outages of `tandem demo`.
//! - [`problem`]: the problem+json body of every error.
//!
//! Each type's doc comments and serde attributes are the wire contract: with
//! the `openapi` feature (the server's), they derive `utoipa::ToSchema` or
//! `utoipa::IntoParams` and become the OpenAPI document's descriptions.
//! Every type derives both `Serialize` and `Deserialize`, whichever side uses it.
//!
//! **Architecture invariant:** this crate holds the wire shapes only: no
//! logic, no engine types (its dependencies are serde, serde_json and,
//! optionally, utoipa). Conversions from the engine's types live in the server.

#![warn(missing_docs)]

pub mod access;
pub mod audit;
pub mod demo;
pub mod live;
pub mod presets;
pub mod problem;
pub mod sites;
pub mod sync;
