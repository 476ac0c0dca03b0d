//! What one camera does when one site's ONVIF endpoint is asked something:
//! the dispatch from a parsed [`Request`] to a [`Response`] or a [`DeviceFault`].

use std::time::{Duration, Instant};

use chrono::Utc;
use tandem_onvif::message::{Request, Response, ServiceKind};
use tandem_onvif::ns;
use tandem_onvif::types::{
    DeviceInformation, MoveStatus, Profile, PtzConfiguration, PtzNode, PtzServiceCapabilities,
    PtzStatus, PtzVector, Range, Service, ServiceAddresses,
};

use crate::motion::Axes;
use crate::presets::round;
use crate::world::{CameraOnSite, Counted, Site};

/// The one media profile every simulated camera has.
pub const PROFILE_TOKEN: &str = "profile_1";
const NODE_TOKEN: &str = "ptz_node_1";
const CONFIG_TOKEN: &str = "ptz_config_1";
/// Timeout of a continuous move that names none.
pub const DEFAULT_MOVE_TIMEOUT: Duration = Duration::from_secs(10);

/// A SOAP fault the simulated device answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceFault {
    /// `env:Sender` (the client's mistake) rather than `env:Receiver`.
    pub sender: bool,
    /// `ter` subcodes, outermost first.
    pub subcodes: Vec<&'static str>,
    /// Reason text.
    pub reason: String,
}

impl DeviceFault {
    fn new(sender: bool, subcodes: &[&'static str], reason: impl Into<String>) -> Self {
        DeviceFault {
            sender,
            subcodes: subcodes.to_vec(),
            reason: reason.into(),
        }
    }

    /// True when a subcode has this local name.
    pub fn is(&self, local: &str) -> bool {
        self.subcodes.contains(&local)
    }

    /// The HTTP status ONVIF pairs with the fault: 400 for sender faults, 500 otherwise.
    pub fn http_status(&self) -> u16 {
        if self.sender { 400 } else { 500 }
    }

    /// `ter:NoToken`.
    pub fn no_token(token: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal", "NoToken"],
            format!("No preset with token {token:?}"),
        )
    }
    /// `ter:PresetExist`.
    pub fn preset_exist(name: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal", "PresetExist"],
            format!("A preset named {name:?} already exists"),
        )
    }
    /// `ter:TooManyPresets`.
    pub fn too_many_presets(max: u32) -> Self {
        Self::new(
            false,
            &["Action", "TooManyPresets"],
            format!("The camera holds at most {max} presets"),
        )
    }
    /// `ter:InvalidPresetName`.
    pub fn invalid_name(why: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal", "InvalidPresetName"],
            format!("Invalid preset name: {why}"),
        )
    }
    /// `ter:MovingPTZ`.
    pub fn moving() -> Self {
        Self::new(
            false,
            &["Action", "MovingPTZ"],
            "Preset cannot be set while the camera is moving",
        )
    }
    /// `ter:NoProfile`.
    pub fn no_profile(token: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal", "NoProfile"],
            format!("No profile with token {token:?}"),
        )
    }
    /// `ter:NoEntity` (unknown node).
    pub fn no_entity(token: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal", "NoEntity"],
            format!("No PTZ node with token {token:?}"),
        )
    }
    /// `ter:NotAuthorized`.
    pub fn not_authorized(why: &str) -> Self {
        Self::new(
            true,
            &["NotAuthorized"],
            format!("Sender not authorized: {why}"),
        )
    }
    /// `ter:ActionNotSupported`.
    pub fn not_supported(what: &str) -> Self {
        Self::new(
            false,
            &["ActionNotSupported"],
            format!("{what} is not supported by this device"),
        )
    }
    /// A malformed request (`ter:InvalidArgVal`).
    pub fn bad_request(why: &str) -> Self {
        Self::new(true, &["InvalidArgVal"], why.to_string())
    }
    /// A preset request aimed at a number the device treats as a command
    /// (`ter:InvalidArgVal`): it cannot be stored or removed.
    pub fn command(token: &str) -> Self {
        Self::new(
            true,
            &["InvalidArgVal"],
            format!("preset {token} is a command on this device, not a preset slot"),
        )
    }
}

