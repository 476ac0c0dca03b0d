//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tandem_engine::engine::Engine;
use tandem_engine::live::{ControlSessions, Live};
use tandem_engine::users::{LoginLimiter, Users};
use tokio::sync::broadcast;

use crate::metrics::Metrics;

/// An event on `/api/v1/events`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// The event's name: `site`, `active`, `operation`, `mismatches`, `control`.
    pub event: String,
    /// Its content.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// The service's shared state.
#[derive(Clone)]
pub struct AppState {
    /// The sync engine.
    pub engine: Arc<Engine>,
    /// Live control.
    pub live: Arc<Live>,
    /// Who controls which camera.
    pub sessions: Arc<ControlSessions>,
    /// Users, roles, tokens and sessions.
    pub users: Arc<Users>,
    /// Failed-login limits.
    pub limiter: Arc<std::sync::Mutex<LoginLimiter>>,
    /// Everything `/api/v1/events` sends.
    pub events: broadcast::Sender<Event>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// How long a manual control session lasts without commands.
    pub control_idle: Duration,
    /// How long a console session lasts.
    pub session_ttl: Duration,
}

impl AppState {
    /// Sends an event to every listener (none listening is fine).
    pub fn emit(&self, event: &str, data: impl Serialize) {
        let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        let _ = self.events.send(Event {
            event: event.into(),
            data,
        });
    }
}
