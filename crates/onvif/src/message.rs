//! Every ONVIF message tandem sends or the simulator answers, in both
//! directions: [`Request`] is written by the client and read by the simulator;
//! [`Response`] is written by the simulator and read by the client through the
//! `read_*` functions. Keeping both directions of a message side by side is what
//! keeps them in agreement; the schema test and the Python peer keep them honest.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, Utc};
use roxmltree::Node;

use crate::error::{Error, Result};
use crate::ns;
use crate::types::{
    DeviceInformation, Preset, Profile, PtzConfiguration, PtzNode, PtzServiceCapabilities,
    PtzStatus, PtzVector, Service, ServiceAddresses, format_duration, parse_duration,
    read_date_time, write_date_time,
};
use crate::xml::{self, escape};

/// Which ONVIF service a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    /// Device management (`tds`).
    Device,
    /// Media v1 (`trt`).
    Media,
    /// Media v2 (`tr2`).
    Media2,
    /// PTZ (`tptz`).
    Ptz,
}

impl ServiceKind {
    /// The service's namespace URI.
    pub fn namespace(self) -> &'static str {
        match self {
            ServiceKind::Device => ns::TDS,
            ServiceKind::Media => ns::TRT,
            ServiceKind::Media2 => ns::TR2,
            ServiceKind::Ptz => ns::TPTZ,
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            ServiceKind::Device => "tds",
            ServiceKind::Media => "trt",
            ServiceKind::Media2 => "tr2",
            ServiceKind::Ptz => "tptz",
        }
    }

    fn from_namespace(uri: &str) -> Option<Self> {
        Some(match uri {
            ns::TDS => ServiceKind::Device,
            ns::TRT => ServiceKind::Media,
            ns::TR2 => ServiceKind::Media2,
            ns::TPTZ => ServiceKind::Ptz,
            _ => return None,
        })
    }
}

/// An ONVIF request.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // Field names are ONVIF's own; see the PTZ and media WSDLs.
pub enum Request {
    /// Device clock; the only call a device answers without authentication.
    GetSystemDateAndTime,
    GetServices {
        include_capability: bool,
    },
    GetCapabilities,
    GetDeviceInformation,
    /// Media v1 profiles.
    GetProfiles,
    /// Media v2 profiles (`Type=All`).
    GetProfiles2,
    GetSnapshotUri {
        profile: String,
    },
    GetSnapshotUri2 {
        profile: String,
    },
    GetNodes,
    GetNode {
        node: String,
    },
    GetConfigurations,
    /// PTZ service capabilities.
    GetServiceCapabilities,
    GetPresets {
        profile: String,
    },
    /// Stores the current position; without a token the device picks one.
    SetPreset {
        profile: String,
        name: Option<String>,
        token: Option<String>,
    },
    RemovePreset {
        profile: String,
        token: String,
    },
    GotoPreset {
        profile: String,
        token: String,
        speed: Option<PtzVector>,
    },
    ContinuousMove {
        profile: String,
        velocity: PtzVector,
        timeout: Option<Duration>,
    },
    RelativeMove {
        profile: String,
        translation: PtzVector,
        speed: Option<PtzVector>,
    },
    AbsoluteMove {
        profile: String,
        position: PtzVector,
        speed: Option<PtzVector>,
    },
    Stop {
        profile: String,
        pan_tilt: bool,
        zoom: bool,
    },
    GetStatus {
        profile: String,
    },
    GotoHomePosition {
        profile: String,
        speed: Option<PtzVector>,
    },
    SetHomePosition {
        profile: String,
    },
}

const SPEED_SPACES: (&str, &str) = (ns::SPACE_PT_SPEED, ns::SPACE_ZOOM_SPEED);

impl Request {
    /// The service this request goes to.
    pub fn service(&self) -> ServiceKind {
        use Request::*;
        match self {
            GetSystemDateAndTime | GetServices { .. } | GetCapabilities | GetDeviceInformation => {
                ServiceKind::Device
            }
            GetProfiles | GetSnapshotUri { .. } => ServiceKind::Media,
            GetProfiles2 | GetSnapshotUri2 { .. } => ServiceKind::Media2,
            _ => ServiceKind::Ptz,
        }
    }

    /// Whether the request is in ONVIF's PRE_AUTH access class, which a
    /// device may answer without authentication: its success says nothing
    /// about whether the credentials sent with it were accepted.
    pub fn is_pre_auth(&self) -> bool {
        matches!(
            self,
            Request::GetSystemDateAndTime | Request::GetServices { .. } | Request::GetCapabilities
        )
    }

