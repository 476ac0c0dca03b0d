//! Health, readiness, metrics, the event stream and the OpenAPI document.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::BroadcastStream;

use crate::auth::Authed;
use crate::metrics::SiteLabels;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system", security(()), responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store answers and a site is up.
#[utoipa::path(get, path = "/readyz", tag = "system", security(()),
    responses((status = 200, description = "ready"), (status = 503, description = "not ready")))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    let store_ok = state.engine.backlog().is_ok();
    let site_ok = state
        .live
        .health()
        .iter()
        .any(|(_, h)| *h != tandem_engine::live::Health::Down);
    if store_ok && site_ok {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// Prometheus metrics (text format).
#[utoipa::path(get, path = "/metrics", tag = "system", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>, _who: Authed) -> impl IntoResponse {
    let m = &state.metrics;
    if let Ok((pending, open)) = state.engine.backlog() {
        m.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
        m.mismatches.set(i64::try_from(open).unwrap_or(i64::MAX));
    }
    let active = state.live.active();
    for (site, health) in state.live.health() {
        let labels = SiteLabels {
            site: site.to_string(),
        };
        m.site_up
            .get_or_create(&labels)
            .set(i64::from(health != tandem_engine::live::Health::Down));
        m.site_active
            .get_or_create(&labels)
            .set(i64::from(site == active));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
}

/// Server-sent events: site health and active site changes, operation
/// progress, mismatches found and resolved, PTZ control taken and released.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", responses((status = 200, description = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    _who: Authed,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    // A listener too slow to keep up misses events (it lagged) rather than stalling the others.
    let stream = BroadcastStream::new(state.events.subscribe())
        .filter_map(|e| e.ok())
        .map(|e| {
            Ok(SseEvent::default()
                .event(e.event)
                .json_data(e.data)
                .unwrap_or_default())
        });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
