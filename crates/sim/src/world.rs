//! The simulated world: physical cameras, and the sites that expose them.
//!
//! A camera has one physical state shared by every site (both sites move the
//! same camera), while each site keeps its own preset table, home position,
//! quirks and faults per camera, as two video-management systems would.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Utc};
use tandem_onvif::Credentials;
use tokio::sync::watch;

use crate::motion::{Axes, Motion};
use crate::presets::PresetTable;
use crate::quirks::{Hostility, Quirks};

/// Locks a mutex, recovering from poisoning: every critical section in the
/// simulator leaves its data consistent, so a panic elsewhere changes nothing.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One physical PTZ camera.
#[derive(Debug)]
pub struct PhysicalCamera {
    motion: Mutex<Motion>,
}

impl PhysicalCamera {
    /// The camera's mechanics, locked.
    pub fn motion(&self) -> MutexGuard<'_, Motion> {
        lock(&self.motion)
    }
}

/// All physical cameras.
#[derive(Debug)]
pub struct World {
    cameras: Vec<PhysicalCamera>,
}

impl World {
    /// `count` cameras at rest at the centre, zoomed out.
    pub fn new(count: usize) -> Self {
        let now = Instant::now();
        World {
            cameras: (0..count)
                .map(|_| PhysicalCamera {
                    motion: Mutex::new(Motion::at_rest([0.0, 0.0, 0.0], now)),
                })
                .collect(),
        }
    }

    /// Camera by 0-based index.
    pub fn camera(&self, index: usize) -> &PhysicalCamera {
        &self.cameras[index]
    }

    /// Number of cameras.
    pub fn len(&self) -> usize {
        self.cameras.len()
    }

    /// True when there are no cameras.
    pub fn is_empty(&self) -> bool {
        self.cameras.is_empty()
    }
}

/// Faults injected into one site, changeable while running.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Faults {
    /// Every endpoint of the site refuses connections.
    pub down: bool,
    /// Requests are accepted and never answered.
    pub hang: bool,
    /// Added to every answer, in milliseconds.
    pub latency_ms: u64,
    /// Fraction of requests (0 to 1) whose connection is dropped without an answer.
    pub failure_rate: f64,
}

/// A partial update of [`Faults`]: absent fields keep their value.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsPatch {
    /// See [`Faults::down`].
    pub down: Option<bool>,
    /// See [`Faults::hang`].
    pub hang: Option<bool>,
    /// See [`Faults::latency_ms`].
    pub latency_ms: Option<u64>,
    /// See [`Faults::failure_rate`].
    pub failure_rate: Option<f64>,
}

impl Faults {
    /// Applies a patch, refusing a failure rate outside [0, 1].
    pub fn patched(mut self, patch: FaultsPatch) -> Result<Faults, String> {
        if let Some(rate) = patch.failure_rate {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("failure_rate {rate} must be between 0 and 1"));
            }
            self.failure_rate = rate;
        }
        self.down = patch.down.unwrap_or(self.down);
        self.hang = patch.hang.unwrap_or(self.hang);
        self.latency_ms = patch.latency_ms.unwrap_or(self.latency_ms);
        Ok(self)
    }
}

/// One camera as one site sees it.
#[derive(Debug)]
pub struct CameraOnSite {
    /// 0-based index of the physical camera.
    pub index: usize,
    /// The quirks this site shows for this camera.
    pub quirks: Quirks,
    presets: Mutex<PresetTable>,
    home: Mutex<Axes>,
    port: AtomicU16,
    /// Hostile answers given so far: where a `hostile=mixed` camera is in its rotation.
    hostile_answers: AtomicUsize,
}

impl CameraOnSite {
    /// The site's preset table for this camera, locked.
    pub fn presets(&self) -> MutexGuard<'_, PresetTable> {
        lock(&self.presets)
    }

    /// The site's home position for this camera, locked.
    pub fn home(&self) -> MutexGuard<'_, Axes> {
        lock(&self.home)
    }

    /// The loopback port of this camera's endpoints on this site.
    pub fn port(&self) -> u16 {
        self.port.load(Ordering::Relaxed)
    }

    pub(crate) fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Relaxed);
    }

    /// How the next answer is mangled, if this camera is hostile: its kind,
    /// or for `mixed` the next kind in turn (counted per camera and site, so
    /// that consecutive requests see every kind).
    pub fn next_hostility(&self) -> Option<Hostility> {
        match self.quirks.hostile? {
            Hostility::Mixed => {
                let turn = self.hostile_answers.fetch_add(1, Ordering::Relaxed);
                Some(Hostility::KINDS[turn % Hostility::KINDS.len()])
            }
            kind => Some(kind),
        }
    }
}