    /// The operation's local name, such as `GetPresets`.
    pub fn name(&self) -> &'static str {
        use Request::*;
        match self {
            GetSystemDateAndTime => "GetSystemDateAndTime",
            GetServices { .. } => "GetServices",
            GetCapabilities => "GetCapabilities",
            GetDeviceInformation => "GetDeviceInformation",
            GetProfiles | GetProfiles2 => "GetProfiles",
            GetSnapshotUri { .. } | GetSnapshotUri2 { .. } => "GetSnapshotUri",
            GetNodes => "GetNodes",
            GetNode { .. } => "GetNode",
            GetConfigurations => "GetConfigurations",
            GetServiceCapabilities => "GetServiceCapabilities",
            GetPresets { .. } => "GetPresets",
            SetPreset { .. } => "SetPreset",
            RemovePreset { .. } => "RemovePreset",
            GotoPreset { .. } => "GotoPreset",
            ContinuousMove { .. } => "ContinuousMove",
            RelativeMove { .. } => "RelativeMove",
            AbsoluteMove { .. } => "AbsoluteMove",
            Stop { .. } => "Stop",
            GetStatus { .. } => "GetStatus",
            GotoHomePosition { .. } => "GotoHomePosition",
            SetHomePosition { .. } => "SetHomePosition",
        }
    }

    /// The SOAP action URI, sent in the content type's `action` parameter.
    pub fn action(&self) -> String {
        let base = match self.service() {
            ServiceKind::Device => "http://www.onvif.org/ver10/device/wsdl",
            ServiceKind::Media => "http://www.onvif.org/ver10/media/wsdl",
            ServiceKind::Media2 => "http://www.onvif.org/ver20/media/wsdl",
            ServiceKind::Ptz => "http://www.onvif.org/ver20/ptz/wsdl",
        };
        format!("{base}/{}", self.name())
    }

    /// The body element of the request.
    pub fn to_xml(&self) -> String {
        use Request::*;
        let p = self.service().prefix();
        let name = self.name();
        let mut out = format!("<{p}:{name}>");
        let profile_el = |out: &mut String, profile: &str| {
            let _ = write!(
                out,
                "<{p}:ProfileToken>{}</{p}:ProfileToken>",
                escape(profile)
            );
        };
        match self {
            GetSystemDateAndTime
            | GetDeviceInformation
            | GetProfiles
            | GetNodes
            | GetConfigurations
            | GetServiceCapabilities => {}
            GetCapabilities => out.push_str("<tds:Category>All</tds:Category>"),
            GetServices { include_capability } => {
                let _ = write!(
                    out,
                    "<tds:IncludeCapability>{include_capability}</tds:IncludeCapability>"
                );
            }
            GetProfiles2 => out.push_str("<tr2:Type>All</tr2:Type>"),
            GetSnapshotUri { profile }
            | GetSnapshotUri2 { profile }
            | GetPresets { profile }
            | GetStatus { profile }
            | SetHomePosition { profile } => profile_el(&mut out, profile),
            GetNode { node } => {
                let _ = write!(out, "<tptz:NodeToken>{}</tptz:NodeToken>", escape(node));
            }
            SetPreset {
                profile,
                name,
                token,
            } => {
                profile_el(&mut out, profile);
                if let Some(name) = name {
                    let _ = write!(out, "<tptz:PresetName>{}</tptz:PresetName>", escape(name));
                }
                if let Some(token) = token {
                    let _ = write!(
                        out,
                        "<tptz:PresetToken>{}</tptz:PresetToken>",
                        escape(token)
                    );
                }
            }
            RemovePreset { profile, token } => {
                profile_el(&mut out, profile);
                let _ = write!(
                    out,
                    "<tptz:PresetToken>{}</tptz:PresetToken>",
                    escape(token)
                );
            }
            GotoPreset {
                profile,
                token,
                speed,
            } => {
                profile_el(&mut out, profile);
                let _ = write!(
                    out,
                    "<tptz:PresetToken>{}</tptz:PresetToken>",
                    escape(token)
                );
                if let Some(speed) = speed {
                    speed.write(&mut out, "tptz:Speed", Some(SPEED_SPACES));
                }
            }
            ContinuousMove {
                profile,
                velocity,
                timeout,
            } => {
                profile_el(&mut out, profile);
                velocity.write(
                    &mut out,
                    "tptz:Velocity",
                    Some((ns::SPACE_PT_VELOCITY, ns::SPACE_ZOOM_VELOCITY)),
                );
                if let Some(timeout) = timeout {
                    let _ = write!(
                        out,
                        "<tptz:Timeout>{}</tptz:Timeout>",
                        format_duration(*timeout)
                    );
                }
            }
            RelativeMove {
                profile,
                translation,
                speed,
            } => {
                profile_el(&mut out, profile);
                translation.write(
                    &mut out,
                    "tptz:Translation",
                    Some((ns::SPACE_PT_TRANSLATION, ns::SPACE_ZOOM_TRANSLATION)),
                );
                if let Some(speed) = speed {
                    speed.write(&mut out, "tptz:Speed", Some(SPEED_SPACES));
                }
            }
            AbsoluteMove {
                profile,
                position,
                speed,
            } => {
                profile_el(&mut out, profile);
                position.write(
                    &mut out,
                    "tptz:Position",
                    Some((ns::SPACE_PT_POSITION, ns::SPACE_ZOOM_POSITION)),
                );
                if let Some(speed) = speed {
                    speed.write(&mut out, "tptz:Speed", Some(SPEED_SPACES));
                }
            }
            Stop {
                profile,
                pan_tilt,
                zoom,
            } => {
                profile_el(&mut out, profile);
                let _ = write!(
                    out,
                    "<tptz:PanTilt>{pan_tilt}</tptz:PanTilt><tptz:Zoom>{zoom}</tptz:Zoom>"
                );
            }
            GotoHomePosition { profile, speed } => {
                profile_el(&mut out, profile);
                if let Some(speed) = speed {
                    speed.write(&mut out, "tptz:Speed", Some(SPEED_SPACES));
                }
            }
        }
        let _ = write!(out, "</{p}:{name}>");
        out
    }

    /// Reads a request body element (the simulator's side). Unknown operations
    /// give `Ok(None)`, so the caller can answer `ter:ActionNotSupported`.
    pub fn parse(node: Node<'_, '_>) -> Result<Option<Request>> {
        let Some(service) = node
            .tag_name()
            .namespace()
            .and_then(ServiceKind::from_namespace)
        else {
            return Ok(None);
        };
        let text = |name: &str| xml::child_text(node, name).map(str::to_string);
        let required = |name: &str| {
            text(name).ok_or_else(|| {
                Error::Malformed(format!("{} without {name}", node.tag_name().name()))
            })
        };
        let vector = |name: &str| -> Result<Option<PtzVector>> {
            xml::child_any(node, name).map(PtzVector::read).transpose()
        };
        let required_vector = |name: &str| {
            vector(name)?.ok_or_else(|| {
                Error::Malformed(format!("{} without {name}", node.tag_name().name()))
            })
        };
        let flag = |name: &str| text(name).and_then(|t| xml::parse_bool(&t));
        use Request::*;
        let request = match (service, node.tag_name().name()) {
            (ServiceKind::Device, "GetSystemDateAndTime") => GetSystemDateAndTime,
            (ServiceKind::Device, "GetServices") => GetServices {
                include_capability: flag("IncludeCapability").unwrap_or(false),
            },
            (ServiceKind::Device, "GetCapabilities") => GetCapabilities,
            (ServiceKind::Device, "GetDeviceInformation") => GetDeviceInformation,
            (ServiceKind::Media, "GetProfiles") => GetProfiles,
            (ServiceKind::Media2, "GetProfiles") => GetProfiles2,
            (ServiceKind::Media, "GetSnapshotUri") => GetSnapshotUri {
                profile: required("ProfileToken")?,
            },
            (ServiceKind::Media2, "GetSnapshotUri") => GetSnapshotUri2 {
                profile: required("ProfileToken")?,
            },
            (ServiceKind::Ptz, "GetNodes") => GetNodes,
            (ServiceKind::Ptz, "GetNode") => GetNode {
                node: required("NodeToken")?,
            },
            (ServiceKind::Ptz, "GetConfigurations") => GetConfigurations,
            (ServiceKind::Ptz, "GetServiceCapabilities") => GetServiceCapabilities,
            (ServiceKind::Ptz, "GetPresets") => GetPresets {
                profile: required("ProfileToken")?,
            },
            (ServiceKind::Ptz, "SetPreset") => SetPreset {
                profile: required("ProfileToken")?,
                name: text("PresetName"),
                token: text("PresetToken").filter(|t| !t.is_empty()),
            },
            (ServiceKind::Ptz, "RemovePreset") => RemovePreset {
                profile: required("ProfileToken")?,
                token: required("PresetToken")?,
            },
            (ServiceKind::Ptz, "GotoPreset") => GotoPreset {
                profile: required("ProfileToken")?,
                token: required("PresetToken")?,
                speed: vector("Speed")?,
            },
            (ServiceKind::Ptz, "ContinuousMove") => ContinuousMove {
                profile: required("ProfileToken")?,
                velocity: required_vector("Velocity")?,
                timeout: match text("Timeout") {
                    Some(t) => Some(
                        parse_duration(&t)
                            .ok_or_else(|| Error::Malformed(format!("bad Timeout {t:?}")))?,
                    ),
                    None => None,
                },
            },
            (ServiceKind::Ptz, "RelativeMove") => RelativeMove {
                profile: required("ProfileToken")?,
                translation: required_vector("Translation")?,
                speed: vector("Speed")?,
            },
            (ServiceKind::Ptz, "AbsoluteMove") => AbsoluteMove {
                profile: required("ProfileToken")?,
                position: required_vector("Position")?,
                speed: vector("Speed")?,
            },
            (ServiceKind::Ptz, "Stop") => Stop {
                profile: required("ProfileToken")?,
                // ONVIF: an absent flag means "stop that axis too".
                pan_tilt: flag("PanTilt").unwrap_or(true),
                zoom: flag("Zoom").unwrap_or(true),
            },
            (ServiceKind::Ptz, "GetStatus") => GetStatus {
                profile: required("ProfileToken")?,
            },
            (ServiceKind::Ptz, "GotoHomePosition") => GotoHomePosition {
                profile: required("ProfileToken")?,
                speed: vector("Speed")?,
            },
            (ServiceKind::Ptz, "SetHomePosition") => SetHomePosition {
                profile: required("ProfileToken")?,
            },
            _ => return Ok(None),
        };
        Ok(Some(request))
    }

    /// The namespace and local name of the answer's body element.
    pub fn response_element(&self) -> (&'static str, String) {
        (
            self.service().namespace(),
            format!("{}Response", self.name()),
        )
    }
}

