//! How the engine reaches each camera on each site: one [`Binding`] per
//! (camera, site), holding the ONVIF device, its media profile, and a bound on
//! the calls in flight per site.
//!
//! What a binding's device learns about authenticating (its clock offset, the
//! mode that worked; see `tandem_onvif::Device`) is kept in the store
//! ([`Bindings::keep_learned_in`]), so that every process starts from what
//! the last one learned.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::TimeDelta;
use tandem_core::{CameraId, Position, PresetNumber, SiteId};
use tandem_onvif::client::{HttpTransport, Transport};
use tandem_onvif::types::{PtzVector, ServiceAddresses};
use tandem_onvif::{AuthMode, ClientConfig, Credentials, Device, Learned};
use tandem_store::{BindingLearned, LearnedChange, Store};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::{DeviceFailure, EngineError};

/// One site as the engine knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteSpec {
    /// Its id.
    pub id: SiteId,
    /// 1 for the primary; higher numbers are less preferred.
    pub priority: u32,
    /// How its cameras are reached: ONVIF, or an XProtect server.
    pub kind: crate::config::SiteKind,
}

/// How one site reaches one camera.
#[derive(Debug, Clone)]
pub struct BindingSpec {
    /// The site.
    pub site: SiteId,
    /// The device service URL.
    pub url: String,
    /// Device credentials, if the device needs any.
    pub credentials: Option<Credentials>,
    /// The media profile to use; `None` for the first profile with PTZ.
    pub profile: Option<String>,
    /// On an XProtect site: the camera there, by GUID or unique name.
    pub xprotect_camera: Option<String>,
    /// On an XProtect site: the camera's own ONVIF device service, for
    /// continuous moves, stops and pictures.
    pub onvif_url: Option<String>,
}

/// One camera as the engine knows it.
#[derive(Debug, Clone)]
pub struct CameraSpec {
    /// Its id.
    pub id: CameraId,
    /// Display name.
    pub name: String,
    /// Position tolerance in generic units.
    pub tolerance: f64,
    /// Camera groups (roles may grant permissions on groups).
    pub groups: Vec<String>,
    /// Numbers the device treats as commands (its own and its vendor
    /// profile's): never written, recalled, deleted or compared.
    pub reserved: BTreeSet<PresetNumber>,
    /// The vendor profile its reserved numbers partly come from, for messages.
    pub vendor: Option<String>,
    /// Its lens and ranges in degrees (click to centre, area zoom).
    pub optics: tandem_core::Optics,
    /// One binding per site.
    pub bindings: Vec<BindingSpec>,
}

/// Everything the engine needs to reach the sites.
#[derive(Debug, Clone)]
pub struct Topology {
    /// The sites, primary first.
    pub sites: Vec<SiteSpec>,
    /// The cameras.
    pub cameras: Vec<CameraSpec>,
    /// Time bound of one ONVIF call.
    pub call_timeout: Duration,
    /// Most ONVIF calls in flight per site.
    pub per_site_in_flight: usize,
}

impl Topology {
    /// The topology a configuration describes, with at most `per_site_in_flight`
    /// ONVIF calls in flight per site.
    pub fn from_config(config: &crate::config::Config, per_site_in_flight: usize) -> Self {
        Topology {
            sites: config
                .sites
                .iter()
                .map(|s| SiteSpec {
                    id: s.id.clone(),
                    priority: s.priority,
                    kind: s.kind.clone(),
                })
                .collect(),
            cameras: config
                .cameras
                .iter()
                .map(|c| CameraSpec {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    tolerance: c.tolerance.0,
                    groups: c.groups.clone(),
                    reserved: c.reserved.clone(),
                    vendor: c.vendor.clone(),
                    optics: c.optics,
                    bindings: c
                        .bindings
                        .iter()
                        .map(|b| BindingSpec {
                            site: b.site.clone(),
                            url: b.url.clone(),
                            credentials: b.credentials.clone(),
                            profile: b.profile.clone(),
                            xprotect_camera: b.xprotect_camera.clone(),
                            onvif_url: b.onvif_url.clone(),
                        })
                        .collect(),
                })
                .collect(),
            call_timeout: config.timeout,
            per_site_in_flight,
        }
    }
}

