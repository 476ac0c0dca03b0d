//! The engine's background duties, for a long-running process: retry pending
//! parts, scan every camera on a schedule, and scan again when a site that was
//! down answers again. Site health comes from the engine's one
//! [`SiteHealth`](crate::health::SiteHealth): the watcher probes only when
//! nothing else in the process does.
//!
//! Of several processes sharing one store, only the leader
//! ([`crate::leader`]) retries and scans; every one of them keeps probing,
//! since each routes its own live commands by what it sees.
//!
//! Order when a site returns: its pending work is made due and drained
//! first, whatever its backoff, and only then are the sites compared. A scan
//! that ran first would report every preset the site still lacks as a
//! mismatch, and a repair of it would undo the operator's change.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tandem_core::SiteId;
use tokio::sync::broadcast;

use crate::engine::Engine;
use crate::health::Health;

/// How often the background duties run.
#[derive(Debug, Clone, Copy)]
pub struct WatchPolicy {
    /// How often pending parts are retried (and sites probed, when live
    /// control does not probe them already).
    pub tick: Duration,
    /// How often every camera is scanned; `None` for never (scans still run when a site comes back).
    pub scan_every: Option<Duration>,
    /// Most cameras scanned at once.
    pub scan_concurrency: usize,
}

impl Default for WatchPolicy {
    fn default() -> Self {
        WatchPolicy {
            tick: Duration::from_millis(500),
            scan_every: Some(Duration::from_secs(
                crate::config::DEFAULT_SCAN_EVERY_MIN * 60,
            )),
            scan_concurrency: 32,
        }
    }
}

/// What the watcher reports as it works.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum WatchEvent {
    /// A site stopped answering.
    SiteDown(SiteId),
    /// A site answers again; a full scan follows.
    SiteUp(SiteId),
    /// A full scan finished: cameras scanned, open mismatches, cameras that failed.
    Scanned {
        /// Cameras scanned.
        cameras: usize,
        /// Open mismatches after the scan.
        open: usize,
        /// Presets not compared because work on them is still pending.
        pending: usize,
        /// Cameras whose scan failed.
        errors: usize,
    },
}

impl Engine {
    /// Runs the background duties until `stop` completes, calling `on_event` as things happen.
    pub async fn watch(
        self: &Arc<Self>,
        policy: WatchPolicy,
        on_event: impl Fn(WatchEvent) + Send + Sync,
        stop: impl Future<Output = ()>,
    ) {
        tokio::pin!(stop);
        let leadership = self.leadership().clone();
        let renewal = leadership.spawn();
        let mut lead_changes = leadership.subscribe();
        // Given up on every way out of this function (a stop, or the task
        // aborted): another instance need not wait for the lead to expire.
        let _resign = scopeguard(move || {
            drop(renewal);
            leadership.resign();
        });
        let leadership = self.leadership().clone();
        let health = self.health().clone();
        // One prober per process: this one, unless live control's monitor probes.
        let prober = health.claim_monitor();
        let mut changes = health.subscribe();
        let mut last_scan = tokio::time::Instant::now();
        let mut scan_now = policy.scan_every.is_some();
        let mut returned = Vec::new();
        loop {
            if prober {
                health.probe_once(self.bindings()).await;
            }
            loop {
                match changes.try_recv() {
                    Ok(change) if change.now == Health::Down => {
                        on_event(WatchEvent::SiteDown(change.site));
                    }
                    Ok(change) if change.was == Health::Down && change.now == Health::Up => {
                        on_event(WatchEvent::SiteUp(change.site.clone()));
                        returned.push(change.site);
                        scan_now = true;
                    }
                    Ok(_) | Err(broadcast::error::TryRecvError::Lagged(_)) => {}
                    Err(_) => break,
                }
            }
            if !leadership.leads() {
                // Another instance does the rest; what changed meanwhile is its to handle.
                returned.clear();
                last_scan = tokio::time::Instant::now();
                tokio::select! {
                    _ = &mut stop => return,
                    _ = lead_changes.changed() => {}
                    _ = tokio::time::sleep(policy.tick) => {}
                }
                continue;
            }
            // A returned site's work first, whatever its backoff: the drain
            // below finishes (or fails) it before the scan compares the sites.
            for site in returned.drain(..) {
                if let Err(e) = self.store().make_due(&site, self.utc()) {
                    tracing::warn!(error = %e, %site, "making a returned site's work due");
                }
            }
            if let Err(e) = self.drain_due().await {
                tracing::warn!(error = %e, "retrying pending work");
            }
            if policy
                .scan_every
                .is_some_and(|every| last_scan.elapsed() >= every)
            {
                scan_now = true;
            }
            if scan_now {
                scan_now = false;
                last_scan = tokio::time::Instant::now();
                let cameras = self.bindings().camera_ids();
                let reports = self.scan(cameras, policy.scan_concurrency, |_, _| {}).await;
                let open = reports
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|r| r.mismatches.len())
                    .sum();
                let pending = reports
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|r| r.pending.len())
                    .sum();
                let errors = reports.iter().filter(|r| r.is_err()).count();
                on_event(WatchEvent::Scanned {
                    cameras: reports.len(),
                    open,
                    pending,
                    errors,
                });
            }
            self.flush_denials();
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(policy.tick) => {}
            }
        }
    }
}

/// Runs `f` when dropped.
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