/// An answer body, as the simulator writes it.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // One variant per answer shape; names follow ONVIF.
pub enum Response {
    SystemDateAndTime(DateTime<Utc>),
    /// `GetServices`; `include_capability` adds each service's capabilities.
    Services {
        services: Vec<Service>,
        include_capability: bool,
    },
    Capabilities {
        device: String,
        services: ServiceAddresses,
    },
    DeviceInformation(DeviceInformation),
    Profiles(Vec<Profile>),
    Profiles2(Vec<Profile>),
    SnapshotUri(String),
    SnapshotUri2(String),
    Nodes(Vec<PtzNode>),
    Node(PtzNode),
    Configurations(Vec<PtzConfiguration>),
    ServiceCapabilities(PtzServiceCapabilities),
    Presets(Vec<Preset>),
    PresetToken(String),
    Status {
        status: PtzStatus,
        utc: DateTime<Utc>,
    },
    /// An empty answer to the request of this name (`GotoPreset`, `Stop`...).
    Empty(&'static str),
}

impl Response {
    /// The body element of the answer to a request of `service`.
    pub fn to_xml(&self, service: ServiceKind) -> String {
        let p = service.prefix();
        let mut out = String::with_capacity(512);
        let open = |out: &mut String, name: &str| {
            let _ = write!(out, "<{p}:{name}Response>");
        };
        let close = |out: &mut String, name: &str| {
            let _ = write!(out, "</{p}:{name}Response>");
        };
        match self {
            Response::SystemDateAndTime(at) => {
                open(&mut out, "GetSystemDateAndTime");
                out.push_str("<tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType><tt:DaylightSavings>false</tt:DaylightSavings><tt:TimeZone><tt:TZ>UTC</tt:TZ></tt:TimeZone>");
                write_date_time(&mut out, "tt:UTCDateTime", *at);
                write_date_time(&mut out, "tt:LocalDateTime", *at);
                out.push_str("</tds:SystemDateAndTime>");
                close(&mut out, "GetSystemDateAndTime");
            }
            Response::Services {
                services,
                include_capability,
            } => {
                open(&mut out, "GetServices");
                for s in services {
                    let _ = write!(
                        out,
                        "<tds:Service><tds:Namespace>{}</tds:Namespace><tds:XAddr>{}</tds:XAddr>",
                        s.namespace,
                        escape(&s.xaddr)
                    );
                    if *include_capability {
                        out.push_str("<tds:Capabilities>");
                        out.push_str(service_capabilities(&s.namespace));
                        out.push_str("</tds:Capabilities>");
                    }
                    let _ = write!(
                        out,
                        "<tds:Version><tt:Major>{}</tt:Major><tt:Minor>{}</tt:Minor></tds:Version></tds:Service>",
                        s.version.0, s.version.1
                    );
                }
                close(&mut out, "GetServices");
            }
            Response::Capabilities { device, services } => {
                open(&mut out, "GetCapabilities");
                let _ = write!(
                    out,
                    "<tds:Capabilities><tt:Device><tt:XAddr>{}</tt:XAddr></tt:Device>",
                    escape(device)
                );
                if let Some(media) = &services.media {
                    let _ = write!(
                        out,
                        "<tt:Media><tt:XAddr>{}</tt:XAddr><tt:StreamingCapabilities/></tt:Media>",
                        escape(media)
                    );
                }
                if let Some(ptz) = &services.ptz {
                    let _ = write!(out, "<tt:PTZ><tt:XAddr>{}</tt:XAddr></tt:PTZ>", escape(ptz));
                }
                out.push_str("</tds:Capabilities>");
                close(&mut out, "GetCapabilities");
            }
            Response::DeviceInformation(info) => {
                open(&mut out, "GetDeviceInformation");
                let _ = write!(
                    out,
                    "<tds:Manufacturer>{}</tds:Manufacturer><tds:Model>{}</tds:Model><tds:FirmwareVersion>{}</tds:FirmwareVersion><tds:SerialNumber>{}</tds:SerialNumber><tds:HardwareId>{}</tds:HardwareId>",
                    escape(&info.manufacturer),
                    escape(&info.model),
                    escape(&info.firmware_version),
                    escape(&info.serial_number),
                    escape(&info.hardware_id)
                );
                close(&mut out, "GetDeviceInformation");
            }
            Response::Profiles(profiles) => {
                open(&mut out, "GetProfiles");
                for profile in profiles {
                    let _ = write!(
                        out,
                        r#"<trt:Profiles token="{}" fixed="true"><tt:Name>{}</tt:Name>"#,
                        escape(&profile.token),
                        escape(&profile.name)
                    );
                    out.push_str(MEDIA1_VIDEO_CONFIGURATION);
                    if let Some(ptz) = &profile.ptz {
                        ptz.write(&mut out, "tt:PTZConfiguration");
                    }
                    out.push_str("</trt:Profiles>");
                }
                close(&mut out, "GetProfiles");
            }
            Response::Profiles2(profiles) => {
                open(&mut out, "GetProfiles");
                for profile in profiles {
                    let _ = write!(
                        out,
                        r#"<tr2:Profiles token="{}" fixed="true"><tr2:Name>{}</tr2:Name>"#,
                        escape(&profile.token),
                        escape(&profile.name)
                    );
                    if let Some(ptz) = &profile.ptz {
                        out.push_str("<tr2:Configurations>");
                        ptz.write(&mut out, "tr2:PTZ");
                        out.push_str("</tr2:Configurations>");
                    }
                    out.push_str("</tr2:Profiles>");
                }
                close(&mut out, "GetProfiles");
            }
            Response::SnapshotUri(uri) => {
                open(&mut out, "GetSnapshotUri");
                let _ = write!(
                    out,
                    "<trt:MediaUri><tt:Uri>{}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri>",
                    escape(uri)
                );
                close(&mut out, "GetSnapshotUri");
            }
            Response::SnapshotUri2(uri) => {
                open(&mut out, "GetSnapshotUri");
                let _ = write!(out, "<tr2:Uri>{}</tr2:Uri>", escape(uri));
                close(&mut out, "GetSnapshotUri");
            }
            Response::Nodes(nodes) => {
                open(&mut out, "GetNodes");
                for node in nodes {
                    node.write(&mut out, "tptz:PTZNode");
                }
                close(&mut out, "GetNodes");
            }
            Response::Node(node) => {
                open(&mut out, "GetNode");
                node.write(&mut out, "tptz:PTZNode");
                close(&mut out, "GetNode");
            }
            Response::Configurations(configs) => {
                open(&mut out, "GetConfigurations");
                for config in configs {
                    config.write(&mut out, "tptz:PTZConfiguration");
                }
                close(&mut out, "GetConfigurations");
            }
            Response::ServiceCapabilities(caps) => {
                open(&mut out, "GetServiceCapabilities");
                let _ = write!(
                    out,
                    r#"<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" MoveStatus="{}" StatusPosition="{}"/>"#,
                    caps.move_status, caps.status_position
                );
                close(&mut out, "GetServiceCapabilities");
            }
            Response::Presets(presets) => {
                // About 330 bytes a preset: one allocation for the answer.
                out.reserve(presets.len() * 360);
                open(&mut out, "GetPresets");
                for preset in presets {
                    preset.write(&mut out);
                }
                close(&mut out, "GetPresets");
            }
            Response::PresetToken(token) => {
                open(&mut out, "SetPreset");
                let _ = write!(
                    out,
                    "<tptz:PresetToken>{}</tptz:PresetToken>",
                    escape(token)
                );
                close(&mut out, "SetPreset");
            }
            Response::Status { status, utc } => {
                open(&mut out, "GetStatus");
                status.write(&mut out, *utc);
                close(&mut out, "GetStatus");
            }
            Response::Empty(name) => {
                let _ = write!(out, "<{p}:{name}Response/>");
            }
        }
        out
    }
}

/// The video source and JPEG encoder of a media v1 profile: clients that
/// list profiles expect them, and the schema requires each part shown.
const MEDIA1_VIDEO_CONFIGURATION: &str = concat!(
    r#"<tt:VideoSourceConfiguration token="video_source_config_1"><tt:Name>VideoSource</tt:Name><tt:UseCount>1</tt:UseCount>"#,
    r#"<tt:SourceToken>video_source_1</tt:SourceToken><tt:Bounds x="0" y="0" width="640" height="360"/></tt:VideoSourceConfiguration>"#,
    r#"<tt:VideoEncoderConfiguration token="video_encoder_config_1"><tt:Name>JPEG</tt:Name><tt:UseCount>1</tt:UseCount>"#,
    "<tt:Encoding>JPEG</tt:Encoding><tt:Resolution><tt:Width>640</tt:Width><tt:Height>360</tt:Height></tt:Resolution>",
    "<tt:Quality>5</tt:Quality><tt:RateControl><tt:FrameRateLimit>5</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>",
    "<tt:BitrateLimit>1024</tt:BitrateLimit></tt:RateControl><tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type>",
    "<tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart>",
    "</tt:Multicast><tt:SessionTimeout>PT60S</tt:SessionTimeout></tt:VideoEncoderConfiguration>",
);

/// The capabilities element each service reports inside `GetServices`.
fn service_capabilities(namespace: &str) -> &'static str {
    match namespace {
        ns::TPTZ => {
            r#"<tptz:Capabilities EFlip="false" Reverse="false" GetCompatibleConfigurations="false" MoveStatus="true" StatusPosition="true"/>"#
        }
        ns::TRT => {
            r#"<trt:Capabilities SnapshotUri="true"><trt:ProfileCapabilities MaximumNumberOfProfiles="1"/><trt:StreamingCapabilities/></trt:Capabilities>"#
        }
        ns::TR2 => {
            r#"<tr2:Capabilities SnapshotUri="true"><tr2:ProfileCapabilities MaximumNumberOfProfiles="1"/><tr2:StreamingCapabilities/></tr2:Capabilities>"#
        }
        _ => r#"<tds:Capabilities><tds:Network/><tds:Security/><tds:System/></tds:Capabilities>"#,
    }
}