/// One camera on one site.
#[derive(Debug)]
pub struct Binding {
    /// The camera.
    pub camera: CameraId,
    /// The site.
    pub site: SiteId,
    /// The device, with what it learned of authenticating to it (kept in
    /// the store by [`Bindings::keep_learned_in`]).
    pub device: Device,
    configured_profile: Option<String>,
    /// The profile found on the device (kept in the store by
    /// [`Bindings::keep_learned_in`]); forgotten when the device says it is gone.
    found_profile: std::sync::Mutex<Option<String>>,
    /// One `GetProfiles` at a time per binding.
    finding_profile: tokio::sync::Mutex<()>,
    /// Told of each profile found or forgotten (the store).
    profile_sink: ProfileSinkCell,
    snapshot_uri: OnceCell<String>,
    limit: Arc<Semaphore>,
    /// On an XProtect site: the server and the camera there (the `device`
    /// is then unused).
    xprotect: Option<XpLink>,
}

/// How a binding on an XProtect site reaches its camera: the site's server
/// (shared by its bindings: one token) and the camera, found once.
#[derive(Debug)]
pub struct XpLink {
    /// The site's server.
    pub server: Arc<tandem_xprotect::Server>,
    /// The camera as configured: a GUID or a unique name.
    pub camera: String,
    /// Whether the binding's `device` is the camera's own ONVIF service
    /// (`onvif_url`), for continuous moves, stops and pictures.
    pub onvif: bool,
    guid: OnceCell<String>,
}

/// Told of a binding's found profile, or `None` when it was forgotten.
type ProfileSink = dyn Fn(Option<&str>) + Send + Sync;

/// Where a binding's [`ProfileSink`] is set once.
#[derive(Default)]
struct ProfileSinkCell(std::sync::OnceLock<Box<ProfileSink>>);

impl std::fmt::Debug for ProfileSinkCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "set"
        } else {
            "unset"
        })
    }
}

impl Binding {
    /// The XProtect side of the binding, when its site is an XProtect site.
    pub fn xprotect(&self) -> Option<&XpLink> {
        self.xprotect.as_ref()
    }

    /// The XProtect camera's GUID, found once (by GUID or by unique name).
    pub async fn xprotect_camera(&self) -> Result<(&XpLink, String), EngineError> {
        let Some(link) = &self.xprotect else {
            return Err(EngineError::Internal(format!(
                "camera {} on site {} is not an XProtect binding",
                self.camera, self.site
            )));
        };
        let guid = link
            .guid
            .get_or_try_init(|| async {
                let _permit = self.permit().await;
                link.server
                    .find_camera(&link.camera)
                    .await
                    .map(|c| c.id)
                    .map_err(|e| self.xp(e))
            })
            .await?;
        Ok((link, guid.clone()))
    }

    /// A refusal by this binding's site, in tandem's words (a read-back
    /// that differs, something the site's kind cannot do): not retried.
    pub fn refused(&self, message: impl Into<String>) -> EngineError {
        EngineError::Device {
            site: self.site.clone(),
            camera: self.camera.clone(),
            message: message.into(),
            detail: None,
            retryable: false,
            fault: None,
            failure: DeviceFailure::Refused,
        }
    }

    /// Wraps an XProtect error with this binding's names.
    pub fn xp(&self, e: tandem_xprotect::Error) -> EngineError {
        use tandem_xprotect::Error as E;
        let failure = match &e {
            E::Unavailable(_) => DeviceFailure::Unreachable,
            E::Protocol(_) => DeviceFailure::Malformed,
            _ => DeviceFailure::Refused,
        };
        EngineError::Device {
            site: self.site.clone(),
            camera: self.camera.clone(),
            retryable: e.is_retryable(),
            message: e.message().to_string(),
            detail: None,
            fault: None,
            failure,
        }
    }

