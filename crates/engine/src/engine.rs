//! The [`Engine`]: one operator action becomes a journaled operation, applied
//! to every site concurrently, in order per camera and site, retried with
//! backoff until each site has applied it or refused it for good.
//!
//! Lifecycle of an operation (the invariants, in order):
//! 1. Validated against the canonical presets (pure checks, nothing sent).
//! 2. Journaled: operation, one pending row per site, canonical preset change
//!    and audit entry, in one SQLite transaction, committed with
//!    `synchronous=FULL`. This commit is the acknowledgement.
//! 3. Applied per site by [`Engine::drain`]: the site's pending operations of
//!    that camera, oldest first; a transient failure stops the queue (order is
//!    kept) and schedules a retry; a permanent one fails that site only.
//! 4. Replayed after a restart by the same drain, from the journal: every
//!    [`Action`] is idempotent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tandem_core::{CameraId, Position, Preset, PresetName, PresetNumber, SiteId};
use tandem_store::{NewAudit, NewOperation, Operation, Origin, PresetWrite, SiteState, Store};
use tokio::task::JoinSet;

use crate::action::Action;
use crate::apply;
use crate::error::EngineError;
use crate::hold::CameraHold;
use crate::sites::{Bindings, Topology, from_vector};

/// How pending parts are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay after the first failure.
    pub first: Duration,
    /// Longest delay between attempts.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first: Duration::from_millis(250),
            max: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    fn delay(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.min(16));
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// Where the position of a new or re-aimed preset comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PositionSource {
    /// This position.
    Explicit(Position),
    /// The camera's current position, read from the active site.
    Current,
}

/// A request to add a preset.
#[derive(Debug, Clone)]
pub struct AddPreset {
    /// The number; `None` for the lowest free one.
    pub number: Option<PresetNumber>,
    /// The name.
    pub name: PresetName,
    /// Where it points.
    pub position: PositionSource,
}

/// A request to change a preset; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct UpdatePreset {
    /// A new name.
    pub name: Option<PresetName>,
    /// A new number.
    pub number: Option<PresetNumber>,
    /// A new position.
    pub position: Option<PositionSource>,
}

/// Per-site result of an operation, as the caller sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SiteOutcome {
    /// The site.
    pub site: SiteId,
    /// `pending`, `applied` or `failed`.
    pub state: SiteState,
    /// The device's words when failed, or the last transient error when pending.
    pub error: Option<String>,
}

/// What the caller gets back.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The journaled operation.
    pub operation: i64,
    /// The canonical preset after the operation (absent after a delete).
    pub preset: Option<Preset>,
    /// Per site.
    pub sites: Vec<SiteOutcome>,
}

impl Outcome {
    /// True when no site is pending.
    pub fn is_complete(&self) -> bool {
        self.sites.iter().all(|s| s.state != SiteState::Pending)
    }
}

/// The turn of one (camera, site) queue: held while its operations are applied.
type Queue = Arc<tokio::sync::Mutex<()>>;

/// The sync engine.
pub struct Engine {
    store: Arc<dyn Store>,
    bindings: Bindings,
    retry: RetryPolicy,
    /// How long a caller waits for every site before getting a partial answer.
    wait_bound: Duration,
    /// One queue lock per (camera, site): operations of a camera on a site run one at a time.
    queues: Mutex<HashMap<(CameraId, SiteId), Queue>>,
    /// One hold per physical camera, from a move until the preset is stored
    /// (shared by sites that want the same position; see [`CameraHold`]).
    cameras: Mutex<HashMap<CameraId, CameraHold>>,
    /// Who holds manual control of which camera: preset work that moves a
    /// camera waits while someone else controls it (see docs/design/journal.md).
    sessions: Arc<crate::live::ControlSessions>,
    /// Every change of an operation's state on a site, for the event stream.
    progress: tokio::sync::broadcast::Sender<Progress>,
}