// Readers of answer bodies, one per answer shape (the client's side).

/// `GetSystemDateAndTimeResponse`: the device's UTC clock.
pub fn read_system_date_and_time(node: Node<'_, '_>) -> Result<DateTime<Utc>> {
    let sdt = xml::required(node, "SystemDateAndTime")?;
    match xml::child_any(sdt, "UTCDateTime") {
        Some(utc) => read_date_time(utc),
        // Some devices give local time only; without a time zone rule we
        // cannot convert, so take it as UTC and say so in the error if wrong.
        None => read_date_time(xml::required(sdt, "LocalDateTime")?),
    }
}

/// `GetServicesResponse`.
pub fn read_services(node: Node<'_, '_>) -> Result<Vec<Service>> {
    xml::children_any(node, "Service")
        .map(|s| {
            let version = xml::child_any(s, "Version");
            let number = |name| {
                version
                    .and_then(|v| xml::child_text(v, name))
                    .and_then(|t| t.parse().ok())
                    .unwrap_or(0)
            };
            Ok(Service {
                namespace: xml::text(xml::required(s, "Namespace")?).to_string(),
                xaddr: xml::text(xml::required(s, "XAddr")?).to_string(),
                version: (number("Major"), number("Minor")),
            })
        })
        .collect()
}