    /// The media profile token: the configured one, or the first with PTZ,
    /// found once (by this process or, through the store, another one).
    pub async fn profile(&self) -> Result<String, EngineError> {
        if let Some(p) = &self.configured_profile {
            return Ok(p.clone());
        }
        if let Some(p) = self.known_profile() {
            return Ok(p);
        }
        let _one = self.finding_profile.lock().await;
        if let Some(p) = self.known_profile() {
            return Ok(p);
        }
        let _permit = self.permit().await;
        let profiles = self
            .device
            .get_profiles()
            .await
            .map_err(|e| self.onvif(e))?;
        let token = profiles
            .into_iter()
            .find(|p| p.ptz.is_some())
            .map(|p| p.token)
            .ok_or_else(|| EngineError::Device {
                site: self.site.clone(),
                camera: self.camera.clone(),
                message: "the device has no media profile with PTZ; set `profile` in the binding"
                    .into(),
                detail: None,
                retryable: false,
                fault: None,
                failure: DeviceFailure::Refused,
            })?;
        self.set_found_profile(Some(token.clone()));
        Ok(token)
    }

    fn known_profile(&self) -> Option<String> {
        self.found_profile
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records the found profile (or forgets it) and tells the sink when it changed.
    fn set_found_profile(&self, profile: Option<String>) {
        let changed = {
            let mut found = self.found_profile.lock().unwrap_or_else(|p| p.into_inner());
            let changed = *found != profile;
            *found = profile.clone();
            changed
        };
        if let (true, Some(sink)) = (changed, self.profile_sink.0.get()) {
            sink(profile.as_deref());
        }
    }

    /// The camera's current picture as JPEG through its ONVIF service, from
    /// the snapshot URI the device gives (asked once, then kept). Reached
    /// through [`crate::adapter::Adapter::snapshot`].
    pub(crate) async fn onvif_snapshot(&self) -> Result<Vec<u8>, EngineError> {
        let uri = self
            .snapshot_uri
            .get_or_try_init(|| async {
                let profile = self.profile().await?;
                let _permit = self.permit().await;
                self.device
                    .get_snapshot_uri(&profile)
                    .await
                    .map_err(|e| self.onvif(e))
            })
            .await?;
        self.device
            .fetch_snapshot(uri)
            .await
            .map_err(|e| self.onvif(e))
    }

    /// Waits for a slot among the site's calls in flight.
    pub async fn permit(&self) -> tokio::sync::OwnedSemaphorePermit {
        // The semaphore is never closed, so acquiring cannot fail.
        match self.limit.clone().acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("site semaphores are never closed"),
        }
    }

    /// Wraps an ONVIF error with this binding's names.
    pub fn onvif(&self, e: tandem_onvif::Error) -> EngineError {
        // A found profile the device no longer has is found again next time.
        if e.fault().is_some_and(|f| f.is("NoProfile")) && self.configured_profile.is_none() {
            self.set_found_profile(None);
        }
        EngineError::Device {
            site: self.site.clone(),
            camera: self.camera.clone(),
            retryable: e.is_retryable(),
            message: e.summary(),
            detail: Some(e.to_string()),
            fault: e.fault().cloned().map(Box::new),
            failure: DeviceFailure::of(&e),
        }
    }
}

/// Service addresses as the store keeps them: a JSON object of `media`,
/// `media2` and `ptz` URLs.
fn services_to_text(services: &ServiceAddresses) -> String {
    serde_json::json!({
        "media": services.media,
        "media2": services.media2,
        "ptz": services.ptz,
    })
    .to_string()
}

/// [`services_to_text`] read back; `None` (asked again) for anything else.
fn services_from_text(text: &str) -> Option<ServiceAddresses> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let url = |key: &str| value.get(key)?.as_str().map(str::to_string);
    value.is_object().then(|| ServiceAddresses {
        media: url("media"),
        media2: url("media2"),
        ptz: url("ptz"),
    })
}

/// Told of every ONVIF exchange: the site, how long it took, whether it got an answer.
pub type CallObserver = dyn Fn(&SiteId, std::time::Duration, bool) + Send + Sync;

