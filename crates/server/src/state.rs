//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tandem_access::Users;
use tandem_core::CameraId;
use tandem_core::access::Principal;
use tandem_engine::engine::Engine;
use tandem_engine::live::{Live, LiveEvent};
use tokio::sync::broadcast;

use crate::hashing::HashGate;
use crate::metrics::Metrics;

/// An event on `/api/v1/events`.
#[derive(Debug, Clone)]
pub struct Event {
    /// The event's name: `site`, `active`, `operation`, `progress`,
    /// `mismatches`, `control`.
    pub event: String,
    /// Its content.
    pub data: serde_json::Value,
    /// Who may receive it.
    pub audience: Audience,
}

/// Who may receive an event: every listener gets only what the engine says
/// its user may see.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "to", content = "camera", rename_all = "snake_case")]
pub enum Audience {
    /// Users who may see this camera.
    Camera(CameraId),
    /// The content is an array whose elements each name a `camera`: each
    /// user gets the elements of the cameras they may see (none: no event).
    EachCamera,
    /// Users with any permission: sites' health, the active site.
    AnyGrant,
}

impl Event {
    /// What `who` receives of this event, if anything.
    pub fn for_user(&self, engine: &Engine, who: &Principal) -> Option<serde_json::Value> {
        match &self.audience {
            Audience::Camera(camera) => engine.may_see(who, camera).then(|| self.data.clone()),
            Audience::AnyGrant => who.has_any_grant().then(|| self.data.clone()),
            Audience::EachCamera => {
                let visible: Vec<serde_json::Value> = self
                    .data
                    .as_array()?
                    .iter()
                    .filter(|item| {
                        item["camera"]
                            .as_str()
                            .is_some_and(|c| engine.may_see(who, &CameraId::from(c)))
                    })
                    .cloned()
                    .collect();
                (!visible.is_empty()).then_some(serde_json::Value::Array(visible))
            }
        }
    }
}

/// Sites the service can take down and bring back: only `tandem demo`'s
/// simulated sites, so that a user can watch failover from the console.
pub trait SimulatedSites: Send + Sync {
    /// Each site's id and whether it is down now.
    fn outages(&self) -> Vec<(String, bool)>;
    /// Takes `site` down or brings it back; false when there is no such site.
    fn set_down(&self, site: &str, down: bool) -> bool;
}

/// The service's shared state.
#[derive(Clone)]
pub struct AppState {
    /// The sync engine.
    pub engine: Arc<Engine>,
    /// Live control.
    pub live: Arc<Live>,
    /// Users, roles, tokens, sessions and login limits.
    pub users: Arc<Users>,
    /// The cap on password hashes running at once (logins, new passwords).
    pub hashes: Arc<HashGate>,
    /// Everything `/api/v1/events` sends.
    pub events: broadcast::Sender<Event>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// How long a console session lasts.
    pub session_ttl: Duration,
    /// The demo's simulated sites, when the service runs inside `tandem demo`.
    pub simulated: Option<Arc<dyn SimulatedSites>>,
    /// Picture streams open at once (each asks a site for pictures): the cap
    /// keeps a flood of viewers from starving live control.
    pub streams: Arc<tokio::sync::Semaphore>,
    /// The other instances sharing the store, when there are any: what this
    /// one emits goes to them too (see [`AppState::relay_events`]).
    relay: Option<std::sync::mpsc::SyncSender<String>>,
    /// This instance's id in relayed events, to drop its own.
    instance: Arc<str>,
    /// The certificate when the service speaks HTTPS: cookies are then
    /// `Secure` and answers carry `Strict-Transport-Security`.
    pub tls: Option<crate::tls::Tls>,
}

/// Events an instance relays to the others: all but its own view of the
/// sites (`site`, `active`), which each instance has for itself.
fn relayed(event: &str) -> bool {
    !matches!(event, "site" | "active")
}

/// An event as it travels between instances.
#[derive(Serialize, serde::Deserialize)]
struct Relayed {
    origin: String,
    event: String,
    audience: Audience,
    data: serde_json::Value,
}

/// Events waiting to be relayed; more are dropped (with a warning) rather
/// than slow down the instance that emits them.
const RELAY_QUEUE: usize = 1024;

/// Picture streams a service serves at once.
pub const MAX_STREAMS: usize = 64;

