//! Live PTZ control that survives failover.
//!
//! Every live command goes to the *active* site: the highest-priority site
//! that is up. A command that fails to reach it (transport error, timeout)
//! marks that site down at once and is retried on the next site in the same
//! call, so the operator sees success. A health monitor probes every site;
//! hysteresis (several failures to go down, several successes to come back)
//! keeps flapping sites from bouncing the active site, and failback to the
//! primary waits until it has been healthy for a hold time (or is asked for).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tandem_core::access::{self, Permission, Principal};
use tandem_core::{AuditAction, CameraId, Position, PresetNumber, SiteId};
use tokio::sync::broadcast;

use crate::control::Busy;
use crate::engine::{Engine, SYSTEM_ACTOR};
use crate::error::{DeviceFailure, EngineError};
use crate::health::ProbePolicy;
use crate::sites::Binding;
use crate::tokens::TokenMap;

/// How sites are watched and when the active site changes.
#[derive(Debug, Clone, Copy)]
pub struct HealthPolicy {
    /// Time between probes of each site.
    pub probe_interval: Duration,
    /// Consecutive failed probes before a site is down.
    pub failures_to_down: u32,
    /// Consecutive good probes before a down site is up again.
    pub successes_to_up: u32,
    /// How long the primary must have been up before control returns to it.
    pub failback_hold: Duration,
    /// Whether control returns to the primary by itself (else only when asked).
    pub auto_failback: bool,
    /// Time bound of one live command on one site before trying the next.
    pub command_timeout: Duration,
    /// How long a user keeps manual control of a camera without sending a command.
    pub control_idle: Duration,
}

impl HealthPolicy {
    /// The part of the policy that says how probes count.
    pub fn probes(&self) -> ProbePolicy {
        ProbePolicy {
            interval: self.probe_interval,
            failures_to_down: self.failures_to_down,
            successes_to_up: self.successes_to_up,
            timeout: self.command_timeout,
        }
    }
}

impl Default for HealthPolicy {
    fn default() -> Self {
        HealthPolicy {
            probe_interval: Duration::from_millis(500),
            failures_to_down: 2,
            successes_to_up: 3,
            failback_hold: Duration::from_secs(30),
            auto_failback: true,
            command_timeout: Duration::from_millis(1500),
            control_idle: Duration::from_secs(15),
        }
    }
}

pub use crate::health::Health;

/// One change of the active site.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Switch {
    /// When.
    pub at_utc: DateTime<Utc>,
    /// From which site.
    pub from: SiteId,
    /// To which site.
    pub to: SiteId,
    /// Why ("primary down", "failback after hold", "manual failback"...).
    pub reason: String,
}

/// What live control reports as it happens.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A site's health changed.
    Health {
        /// The site.
        site: SiteId,
        /// Its new health.
        health: Health,
    },
    /// The active site changed.
    Active(Switch),
    /// Who steers a camera changed.
    Control(ControlChange),
}

/// A change of who steers a camera.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ControlChange {
    /// The camera.
    pub camera: CameraId,
    /// Who holds it now (`None` after a release).
    pub user: Option<String>,
    /// Whom it was taken from, on a takeover.
    pub taken_from: Option<String>,
    /// Whether the holder reserved it for preset work.
    pub reserved: bool,
    /// Who released it, on a release.
    pub released_by: Option<String>,
}

/// Who steers a camera, as callers see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Steering {
    /// The user.
    pub user: String,
    /// Their PTZ priority on this camera.
    pub priority: u16,
    /// Reserved for preset work by an admin: exclusive until released.
    pub reserved: bool,
    /// How long until the hold lapses without commands (`None` for reservations).
    pub expires_in: Option<Duration>,
}

/// A site as live control sees it now.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SiteStatus {
    /// The site.
    pub id: SiteId,
    /// 1 for the primary; higher numbers are less preferred.
    pub priority: u32,
    /// Its health.
    pub health: Health,
    /// Whether live control goes to it now.
    pub active: bool,
    /// `onvif` or `xprotect`: how its cameras are reached.
    pub kind: &'static str,
    /// The active site: since when, and why it became active (absent if it
    /// has been since the start).
    pub active_since: Option<(DateTime<Utc>, String)>,
    /// The primary while another site is active, up, and automatic
    /// failback on: how long until live control returns to it.
    pub failback_in: Option<Duration>,
}