/// One simulated video-management site.
#[derive(Debug)]
pub struct Site {
    /// 1-based site number.
    pub number: usize,
    /// Display name ("primary", "secondary"...).
    pub name: String,
    /// The device credentials every camera of this site accepts.
    pub credentials: Credentials,
    /// The site's HTTP Digest nonce.
    pub(crate) digest_nonce: String,
    world: Arc<World>,
    cameras: Vec<CameraOnSite>,
    faults: watch::Sender<Faults>,
    /// `SetPreset` and `RemovePreset` requests answered, on every camera:
    /// what tests read to know whether a site was written at all.
    preset_writes: AtomicUsize,
    /// `RemovePreset` requests answered, on every camera.
    preset_removals: AtomicUsize,
    /// Preset requests (`GotoPreset`, `SetPreset`, `RemovePreset`) aimed at
    /// a number a camera treats as a command: what tests read to know that a
    /// reserved number was never touched.
    command_calls: AtomicUsize,
}

impl Site {
    /// A site exposing every camera of `world`, with quirks per camera.
    pub fn new(
        number: usize,
        name: String,
        credentials: Credentials,
        world: Arc<World>,
        quirks: Vec<Quirks>,
    ) -> Self {
        let cameras = quirks
            .into_iter()
            .enumerate()
            .map(|(index, quirks)| CameraOnSite {
                index,
                presets: Mutex::new(PresetTable::new(&quirks)),
                quirks,
                home: Mutex::new([0.0; 3]),
                port: AtomicU16::new(0),
                hostile_answers: AtomicUsize::new(0),
            })
            .collect();
        Site {
            number,
            name,
            credentials,
            digest_nonce: uuid::Uuid::new_v4().simple().to_string(),
            world,
            cameras,
            faults: watch::Sender::new(Faults::default()),
            preset_writes: AtomicUsize::new(0),
            preset_removals: AtomicUsize::new(0),
            command_calls: AtomicUsize::new(0),
        }
    }

    /// How many `SetPreset` and `RemovePreset` requests this site has answered.
    pub fn preset_writes(&self) -> usize {
        self.preset_writes.load(Ordering::Relaxed)
    }

    pub(crate) fn count_preset_write(&self) {
        self.preset_writes.fetch_add(1, Ordering::Relaxed);
    }

    /// How many `RemovePreset` requests this site has answered.
    pub fn preset_removals(&self) -> usize {
        self.preset_removals.load(Ordering::Relaxed)
    }

    pub(crate) fn count_preset_removal(&self) {
        self.preset_removals.fetch_add(1, Ordering::Relaxed);
    }

    /// How many preset requests aimed at a command number this site has answered.
    pub fn command_calls(&self) -> usize {
        self.command_calls.load(Ordering::Relaxed)
    }

    pub(crate) fn count_command_call(&self) {
        self.command_calls.fetch_add(1, Ordering::Relaxed);
    }

    /// The physical world.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Cameras of this site, in index order.
    pub fn cameras(&self) -> &[CameraOnSite] {
        &self.cameras
    }

    /// Camera by 0-based index.
    pub fn camera(&self, index: usize) -> Option<&CameraOnSite> {
        self.cameras.get(index)
    }

    /// The faults in force.
    pub fn faults(&self) -> Faults {
        *self.faults.borrow()
    }

    /// Replaces the faults; endpoints react at once.
    pub fn set_faults(&self, faults: Faults) {
        self.faults.send_replace(faults);
    }

    /// Watches the faults.
    pub fn subscribe(&self) -> watch::Receiver<Faults> {
        self.faults.subscribe()
    }

    /// The URL of `path` under this camera's `/onvif/`.
    pub fn url(&self, camera: &CameraOnSite, path: &str) -> String {
        format!("http://127.0.0.1:{}/onvif/{path}", camera.port())
    }

    /// The device clock of a camera with these quirks.
    pub fn device_now(&self, quirks: &Quirks) -> DateTime<Utc> {
        crate::device::device_clock(quirks.clock_offset_s)
    }
}