impl AppState {
    /// The state of a service over `engine`, `live` and `users`, with default limits.
    pub fn new(engine: Arc<Engine>, live: Arc<Live>, users: Arc<Users>) -> Self {
        let (events, _) = broadcast::channel(1024);
        let instance = Arc::from(engine.leadership().owner());
        let metrics = Arc::new(Metrics::default());
        let calls = metrics.onvif_calls.clone();
        engine
            .bindings()
            .observe_calls(Box::new(move |site, took, answered| {
                let outcome = if answered { "answered" } else { "unreachable" };
                calls
                    .get_or_create(&crate::metrics::CallLabels {
                        site: site.to_string(),
                        outcome: outcome.into(),
                    })
                    .observe(took.as_secs_f64());
            }));
        AppState {
            users,
            hashes: Arc::new(HashGate::default()),
            engine,
            live,
            events,
            metrics,
            session_ttl: Duration::from_secs(12 * 3600),
            simulated: None,
            streams: Arc::new(tokio::sync::Semaphore::new(MAX_STREAMS)),
            relay: None,
            instance,
            tls: None,
        }
    }

    /// Relays what this instance emits to the other instances sharing the
    /// store through `publish` (called on a thread of its own, so a slow
    /// database never slows an emitter), and returns the function to call
    /// with each event text the others publish.
    pub fn relay_events(
        &mut self,
        publish: impl Fn(&str) + Send + 'static,
    ) -> impl Fn(String) -> bool + Send + 'static {
        let (sender, queue) = std::sync::mpsc::sync_channel::<String>(RELAY_QUEUE);
        let spawned = std::thread::Builder::new()
            .name("tandem-relay".into())
            .spawn(move || {
                for text in queue {
                    publish(&text);
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start relaying events to other instances");
        } else {
            self.relay = Some(sender);
        }
        let events = self.events.clone();
        let me = self.instance.clone();
        move |text: String| {
            match serde_json::from_str::<Relayed>(&text) {
                Ok(r) if *r.origin != *me => {
                    let _ = events.send(Event {
                        event: r.event,
                        data: r.data,
                        audience: r.audience,
                    });
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "an event from another instance cannot be read")
                }
            }
            true
        }
    }

    /// Forwards the engine's per-site progress of operations (background
    /// retries included) to the event stream as `progress` events.
    pub fn spawn_progress_forwarder(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        let mut progress = self.engine.subscribe_progress();
        tokio::spawn(async move {
            loop {
                match progress.recv().await {
                    Ok(p) => state.emit("progress", Audience::Camera(p.camera.clone()), &p),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// Forwards live control's events to the event stream: `site` (health),
    /// `active` (a switch of the active site), `control` (who steers a camera).
    pub fn spawn_live_forwarder(&self) -> tokio::task::JoinHandle<()> {
        let state = self.clone();
        let mut events = self.live.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(LiveEvent::Active(switch)) => {
                        state.emit("active", Audience::AnyGrant, &switch)
                    }
                    Ok(LiveEvent::Control(change)) => {
                        state.emit("control", Audience::Camera(change.camera.clone()), &change)
                    }
                    Ok(event) => state.emit("site", Audience::AnyGrant, &event),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    }

    /// Every 5 s, writes the aggregated audit entries of refused logins
    /// whose minute is over and forgets expired login failures; every
    /// minute, deletes expired console sessions (which are refused anyway).
    pub fn spawn_login_housekeeping(&self) -> tokio::task::JoinHandle<()> {
        let users = self.users.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(5));
            for round in 0u64.. {
                tick.tick().await;
                let users = users.clone();
                // Store writes wait for the disk: off the async workers.
                let done = tokio::task::spawn_blocking(move || {
                    users.flush_refusals()?;
                    if round % 12 == 0 {
                        users.purge_expired_sessions()?;
                    }
                    Ok::<_, tandem_access::UsersError>(())
                })
                .await;
                match done {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!("login housekeeping: {e}"),
                    Err(e) => tracing::warn!("login housekeeping stopped: {e}"),
                }
            }
        })
    }

    /// Sends an event to every listener whose user is in `audience` (none
    /// listening is fine).
    pub fn emit(&self, event: &str, audience: Audience, data: impl Serialize) {
        let data = serde_json::to_value(data).unwrap_or(serde_json::Value::Null);
        if let Some(relay) = &self.relay
            && relayed(event)
        {
            let text = serde_json::to_string(&Relayed {
                origin: self.instance.to_string(),
                event: event.into(),
                audience: audience.clone(),
                data: data.clone(),
            });
            if let Ok(text) = text
                && relay.try_send(text).is_err()
            {
                tracing::warn!(
                    event,
                    "too many events waiting for the other instances: one dropped"
                );
            }
        }
        let _ = self.events.send(Event {
            event: event.into(),
            data,
            audience,
        });
    }
}