/// An operation's new state on one site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Progress {
    /// The operation.
    pub operation: i64,
    /// Its camera.
    pub camera: CameraId,
    /// The site.
    pub site: SiteId,
    /// The new state.
    pub state: SiteState,
    /// The device's words or the transient error, if any.
    pub error: Option<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("sites", &self.bindings.sites())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `store` reaching the sites of `topology`. Registers the
    /// cameras in the store.
    pub fn new(
        store: Arc<dyn Store>,
        topology: &Topology,
        wait_bound: Duration,
    ) -> Result<Arc<Self>, EngineError> {
        let bindings = Bindings::new(topology)?;
        bindings.pair()?;
        for camera in &topology.cameras {
            store.upsert_camera(&tandem_store::CameraRecord {
                id: camera.id.clone(),
                name: camera.name.clone(),
                tolerance: camera.tolerance,
            })?;
            store.set_camera_groups(&camera.id, &camera.groups)?;
        }
        Ok(Arc::new(Engine {
            store,
            bindings,
            retry: RetryPolicy::default(),
            wait_bound,
            queues: Mutex::new(HashMap::new()),
            cameras: Mutex::new(HashMap::new()),
            sessions: Arc::new(crate::live::ControlSessions::default()),
            progress: tokio::sync::broadcast::channel(1024).0,
        }))
    }

    /// Replaces the retry policy (tests shorten it).
    pub fn with_retry(self: Arc<Self>, retry: RetryPolicy) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut engine) => {
                engine.retry = retry;
                Arc::new(engine)
            }
            Err(shared) => shared,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Receives every change of an operation's state on a site, including the
    /// background ones (a pending part applied when its site returned).
    pub fn subscribe_progress(&self) -> tokio::sync::broadcast::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// Records an operation's state on a site and tells the subscribers.
    fn record(
        &self,
        op: &Operation,
        site: &SiteId,
        state: SiteState,
        error: Option<&str>,
        next_attempt: Option<chrono::DateTime<Utc>>,
    ) -> Result<(), EngineError> {
        self.store.mark(op.id, site, state, error, next_attempt)?;
        let _ = self.progress.send(Progress {
            operation: op.id.0,
            camera: op.camera.clone(),
            site: site.clone(),
            state,
            error: error.map(str::to_string),
        });
        Ok(())
    }

    /// Manual control sessions, shared with live control.
    pub fn sessions(&self) -> &Arc<crate::live::ControlSessions> {
        &self.sessions
    }

    /// The bindings.
    pub fn bindings(&self) -> &Bindings {
        &self.bindings
    }

    fn queue(&self, camera: &CameraId, site: &SiteId) -> Queue {
        let mut queues = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        queues
            .entry((camera.clone(), site.clone()))
            .or_default()
            .clone()
    }

    /// The hold of a physical camera (see [`CameraHold`]).
    pub(crate) fn camera_hold(&self, camera: &CameraId) -> CameraHold {
        let mut cameras = self.cameras.lock().unwrap_or_else(|p| p.into_inner());
        cameras.entry(camera.clone()).or_default().clone()
    }

    fn site_ids(&self) -> Vec<SiteId> {
        self.bindings.sites().iter().map(|s| s.id.clone()).collect()
    }

    // Operator actions.

    /// Adds a preset on both sites.
    pub async fn add(
        self: &Arc<Self>,
        camera: &CameraId,
        request: AddPreset,
        actor: &str,
    ) -> Result<Outcome, EngineError> {
        let spec = self.bindings.camera(camera)?;
        let existing = self.store.presets(camera)?;
        let number = match request.number {
            Some(n) => {
                if existing.iter().any(|p| p.number == n) {
                    return Err(EngineError::NumberTaken {
                        camera: camera.clone(),
                        number: n,
                    });
                }
                n
            }
            None => {
                PresetNumber::lowest_free(existing.iter().map(|p| p.number)).ok_or_else(|| {
                    EngineError::Invalid(tandem_core::InvalidInput("no free preset number".into()))
                })?
            }
        };
        let position = self.resolve_position(camera, request.position).await?;
        let preset = Preset {
            number,
            name: request.name.clone(),
            position: Some(position),
            locked: false,
            is_default: false,
        };
        let action = Action::Put {
            number,
            name: request.name,
            position,
            renumber_from: None,
        };
        let audit = preset_audit(actor, "preset.add", &spec.id, None, Some(&preset));
        let outcome = self
            .submit(
                camera,
                action,
                PresetWrite::Upsert(preset.clone()),
                audit,
                Origin::Operator,
                actor,
                self.site_ids(),
            )
            .await?;
        if outcome.sites.iter().all(|s| s.state == SiteState::Failed) {
            // Every site refused it for good: a preset no site holds must not
            // stay in the list (a recall would fail). Undone through the journal.
            let audit = preset_audit(actor, "preset.add.reverted", camera, Some(&preset), None);
            let undo = Action::Remove {
                number: Some(number),
                token: None,
            };
            let first = self.site_ids().into_iter().take(1).collect();
            self.submit(
                camera,
                undo,
                PresetWrite::Delete(number),
                audit,
                Origin::Operator,
                actor,
                first,
            )
            .await?;
            return Ok(Outcome {
                preset: None,
                ..outcome
            });
        }
        Ok(outcome)
    }

    /// Renames, renumbers or re-aims a preset on both sites.
    pub async fn update(
        self: &Arc<Self>,
        camera: &CameraId,
        number: PresetNumber,
        request: UpdatePreset,
        actor: &str,
    ) -> Result<Outcome, EngineError> {
        self.bindings.camera(camera)?;
        let before = self.existing(camera, number)?;
        if let Some(new) = request.number
            && new != number
            && self.store.preset(camera, new)?.is_some()
        {
            return Err(EngineError::NumberTaken {
                camera: camera.clone(),
                number: new,
            });
        }
        let position = match request.position {
            Some(source) => self.resolve_position(camera, source).await?,
            None => before.position.ok_or_else(|| {
                EngineError::Invalid(tandem_core::InvalidInput(format!(
                    "preset {number} has no known position; give one (or use the current view) with the change"
                )))
            })?,
        };
        let after = Preset {
            number: request.number.unwrap_or(number),
            name: request.name.unwrap_or_else(|| before.name.clone()),
            position: Some(position),
            ..before.clone()
        };
        let renumber_from = (after.number != number).then_some(number);
        let write = match renumber_from {
            Some(from) => PresetWrite::Renumber {
                from,
                preset: after.clone(),
            },
            None => PresetWrite::Upsert(after.clone()),
        };
        let action = Action::Put {
            number: after.number,
            name: after.name.clone(),
            position,
            renumber_from,
        };
        let audit = preset_audit(actor, "preset.update", camera, Some(&before), Some(&after));
        self.submit(
            camera,
            action,
            write,
            audit,
            Origin::Operator,
            actor,
            self.site_ids(),
        )
        .await
    }

    /// Deletes a preset on both sites.
    pub async fn delete(
        self: &Arc<Self>,
        camera: &CameraId,
        number: PresetNumber,
        actor: &str,
    ) -> Result<Outcome, EngineError> {
        self.bindings.camera(camera)?;
        let before = self.existing(camera, number)?;
        let audit = preset_audit(actor, "preset.delete", camera, Some(&before), None);
        let action = Action::Remove {
            number: Some(number),
            token: None,
        };
        self.submit(
            camera,
            action,
            PresetWrite::Delete(number),
            audit,
            Origin::Operator,
            actor,
            self.site_ids(),
        )
        .await
    }

    /// The canonical preset `number` of a camera, or `UnknownPreset`.
    fn existing(&self, camera: &CameraId, number: PresetNumber) -> Result<Preset, EngineError> {
        self.store
            .preset(camera, number)?
            .ok_or(EngineError::UnknownPreset {
                camera: camera.clone(),
                number,
            })
    }

    /// Reads the camera's current position from the first site that answers, primary first.
    pub async fn current_position(&self, camera: &CameraId) -> Result<Position, EngineError> {
        let mut last = String::from("no site configured");
        for site in self.bindings.sites() {
            let binding = self.bindings.get(camera, &site.id)?;
            let profile = match binding.profile().await {
                Ok(p) => p.to_string(),
                Err(e) => {
                    last = e.to_string();
                    continue;
                }
            };
            let status = {
                let _permit = binding.permit().await;
                binding.device.get_status(&profile).await
            };
            match status {
                Ok(status) => {
                    if let Some(p) = status.position.as_ref().and_then(from_vector) {
                        return Ok(p);
                    }
                    last = format!("site {} does not report the position", site.id);
                }
                Err(e) => last = binding.onvif(e).to_string(),
            }
        }
        Err(EngineError::NoSite(camera.clone(), last))
    }

    async fn resolve_position(
        &self,
        camera: &CameraId,
        source: PositionSource,
    ) -> Result<Position, EngineError> {
        match source {
            PositionSource::Explicit(p) => {
                p.validate()?;
                Ok(p)
            }
            PositionSource::Current => self.current_position(camera).await,
        }
    }

    /// Journals an operation, applies it to `sites`, and answers when every
    /// site is done or the wait bound has passed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn submit(
        self: &Arc<Self>,
        camera: &CameraId,
        action: Action,
        write: PresetWrite,
        audit: NewAudit,
        origin: Origin,
        actor: &str,
        sites: Vec<SiteId>,
    ) -> Result<Outcome, EngineError> {
        let operation = NewOperation {
            camera: camera.clone(),
            action: serde_json::to_value(&action)
                .map_err(|e| EngineError::Internal(e.to_string()))?,
            origin,
            actor: actor.into(),
            sites: sites.clone(),
        };
        let id = self.store.journal(&operation, &write, &audit)?;
        tracing::info!(operation = id.0, %camera, action = %action.describe(), "journaled");
        let mut work = JoinSet::new();
        for site in sites {
            let engine = self.clone();
            let camera = camera.clone();
            work.spawn(async move { engine.drain(&camera, &site).await });
        }
        let _ = tokio::time::timeout(self.wait_bound, async {
            while work.join_next().await.is_some() {}
        })
        .await;
        // Unfinished drains go on in the background.
        work.detach_all();
        self.outcome(id.0)
    }

    /// The current state of an operation.
    pub fn outcome(&self, operation: i64) -> Result<Outcome, EngineError> {
        let op = self
            .store
            .operation(tandem_store::OperationId(operation))?
            .ok_or_else(|| {
                EngineError::Internal(format!("operation {operation} vanished from the journal"))
            })?;
        let preset = serde_json::from_value::<Action>(op.action.clone())
            .ok()
            .and_then(|a| a.number())
            .and_then(|n| self.store.preset(&op.camera, n).ok().flatten());
        Ok(Outcome {
            operation,
            preset,
            sites: op
                .sites
                .iter()
                .map(|s| SiteOutcome {
                    site: s.site.clone(),
                    state: s.state,
                    error: s.error.clone(),
                })
                .collect(),
        })
    }

    /// Applies the pending operations of one camera on one site, oldest first,
    /// until the queue is empty, a transient failure stops it, or the next
    /// operation is not due yet.
    pub async fn drain(&self, camera: &CameraId, site: &SiteId) -> Result<(), EngineError> {
        let queue = self.queue(camera, site);
        let _turn = queue.lock().await;
        let binding = self.bindings.get(camera, site)?;
        let tolerance = self.bindings.camera(camera)?.tolerance;
        loop {
            let pending = self.store.pending_for(camera, site)?;
            let Some(op) = pending.into_iter().next() else {
                return Ok(());
            };
            if let Some(not_before) = site_progress(&op, site).and_then(|p| p.next_attempt_utc)
                && not_before > Utc::now()
            {
                return Ok(());
            }
            let action: Action = match serde_json::from_value(op.action.clone()) {
                Ok(a) => a,
                Err(e) => {
                    let message = format!("journal entry cannot be read: {e}");
                    self.record(&op, site, SiteState::Failed, Some(&message), None)?;
                    continue;
                }
            };
            // Moving a camera someone else is steering would fight them: wait.
            if matches!(action, Action::Put { .. })
                && let Some(holder) = self.sessions.holder(camera, std::time::Instant::now())
                && holder.user != op.actor
                && !holder.reserved
            {
                let message = format!("waiting: {} is controlling the camera", holder.user);
                let next = Utc::now() + chrono::TimeDelta::milliseconds(500);
                self.record(&op, site, SiteState::Pending, Some(&message), Some(next))?;
                return Ok(());
            }
            match apply::apply(
                self.store.as_ref(),
                &binding,
                &action,
                tolerance,
                &self.camera_hold(camera),
            )
            .await
            {
                Ok(()) => {
                    self.record(&op, site, SiteState::Applied, None, None)?;
                    tracing::info!(operation = op.id.0, %camera, %site, "applied");
                }
                Err(e) if e.is_retryable() => {
                    let attempts = site_progress(&op, site).map(|p| p.attempts).unwrap_or(0);
                    let delay = self.retry.delay(attempts);
                    let next = Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                    self.record(
                        &op,
                        site,
                        SiteState::Pending,
                        Some(&e.to_string()),
                        Some(next),
                    )?;
                    tracing::debug!(operation = op.id.0, %camera, %site, error = %e, "pending");
                    return Ok(());
                }
                Err(e) => {
                    self.record(&op, site, SiteState::Failed, Some(&e.to_string()), None)?;
                    tracing::warn!(operation = op.id.0, %camera, %site, error = %e, "failed");
                }
            }
        }
    }

    /// Drains every (camera, site) with a due pending operation, concurrently.
    pub async fn drain_due(self: &Arc<Self>) -> Result<usize, EngineError> {
        let due = self.store.due(Utc::now())?;
        let count = due.len();
        let mut work = JoinSet::new();
        for (camera, site) in due {
            let engine = self.clone();
            work.spawn(async move { engine.drain(&camera, &site).await });
        }
        while let Some(result) = work.join_next().await {
            if let Ok(Err(e)) = result {
                tracing::warn!(error = %e, "drain failed");
            }
        }
        Ok(count)
    }

    /// Retries pending work forever, every `interval`: the background half of
    /// "pending parts go on". Stops when the returned handle is aborted.
    pub fn spawn_retry_loop(self: &Arc<Self>, interval: Duration) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                if let Err(e) = engine.drain_due().await {
                    tracing::warn!(error = %e, "retry loop");
                }
                tokio::time::sleep(interval).await;
            }
        })
    }

    /// Drains until nothing is pending or `timeout` passes; returns what is still pending.
    pub async fn settle(self: &Arc<Self>, timeout: Duration) -> Result<u64, EngineError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.drain_due().await?;
            let pending = self.store.pending_count()?;
            if pending == 0 || tokio::time::Instant::now() >= deadline {
                return Ok(pending);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The audit entry of an operator's preset change.
fn preset_audit(
    actor: &str,
    action: &str,
    camera: &CameraId,
    before: Option<&Preset>,
    after: Option<&Preset>,
) -> NewAudit {
    let json = |p: Option<&Preset>| p.and_then(|p| serde_json::to_value(p).ok());
    NewAudit {
        actor: actor.into(),
        action: action.into(),
        camera: Some(camera.clone()),
        before: json(before),
        after: json(after),
    }
}

fn site_progress<'a>(op: &'a Operation, site: &SiteId) -> Option<&'a tandem_store::SiteProgress> {
    op.sites.iter().find(|s| &s.site == site)
}
