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
use tandem_core::access::{self, Principal};
use tandem_core::clock::{self, Clock};
use tandem_core::{AuditAction, CameraId, Position, Preset, PresetName, PresetNumber, SiteId};
use tandem_store::{
    Claimed, Journal, NewAudit, NewOperation, Operation, Origin, PresetWrite, SiteState, Store,
    StoreError,
};
use tokio::task::JoinSet;

use crate::action::Action;
use crate::adapter::Hold;
use crate::control::CameraControl;
use crate::error::EngineError;
use crate::health::SiteHealth;
use crate::hold::CameraHold;
use crate::leader::Leadership;
use crate::lease::{self, Leases};
use crate::sites::{Bindings, Topology};

/// The actor of what tandem does by itself (failover, scheduled scans) in the audit log.
pub const SYSTEM_ACTOR: &str = "tandem";

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
    /// The operation stores a position, which on ONVIF sites moves the
    /// physical camera there; it is returned to where it was afterwards
    /// unless someone takes control of it meanwhile.
    pub moves_camera: bool,
}

impl Outcome {
    /// True when no site is pending.
    pub fn is_complete(&self) -> bool {
        self.sites.iter().all(|s| s.state != SiteState::Pending)
    }
}

/// How a [`Engine::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drained {
    /// Nothing is pending on the queue any more.
    Empty,
    /// The next operation waits: for its retry time, or for whoever steers the camera.
    Waiting,
    /// The site did not answer; the next operation's retry is scheduled.
    Unreachable,
    /// Another process drains this queue now.
    Busy,
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
    control: Arc<CameraControl>,
    /// Every change of an operation's state on a site, for the event stream.
    progress: tokio::sync::broadcast::Sender<Progress>,
    /// This process's leases in the store: one mover per camera and one
    /// drainer per queue, whatever the process.
    leases: Leases,
    /// Whether this process leads the instances sharing the store: only the
    /// leader runs the background duties ([`Engine::watch`]).
    leadership: Leadership,
    /// Whether each site answers: read by live control and the watcher alike.
    health: Arc<SiteHealth>,
    /// Where the engine reads the time.
    clock: Arc<dyn Clock>,
    /// Refused requests of the current minute, audited in aggregate.
    denials: crate::denials::Denials,
    /// Audit entries written off their callers' path ([`Engine::audit_soon`])
    /// and not yet in the store: reads of the audit log wait for them.
    audits_in_flight: Arc<InFlight>,
}

/// Most audit entries written in the background at once ([`Engine::audit_soon`]).
const AUDITS_IN_FLIGHT: usize = 64;

/// A count of background writes, and a way to wait until there are none.
#[derive(Debug, Default)]
struct InFlight {
    count: Mutex<usize>,
    none: std::sync::Condvar,
}

impl InFlight {
    /// Counts one more unless `limit` are in flight already (then false).
    fn begin(&self, limit: usize) -> bool {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        if *count >= limit {
            return false;
        }
        *count += 1;
        true
    }

