//! Health, readiness, metrics, the event stream and the OpenAPI document.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use tandem_api::problem::Problem;
use tokio::sync::broadcast;
use tokio_stream::StreamExt as _;

use crate::auth::Authed;
use crate::error::ApiResult;
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

/// Prometheus metrics (text format). They sum over every camera, so the
/// caller needs some permission on all cameras.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format"), (status = 403, body = Problem)))]
pub async fn metrics(
    State(state): State<AppState>,
    who: Authed,
) -> ApiResult<axum::response::Response> {
    let (pending, open) = state.engine.gauges(&who.0)?;
    let m = &state.metrics;
    m.pending.set(i64::try_from(pending).unwrap_or(i64::MAX));
    m.mismatches.set(i64::try_from(open).unwrap_or(i64::MAX));
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
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        m.encode(),
    )
        .into_response())
}

/// How often an event stream checks that its credential still holds (a
/// session logged out or expired, a token revoked, a user deleted or given
/// other roles): the stream ends within this time of the change.
pub const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// Events a listener may fall behind by before it misses some.
const LISTENER_BACKLOG: usize = 256;

/// Server-sent events: site health and active site changes, operation
/// progress, mismatches found and resolved, PTZ control taken and released;
/// each only about cameras the caller may see. The stream ends when the
/// caller's session or token ends or their rights change (a browser's
/// `EventSource` then reconnects with what holds now).
#[utoipa::path(get, path = "/api/v1/events", tag = "events", responses((status = 200, description = "text/event-stream")))]
pub async fn events(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
) -> Sse<impl tokio_stream::Stream<Item = Result<SseEvent, Infallible>>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<SseEvent>(LISTENER_BACKLOG);
    let mut events = state.events.subscribe();
    let principal = who.0;
    tokio::spawn(async move {
        let mut recheck = tokio::time::interval(RECHECK_EVERY);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tx.closed() => return,
                _ = recheck.tick() => {
                    let now = crate::security::caller(&state, &headers).await;
                    if now.as_ref() != Some(&principal) {
                        return;
                    }
                }
                received = events.recv() => match received {
                    Ok(event) => {
                        let Some(data) = event.for_user(&state.engine, &principal) else {
                            continue;
                        };
                        let sse = SseEvent::default()
                            .event(&event.event)
                            .json_data(data)
                            .unwrap_or_default();
                        // A listener too slow to keep up misses events (it
                        // lagged) rather than stalling the others or its own checks.
                        if let Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(sse)
                        {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(Ok);
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