/// Answers one request for one camera of one site.
pub fn handle(
    site: &Site,
    camera: &CameraOnSite,
    request: Request,
    now: Instant,
) -> Result<Response, DeviceFault> {
    let quirks = &camera.quirks;
    let world = site.world();
    let physical = world.camera(camera.index);
    if let Some(profile) = profile_of(&request)
        && profile != PROFILE_TOKEN
    {
        return Err(DeviceFault::no_profile(profile));
    }
    if quirks.media2_only && request.service() == ServiceKind::Media {
        return Err(DeviceFault::not_supported("media v1"));
    }
    if quirks.legacy
        && matches!(
            request,
            Request::GetServices { .. } | Request::GetProfiles2 | Request::GetSnapshotUri2 { .. }
        )
    {
        return Err(DeviceFault::not_supported(request.name()));
    }
    use Request::*;
    let response = match request {
        GetSystemDateAndTime => {
            site.count(Counted::ClockRead);
            Response::SystemDateAndTime(camera.reported_now())
        }
        GetServices { include_capability } => {
            let service = |namespace: &str, path: &str, major| Service {
                namespace: namespace.into(),
                xaddr: site.url(camera, path),
                version: (major, 0),
            };
            let mut services = vec![service(ns::TDS, "device_service", 2)];
            if !quirks.media2_only {
                services.push(service(ns::TRT, "media_service", 2));
            }
            services.push(service(ns::TR2, "media2_service", 2));
            services.push(service(ns::TPTZ, "ptz_service", 2));
            Response::Services {
                services,
                include_capability,
            }
        }
        GetCapabilities => Response::Capabilities {
            device: site.url(camera, "device_service"),
            services: ServiceAddresses {
                media: (!quirks.media2_only).then(|| site.url(camera, "media_service")),
                media2: None,
                ptz: Some(site.url(camera, "ptz_service")),
            },
        },
        GetDeviceInformation => Response::DeviceInformation(DeviceInformation {
            manufacturer: "tandem".into(),
            model: "Simulated PTZ".into(),
            firmware_version: env!("CARGO_PKG_VERSION").into(),
            // The same physical camera reports the same serial through every site.
            serial_number: format!("SIM-{:05}", camera.index + 1),
            hardware_id: format!("sim-ptz-{:05}", camera.index + 1),
        }),
        GetProfiles => Response::Profiles(vec![profile()]),
        GetProfiles2 => Response::Profiles2(vec![profile()]),
        GetSnapshotUri { .. } => Response::SnapshotUri(site.url(camera, "snapshot.jpg")),
        GetSnapshotUri2 { .. } => Response::SnapshotUri2(site.url(camera, "snapshot.jpg")),
        GetNodes => Response::Nodes(vec![node(quirks.capacity())]),
        GetNode { node: token } => {
            if token != NODE_TOKEN {
                return Err(DeviceFault::no_entity(&token));
            }
            Response::Node(node(quirks.capacity()))
        }
        GetConfigurations => Response::Configurations(vec![configuration()]),
        GetServiceCapabilities => Response::ServiceCapabilities(PtzServiceCapabilities {
            move_status: true,
            status_position: true,
        }),
        GetPresets { .. } => Response::Presets(camera.presets().report(quirks)),
        SetPreset { name, token, .. } => {
            site.count_preset_write();
            if let Some(token) = token.as_deref()
                && quirks.is_command(token)
            {
                site.count_command_call();
                return Err(DeviceFault::command(token));
            }
            let motion = physical.motion();
            if (quirks.refuse_while_moving && motion.is_moving(now)) || camera.busy_set_preset() {
                return Err(DeviceFault::moving());
            }
            let position = motion.position(now);
            drop(motion);
            let token =
                camera
                    .presets()
                    .set(quirks, name.as_deref(), token.as_deref(), position)?;
            Response::PresetToken(token)
        }
        RemovePreset { token, .. } => {
            site.count_preset_write();
            site.count_preset_removal();
            if quirks.is_command(&token) {
                site.count_command_call();
                return Err(DeviceFault::command(&token));
            }
            camera.presets().remove(quirks, &token)?;
            Response::Empty("RemovePreset")
        }
        GotoPreset { token, speed, .. } => {
            if quirks.is_command(&token) {
                // The command runs: "pan zero" turns the camera to pan 0, tilt 0.
                site.count_command_call();
                let mut motion = physical.motion();
                let zoom = motion.position(now)[2];
                motion.move_to([0.0, 0.0, zoom], speed_axes(speed), now);
                return Ok(Response::Empty("GotoPreset"));
            }
            let presets = camera.presets();
            let target = match presets.get(&token) {
                Some(entry) => entry.position,
                // A listed unused slot: devices accept and stay.
                None if presets
                    .empty_slots(quirks)
                    .iter()
                    .any(|n| n.to_string() == token) =>
                {
                    None
                }
                None => return Err(DeviceFault::no_token(&token)),
            };
            drop(presets);
            // An unused fixed slot has nowhere to go; devices accept and stay.
            if let Some(target) = target {
                physical.motion().move_to(target, speed_axes(speed), now);
            }
            Response::Empty("GotoPreset")
        }
        ContinuousMove {
            velocity, timeout, ..
        } => {
            let v = axes_or(velocity, [0.0; 3]);
            check_range(&v, [-1.0; 3], [1.0; 3], "velocity")?;
            physical
                .motion()
                .continuous(v, timeout.unwrap_or(DEFAULT_MOVE_TIMEOUT), now);
            Response::Empty("ContinuousMove")
        }
        RelativeMove {
            translation, speed, ..
        } => {
            let t = axes_or(translation, [0.0; 3]);
            check_range(&t, [-2.0, -2.0, -1.0], [2.0, 2.0, 1.0], "translation")?;
            let mut motion = physical.motion();
            let here = motion.position(now);
            motion.move_to(
                std::array::from_fn(|i| here[i] + t[i]),
                speed_axes(speed),
                now,
            );
            Response::Empty("RelativeMove")
        }
        AbsoluteMove {
            position, speed, ..
        } => {
            let mut motion = physical.motion();
            let here = motion.position(now);
            let target = axes_or(position, here);
            check_range(&target, crate::motion::MIN, crate::motion::MAX, "position")?;
            motion.move_to(target, speed_axes(speed), now);
            Response::Empty("AbsoluteMove")
        }
        Stop { pan_tilt, zoom, .. } => {
            physical.motion().stop(pan_tilt, zoom, now);
            Response::Empty("Stop")
        }
        GetStatus { .. } => {
            let motion = physical.motion();
            let (pt, z) = motion.moving(now);
            let p = round(motion.position(now), quirks.position_step);
            let state = |moving| {
                if moving {
                    MoveStatus::Moving
                } else {
                    MoveStatus::Idle
                }
            };
            Response::Status {
                status: PtzStatus {
                    position: Some(PtzVector::new(p[0], p[1], p[2])),
                    pan_tilt: state(pt),
                    zoom: state(z),
                    error: None,
                },
                utc: camera.reported_now(),
            }
        }
        GotoHomePosition { speed, .. } => {
            let home = *camera.home();
            physical.motion().move_to(home, speed_axes(speed), now);
            Response::Empty("GotoHomePosition")
        }
        SetHomePosition { .. } => {
            let here = physical.motion().position(now);
            *camera.home() = here;
            Response::Empty("SetHomePosition")
        }
    };
    Ok(response)
}

