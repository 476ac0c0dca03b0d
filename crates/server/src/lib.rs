//! tandem's HTTP service: the REST API under `/api/v1` (with its OpenAPI
//! document at `/api/openapi.json`), authentication and roles, live control
//! with failover, server-sent events, and Prometheus metrics.
//!
//! - [`routes::app`] builds the whole router from an [`state::AppState`], so
//!   tests call it without a socket.
//! - [`auth::Authed`] is the authentication extractor: its rejection is the 401.
//! - [`error::ApiError`] is the one error type; it answers problem+json.
//!
//! **Architecture invariant:** this is the only crate that knows HTTP and the
//! JSON shapes of the API (`routes::dto`); the engine knows neither.

pub mod auth;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod state;

pub use routes::app;
pub use state::AppState;