/// `GetCapabilitiesResponse`: the service addresses.
pub fn read_capabilities(node: Node<'_, '_>) -> Result<ServiceAddresses> {
    let caps = xml::required(node, "Capabilities")?;
    let xaddr = |name| {
        xml::child_any(caps, name)
            .and_then(|c| xml::child_text(c, "XAddr"))
            .filter(|x| !x.is_empty())
            .map(str::to_string)
    };
    Ok(ServiceAddresses {
        media: xaddr("Media"),
        media2: None,
        ptz: xaddr("PTZ"),
    })
}

/// `GetDeviceInformationResponse`.
pub fn read_device_information(node: Node<'_, '_>) -> Result<DeviceInformation> {
    let field = |name| xml::child_text(node, name).unwrap_or("").to_string();
    Ok(DeviceInformation {
        manufacturer: field("Manufacturer"),
        model: field("Model"),
        firmware_version: field("FirmwareVersion"),
        serial_number: field("SerialNumber"),
        hardware_id: field("HardwareId"),
    })
}

/// `GetProfilesResponse` of media v1 or v2.
pub fn read_profiles(node: Node<'_, '_>) -> Result<Vec<Profile>> {
    xml::children_any(node, "Profiles")
        .map(|p| {
            // Media v1 has PTZConfiguration directly; media v2 has Configurations/PTZ.
            let ptz = xml::child_any(p, "PTZConfiguration").or_else(|| {
                xml::child_any(p, "Configurations").and_then(|c| xml::child_any(c, "PTZ"))
            });
            Ok(Profile {
                token: xml::required_attr(p, "token")?.to_string(),
                name: xml::child_text(p, "Name").unwrap_or("").to_string(),
                ptz: ptz.map(PtzConfiguration::read).transpose()?,
            })
        })
        .collect()
}

