//! tandem's HTTP service: the REST API under `/api/v1` (with its OpenAPI
//! document at `/api/openapi.json`), authentication and roles, live control
//! with failover, server-sent events, and Prometheus metrics.
//!
//! - [`console`] serves the web console, compiled into the binary.
//! - [`routes::app`] builds the whole router from an [`state::AppState`], so
//!   tests call it without a socket.
//! - [`auth::Authed`] is the authentication extractor: its rejection is the 401.
//! - [`error::ApiError`] is the one error type; it answers problem+json with
//!   an error id.
//! - [`hashing::HashGate`] bounds the password hashes running at once.
//! - [`security`]: the same-origin rule, security headers and the audit of
//!   refusals, on every request; [`connections`]: the accept loop with its
//!   connection limits and timeouts.
//!
//! The JSON shapes of the API are `tandem_api`'s types; `routes::convert`
//! turns the engine's types into them and back.
//!
//! **Architecture invariant:** this is the only crate that knows HTTP and the
//! only one that knows both the API's shapes and the engine's types; the
//! engine knows neither HTTP nor the shapes.

pub mod auth;
pub mod connections;
pub mod console;
pub mod error;
pub mod hashing;
pub mod metrics;
pub mod routes;
pub mod security;
pub mod state;
pub mod tls;

pub use connections::ConnectionLimits;
pub use routes::app;
pub use state::AppState;

/// Serves `state` on `listener` within `limits` until `shutdown` completes,
/// with client addresses available to handlers (login rate limiting uses them).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: connections::ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let tls = state.tls.as_ref().map(|t| t.config.clone());
    connections::serve(listener, app(state), limits, tls, shutdown).await
}
