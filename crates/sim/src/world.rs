//! The simulated world: physical cameras, and the sites that expose them.
//!
//! A camera has one physical state shared by every site (both sites move the
//! same camera), while each site keeps its own preset table, home position,
//! quirks and faults per camera, as two video-management systems would.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
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

/// Most a simulated clock may be off, either way: a hundred years, far
/// beyond any real skew and well inside what `chrono` can add.
pub const MAX_SKEW_S: i64 = 100 * 366 * 86_400;

/// One camera's clock on one site, changeable while running, so that tests
/// can put a device's clock off after tandem has learned its offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct DeviceClock {
    /// Device clock minus true UTC, in seconds: the clock a WS-Security
    /// `Created` is checked against.
    pub skew_s: i64,
    /// What `GetSystemDateAndTime` reports, minus true UTC, in seconds:
    /// `skew_s` on an honest device; something else on firmware that
    /// misreports its time (local time written as UTC, a broken time zone).
    pub reported_skew_s: i64,
}

/// A change of [`DeviceClock`]: `skew_s` alone moves the whole clock (both
/// fields); `reported_skew_s` alone changes only what the device reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockPatch {
    /// See [`DeviceClock::skew_s`].
    pub skew_s: Option<i64>,
    /// See [`DeviceClock::reported_skew_s`].
    pub reported_skew_s: Option<i64>,
}

impl DeviceClock {
    /// An honest clock `skew_s` seconds off true UTC.
    pub fn skewed(skew_s: i64) -> Self {
        DeviceClock {
            skew_s,
            reported_skew_s: skew_s,
        }
    }

    /// Applies a patch, refusing skews beyond [`MAX_SKEW_S`].
    pub fn patched(self, patch: ClockPatch) -> Result<DeviceClock, String> {
        for value in [patch.skew_s, patch.reported_skew_s].into_iter().flatten() {
            if value.abs() > MAX_SKEW_S {
                return Err(format!(
                    "a skew of {value} s is beyond the {MAX_SKEW_S} s the simulator allows"
                ));
            }
        }
        let skew_s = patch.skew_s.unwrap_or(self.skew_s);
        let reported_skew_s = patch
            .reported_skew_s
            .or(patch.skew_s)
            .unwrap_or(self.reported_skew_s);
        Ok(DeviceClock {
            skew_s,
            reported_skew_s,
        })
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
    /// `SetPreset` calls answered so far (for the `moving=N` quirk).
    set_presets: AtomicUsize,
    /// The device clock: from the `skewed` quirk at start, changeable through
    /// the control API while running.
    clock: Mutex<DeviceClock>,
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

    /// The device clock's settings now.
    pub fn clock(&self) -> DeviceClock {
        *lock(&self.clock)
    }

    /// Changes the device clock; the next request sees it.
    pub fn set_clock(&self, clock: DeviceClock) {
        *lock(&self.clock) = clock;
    }

    /// The device's time, as WS-Security checks it.
    pub fn now(&self) -> DateTime<Utc> {
        crate::device::device_clock(self.clock().skew_s)
    }

    /// The device's time, as `GetSystemDateAndTime` and `GetStatus` report it.
    pub fn reported_now(&self) -> DateTime<Utc> {
        crate::device::device_clock(self.clock().reported_skew_s)
    }

    pub(crate) fn set_port(&self, port: u16) {
        self.port.store(port, Ordering::Relaxed);
    }

    /// Whether this `SetPreset` is one the `moving=N` quirk refuses (the first N).
    pub fn busy_set_preset(&self) -> bool {
        let n = self.set_presets.fetch_add(1, Ordering::Relaxed);
        n < self.quirks.busy_set_presets as usize
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
    /// Requests seen, by kind, on every camera: what tests read to count
    /// round trips (see [`Requests`]).
    requests: RequestCounters,
    /// Whether the endpoints speak HTTPS (`Simulator::start_https`): the
    /// addresses the site gives out say `https://` then.
    https: AtomicBool,
}

/// How many requests of each kind a site has answered, on all its cameras.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Requests {
    /// SOAP requests of any kind, refused ones included.
    pub soap: usize,
    /// `GetSystemDateAndTime` requests: how often clients read the clock.
    pub clock_reads: usize,
    /// HTTP 401 answers carrying a Digest challenge.
    pub challenges: usize,
    /// `ter:NotAuthorized` faults: credentials or timestamps refused.
    pub refusals: usize,
}

#[derive(Debug, Default)]
struct RequestCounters {
    soap: AtomicUsize,
    clock_reads: AtomicUsize,
    challenges: AtomicUsize,
    refusals: AtomicUsize,
}

/// One kind of request a site counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    Soap,
    ClockRead,
    Challenge,
    Refusal,
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
                clock: Mutex::new(DeviceClock::skewed(quirks.clock_offset_s)),
                quirks,
                home: Mutex::new([0.0; 3]),
                port: AtomicU16::new(0),
                hostile_answers: AtomicUsize::new(0),
                set_presets: AtomicUsize::new(0),
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
            requests: RequestCounters::default(),
            https: AtomicBool::new(false),
        }
    }

    /// Gives out `https://` addresses from now on: its endpoints serve TLS.
    pub(crate) fn use_https(&self) {
        self.https.store(true, Ordering::Relaxed);
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

    /// How many requests of each kind this site has answered.
    pub fn requests(&self) -> Requests {
        let c = &self.requests;
        Requests {
            soap: c.soap.load(Ordering::Relaxed),
            clock_reads: c.clock_reads.load(Ordering::Relaxed),
            challenges: c.challenges.load(Ordering::Relaxed),
            refusals: c.refusals.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count(&self, kind: Counted) {
        let c = &self.requests;
        let counter = match kind {
            Counted::Soap => &c.soap,
            Counted::ClockRead => &c.clock_reads,
            Counted::Challenge => &c.challenges,
            Counted::Refusal => &c.refusals,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the clock of every camera of this site.
    pub fn set_clock(&self, clock: DeviceClock) {
        for camera in &self.cameras {
            camera.set_clock(clock);
        }
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
        let scheme = if self.https.load(Ordering::Relaxed) {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/onvif/{path}", camera.port())
    }
}