/// A camera's position and movement, as the active site reports them.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct CameraStatus {
    /// Where it points, if the site reports it.
    pub position: Option<Position>,
    /// Whether it is moving.
    pub moving: bool,
}

/// A live PTZ command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Move at a velocity (each axis in [-1, 1]) until stopped or `timeout`.
    ContinuousMove {
        /// Pan, tilt, zoom velocity.
        velocity: [f64; 3],
        /// When the camera stops by itself.
        timeout: Duration,
    },
    /// Move by a translation.
    RelativeMove {
        /// Pan, tilt, zoom translation.
        translation: [f64; 3],
    },
    /// Move to a position.
    AbsoluteMove {
        /// Target.
        position: Position,
    },
    /// Stop pan/tilt and zoom.
    Stop,
    /// Go to the site's home position.
    GotoHome,
    /// Recall a preset by number (each site's own token).
    RecallPreset(PresetNumber),
    /// Read the status.
    Status,
}

/// Longest wait for the camera to stop before [`Live::look`] takes its picture.
pub const LOOK_SETTLE: Duration = Duration::from_secs(8);

/// A picture taken at a position by [`Live::look`].
#[derive(Debug, Clone)]
pub struct Look {
    /// The site that gave the picture.
    pub site: SiteId,
    /// The JPEG.
    pub jpeg: Vec<u8>,
    /// Whether the camera was sent back to where it was (not when someone
    /// took control meanwhile, or its position was not known).
    pub returned: bool,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Served {
    /// The site that served it.
    pub site: SiteId,
    /// Sites tried before it that did not answer.
    pub failed_over_from: Vec<SiteId>,
    /// The status, for `Status`.
    pub status: Option<CameraStatus>,
}

#[derive(Debug)]
struct State {
    active: SiteId,
    history: Vec<Switch>,
}

/// Live control over an engine's bindings.
pub struct Live {
    engine: Arc<Engine>,
    policy: HealthPolicy,
    state: Mutex<State>,
    events: broadcast::Sender<LiveEvent>,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Live {
    /// Live control with the primary active, reading and feeding the
    /// engine's [`SiteHealth`](crate::health::SiteHealth) with `policy`'s probe settings.
    pub fn new(engine: Arc<Engine>, policy: HealthPolicy) -> Result<Arc<Self>, EngineError> {
        let active = engine
            .bindings()
            .sites()
            .first()
            .map(|s| s.id.clone())
            .ok_or_else(|| EngineError::Internal("no sites".into()))?;
        engine.health().set_policy(policy.probes());
        let (events, _) = broadcast::channel(256);
        Ok(Arc::new(Live {
            engine,
            policy,
            state: Mutex::new(State {
                active,
                history: Vec::new(),
            }),
            events,
        }))
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Receives live events.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.events.subscribe()
    }

    /// The active site.
    pub fn active(&self) -> SiteId {
        self.state().active.clone()
    }

    /// Each site's health, primary first.
    pub fn health(&self) -> Vec<(SiteId, Health)> {
        self.engine.health().all()
    }

    /// Every switch of the active site so far.
    pub fn history(&self) -> Vec<Switch> {
        self.state().history.clone()
    }

    /// This instance, whether it leads the instances sharing the store,
    /// and who leads (some permission needed).
    pub fn instance(&self, who: &Principal) -> Result<InstanceStatus, EngineError> {
        require_some_grant(who, "see the service's instances")?;
        let leadership = self.engine.leadership();
        // This instance's own view answers even when the store does not
        // (an instance cut off from it must still say it no longer leads).
        let leader = match self.engine.store().leader() {
            Ok(leader) => leader,
            Err(e) => {
                tracing::warn!(error = %e, "reading who leads");
                None
            }
        };
        Ok(InstanceStatus {
            instance: leadership.owner().to_string(),
            leading: leadership.leads(),
            leader: leader.map(|l| (l.holder, l.epoch, l.expires_utc)),
        })
    }

    /// The sites with their health, primary first, for `who`, who needs some
    /// permission somewhere.
    pub fn sites(&self, who: &Principal) -> Result<Vec<SiteStatus>, EngineError> {
        require_some_grant(who, "see the sites")?;
        let active = self.active();
        let health = self.health();
        let since = self
            .state()
            .history
            .iter()
            .rev()
            .find(|s| s.to == active)
            .map(|s| (s.at_utc, s.reason.clone()));
        let primary = self.engine.bindings().sites().first().map(|s| s.id.clone());
        let failback_in = match (&primary, self.policy.auto_failback) {
            (Some(p), true) if *p != active => {
                self.engine.health().of(p).and_then(|(h, up_for)| {
                    (h == Health::Up).then(|| {
                        self.policy
                            .failback_hold
                            .saturating_sub(up_for.unwrap_or_default())
                    })
                })
            }
            _ => None,
        };
        Ok(self
            .engine
            .bindings()
            .sites()
            .iter()
            .map(|s| SiteStatus {
                active_since: (s.id == active).then(|| since.clone()).flatten(),
                failback_in: (Some(&s.id) == primary.as_ref())
                    .then_some(failback_in)
                    .flatten(),
                id: s.id.clone(),
                priority: s.priority,
                health: health
                    .iter()
                    .find(|(id, _)| *id == s.id)
                    .map_or(Health::Down, |(_, h)| *h),
                active: s.id == active,
                kind: s.kind.as_str(),
            })
            .collect())
    }

    /// [`Live::history`] for `who`, who needs some permission somewhere.
    pub fn switches(&self, who: &Principal) -> Result<Vec<Switch>, EngineError> {
        require_some_grant(who, "see the site switches")?;
        Ok(self.history())
    }

    /// Runs an operator's `command`: checks `who`'s rights on the camera
    /// (moves need `ptz.control`, a recall `preset.recall`, the status
    /// either), takes or renews manual control for a move (a higher PTZ
    /// priority takes over; a conflict names the holder), then runs it with
    /// failover ([`Live::command`]).
    pub async fn operate(
        &self,
        who: &Principal,
        camera: &CameraId,
        command: &Command,
    ) -> Result<Served, EngineError> {
        let groups = &self.engine.bindings().camera(camera)?.groups;
        let allowed = |action: access::Action| who.may(action, groups);
        match command {
            Command::Status => {
                if !allowed(access::Action::MovePtz) && !allowed(access::Action::RecallPreset) {
                    return Err(forbidden(who, "ptz.control or preset.recall", camera));
                }
            }
            Command::RecallPreset(number) => {
                if !allowed(access::Action::RecallPreset) {
                    return Err(forbidden(who, "preset.recall", camera));
                }
                // A reserved number is a command on the device (a reboot, a menu).
                self.engine.refuse_reserved(camera, *number)?;
                self.engine.require_preset(camera, *number)?;
                let served = self.command(camera, command).await;
                let after = match &served {
                    Ok(s) => serde_json::json!({ "number": number.get(), "site": s.site }),
                    Err(e) => {
                        serde_json::json!({ "number": number.get(), "failed": e.public_message() })
                    }
                };
                self.engine.audit_soon(
                    &who.user,
                    AuditAction::PresetRecall,
                    Some(camera),
                    None,
                    Some(after),
                );
                return served;
            }
            _ => {
                let priority = self.ptz_priority(who, camera)?;
                self.take_control(&who.user, priority, camera)?;
            }
        }
        self.command(camera, command).await
    }

    /// Brings `point` of the camera's picture to its centre, `point.factor`
    /// times closer (click to centre; a rectangle dragged to zoom): where the
    /// camera points is read from the active site, the target follows from
    /// the camera's [`Optics`](tandem_core::Optics), and one absolute move
    /// goes with `who`'s rights and manual control, as any live command.
    pub async fn centre_on(
        &self,
        who: &Principal,
        camera: &CameraId,
        point: tandem_core::PicturePoint,
    ) -> Result<Served, EngineError> {
        point.validate()?;
        self.ptz_priority(who, camera)?;
        let optics = self.engine.bindings().camera(camera)?.optics;
        let from = self
            .command(camera, &Command::Status)
            .await?
            .status
            .and_then(|s| s.position)
            .ok_or_else(|| {
                EngineError::NoSite(
                    camera.clone(),
                    "no site reports where the camera points, so no point of its picture can be centred".into(),
                )
            })?;
        let position = optics.centre_on(from, point)?;
        self.operate(who, camera, &Command::AbsoluteMove { position })
            .await
    }

    /// Takes or renews manual control of `camera` for `user`.
    fn take_control(
        &self,
        user: &str,
        priority: u16,
        camera: &CameraId,
    ) -> Result<(), EngineError> {
        let now = self.engine.now();
        let control = self.engine.control();
        match control.acquire(camera, user, priority, self.policy.control_idle, now)? {
            Ok(before) => {
                if before.as_ref().is_none_or(|h| h.user != user) {
                    // Taking control is audited, renewing it (every joystick
                    // command) is not: whom it was taken from says who lost it.
                    let before_json = before
                        .as_ref()
                        .map(|h| serde_json::json!({ "user": h.user, "priority": h.priority }));
                    self.engine.audit_soon(
                        user,
                        AuditAction::ControlTake,
                        Some(camera),
                        before_json,
                        Some(serde_json::json!({ "user": user, "priority": priority })),
                    );
                    self.tell_control(camera, Some(user), before.map(|h| h.user), false, None);
                }
                Ok(())
            }
            Err(Busy(holder)) => {
                let left = holder
                    .until
                    .map(|t| t.saturating_duration_since(now).as_secs())
                    .map(|s| format!(" for {s} more seconds unless they keep moving it"))
                    .unwrap_or_default();
                Err(EngineError::Conflict(format!(
                    "{}{left}; a role with a higher PTZ priority takes over at once",
                    Busy(holder)
                )))
            }
        }
    }

    fn tell_control(
        &self,
        camera: &CameraId,
        user: Option<&str>,
        taken_from: Option<String>,
        reserved: bool,
        released_by: Option<&str>,
    ) {
        let _ = self.events.send(LiveEvent::Control(ControlChange {
            camera: camera.clone(),
            user: user.map(str::to_string),
            taken_from,
            reserved,
            released_by: released_by.map(str::to_string),
        }));
    }

    /// Who holds manual control of `camera` now, if anyone; `who` needs
    /// some permission on the camera.
    pub fn holder(
        &self,
        who: &Principal,
        camera: &CameraId,
    ) -> Result<Option<Steering>, EngineError> {
        self.engine.require_sight(who, camera)?;
        let now = self.engine.now();
        Ok(self
            .engine
            .control()
            .holder(camera, now)?
            .map(|h| Steering {
                expires_in: h.until.map(|t| t.saturating_duration_since(now)),
                user: h.user,
                priority: h.priority,
                reserved: h.reserved,
            }))
    }

    /// Takes manual control of `camera` for `who` (who needs `ptz.control`
    /// on it) without moving it: at once from nobody or from a lower PTZ
    /// priority, refused (a conflict naming the holder) otherwise.
    pub fn take(&self, who: &Principal, camera: &CameraId) -> Result<(), EngineError> {
        let priority = self.ptz_priority(who, camera)?;
        self.take_control(&who.user, priority, camera)
    }

    /// `who`'s PTZ priority on `camera`; refused without `ptz.control` there.
    fn ptz_priority(&self, who: &Principal, camera: &CameraId) -> Result<u16, EngineError> {
        let groups = &self.engine.bindings().camera(camera)?.groups;
        who.ptz_priority(groups)
            .ok_or_else(|| forbidden(who, "ptz.control", camera))
    }

    /// Releases `who`'s manual control (or reservation) of `camera`;
    /// releasing what someone else holds changes nothing and tells nobody.
    /// The holder may always release; anyone else needs some permission on
    /// the camera to ask.
    pub fn release(&self, who: &Principal, camera: &CameraId) -> Result<(), EngineError> {
        self.engine.bindings().camera(camera)?;
        let control = self.engine.control();
        let holds = control
            .holder(camera, self.engine.now())?
            .is_some_and(|h| h.user == who.user);
        if !holds {
            self.engine.require_sight(who, camera)?;
        }
        // Told only when this call released a hold, decided under the
        // control's lock: never a "released" while the holder keeps it.
        if let Some(released) = control.release(camera, &who.user, self.engine.now())? {
            self.engine.audit(
                &who.user,
                AuditAction::ControlRelease,
                Some(camera),
                Some(serde_json::json!({ "user": released.user, "reserved": released.reserved })),
                None,
            );
            self.tell_control(camera, None, None, false, Some(&who.user));
        }
        Ok(())
    }

    /// Reserves `camera` for `who`'s preset work (administrators): exclusive until released.
    pub fn reserve(&self, who: &Principal, camera: &CameraId) -> Result<(), EngineError> {
        let groups = &self.engine.bindings().camera(camera)?.groups;
        if !who.allows(Permission::Admin, groups) {
            return Err(forbidden(who, "admin", camera));
        }
        let before = self
            .engine
            .control()
            .reserve(camera, &who.user, self.engine.now())?
            .map_err(|b| EngineError::Conflict(b.to_string()))?;
        self.engine.audit(
            &who.user,
            AuditAction::ControlReserve,
            Some(camera),
            before.map(|h| serde_json::json!({ "user": h.user, "priority": h.priority })),
            Some(serde_json::json!({ "user": who.user, "reserved": true })),
        );
        self.tell_control(camera, Some(&who.user), None, true, None);
        Ok(())
    }

    /// Runs `command` on the active site, failing over to the next site that
    /// answers when it does not. A device fault (the site answered "no") is
    /// returned as is: another site would not make it right.
    pub async fn command(
        &self,
        camera: &CameraId,
        command: &Command,
    ) -> Result<Served, EngineError> {
        let order = self.order();
        let mut failed_over_from = Vec::new();
        let mut last = None;
        for site in order {
            let binding = self.engine.bindings().get(camera, &site)?;
            let attempt =
                tokio::time::timeout(self.policy.command_timeout, self.run(&binding, command))
                    .await;
            let result = match attempt {
                Ok(result) => result,
                Err(_) => Err(EngineError::Device {
                    site: site.clone(),
                    camera: camera.clone(),
                    message: format!(
                        "no answer within {} ms",
                        self.policy.command_timeout.as_millis()
                    ),
                    detail: None,
                    retryable: true,
                    fault: None,
                    failure: DeviceFailure::Unreachable,
                }),
            };
            match result {
                Ok(status) => {
                    self.record(&site, true);
                    return Ok(Served {
                        site,
                        failed_over_from,
                        status,
                    });
                }
                Err(e) if unreachable(&e) => {
                    tracing::warn!(%site, %camera, error = %e.detail(), "live command failed over");
                    // One failed operator command is enough to call a site down.
                    self.mark_down(&site, "did not answer an operator command");
                    failed_over_from.push(site);
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last
            .unwrap_or_else(|| EngineError::NoSite(camera.clone(), "no site configured".into())))
    }

    /// The camera's current picture from `site`, or from the active site and
    /// then the others in failover order. A failed snapshot does not mark a
    /// site down: the snapshot service of a device can fail on its own.
    /// `who` needs some permission on the camera.
    pub async fn snapshot(
        &self,
        who: &Principal,
        camera: &CameraId,
        site: Option<&SiteId>,
    ) -> Result<(SiteId, Vec<u8>), EngineError> {
        self.engine.require_sight(who, camera)?;
        self.picture(camera, site).await
    }

    /// [`Live::snapshot`] without a rights check.
    async fn picture(
        &self,
        camera: &CameraId,
        site: Option<&SiteId>,
    ) -> Result<(SiteId, Vec<u8>), EngineError> {
        let order = match site {
            Some(site) => vec![site.clone()],
            None => self.order(),
        };
        let mut last = None;
        for site in order {
            let binding = self.engine.bindings().get(camera, &site)?;
            match tokio::time::timeout(self.policy.command_timeout, binding.adapter().snapshot())
                .await
            {
                Ok(Ok(jpeg)) => return Ok((site, jpeg)),
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(EngineError::Device {
                        site: site.clone(),
                        camera: camera.clone(),
                        message: "no snapshot within the command timeout".into(),
                        detail: None,
                        retryable: true,
                        fault: None,
                        failure: DeviceFailure::Unreachable,
                    })
                }
            }
        }
        Err(last
            .unwrap_or_else(|| EngineError::NoSite(camera.clone(), "no site configured".into())))
    }

    /// The camera's view at `position` (one side of a position mismatch, say),
    /// and the camera back where it was: moves it there through the active
    /// site as `who` (who needs `ptz.control` and takes manual control), waits
    /// until it stops (at most [`LOOK_SETTLE`]), takes a picture, then returns
    /// it, unless someone took control meanwhile (DESIGN.md, "The camera goes back").
    pub async fn look(
        &self,
        who: &Principal,
        camera: &CameraId,
        position: Position,
    ) -> Result<Look, EngineError> {
        position.validate()?;
        let priority = self.ptz_priority(who, camera)?;
        self.take_control(&who.user, priority, camera)?;
        let since = self.engine.now();
        let origin = self
            .command(camera, &Command::Status)
            .await?
            .status
            .and_then(|s| s.position);
        self.command(camera, &Command::AbsoluteMove { position })
            .await?;
        self.settle(camera).await?;
        let picture = self.picture(camera, None).await;
        let returned = match origin {
            Some(origin) if !self.engine.control().taken_since(camera, since) => {
                // Answered once it is back: the next look starts from there.
                self.command(camera, &Command::AbsoluteMove { position: origin })
                    .await
                    .is_ok()
                    && self.settle(camera).await.is_ok()
            }
            _ => false,
        };
        let (site, jpeg) = picture?;
        Ok(Look {
            site,
            jpeg,
            returned,
        })
    }

    /// Waits until the camera stops, at most [`LOOK_SETTLE`]: until it says
    /// it is idle and two reads of its position agree. A site that cannot
    /// tell movement (XProtect's REST API reports only the position) is
    /// judged by the position alone.
    async fn settle(&self, camera: &CameraId) -> Result<(), EngineError> {
        let deadline = tokio::time::Instant::now() + LOOK_SETTLE;
        let mut last: Option<Position> = None;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let Some(status) = self.command(camera, &Command::Status).await?.status else {
                break;
            };
            if status.moving {
                last = None;
                continue;
            }
            match (status.position, last) {
                (None, _) => break,
                (Some(now), Some(before)) if now.within(&before, 1e-4) => break,
                (now, _) => last = now,
            }
        }
        Ok(())
    }

    /// Sites in the order a command tries them: the active one, then the
    /// others by priority, up ones before down ones (a down site is still tried
    /// last: it may have come back before the monitor noticed).
    fn order(&self) -> Vec<SiteId> {
        let health = self.engine.health().all();
        let mut order = vec![self.active()];
        for wanted in [Health::Up, Health::Degraded, Health::Down] {
            for (id, h) in &health {
                if *h == wanted && !order.contains(id) {
                    order.push(id.clone());
                }
            }
        }
        order
    }

    async fn run(
        &self,
        binding: &Binding,
        command: &Command,
    ) -> Result<Option<CameraStatus>, EngineError> {
        let token = match command {
            Command::RecallPreset(n) => Some(self.token_for(binding, *n)?),
            _ => None,
        };
        binding.adapter().command(command, token.as_deref()).await
    }

    /// Each site's own token for a preset number.
    fn token_for(&self, binding: &Binding, number: PresetNumber) -> Result<String, EngineError> {
        TokenMap::load(self.engine.store().as_ref(), &binding.camera, &binding.site)?
            .token(number)
            .ok_or_else(|| EngineError::UnknownPreset {
                camera: binding.camera.clone(),
                number,
            })
    }

    /// Probes every site once (through the engine's one
    /// [`SiteHealth`](crate::health::SiteHealth)) and moves the active site accordingly.
    pub async fn probe_once(&self) {
        let changes = self
            .engine
            .health()
            .probe_once(self.engine.bindings())
            .await;
        for (site, health) in changes {
            self.health_changed(&site, health);
        }
        self.maybe_failback("failback after hold");
    }

    /// Keeps the active site on a healthy site: probes every
    /// `probe_interval` when no other task of this process probes already,
    /// and follows every health change, until the task is aborted.
    pub fn spawn_monitor(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let live = self.clone();
        let prober = self.engine.health().claim_monitor();
        let mut changes = self.engine.health().subscribe();
        tokio::spawn(async move {
            loop {
                if prober {
                    live.probe_once().await;
                } else {
                    live.maybe_failback("failback after hold");
                }
                let tick = tokio::time::sleep(live.policy.probe_interval);
                tokio::pin!(tick);
                loop {
                    tokio::select! {
                        _ = &mut tick => break,
                        change = changes.recv() => match change {
                            Ok(change) => live.health_changed(&change.site, change.now),
                            Err(broadcast::error::RecvError::Lagged(_)) => {}
                            Err(broadcast::error::RecvError::Closed) => return,
                        },
                    }
                }
            }
        })
    }

    /// Tells subscribers of a site's new health and leaves a site that went down.
    fn health_changed(&self, site: &SiteId, health: Health) {
        let _ = self.events.send(LiveEvent::Health {
            site: site.clone(),
            health,
        });
        if health == Health::Down && self.active() == *site {
            self.move_off(site);
        }
    }

    /// Returns live control to the primary now (administrators), when it is up.
    pub fn failback(&self, who: &Principal) -> Result<(), EngineError> {
        if !who.allows(Permission::Admin, &[]) {
            return Err(EngineError::Forbidden(format!(
                "{} may not switch sites: it needs the admin permission on all cameras",
                who.user
            )));
        }
        let primary = self.engine.health().all().into_iter().next();
        match primary {
            Some((id, _)) if id == self.active() => Err(EngineError::Conflict(
                "live control is on the primary already".into(),
            )),
            Some((id, Health::Up)) => {
                self.switch_to(&id, "manual failback", &who.user, AuditAction::SiteFailback);
                Ok(())
            }
            _ => Err(EngineError::Conflict(
                "the primary is not up; control stays where it is".into(),
            )),
        }
    }

    /// Counts a live command's outcome on `site`.
    fn record(&self, site: &SiteId, ok: bool) {
        if let Some(health) = self.engine.health().record(site, ok, true) {
            self.health_changed(site, health);
        }
    }

    /// Marks `site` down after an operator command it did not answer.
    fn mark_down(&self, site: &SiteId, why: &str) {
        if self.engine.health().mark_down(site, why) {
            let _ = self.events.send(LiveEvent::Health {
                site: site.clone(),
                health: Health::Down,
            });
        }
        if self.active() == *site {
            self.move_off(site);
        }
    }

    /// Makes the best other site active after `site` went down.
    fn move_off(&self, site: &SiteId) {
        let health = self.engine.health().all();
        let next = [Health::Up, Health::Degraded]
            .into_iter()
            .find_map(|wanted| {
                health
                    .iter()
                    .find(|(id, h)| id != site && *h == wanted)
                    .map(|(id, _)| id.clone())
            });
        if let Some(next) = next {
            self.switch_to(
                &next,
                &format!("{site} down"),
                SYSTEM_ACTOR,
                AuditAction::SiteSwitch,
            );
        }
    }

    /// Back to the primary once it has been up for the hold time.
    fn maybe_failback(&self, reason: &str) {
        if !self.policy.auto_failback {
            return;
        }
        let Some(primary) = self.engine.bindings().sites().first().map(|s| s.id.clone()) else {
            return;
        };
        let held = self
            .engine
            .health()
            .of(&primary)
            .is_some_and(|(h, up_for)| {
                h == Health::Up && up_for.is_some_and(|t| t >= self.policy.failback_hold)
            });
        let target = (held && self.active() != primary).then_some(primary);
        if let Some(primary) = target {
            self.switch_to(&primary, reason, SYSTEM_ACTOR, AuditAction::SiteSwitch);
        }
    }

    /// Makes `to` the active site; the switch is audited as `action` by `actor`.
    fn switch_to(&self, to: &SiteId, reason: &str, actor: &str, action: AuditAction) {
        let switch = {
            let mut state = self.state();
            if state.active == *to {
                return;
            }
            let switch = Switch {
                at_utc: self.engine.utc(),
                from: state.active.clone(),
                to: to.clone(),
                reason: reason.into(),
            };
            state.active = to.clone();
            state.history.push(switch.clone());
            switch
        };
        tracing::warn!(from = %switch.from, to = %switch.to, reason, "active site changed");
        self.engine.audit_soon(
            actor,
            action,
            None,
            Some(serde_json::json!({ "active": switch.from })),
            Some(serde_json::json!({ "active": switch.to, "reason": switch.reason })),
        );
        let _ = self.events.send(LiveEvent::Active(switch));
    }
}

/// Refuses `who` when no role grants anything.
fn require_some_grant(who: &Principal, to: &str) -> Result<(), EngineError> {
    if who.has_any_grant() {
        return Ok(());
    }
    Err(EngineError::Forbidden(format!(
        "{} may not {to}: no role grants any permission",
        who.user
    )))
}

fn forbidden(who: &Principal, needs: &str, camera: &CameraId) -> EngineError {
    EngineError::Forbidden(format!(
        "{} may not do this on camera {camera}: it needs {needs}",
        who.user
    ))
}

fn unreachable(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Device {
            retryable: true,
            fault: None,
            ..
        }
    )
}

/// One `tandem serve` among those sharing a store ([`Live::instance`]).
#[derive(Debug, Clone)]
pub struct InstanceStatus {
    /// This instance's id (its process and a random part).
    pub instance: String,
    /// Whether it runs the background duties now.
    pub leading: bool,
    /// Who leads, as the store records it: instance, epoch, lead ends at.
    pub leader: Option<(String, u64, chrono::DateTime<chrono::Utc>)>,
}