/// The service a path names, as the endpoints route them.
pub fn service_of_path(path: &str) -> Option<ServiceKind> {
    Some(match path {
        "/onvif/device_service" => ServiceKind::Device,
        "/onvif/media_service" => ServiceKind::Media,
        "/onvif/media2_service" => ServiceKind::Media2,
        "/onvif/ptz_service" => ServiceKind::Ptz,
        _ => return None,
    })
}

fn profile_of(request: &Request) -> Option<&str> {
    use Request::*;
    match request {
        GetSnapshotUri { profile }
        | GetSnapshotUri2 { profile }
        | GetPresets { profile }
        | SetPreset { profile, .. }
        | RemovePreset { profile, .. }
        | GotoPreset { profile, .. }
        | ContinuousMove { profile, .. }
        | RelativeMove { profile, .. }
        | AbsoluteMove { profile, .. }
        | Stop { profile, .. }
        | GetStatus { profile }
        | GotoHomePosition { profile, .. }
        | SetHomePosition { profile } => Some(profile),
        _ => None,
    }
}

/// A vector's axes, taking missing parts from `default`.
fn axes_or(v: PtzVector, default: Axes) -> Axes {
    [
        v.pan_tilt.map_or(default[0], |pt| pt.x),
        v.pan_tilt.map_or(default[1], |pt| pt.y),
        v.zoom.unwrap_or(default[2]),
    ]
}

fn speed_axes(speed: Option<PtzVector>) -> Option<Axes> {
    speed.map(|s| axes_or(s, [1.0; 3]))
}

fn check_range(v: &Axes, min: Axes, max: Axes, what: &str) -> Result<(), DeviceFault> {
    if (0..3).all(|i| v[i] >= min[i] && v[i] <= max[i]) {
        Ok(())
    } else {
        Err(DeviceFault::bad_request(&format!(
            "{what} {v:?} is outside the generic space"
        )))
    }
}

fn configuration() -> PtzConfiguration {
    PtzConfiguration {
        token: CONFIG_TOKEN.into(),
        name: "PTZ".into(),
        node_token: NODE_TOKEN.into(),
        default_timeout: Some(DEFAULT_MOVE_TIMEOUT),
        pan_tilt_limits: Some((
            Range {
                min: -1.0,
                max: 1.0,
            },
            Range {
                min: -1.0,
                max: 1.0,
            },
        )),
        zoom_limits: Some(Range { min: 0.0, max: 1.0 }),
    }
}

fn profile() -> Profile {
    Profile {
        token: PROFILE_TOKEN.into(),
        name: "Main".into(),
        ptz: Some(configuration()),
    }
}

fn node(max_presets: u32) -> PtzNode {
    PtzNode {
        token: NODE_TOKEN.into(),
        name: "PTZ".into(),
        max_presets,
        home_supported: true,
        fixed_home: false,
    }
}

/// A device clock `offset_s` seconds off true UTC.
pub fn device_clock(offset_s: i64) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::TimeDelta::seconds(offset_s)
}