/// A transport that reports each exchange's duration for its site (metrics).
struct MeteredTransport {
    inner: Arc<dyn Transport>,
    site: SiteId,
    observer: Arc<std::sync::OnceLock<Box<CallObserver>>>,
}

impl Transport for MeteredTransport {
    fn post(
        &self,
        request: tandem_onvif::client::HttpRequest,
    ) -> tandem_onvif::client::TransportFuture<'_> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let result = self.inner.post(request).await;
            if let Some(observe) = self.observer.get() {
                observe(&self.site, started.elapsed(), result.is_ok());
            }
            result
        })
    }

    fn get(
        &self,
        request: tandem_onvif::client::HttpRequest,
    ) -> tandem_onvif::client::TransportFuture<'_> {
        // Snapshots are not ONVIF calls: not metered.
        self.inner.get(request)
    }
}

/// All bindings, by camera and site.
pub struct Bindings {
    sites: Vec<SiteSpec>,
    cameras: HashMap<CameraId, CameraSpec>,
    by_pair: HashMap<(CameraId, SiteId), Arc<Binding>>,
    observer: Arc<std::sync::OnceLock<Box<CallObserver>>>,
    /// Where what the devices learn goes (set by [`Bindings::keep_learned_in`]).
    learned: std::sync::OnceLock<Arc<LearnedQueue>>,
}

impl std::fmt::Debug for Bindings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bindings")
            .field("sites", &self.sites)
            .field("cameras", &self.cameras.len())
            .finish()
    }
}

impl Bindings {
    /// Builds devices for every binding, sharing one HTTP connection pool;
    /// an ONVIF site that says how its devices' certificates are trusted
    /// ([`crate::config::OnvifSite::device_trust`]) has a pool of its own.
    /// Fails when such a trust cannot be used (a CA file that cannot be read).
    pub fn new(topology: &Topology) -> Result<Self, EngineError> {
        let shared: Arc<dyn Transport> =
            Arc::new(HttpTransport::new().map_err(|e| EngineError::Internal(e.to_string()))?);
        let observer: Arc<std::sync::OnceLock<Box<CallObserver>>> = Arc::default();
        let mut metered: HashMap<SiteId, Arc<dyn Transport>> = HashMap::new();
        for s in &topology.sites {
            let inner = match &s.kind {
                crate::config::SiteKind::Onvif(crate::config::OnvifSite {
                    device_trust: Some(trust),
                }) => Arc::new(HttpTransport::with_trust(Some(trust)).map_err(|e| {
                    EngineError::Internal(format!("site {}: devices' HTTPS: {e}", s.id))
                })?),
                _ => shared.clone(),
            };
            metered.insert(
                s.id.clone(),
                Arc::new(MeteredTransport {
                    inner,
                    site: s.id.clone(),
                    observer: observer.clone(),
                }),
            );
        }
        let config = ClientConfig {
            timeout: topology.call_timeout,
            ..ClientConfig::default()
        };
        let mut sites = topology.sites.clone();
        sites.sort_by_key(|s| s.priority);
        let limits: HashMap<SiteId, Arc<Semaphore>> = sites
            .iter()
            .map(|s| {
                (
                    s.id.clone(),
                    Arc::new(Semaphore::new(topology.per_site_in_flight.max(1))),
                )
            })
            .collect();
        // One server per XProtect site and user: its bindings share a token.
        let mut servers: HashMap<(SiteId, String), Arc<tandem_xprotect::Server>> = HashMap::new();
        let mut by_pair = HashMap::new();
        for camera in &topology.cameras {
            for b in &camera.bindings {
                let site_kind = sites
                    .iter()
                    .find(|s| s.id == b.site)
                    .map(|s| s.kind.clone())
                    .unwrap_or_default();
                let xprotect = match (&site_kind, &b.xprotect_camera) {
                    (crate::config::SiteKind::Xprotect(xp), Some(name)) => {
                        let credentials = b.credentials.clone().ok_or_else(|| {
                            EngineError::Internal(format!(
                                "camera {} on XProtect site {} has no credentials; set username and password on the site",
                                camera.id, b.site
                            ))
                        })?;
                        let key = (b.site.clone(), credentials.username.clone());
                        let server = match servers.get(&key) {
                            Some(s) => s.clone(),
                            None => {
                                let server = Arc::new(
                                    tandem_xprotect::Server::new(
                                        &xp.url,
                                        tandem_xprotect::Credentials {
                                            username: credentials.username.clone(),
                                            password: credentials.password.clone(),
                                        },
                                        tandem_xprotect::ServerConfig {
                                            timeout: topology.call_timeout,
                                            trust: xp.trust.clone(),
                                            ..tandem_xprotect::ServerConfig::default()
                                        },
                                    )
                                    .map_err(|e| EngineError::Internal(e.to_string()))?,
                                );
                                servers.insert(key, server.clone());
                                server
                            }
                        };
                        Some(XpLink {
                            server,
                            camera: name.clone(),
                            onvif: b.onvif_url.is_some(),
                            guid: OnceCell::new(),
                        })
                    }
                    _ => None,
                };
                let limit = limits.get(&b.site).cloned().ok_or_else(|| {
                    EngineError::Internal(format!(
                        "camera {} is bound to unknown site {}",
                        camera.id, b.site
                    ))
                })?;
                let transport = metered
                    .get(&b.site)
                    .cloned()
                    .unwrap_or_else(|| shared.clone());
                let binding = Binding {
                    camera: camera.id.clone(),
                    site: b.site.clone(),
                    device: Device::new(
                        transport,
                        b.onvif_url.clone().unwrap_or_else(|| b.url.clone()),
                        b.credentials.clone(),
                        config.clone(),
                    ),
                    configured_profile: b.profile.clone(),
                    found_profile: std::sync::Mutex::new(None),
                    finding_profile: tokio::sync::Mutex::new(()),
                    profile_sink: ProfileSinkCell::default(),
                    snapshot_uri: OnceCell::new(),
                    limit,
                    xprotect,
                };
                by_pair.insert((camera.id.clone(), b.site.clone()), Arc::new(binding));
            }
        }
        let cameras = topology
            .cameras
            .iter()
            .map(|c| (c.id.clone(), c.clone()))
            .collect();
        Ok(Bindings {
            sites,
            cameras,
            by_pair,
            observer,
            learned: std::sync::OnceLock::new(),
        })
    }