/// `GetSnapshotUriResponse` of media v1 (`MediaUri/Uri`) or v2 (`Uri`).
pub fn read_snapshot_uri(node: Node<'_, '_>) -> Result<String> {
    let uri = match xml::child_any(node, "MediaUri") {
        Some(media_uri) => xml::required(media_uri, "Uri")?,
        None => xml::required(node, "Uri")?,
    };
    Ok(xml::text(uri).to_string())
}

/// `GetNodesResponse`.
pub fn read_nodes(node: Node<'_, '_>) -> Result<Vec<PtzNode>> {
    xml::children_any(node, "PTZNode")
        .map(PtzNode::read)
        .collect()
}

/// `GetNodeResponse`.
pub fn read_node(node: Node<'_, '_>) -> Result<PtzNode> {
    PtzNode::read(xml::required(node, "PTZNode")?)
}

/// `GetConfigurationsResponse`.
pub fn read_configurations(node: Node<'_, '_>) -> Result<Vec<PtzConfiguration>> {
    xml::children_any(node, "PTZConfiguration")
        .map(PtzConfiguration::read)
        .collect()
}

/// `GetServiceCapabilitiesResponse` of the PTZ service.
pub fn read_service_capabilities(node: Node<'_, '_>) -> Result<PtzServiceCapabilities> {
    let caps = xml::required(node, "Capabilities")?;
    let flag = |name| {
        caps.attribute(name)
            .and_then(xml::parse_bool)
            .unwrap_or(false)
    };
    Ok(PtzServiceCapabilities {
        move_status: flag("MoveStatus"),
        status_position: flag("StatusPosition"),
    })
}

/// `GetPresetsResponse`.
pub fn read_presets(node: Node<'_, '_>) -> Result<Vec<Preset>> {
    xml::children_any(node, "Preset")
        .map(Preset::read)
        .collect()
}

/// A whole `GetPresets` answer, envelope included, read as a stream: the
/// answer that grows with a camera, read twice per camera by every scan.
/// Reads what [`read_presets`] reads from the tree, with the same errors.
pub fn read_presets_answer(text: &str) -> Result<Vec<Preset>> {
    let mut reader = xml::Reader::new(text);
    crate::soap::open_answer(&mut reader, text, ns::TPTZ, "GetPresetsResponse")?;
    let mut presets = Vec::new();
    loop {
        match reader.step()? {
            xml::Step::Open(e) if e.named("Preset") => {
                let token = e.required_attr("token")?.into_owned();
                presets.push(Preset::read_stream(&mut reader, token)?);
            }
            xml::Step::Open(_) => reader.skip()?,
            xml::Step::Close => break,
            xml::Step::Text(_) | xml::Step::Aside => {}
            xml::Step::End => break,
        }
    }
    reader.finish()?;
    Ok(presets)
}

