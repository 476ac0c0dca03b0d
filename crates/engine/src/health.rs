//! [`SiteHealth`]: whether each site answers, the one record of it in a
//! process. Live control reads it to route commands and decide failover; the
//! background watcher reads it to know when a site came back. One prober
//! feeds it ([`SiteHealth::probe_once`], run by one monitor task however
//! many readers there are), and every live command's outcome counts too.
//!
//! Hysteresis keeps a flapping site from bouncing: several failed probes make
//! a site down (one failed operator command is enough), several good ones make
//! it up again (one served command is enough). A probe asks a few of the
//! site's cameras, not only the first: one dead camera is not a dead site.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use tandem_core::SiteId;
use tandem_core::clock::Clock;
use tokio::sync::broadcast;

use crate::sites::Bindings;

/// Cameras a probe of one site asks at once; the site is up when any answers.
const CAMERAS_PER_PROBE: usize = 3;

/// A site's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Answering.
    Up,
    /// Some recent probes failed, not enough to call it down.
    Degraded,
    /// Not answering.
    Down,
}

/// How probes count.
#[derive(Debug, Clone, Copy)]
pub struct ProbePolicy {
    /// Time between probes of each site.
    pub interval: Duration,
    /// Consecutive failed probes before a site is down.
    pub failures_to_down: u32,
    /// Consecutive good probes before a down site is up again.
    pub successes_to_up: u32,
    /// How long one probe may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for ProbePolicy {
    fn default() -> Self {
        ProbePolicy {
            interval: Duration::from_millis(500),
            failures_to_down: 2,
            successes_to_up: 3,
            timeout: Duration::from_millis(1500),
        }
    }
}

/// A change of one site's health, as subscribers receive it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SiteHealthEvent {
    /// The site.
    pub site: SiteId,
    /// Its health before.
    pub was: Health,
    /// Its health now.
    pub now: Health,
}

#[derive(Debug)]
struct SiteState {
    health: Health,
    failures: u32,
    successes: u32,
    up_since: Option<Instant>,
}

/// Every site's health, shared by live control and the background watcher.
#[derive(Debug)]
pub struct SiteHealth {
    clock: Arc<dyn Clock>,
    policy: Mutex<ProbePolicy>,
    sites: Mutex<Vec<(SiteId, SiteState)>>,
    events: broadcast::Sender<SiteHealthEvent>,
    /// Where the next probe starts in the camera list, so probes rotate.
    cursor: AtomicUsize,
    /// Whether a monitor task runs (one per process).
    monitored: AtomicBool,
}