    /// Reports every ONVIF exchange to `observe` from now on (metrics). Only
    /// the first observer is kept.
    pub fn observe_calls(&self, observe: Box<CallObserver>) {
        let _ = self.observer.set(observe);
    }

    /// The sites, primary first.
    pub fn sites(&self) -> &[SiteSpec] {
        &self.sites
    }

    /// The primary and the secondary.
    pub fn pair(&self) -> Result<(&SiteId, &SiteId), EngineError> {
        match self.sites.as_slice() {
            [p, s, ..] => Ok((&p.id, &s.id)),
            _ => Err(EngineError::Internal("two sites are needed".into())),
        }
    }

    /// A camera's spec.
    pub fn camera(&self, id: &CameraId) -> Result<&CameraSpec, EngineError> {
        self.cameras
            .get(id)
            .ok_or_else(|| EngineError::UnknownCamera(id.clone()))
    }

    /// Camera ids, sorted.
    pub fn camera_ids(&self) -> Vec<CameraId> {
        let mut ids: Vec<CameraId> = self.cameras.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Starts every binding's device from what the store kept of it (its
    /// clock offset and authentication mode), and keeps in the store what
    /// each learns from now on. A device that learns nothing new costs no
    /// write; one whose clock moved is measured again by itself.
    pub fn keep_learned_in(&self, store: &Arc<dyn Store>) -> Result<(), EngineError> {
        for row in store.learned_bindings()? {
            if let Some(binding) = self.by_pair.get(&(row.camera.clone(), row.site.clone())) {
                binding.device.remember(Learned {
                    clock_offset: row.clock_offset_ms.map(TimeDelta::milliseconds),
                    auth: row.auth_mode.as_deref().and_then(AuthMode::parse),
                    services: row.services.as_deref().and_then(services_from_text),
                });
                // Set quietly: it came from the store.
                *binding
                    .found_profile
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = row.profile;
            }
        }
        let queue = Arc::new(LearnedQueue {
            store: store.clone(),
            pending: std::sync::Mutex::new(Vec::new()),
            scheduled: AtomicBool::new(false),
        });
        for binding in self.by_pair.values() {
            let (keep, camera, site) =
                (queue.clone(), binding.camera.clone(), binding.site.clone());
            binding.device.on_learned(Box::new(move |learned| {
                keep.push(LearnedChange::Learned(BindingLearned {
                    camera: camera.clone(),
                    site: site.clone(),
                    clock_offset_ms: learned.clock_offset.map(|o| o.num_milliseconds()),
                    auth_mode: learned.auth.map(|m| m.as_str().to_string()),
                    services: learned.services.as_ref().map(services_to_text),
                    profile: None,
                }));
            }));
            let (keep, camera, site) =
                (queue.clone(), binding.camera.clone(), binding.site.clone());
            let _ = binding.profile_sink.0.set(Box::new(move |profile| {
                keep.push(LearnedChange::Profile {
                    camera: camera.clone(),
                    site: site.clone(),
                    profile: profile.map(str::to_string),
                });
            }));
        }
        let _ = self.learned.set(queue);
        Ok(())
    }

    /// Writes what bindings learned and is not in the store yet, now (a
    /// scan's end). Otherwise it is written within [`LEARNED_DELAY`], or when
    /// the bindings are dropped.
    pub fn flush_learned(&self) {
        if let Some(queue) = self.learned.get() {
            queue.flush();
        }
    }

    /// The binding of a camera on a site.
    pub fn get(&self, camera: &CameraId, site: &SiteId) -> Result<Arc<Binding>, EngineError> {
        self.by_pair
            .get(&(camera.clone(), site.clone()))
            .cloned()
            .ok_or_else(|| EngineError::UnknownCamera(camera.clone()))
    }
}

/// How long what a binding learned may wait before it is written: the
/// learning of many bindings (a first scan learns four things of each) goes
/// to the store in one transaction instead of one each.
pub const LEARNED_DELAY: Duration = Duration::from_millis(100);

/// What bindings learned, on its way to the store. It is a cache of what the
/// devices tell again: a change lost to a crash costs the next process one
/// round trip, so it may wait [`LEARNED_DELAY`] to be written with others.
struct LearnedQueue {
    store: Arc<dyn Store>,
    pending: std::sync::Mutex<Vec<LearnedChange>>,
    /// A flush is on its way.
    scheduled: AtomicBool,
}

impl LearnedQueue {
    /// Queues `change` and makes sure a flush follows: a delayed one inside
    /// a runtime, at once outside.
    fn push(self: &Arc<Self>, change: LearnedChange) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(change);
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                let queue = Arc::downgrade(self);
                runtime.spawn(async move {
                    tokio::time::sleep(LEARNED_DELAY).await;
                    // Dropped meanwhile: its drop flushed.
                    if let Some(queue) = queue.upgrade() {
                        queue.flush();
                    }
                });
            }
            Err(_) => self.flush(),
        }
    }

    /// Writes everything queued in one transaction.
    fn flush(&self) {
        self.scheduled.store(false, Ordering::Release);
        let changes = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        if changes.is_empty() {
            return;
        }
        // Losing it costs one round trip per binding in the next process: say so, go on.
        if let Err(e) = self.store.save_learned_batch(&changes) {
            tracing::warn!(bindings = changes.len(), error = %e, "cannot keep what bindings learned");
        }
    }
}

impl Drop for LearnedQueue {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Converts a domain position to an ONVIF vector.
pub fn to_vector(p: Position) -> PtzVector {
    PtzVector::new(p.pan, p.tilt, p.zoom)
}

/// Converts an ONVIF vector to a domain position, when it is complete and in range.
pub fn from_vector(v: &PtzVector) -> Option<Position> {
    let pt = v.pan_tilt?;
    Position::new(pt.x, pt.y, v.zoom?).ok()
}