/// `SetPresetResponse`: the token the device used.
pub fn read_preset_token(node: Node<'_, '_>) -> Result<String> {
    let token = xml::text(xml::required(node, "PresetToken")?);
    if token.is_empty() {
        return Err(Error::Malformed(
            "SetPresetResponse with an empty PresetToken".into(),
        ));
    }
    Ok(token.to_string())
}

/// `GetStatusResponse`.
pub fn read_status(node: Node<'_, '_>) -> Result<PtzStatus> {
    PtzStatus::read(xml::required(node, "PTZStatus")?)
}

/// An answer without content: only its presence matters.
pub fn read_empty(_node: Node<'_, '_>) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soap;

    fn round_trip(request: Request) {
        let text = soap::envelope(None, &request.to_xml());
        let env = soap::Envelope::parse(&text).expect("parses");
        let parsed = Request::parse(env.body_element().expect("body")).expect("valid");
        assert_eq!(parsed, Some(request));
    }

    #[test]
    fn requests_round_trip() {
        let p = || "profile_1".to_string();
        round_trip(Request::GetServices {
            include_capability: true,
        });
        round_trip(Request::GetProfiles2);
        round_trip(Request::SetPreset {
            profile: p(),
            name: Some("Porte <é>".into()),
            token: Some("7".into()),
        });
        round_trip(Request::SetPreset {
            profile: p(),
            name: None,
            token: None,
        });
        round_trip(Request::GotoPreset {
            profile: p(),
            token: "7".into(),
            speed: Some(PtzVector::new(0.5, 0.5, 1.0)),
        });
        round_trip(Request::ContinuousMove {
            profile: p(),
            velocity: PtzVector {
                pan_tilt: None,
                zoom: Some(-0.5),
            },
            timeout: Some(Duration::from_millis(1500)),
        });
        round_trip(Request::AbsoluteMove {
            profile: p(),
            position: PtzVector::new(-1.0, 1.0, 0.0),
            speed: None,
        });
        round_trip(Request::Stop {
            profile: p(),
            pan_tilt: true,
            zoom: false,
        });
    }

    #[test]
    fn presets_answer_round_trips() {
        let presets = vec![
            Preset {
                token: "1".into(),
                name: Some("Gate".into()),
                position: Some(PtzVector::new(0.1, 0.2, 0.3)),
            },
            Preset {
                token: "2".into(),
                name: None,
                position: None,
            },
        ];
        let text = soap::envelope(
            None,
            &Response::Presets(presets.clone()).to_xml(ServiceKind::Ptz),
        );
        let env = soap::Envelope::parse(&text).expect("parses");
        let node = env
            .expect(ns::TPTZ, "GetPresetsResponse")
            .expect("right element");
        assert_eq!(read_presets(node).expect("reads"), presets);
        assert_eq!(read_presets_answer(&text).expect("streams"), presets);
    }

    /// The tree's reading of a `GetPresets` answer: what the stream must match.
    fn by_tree(text: &str) -> Result<Vec<Preset>> {
        let env = soap::Envelope::parse(text)?;
        read_presets(env.expect(ns::TPTZ, "GetPresetsResponse")?)
    }

    fn answer(body: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><s:Envelope xmlns:s="{}" xmlns:p="{}" xmlns:t="{}">{body}</s:Envelope>"#,
            ns::SOAP12,
            ns::TPTZ,
            ns::TT
        )
    }

    #[test]
    fn the_stream_reads_what_the_tree_reads() {
        let documents = [
            // Header passed over; comments, CDATA, entities, whitespace, a
            // default namespace declared on the response, unknown elements.
            answer(
                r#"<s:Header><x:Security xmlns:x="urn:x"><x:Deep><x:Deeper/></x:Deep></x:Security></s:Header>
                <s:Body>
                  <GetPresetsResponse xmlns="http://www.onvif.org/ver20/ptz/wsdl">
                    <!-- a comment --><Preset token="a&amp;b&#233;">
                      <t:Name>  Gate &lt;1&gt; <![CDATA[& co]]>  </t:Name><t:Name>second</t:Name>
                      <t:Extension><t:Name>not this one</t:Name></t:Extension>
                      <t:PTZPosition><t:PanTilt x="0.5" y="-0.25" space="urn:s"/><t:Zoom x="1"/><t:Zoom x="0"/></t:PTZPosition>
                    </Preset>
                    <Preset token="2"><t:Name>a<!--c-->b</t:Name><t:PTZPosition/></Preset>
                    <Preset token="4"><t:Name><!--c-->Gate</t:Name></Preset>
                    <Preset token="5"><t:Name>Gate<t:b>x</t:b> more</t:Name></Preset>
                    <Preset token="3"><t:PTZPosition><t:Zoom x="0.125"></t:Zoom></t:PTZPosition></Preset>
                    <p:Other><Preset token="nested, not listed"/></p:Other>
                    <p:Twice xmlns="urn:a" xmlns="urn:b"/>
                  </GetPresetsResponse>
                </s:Body>"#,
            ),
            // SOAP 1.1.
            format!(
                r#"<e:Envelope xmlns:e="{}"><e:Body><p:GetPresetsResponse xmlns:p="{}"/></e:Body></e:Envelope>"#,
                ns::SOAP11,
                ns::TPTZ
            ),
            // A fault, in both SOAP versions.
            soap::fault_envelope(true, &["InvalidArgVal", "NoProfile"], "no such profile"),
            soap::fault_envelope_soap11(false, &["ActionNotSupported"], "later"),
            // Refusals: wrong element, wrong namespace, no token, bad number,
            // no body, not SOAP, a DTD, cut off, two roots, unknown prefix.
            answer(r#"<s:Body><p:GetNodesResponse/></s:Body>"#),
            answer(r#"<s:Body><t:GetPresetsResponse/></s:Body>"#),
            answer(r#"<s:Body><p:GetPresetsResponse><p:Preset/></p:GetPresetsResponse></s:Body>"#),
            answer(
                r#"<s:Body><p:GetPresetsResponse><p:Preset token="1"><t:PTZPosition><t:PanTilt x="NaN" y="0"/></t:PTZPosition></p:Preset></p:GetPresetsResponse></s:Body>"#,
            ),
            answer(r#"<s:Header/>"#),
            "<html><body>502 Bad Gateway</body></html>".to_string(),
            format!(
                r#"<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "x">]>{}"#,
                answer(r#"<s:Body><p:GetPresetsResponse/></s:Body>"#)
            ),
            answer(r#"<s:Body><p:GetPresetsResponse><p:Preset token="1">"#),
            answer(r#"<s:Body><p:GetPresetsResponse/></s:Body>"#) + "<again/>",
            answer(r#"<s:Body><q:GetPresetsResponse/></s:Body>"#),
            // Line ends and tabs: normalized in attributes and text as XML says.
            answer(
                "<s:Body><p:GetPresetsResponse><p:Preset token=\"1 &#10;\r\n\tx\">\
                 <t:Name>a\r\nb\rc</t:Name></p:Preset></p:GetPresetsResponse></s:Body>",
            ),
            answer(
                r#"<s:Body><p:GetPresetsResponse><p:Preset token="&bogus;"/></p:GetPresetsResponse></s:Body>"#,
            ),
        ];
        for text in &documents {
            let (tree, stream) = (by_tree(text), read_presets_answer(text));
            match (&tree, &stream) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(Error::Fault(a)), Err(Error::Fault(b))) => {
                    assert_eq!(a.to_string(), b.to_string(), "{text}")
                }
                (Err(Error::Fault(_)), _) | (_, Err(Error::Fault(_))) | (Ok(_), _) | (_, Ok(_)) => {
                    panic!("tree {tree:?}, stream {stream:?}: {text}")
                }
                (Err(_), Err(_)) => {}
            }
        }
        let line_ends = documents
            .iter()
            .find(|d| d.contains("&#10;"))
            .expect("in the list");
        let line_ends = read_presets_answer(line_ends).expect("reads");
        assert_eq!(line_ends[0].token, "1 \n  x");
        assert_eq!(line_ends[0].name.as_deref(), Some("a\nb\nc"));
        let first = read_presets_answer(&documents[0]).expect("reads");
        assert_eq!(first.len(), 5);
        let names: Vec<Option<&str>> = first.iter().map(|p| p.name.as_deref()).collect();
        assert_eq!(names[1..4], [Some("a"), Some(""), Some("Gate")]);
        assert_eq!(first[0].token, "a&bé");
        assert_eq!(first[0].name.as_deref(), Some("Gate <1> & co"));
        assert_eq!(first[0].position, Some(PtzVector::new(0.5, -0.25, 1.0)));
        assert_eq!(first[1].position, None);
        assert_eq!(first[4].position.and_then(|p| p.zoom), Some(0.125));
    }

    #[test]
    fn every_cut_of_an_answer_is_refused_by_the_stream() {
        let text = soap::envelope(
            None,
            &Response::Presets(vec![Preset {
                token: "1".into(),
                name: Some("Gate".into()),
                position: Some(PtzVector::new(0.1, 0.2, 0.3)),
            }])
            .to_xml(ServiceKind::Ptz),
        );
        for cut in 1..text.len() {
            assert!(read_presets_answer(&text[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn the_stream_keeps_the_limits() {
        let deep = answer(&format!(
            "<s:Body><p:GetPresetsResponse>{}{}</p:GetPresetsResponse></s:Body>",
            "<p:x>".repeat(100),
            "</p:x>".repeat(100)
        ));
        let err = read_presets_answer(&deep)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("nested deeper"), "{err}");
        let many = answer(&format!(
            "<s:Body><p:GetPresetsResponse>{}</p:GetPresetsResponse></s:Body>",
            "<p:x/>".repeat(600_000)
        ));
        let err = read_presets_answer(&many)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("more than"), "{err}");
    }
}