    fn end(&self) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        *count = count.saturating_sub(1);
        if *count == 0 {
            self.none.notify_all();
        }
    }

    /// Waits until none is in flight, `within` at most.
    fn wait(&self, within: Duration) {
        let count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let _ = self
            .none
            .wait_timeout_while(count, within, |n| *n > 0)
            .map_err(|p| p.into_inner());
    }
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
    /// cameras in the store, and starts each binding from what the store kept
    /// of its device (clock offset, authentication mode).
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
        // After the cameras: what bindings learn is kept per camera.
        bindings.keep_learned_in(&store)?;
        let leases = Leases::new(store.clone());
        let leadership =
            Leadership::new(store.clone(), leases.owner(), crate::leader::DEFAULT_LEASE);
        Ok(Arc::new(Engine {
            store: store.clone(),
            bindings,
            retry: RetryPolicy::default(),
            wait_bound,
            queues: Mutex::new(HashMap::new()),
            cameras: Mutex::new(HashMap::new()),
            control: Arc::new(CameraControl::default()),
            progress: tokio::sync::broadcast::channel(1024).0,
            leases,
            leadership,
            health: Arc::new(SiteHealth::new(
                topology.sites.iter().map(|s| s.id.clone()),
                clock::system(),
            )),
            clock: clock::system(),
            denials: Default::default(),
            audits_in_flight: Default::default(),
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

    /// Replaces the clock (tests drive time); call before the engine is shared.
    pub fn with_clock(self: Arc<Self>, clock: Arc<dyn Clock>) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut engine) => {
                let sites = engine.bindings.sites().iter().map(|s| s.id.clone());
                engine.health = Arc::new(SiteHealth::new(sites, clock.clone()));
                engine.clock = clock;
                Arc::new(engine)
            }
            Err(shared) => shared,
        }
    }

    /// Refused requests not yet audited.
    pub(crate) fn denials(&self) -> &crate::denials::Denials {
        &self.denials
    }

    /// Wall-clock time, from the engine's clock.
    pub(crate) fn utc(&self) -> chrono::DateTime<Utc> {
        self.clock.wall().into()
    }

    /// Monotonic time, from the engine's clock.
    pub(crate) fn now(&self) -> std::time::Instant {
        self.clock.monotonic()
    }

    /// The store: only the engine reads and writes it.
    pub(crate) fn store(&self) -> &Arc<dyn Store> {
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

    /// Whether this process leads the instances sharing the store (see
    /// [`crate::leader`]); [`Engine::watch`] keeps it renewed.
    pub fn leadership(&self) -> &Leadership {
        &self.leadership
    }

    /// Whether each site answers, as this process sees it.
    pub fn health(&self) -> &Arc<SiteHealth> {
        &self.health
    }

    /// Who holds manual control of each camera, shared with live control.
    pub(crate) fn control(&self) -> &Arc<CameraControl> {
        &self.control
    }

    /// Keeps manual control of cameras in the store from now on, where
    /// every instance sharing it agrees on who steers which camera (several
    /// `tandem serve` on one PostgreSQL). One process keeps it in memory.
    pub fn share_control(&self) {
        self.control.share(self.store.clone());
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

    // Operator actions. Every rule that can refuse one is decided here, and
    // the claims (number, name, lock, existence) inside the store transaction
    // that journals it; the server and the CLI only adapt requests and answers.

    /// Refuses unless `who` may do `action` on the camera.
    pub(crate) fn require(
        &self,
        who: &Principal,
        action: access::Action,
        camera: &CameraId,
    ) -> Result<(), EngineError> {
        let groups = &self.bindings.camera(camera)?.groups;
        if who.may(action, groups) {
            return Ok(());
        }
        let missing: Vec<&str> = action
            .required()
            .iter()
            .filter(|p| !who.allows(**p, groups))
            .map(|p| p.as_str())
            .collect();
        Err(EngineError::Forbidden(format!(
            "{} may not do this on camera {camera}: it needs {}",
            who.user,
            missing.join(" and ")
        )))
    }

    /// Whether `who` may change locked presets of the camera.
    fn may_change_locked(&self, who: &Principal, camera: &CameraId) -> Result<bool, EngineError> {
        let groups = &self.bindings.camera(camera)?.groups;
        Ok(who.may(access::Action::EditLockedPreset, groups))
    }

    /// Adds a preset on both sites. The number (given, or the lowest free on
    /// every site) and the name are claimed in the journal's transaction, after
    /// the position is known: two concurrent adds never share a number, and a
    /// taken name is refused before any site is called.
    pub async fn add(
        self: &Arc<Self>,
        camera: &CameraId,
        request: AddPreset,
        who: &Principal,
    ) -> Result<Outcome, EngineError> {
        self.bindings.camera(camera)?;
        self.require(who, access::Action::EditPreset, camera)?;
        request.name.check_given()?;
        // A reserved number is refused before any site is read.
        if let Some(n) = request.number {
            self.refuse_reserved(camera, n)?;
        }
        self.read_first(camera).await?;
        // Early answers for the common refusals, before a device is asked for
        // the current view; the claim below decides, whatever ran meanwhile.
        let presets = self.store.presets(camera)?;
        if let Some(n) = request.number
            && presets.iter().any(|p| p.number == n)
        {
            return Err(EngineError::NumberTaken {
                camera: camera.clone(),
                number: n,
            });
        }
        tandem_store::check_name_free(&presets, camera, &request.name, None)
            .map_err(|e| claim_error(e.into(), camera, request.number))?;
        let position = self.resolve_position(camera, request.position).await?;
        let write = PresetWrite::Add {
            number: request.number,
            name: request.name.clone(),
            position,
            unique_name: true,
            reserved: self.reserved_numbers(camera)?,
        };
        let actor = who.user.as_str();
        let outcome = self
            .submit_claim(camera, &write, self.site_ids(), &|claimed| {
                let after = claimed
                    .after
                    .as_ref()
                    .ok_or_else(|| StoreError::Invalid("an add claimed no preset".into()))?;
                journal_entry(
                    camera,
                    &Action::Put {
                        number: after.number,
                        name: after.name.clone(),
                        position,
                        renumber_from: None,
                    },
                    Origin::Operator,
                    actor,
                    self.site_ids(),
                    preset_audit(actor, AuditAction::PresetAdd, camera, None, Some(after)),
                )
            })
            .await
            .map_err(|e| claim_error(e, camera, request.number))?;
        let Some(preset) = outcome.preset.clone() else {
            return Ok(outcome);
        };
        if outcome.sites.iter().all(|s| s.state == SiteState::Failed) {
            // Every site refused it for good: a preset no site holds must not
            // stay in the list (a recall would fail). Undone through the journal.
            let audit = preset_audit(
                actor,
                AuditAction::PresetAddReverted,
                camera,
                Some(&preset),
                None,
            );
            let undo = Action::Remove {
                number: Some(preset.number),
                token: None,
                name: Some(preset.name.clone()),
            };
            let first = self.site_ids().into_iter().take(1).collect();
            let entry = journal_entry(camera, &undo, Origin::Operator, actor, first, audit)?;
            self.submit(camera, PresetWrite::Delete(preset.number), entry)
                .await?;
            return Ok(Outcome {
                preset: None,
                ..outcome
            });
        }
        Ok(outcome)
    }

    /// Renames, renumbers or re-aims a preset on both sites. Existence, the
    /// lock, and a new number's and name's freedom are checked in the
    /// journal's transaction.
    pub async fn update(
        self: &Arc<Self>,
        camera: &CameraId,
        number: PresetNumber,
        request: UpdatePreset,
        who: &Principal,
    ) -> Result<Outcome, EngineError> {
        self.bindings.camera(camera)?;
        self.require(who, access::Action::EditPreset, camera)?;
        if request.name.is_none() && request.number.is_none() && request.position.is_none() {
            return Err(EngineError::Invalid(tandem_core::InvalidInput(
                "nothing to change: give a name, a number or a position".into(),
            )));
        }
        if let Some(name) = &request.name {
            name.check_given()?;
        }
        for n in [Some(number), request.number].into_iter().flatten() {
            self.refuse_reserved(camera, n)?;
        }
        let may_change_locked = self.may_change_locked(who, camera)?;
        self.read_first(camera).await?;
        // Early answers, as in `add`; the claim decides.
        let presets = self.store.presets(camera)?;
        let before =
            presets
                .iter()
                .find(|p| p.number == number)
                .ok_or(EngineError::UnknownPreset {
                    camera: camera.clone(),
                    number,
                })?;
        tandem_store::check_unlocked(camera, before, may_change_locked)
            .map_err(|e| claim_error(e.into(), camera, Some(number)))?;
        if let Some(new) = request.number
            && new != number
            && presets.iter().any(|p| p.number == new)
        {
            return Err(EngineError::NumberTaken {
                camera: camera.clone(),
                number: new,
            });
        }
        if let Some(name) = &request.name {
            tandem_store::check_name_free(&presets, camera, name, Some(number))
                .map_err(|e| claim_error(e.into(), camera, Some(number)))?;
        }
        let position = match request.position {
            Some(source) => Some(self.resolve_position(camera, source).await?),
            None => None,
        };
        let write = PresetWrite::Change {
            number,
            name: request.name.clone(),
            new_number: request.number,
            position,
            may_change_locked,
        };
        let actor = who.user.as_str();
        self.submit_claim(camera, &write, self.site_ids(), &|claimed| {
            let (Some(before), Some(after)) = (&claimed.before, &claimed.after) else {
                return Err(StoreError::Invalid("an update claimed no preset".into()));
            };
            let position = after.position.ok_or_else(|| {
                StoreError::Invalid(format!("preset {number} has no known position"))
            })?;
            journal_entry(
                camera,
                &Action::Put {
                    number: after.number,
                    name: after.name.clone(),
                    position,
                    renumber_from: (after.number != number).then_some(number),
                },
                Origin::Operator,
                actor,
                self.site_ids(),
                preset_audit(
                    actor,
                    AuditAction::PresetUpdate,
                    camera,
                    Some(before),
                    Some(after),
                ),
            )
        })
        .await
        .map_err(|e| claim_error(e, camera, Some(number)))
    }

    /// Deletes a preset on both sites; existence and the lock are checked in
    /// the journal's transaction.
    pub async fn delete(
        self: &Arc<Self>,
        camera: &CameraId,
        number: PresetNumber,
        who: &Principal,
    ) -> Result<Outcome, EngineError> {
        self.bindings.camera(camera)?;
        self.require(who, access::Action::EditPreset, camera)?;
        self.refuse_reserved(camera, number)?;
        self.read_first(camera).await?;
        let write = PresetWrite::Remove {
            number,
            may_change_locked: self.may_change_locked(who, camera)?,
        };
        let actor = who.user.as_str();
        self.submit_claim(camera, &write, self.site_ids(), &|claimed| {
            journal_entry(
                camera,
                &Action::Remove {
                    number: Some(number),
                    token: None,
                    name: claimed.before.as_ref().map(|p| p.name.clone()),
                },
                Origin::Operator,
                actor,
                self.site_ids(),
                preset_audit(
                    actor,
                    AuditAction::PresetDelete,
                    camera,
                    claimed.before.as_ref(),
                    None,
                ),
            )
        })
        .await
        .map_err(|e| claim_error(e, camera, Some(number)))
    }

    /// A camera's first operation reads it first (DESIGN.md, "Read before
    /// write"): a scan imports the primary's presets and records what each
    /// site holds, so the number allocator knows every number in use and no
    /// site's own preset passes for a free slot. A site that cannot be read
    /// now is read again by the operation itself before anything is written there.
    async fn read_first(self: &Arc<Self>, camera: &CameraId) -> Result<(), EngineError> {
        if !self.store.presets(camera)?.is_empty() {
            return Ok(());
        }
        let report = self.scan_camera(camera).await?;
        for unread in &report.unread {
            tracing::warn!(%camera, site = %unread.site, error = %unread.message,
                "first operation on a camera: a site could not be read beforehand");
        }
        Ok(())
    }

    /// Appends an audit entry; a failure is logged, not returned: the action
    /// it records has happened already.
    pub(crate) fn audit(
        &self,
        actor: &str,
        action: AuditAction,
        camera: Option<&CameraId>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        let entry = NewAudit {
            actor: actor.into(),
            action: action.as_str().into(),
            camera: camera.cloned(),
            before,
            after,
        };
        if let Err(e) = self.store.append_audit(&entry) {
            tracing::error!(error = %e, %action, "audit entry not written");
        }
    }

    /// [`Engine::audit`] off the caller's path: on the blocking pool when
    /// inside a runtime, so that a live command (a recall, taking control, a
    /// failover) is not answered after a durable store commit. The entry is
    /// still written, in the order the store takes them; a crash in the
    /// moment between the command and the write can lose it.
    pub(crate) fn audit_soon(
        self: &Arc<Self>,
        actor: &str,
        action: AuditAction,
        camera: Option<&CameraId>,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) {
        // Written here, on the caller's path, outside a runtime or when the
        // store is already that far behind: a client sending commands faster
        // than the store writes is slowed, not given an unbounded queue.
        let runtime = match tokio::runtime::Handle::try_current() {
            Ok(runtime) if self.audits_in_flight.begin(AUDITS_IN_FLIGHT) => runtime,
            _ => return self.audit(actor, action, camera, before, after),
        };
        let (engine, actor, camera) = (self.clone(), actor.to_string(), camera.cloned());
        runtime.spawn_blocking(move || {
            engine.audit(&actor, action, camera.as_ref(), before, after);
            engine.audits_in_flight.end();
        });
    }

    /// Waits (a few seconds at most) until every [`Engine::audit_soon`]
    /// entry is in the store: what a reader of the audit log expects to see.
    pub(crate) fn audits_written(&self) {
        self.audits_in_flight.wait(Duration::from_secs(5));
    }

    /// Refuses with `UnknownPreset` unless the camera has preset `number`.
    pub(crate) fn require_preset(
        &self,
        camera: &CameraId,
        number: PresetNumber,
    ) -> Result<Preset, EngineError> {
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
            match binding.adapter().position().await {
                Ok(p) => return Ok(p),
                Err(e) => last = e.to_string(),
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

    /// Journals `entry` with `write` to the canonical presets, applies it to
    /// its sites, and answers when every site is done or the wait bound has passed.
    pub(crate) async fn submit(
        self: &Arc<Self>,
        camera: &CameraId,
        write: PresetWrite,
        entry: Journal,
    ) -> Result<Outcome, EngineError> {
        let sites = entry.operation.sites.clone();
        self.submit_claim(camera, &write, sites, &|_| Ok(entry.clone()))
            .await
    }

    /// Journals the operation `build` makes of what `write` claims (one store
    /// transaction: the acknowledgement), applies it to `sites`, and answers
    /// when every site is done or the wait bound has passed.
    pub(crate) async fn submit_claim(
        self: &Arc<Self>,
        camera: &CameraId,
        write: &PresetWrite,
        sites: Vec<SiteId>,
        build: &(dyn Fn(&Claimed) -> Result<Journal, StoreError> + Sync),
    ) -> Result<Outcome, EngineError> {
        let (id, _) = self.store.journal_claim(camera, write, build)?;
        tracing::info!(operation = id.0, %camera, "journaled");
        let deadline = tokio::time::Instant::now() + self.wait_bound;
        let mut work = JoinSet::new();
        for site in sites {
            let engine = self.clone();
            let camera = camera.clone();
            work.spawn(async move { engine.drain_or_wait(&camera, &site, id, deadline).await });
        }
        let _ = tokio::time::timeout_at(deadline, async {
            while work.join_next().await.is_some() {}
        })
        .await;
        // Unfinished drains go on in the background.
        work.detach_all();
        self.outcome(id.0)
    }

    /// Drains the site's queue for the camera until operation `id` is no
    /// longer pending there or `deadline` passes: a site that answered "not
    /// now" (`ter:MovingPTZ`, a busy camera) is retried within the caller's
    /// wait as its backoff allows, one that did not answer is left to the
    /// background, and while another process drains the queue, this one waits
    /// for it.
    async fn drain_or_wait(
        &self,
        camera: &CameraId,
        site: &SiteId,
        id: tandem_store::OperationId,
        deadline: tokio::time::Instant,
    ) -> Result<(), EngineError> {
        loop {
            let drained = self.drain(camera, site).await?;
            // A site that does not answer is retried in the background: the
            // caller hears at once that its part is pending.
            if matches!(drained, Drained::Empty | Drained::Unreachable) {
                return Ok(());
            }
            let still_pending = self.store.operation(id)?.is_some_and(|op| {
                site_progress(&op, site).is_some_and(|p| p.state == SiteState::Pending)
            });
            let now = tokio::time::Instant::now();
            if !still_pending || now >= deadline {
                return Ok(());
            }
            // Until the head of the queue is due again (or the other process
            // is done), within the caller's wait.
            let due_in = match drained {
                Drained::Waiting => self
                    .store
                    .pending_for(camera, site)?
                    .first()
                    .and_then(|head| site_progress(head, site))
                    .and_then(|p| p.next_attempt_utc)
                    .and_then(|at| (at - self.utc()).to_std().ok())
                    .unwrap_or_default(),
                _ => Duration::ZERO,
            };
            let nap = due_in.max(Duration::from_millis(50));
            tokio::time::sleep_until((now + nap).min(deadline)).await;
        }
    }

    /// The current state of an operation.
    pub fn outcome(&self, operation: i64) -> Result<Outcome, EngineError> {
        let op = self
            .store
            .operation(tandem_store::OperationId(operation))?
            .ok_or_else(|| {
                EngineError::Internal(format!("operation {operation} vanished from the journal"))
            })?;
        let action = serde_json::from_value::<Action>(op.action.clone()).ok();
        let preset = action
            .as_ref()
            .and_then(Action::number)
            .and_then(|n| self.store.preset(&op.camera, n).ok().flatten());
        Ok(Outcome {
            operation,
            preset,
            // Storing a position turns the camera on an ONVIF site; an
            // XProtect site stores the coordinates.
            moves_camera: matches!(action, Some(Action::Put { .. }))
                && op.sites.iter().any(|s| {
                    self.bindings
                        .get(&op.camera, &s.site)
                        .is_ok_and(|b| b.adapter().moves_camera())
                }),
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
    ///
    /// One drainer per queue across processes: the queue's lease is taken in
    /// the store first, and [`Drained::Busy`] answered while another process
    /// holds it (that process applies the queue, this one's operations too).
    pub async fn drain(&self, camera: &CameraId, site: &SiteId) -> Result<Drained, EngineError> {
        let queue = self.queue(camera, site);
        let _turn = queue.lock().await;
        let name = lease::drain_lease(camera, site);
        // Another process's lapsed lease on this queue: it died, or was
        // paused, maybe half-way through a device write. The first
        // operation is then in doubt: the site is read before it is written.
        let lapsed_elsewhere = self
            .store
            .lease_row(&name)?
            .is_some_and(|(owner, _)| owner != self.leases.owner());
        let Some(lease) = self.leases.try_take(&name)? else {
            return Ok(Drained::Busy);
        };
        let mut in_doubt = lapsed_elsewhere;
        let binding = self.bindings.get(camera, site)?;
        let tolerance = self.bindings.camera(camera)?.tolerance;
        loop {
            let pending = self.store.pending_for(camera, site)?;
            let Some(op) = pending.into_iter().next() else {
                return Ok(Drained::Empty);
            };
            if let Some(not_before) = site_progress(&op, site).and_then(|p| p.next_attempt_utc)
                && not_before > self.utc()
            {
                return Ok(Drained::Waiting);
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
            // A site that stores coordinates (XProtect) moves nothing.
            let adapter = binding.adapter();
            let moves_camera = adapter.moves_camera();
            if moves_camera
                && matches!(action, Action::Put { .. })
                && let Some(holder) = self.control.holder(camera, self.now())?
                && holder.user != op.actor
                && !holder.reserved
            {
                let message = format!("waiting: {} is controlling the camera", holder.user);
                let next = self.utc() + chrono::TimeDelta::milliseconds(500);
                self.record(&op, site, SiteState::Pending, Some(&message), Some(next))?;
                return Ok(Drained::Waiting);
            }
            let hold = Hold {
                camera: self.camera_hold(camera),
                leases: &self.leases,
                control: &self.control,
                started: self.now(),
                clock: self.clock.as_ref(),
                in_doubt: std::mem::take(&mut in_doubt),
            };
            // Fencing: still this process's queue, by the store's clock? A
            // process paused past its lease stops here, before the device.
            if let Err(e) = lease.confirm() {
                tracing::warn!(operation = op.id.0, %camera, %site, error = %e, "not applying: the queue's lease ended");
                return Ok(Drained::Busy);
            }
            let applied = adapter
                .apply(self.store.as_ref(), &action, tolerance, &hold)
                .await;
            match applied {
                Ok(()) => {
                    self.record(&op, site, SiteState::Applied, None, None)?;
                    tracing::info!(operation = op.id.0, %camera, %site, action = %action.describe(), "applied");
                }
                Err(e) if e.is_retryable() => {
                    let attempts = site_progress(&op, site).map(|p| p.attempts).unwrap_or(0);
                    let delay = self.retry.delay(attempts);
                    let next = self.utc() + chrono::TimeDelta::from_std(delay).unwrap_or_default();
                    self.record(
                        &op,
                        site,
                        SiteState::Pending,
                        Some(&e.public_message()),
                        Some(next),
                    )?;
                    tracing::debug!(operation = op.id.0, %camera, %site, error = %e.detail(), "pending");
                    return Ok(
                        if e.device_failure() == Some(crate::error::DeviceFailure::Unreachable) {
                            Drained::Unreachable
                        } else {
                            Drained::Waiting
                        },
                    );
                }
                Err(e) => {
                    self.record(
                        &op,
                        site,
                        SiteState::Failed,
                        Some(&e.public_message()),
                        None,
                    )?;
                    tracing::warn!(operation = op.id.0, %camera, %site, error = %e.detail(), "failed");
                }
            }
        }
    }

    /// Drains every (camera, site) with a due pending operation, concurrently.
    pub async fn drain_due(self: &Arc<Self>) -> Result<usize, EngineError> {
        let due = self.store.due(self.utc())?;
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

/// The journal entry of `action`.
pub(crate) fn journal_entry(
    camera: &CameraId,
    action: &Action,
    origin: Origin,
    actor: &str,
    sites: Vec<SiteId>,
    audit: NewAudit,
) -> Result<Journal, StoreError> {
    Ok(Journal {
        operation: NewOperation {
            camera: camera.clone(),
            action: serde_json::to_value(action)
                .map_err(|e| StoreError::Invalid(format!("an action cannot be journaled: {e}")))?,
            origin,
            actor: actor.into(),
            sites,
        },
        audit,
    })
}

/// A claim's refusal as the engine reports it.
fn claim_error(e: EngineError, camera: &CameraId, number: Option<PresetNumber>) -> EngineError {
    match e {
        EngineError::Store(StoreError::Conflict(m)) => EngineError::Conflict(m),
        EngineError::Store(StoreError::Locked(m)) => EngineError::Forbidden(m),
        EngineError::Store(StoreError::Invalid(m)) => {
            EngineError::Invalid(tandem_core::InvalidInput(m))
        }
        EngineError::Store(StoreError::NotFound(m)) => match number {
            Some(number) => EngineError::UnknownPreset {
                camera: camera.clone(),
                number,
            },
            None => EngineError::Store(StoreError::NotFound(m)),
        },
        other => other,
    }
}

/// The audit entry of an operator's preset change.
fn preset_audit(
    actor: &str,
    action: AuditAction,
    camera: &CameraId,
    before: Option<&Preset>,
    after: Option<&Preset>,
) -> NewAudit {
    let json = |p: Option<&Preset>| p.and_then(|p| serde_json::to_value(p).ok());
    NewAudit {
        actor: actor.into(),
        action: action.as_str().into(),
        camera: Some(camera.clone()),
        before: json(before),
        after: json(after),
    }
}

fn site_progress<'a>(op: &'a Operation, site: &SiteId) -> Option<&'a tandem_store::SiteProgress> {
    op.sites.iter().find(|s| &s.site == site)
}