impl SiteHealth {
    /// Every site of `sites`, assumed up, on `clock`.
    pub(crate) fn new(sites: impl IntoIterator<Item = SiteId>, clock: Arc<dyn Clock>) -> Self {
        let now = clock.monotonic();
        let sites = sites
            .into_iter()
            .map(|id| {
                let state = SiteState {
                    health: Health::Up,
                    failures: 0,
                    successes: 0,
                    up_since: Some(now),
                };
                (id, state)
            })
            .collect();
        SiteHealth {
            clock,
            policy: Mutex::new(ProbePolicy::default()),
            sites: Mutex::new(sites),
            events: broadcast::channel(256).0,
            cursor: AtomicUsize::new(0),
            monitored: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(SiteId, SiteState)>> {
        self.sites.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The probe policy in force.
    pub fn policy(&self) -> ProbePolicy {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the probe policy (the service sets it from its flags).
    pub fn set_policy(&self, policy: ProbePolicy) {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy;
    }

    /// Each site's health, in site order.
    pub fn all(&self) -> Vec<(SiteId, Health)> {
        self.lock()
            .iter()
            .map(|(id, s)| (id.clone(), s.health))
            .collect()
    }

    /// One site's health and how long it has been up (if it is).
    pub fn of(&self, site: &SiteId) -> Option<(Health, Option<Duration>)> {
        let now = self.clock.monotonic();
        self.lock().iter().find(|(id, _)| id == site).map(|(_, s)| {
            (
                s.health,
                s.up_since.map(|t| now.saturating_duration_since(t)),
            )
        })
    }

    /// Receives every change of a site's health.
    pub fn subscribe(&self) -> broadcast::Receiver<SiteHealthEvent> {
        self.events.subscribe()
    }

    /// Counts one outcome for `site`: a probe, or a live command
    /// (`from_command`: one served command is enough to be up again).
    /// Answers the new health when it changed.
    pub fn record(&self, site: &SiteId, ok: bool, from_command: bool) -> Option<Health> {
        let policy = self.policy();
        let change = {
            let mut sites = self.lock();
            let (_, s) = sites.iter_mut().find(|(id, _)| id == site)?;
            let before = s.health;
            if ok {
                s.failures = 0;
                s.successes += 1;
                if from_command
                    || s.successes >= policy.successes_to_up
                    || s.health == Health::Degraded
                {
                    if s.health != Health::Up {
                        s.up_since = Some(self.clock.monotonic());
                    }
                    s.health = Health::Up;
                }
            } else {
                s.successes = 0;
                s.failures += 1;
                s.health = if s.failures >= policy.failures_to_down {
                    Health::Down
                } else {
                    Health::Degraded
                };
                if s.health == Health::Down {
                    s.up_since = None;
                }
            }
            (s.health != before).then_some((before, s.health))
        };
        let (was, now) = change?;
        self.tell(site, was, now);
        Some(now)
    }

    /// Marks `site` down at once (an operator command it did not answer).
    /// Answers whether that changed its health.
    pub fn mark_down(&self, site: &SiteId, why: &str) -> bool {
        let failures = self.policy().failures_to_down;
        let was = {
            let mut sites = self.lock();
            let Some((_, s)) = sites.iter_mut().find(|(id, _)| id == site) else {
                return false;
            };
            s.failures = s.failures.max(failures);
            s.successes = 0;
            s.up_since = None;
            std::mem::replace(&mut s.health, Health::Down)
        };
        if was == Health::Down {
            return false;
        }
        tracing::warn!(%site, why, "site down");
        self.tell(site, was, Health::Down);
        true
    }

    fn tell(&self, site: &SiteId, was: Health, now: Health) {
        let _ = self.events.send(SiteHealthEvent {
            site: site.clone(),
            was,
            now,
        });
    }

    /// Probes every site once, concurrently, and records the outcomes;
    /// answers the sites whose health changed.
    pub async fn probe_once(&self, bindings: &Bindings) -> Vec<(SiteId, Health)> {
        let policy = self.policy();
        let cameras = bindings.camera_ids();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        // The first camera always, and the next ones in turn.
        let mut asked: Vec<_> = cameras.first().into_iter().cloned().collect();
        if cameras.len() > 1 {
            for i in 0..CAMERAS_PER_PROBE.saturating_sub(1) {
                let camera = &cameras[1 + (start + i) % (cameras.len() - 1)];
                if !asked.contains(camera) {
                    asked.push(camera.clone());
                }
            }
        }
        let sites: Vec<SiteId> = self.all().into_iter().map(|(id, _)| id).collect();
        let probes = sites.iter().map(|site| {
            let asked = &asked;
            async move {
                // A site that is one server (XProtect): one request answers for it.
                if let Some(binding) = asked
                    .first()
                    .and_then(|camera| bindings.get(camera, site).ok())
                    .filter(|b| b.adapter().probes_the_site())
                {
                    let probe = binding.adapter().probe();
                    let up = matches!(
                        tokio::time::timeout(policy.timeout, probe).await,
                        Ok(Ok(()))
                    );
                    return (site.clone(), up);
                }
                let answers = asked.iter().map(|camera| async move {
                    let Ok(binding) = bindings.get(camera, site) else {
                        return false;
                    };
                    let probe = binding.adapter().probe();
                    matches!(
                        tokio::time::timeout(policy.timeout, probe).await,
                        Ok(Ok(()))
                    )
                });
                // No camera configured: nothing says the site is down.
                let up = asked.is_empty() || join_all(answers).await.into_iter().any(|ok| ok);
                (site.clone(), up)
            }
        });
        let outcomes = join_all(probes).await;
        outcomes
            .into_iter()
            .filter_map(|(site, up)| self.record(&site, up, false).map(|h| (site, h)))
            .collect()
    }

    /// Marks that a monitor runs; false when one already does.
    pub(crate) fn claim_monitor(&self) -> bool {
        !self.monitored.swap(true, Ordering::AcqRel)
    }
}
