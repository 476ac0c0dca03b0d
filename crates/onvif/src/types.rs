//! The ONVIF data types tandem uses, each with its XML reading and writing.
//!
//! Reading is lenient where devices differ (unknown elements are skipped,
//! `tt` children are matched in any namespace) and strict where meaning would
//! be lost (a preset without a token, a coordinate that is not a number).
//! Writing follows the schema's element order, so answers validate.

use std::fmt::Write as _;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use roxmltree::Node;

use crate::error::{Error, Result};
use crate::ns;
use crate::xml::{self, escape};

/// A pan/tilt pair in ONVIF's generic space: both in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanTilt {
    /// Pan (x).
    pub x: f64,
    /// Tilt (y).
    pub y: f64,
}

/// A position, translation or velocity: pan/tilt and zoom, each optional as in ONVIF.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PtzVector {
    /// Pan and tilt, when given.
    pub pan_tilt: Option<PanTilt>,
    /// Zoom, when given: [0, 1] for positions, [-1, 1] for velocities.
    pub zoom: Option<f64>,
}

impl PtzVector {
    /// A full vector.
    pub fn new(pan: f64, tilt: f64, zoom: f64) -> Self {
        PtzVector {
            pan_tilt: Some(PanTilt { x: pan, y: tilt }),
            zoom: Some(zoom),
        }
    }

    /// Reads a `tt:PTZVector` or `tt:PTZSpeed` element.
    pub fn read(node: Node<'_, '_>) -> Result<Self> {
        let pan_tilt = match xml::child_any(node, "PanTilt") {
            Some(pt) => Some(PanTilt {
                x: xml::float_attr(pt, "x")?,
                y: xml::float_attr(pt, "y")?,
            }),
            None => None,
        };
        let zoom = match xml::child_any(node, "Zoom") {
            Some(z) => Some(xml::float_attr(z, "x")?),
            None => None,
        };
        Ok(PtzVector { pan_tilt, zoom })
    }

    /// Reads the rest of a vector element whose opening `reader` has just
    /// returned: the streaming counterpart of [`PtzVector::read`].
    pub fn read_stream(reader: &mut xml::Reader<'_>) -> Result<Self> {
        let mut vector = PtzVector {
            pan_tilt: None,
            zoom: None,
        };
        loop {
            match reader.step()? {
                xml::Step::Open(e) if e.named("PanTilt") && vector.pan_tilt.is_none() => {
                    vector.pan_tilt = Some(PanTilt {
                        x: e.float_attr("x")?,
                        y: e.float_attr("y")?,
                    });
                    reader.skip()?;
                }
                xml::Step::Open(e) if e.named("Zoom") && vector.zoom.is_none() => {
                    vector.zoom = Some(e.float_attr("x")?);
                    reader.skip()?;
                }
                xml::Step::Open(_) => reader.skip()?,
                xml::Step::Close | xml::Step::End => break,
                xml::Step::Text(_) | xml::Step::Aside => {}
            }
        }
        Ok(vector)
    }

    /// Writes the vector as element `tag` (prefix included), with optional space URIs.
    pub fn write(&self, out: &mut String, tag: &str, spaces: Option<(&str, &str)>) {
        // Pieces pushed one by one: the simulator writes this for every
        // preset of every answer, and formatting machinery costs more than
        // the bytes.
        let space = |out: &mut String, uri: Option<&str>| {
            if let Some(uri) = uri {
                out.push_str(r#" space=""#);
                out.push_str(uri);
                out.push('"');
            }
        };
        out.push('<');
        out.push_str(tag);
        out.push('>');
        if let Some(pt) = self.pan_tilt {
            out.push_str(r#"<tt:PanTilt x=""#);
            push_float(out, pt.x);
            out.push_str(r#"" y=""#);
            push_float(out, pt.y);
            out.push('"');
            space(out, spaces.map(|s| s.0));
            out.push_str("/>");
        }
        if let Some(z) = self.zoom {
            out.push_str(r#"<tt:Zoom x=""#);
            push_float(out, z);
            out.push('"');
            space(out, spaces.map(|s| s.1));
            out.push_str("/>");
        }
        out.push_str("</");
        out.push_str(tag);
        out.push('>');
    }
}

/// Writes `value` as `{value}` (`Display`) does: the shortest digits that
/// read back to it, never an exponent (devices parse plain decimals), `1`
/// rather than `1.0`. Through ryu, several times faster (the simulator
/// writes three numbers for every preset of every answer); where two
/// shortest forms are equally near, ryu may end on the other digit, which
/// reads back to the same value. Values ryu would write with an exponent
/// (below 1e-5 or from 1e16) take `Display`.
pub(crate) fn push_float(out: &mut String, value: f64) {
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format(value);
    if !value.is_finite() || text.contains(['e', 'E']) {
        let _ = write!(out, "{value}");
        return;
    }
    out.push_str(text.strip_suffix(".0").unwrap_or(text));
}

/// A preset as one site reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The site's own identifier of the preset.
    pub token: String,
    /// The name, absent on devices that do not keep names.
    pub name: Option<String>,
    /// The stored position, absent on devices that do not report it.
    pub position: Option<PtzVector>,
}

impl Preset {
    /// Reads a `tt:PTZPreset`.
    pub fn read(node: Node<'_, '_>) -> Result<Self> {
        let token = xml::required_attr(node, "token")?.to_string();
        let name = xml::child_any(node, "Name").map(|n| xml::text(n).to_string());
        let position = match xml::child_any(node, "PTZPosition") {
            Some(p) => {
                let v = PtzVector::read(p)?;
                (v.pan_tilt.is_some() || v.zoom.is_some()).then_some(v)
            }
            None => None,
        };
        Ok(Preset {
            token,
            name,
            position,
        })
    }

    /// Reads the rest of a `tt:PTZPreset` whose opening (with `token`)
    /// `reader` has just returned, up to its close: the streaming
    /// counterpart of [`Preset::read`], first `Name` and first
    /// `PTZPosition` taken as it takes them.
    pub fn read_stream(reader: &mut xml::Reader<'_>, token: String) -> Result<Self> {
        let mut name = None;
        let mut position: Option<PtzVector> = None;
        loop {
            match reader.step()? {
                xml::Step::Open(e) if e.named("Name") && name.is_none() => {
                    name = Some(reader.text()?);
                }
                xml::Step::Open(e) if e.named("PTZPosition") && position.is_none() => {
                    position = Some(PtzVector::read_stream(reader)?);
                }
                xml::Step::Open(_) => reader.skip()?,
                xml::Step::Close | xml::Step::End => break,
                xml::Step::Text(_) | xml::Step::Aside => {}
            }
        }
        Ok(Preset {
            token,
            name,
            position: position.filter(|v| v.pan_tilt.is_some() || v.zoom.is_some()),
        })
    }

    pub(crate) fn write(&self, out: &mut String) {
        out.push_str(r#"<tptz:Preset token=""#);
        out.push_str(&escape(&self.token));
        out.push_str(r#"">"#);
        if let Some(name) = &self.name {
            out.push_str("<tt:Name>");
            out.push_str(&escape(name));
            out.push_str("</tt:Name>");
        }
        if let Some(position) = &self.position {
            position.write(
                out,
                "tt:PTZPosition",
                Some((ns::SPACE_PT_POSITION, ns::SPACE_ZOOM_POSITION)),
            );
        }
        out.push_str("</tptz:Preset>");
    }
}

/// Whether a PTZ unit is moving, per axis group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveStatus {
    /// Not moving.
    Idle,
    /// Moving.
    Moving,
    /// The device does not say.
    Unknown,
}

impl MoveStatus {
    fn parse(raw: &str) -> Self {
        match raw {
            "IDLE" => MoveStatus::Idle,
            "MOVING" => MoveStatus::Moving,
            _ => MoveStatus::Unknown,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            MoveStatus::Idle => "IDLE",
            MoveStatus::Moving => "MOVING",
            MoveStatus::Unknown => "UNKNOWN",
        }
    }
}

/// `GetStatus`: where the camera is and whether it moves.
#[derive(Debug, Clone, PartialEq)]
pub struct PtzStatus {
    /// The current position, if reported.
    pub position: Option<PtzVector>,
    /// Pan/tilt movement.
    pub pan_tilt: MoveStatus,
    /// Zoom movement.
    pub zoom: MoveStatus,
    /// The device's error text, if any.
    pub error: Option<String>,
}

impl PtzStatus {
    /// True when neither pan/tilt nor zoom reports MOVING.
    pub fn is_idle(&self) -> bool {
        self.pan_tilt != MoveStatus::Moving && self.zoom != MoveStatus::Moving
    }

    pub(crate) fn read(node: Node<'_, '_>) -> Result<Self> {
        let position = match xml::child_any(node, "Position") {
            Some(p) => Some(PtzVector::read(p)?),
            None => None,
        };
        let moves = xml::child_any(node, "MoveStatus");
        let status = |axis| {
            moves
                .and_then(|m| xml::child_text(m, axis))
                .map(MoveStatus::parse)
                .unwrap_or(MoveStatus::Unknown)
        };
        Ok(PtzStatus {
            position,
            pan_tilt: status("PanTilt"),
            zoom: status("Zoom"),
            error: xml::child_text(node, "Error")
                .filter(|e| !e.is_empty())
                .map(str::to_string),
        })
    }
}

/// `GetDeviceInformation`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeviceInformation {
    /// Manufacturer.
    pub manufacturer: String,
    /// Model.
    pub model: String,
    /// Firmware version.
    pub firmware_version: String,
    /// Serial number: with the hardware id, what pairs cameras across sites.
    pub serial_number: String,
    /// Hardware id.
    pub hardware_id: String,
}

/// One entry of `GetServices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// The service's namespace URI (for example [`ns::TPTZ`]).
    pub namespace: String,
    /// Where to send its requests.
    pub xaddr: String,
    /// Version, major and minor.
    pub version: (u32, u32),
}

/// The service addresses a client needs, from `GetServices` or `GetCapabilities`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceAddresses {
    /// Media v1.
    pub media: Option<String>,
    /// Media v2.
    pub media2: Option<String>,
    /// PTZ.
    pub ptz: Option<String>,
}

impl ServiceAddresses {
    /// Picks the addresses out of a `GetServices` answer.
    pub fn from_services(services: &[Service]) -> Self {
        let find = |namespace: &str| {
            services
                .iter()
                .find(|s| s.namespace == namespace)
                .map(|s| s.xaddr.clone())
        };
        ServiceAddresses {
            media: find(ns::TRT),
            media2: find(ns::TR2),
            ptz: find(ns::TPTZ),
        }
    }
}

/// A media profile, reduced to what PTZ needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The profile token every PTZ call names.
    pub token: String,
    /// The profile's name.
    pub name: String,
    /// The PTZ configuration, absent on profiles without PTZ.
    pub ptz: Option<PtzConfiguration>,
}

/// A range of one axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower bound.
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

/// A PTZ configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct PtzConfiguration {
    /// The configuration token.
    pub token: String,
    /// Its name.
    pub name: String,
    /// The PTZ node it drives.
    pub node_token: String,
    /// Default timeout of continuous moves.
    pub default_timeout: Option<Duration>,
    /// Pan and tilt limits in the generic space.
    pub pan_tilt_limits: Option<(Range, Range)>,
    /// Zoom limits.
    pub zoom_limits: Option<Range>,
}

impl PtzConfiguration {
    pub(crate) fn read(node: Node<'_, '_>) -> Result<Self> {
        let range = |n: Option<Node<'_, '_>>, axis: &str| -> Result<Option<Range>> {
            let Some(r) = n
                .and_then(|n| xml::child_any(n, "Range"))
                .and_then(|r| xml::child_any(r, axis))
            else {
                return Ok(None);
            };
            let bound = |name| {
                xml::child_text(r, name)
                    .and_then(xml::parse_float)
                    .ok_or_else(|| Error::Malformed(format!("range without numeric {name}")))
            };
            Ok(Some(Range {
                min: bound("Min")?,
                max: bound("Max")?,
            }))
        };
        let pt = xml::child_any(node, "PanTiltLimits");
        let pan_tilt_limits = match (range(pt, "XRange")?, range(pt, "YRange")?) {
            (Some(x), Some(y)) => Some((x, y)),
            _ => None,
        };
        Ok(PtzConfiguration {
            token: xml::required_attr(node, "token")?.to_string(),
            name: xml::child_text(node, "Name").unwrap_or("").to_string(),
            node_token: xml::child_text(node, "NodeToken").unwrap_or("").to_string(),
            default_timeout: xml::child_text(node, "DefaultPTZTimeout").and_then(parse_duration),
            pan_tilt_limits,
            zoom_limits: range(xml::child_any(node, "ZoomLimits"), "XRange")?,
        })
    }

    pub(crate) fn write(&self, out: &mut String, tag: &str) {
        let _ = write!(
            out,
            r#"<{tag} token="{}"><tt:Name>{}</tt:Name><tt:UseCount>1</tt:UseCount><tt:NodeToken>{}</tt:NodeToken>"#,
            escape(&self.token),
            escape(&self.name),
            escape(&self.node_token)
        );
        let _ = write!(
            out,
            concat!(
                // "Pant" is the schema's own spelling; the correct one fails validation.
                "<tt:DefaultAbsolutePantTiltPositionSpace>{}</tt:DefaultAbsolutePantTiltPositionSpace>",
                "<tt:DefaultAbsoluteZoomPositionSpace>{}</tt:DefaultAbsoluteZoomPositionSpace>",
                "<tt:DefaultRelativePanTiltTranslationSpace>{}</tt:DefaultRelativePanTiltTranslationSpace>",
                "<tt:DefaultRelativeZoomTranslationSpace>{}</tt:DefaultRelativeZoomTranslationSpace>",
                "<tt:DefaultContinuousPanTiltVelocitySpace>{}</tt:DefaultContinuousPanTiltVelocitySpace>",
                "<tt:DefaultContinuousZoomVelocitySpace>{}</tt:DefaultContinuousZoomVelocitySpace>",
            ),
            ns::SPACE_PT_POSITION,
            ns::SPACE_ZOOM_POSITION,
            ns::SPACE_PT_TRANSLATION,
            ns::SPACE_ZOOM_TRANSLATION,
            ns::SPACE_PT_VELOCITY,
            ns::SPACE_ZOOM_VELOCITY,
        );
        PtzVector::new(1.0, 1.0, 1.0).write(
            out,
            "tt:DefaultPTZSpeed",
            Some((ns::SPACE_PT_SPEED, ns::SPACE_ZOOM_SPEED)),
        );
        if let Some(timeout) = self.default_timeout {
            let _ = write!(
                out,
                "<tt:DefaultPTZTimeout>{}</tt:DefaultPTZTimeout>",
                format_duration(timeout)
            );
        }
        if let Some((x, y)) = self.pan_tilt_limits {
            let _ = write!(
                out,
                "<tt:PanTiltLimits><tt:Range><tt:URI>{}</tt:URI>{}{}</tt:Range></tt:PanTiltLimits>",
                ns::SPACE_PT_POSITION,
                write_range("XRange", x),
                write_range("YRange", y)
            );
        }
        if let Some(z) = self.zoom_limits {
            let _ = write!(
                out,
                "<tt:ZoomLimits><tt:Range><tt:URI>{}</tt:URI>{}</tt:Range></tt:ZoomLimits>",
                ns::SPACE_ZOOM_POSITION,
                write_range("XRange", z)
            );
        }
        let _ = write!(out, "</{tag}>");
    }
}

fn write_range(tag: &str, r: Range) -> String {
    format!(
        "<tt:{tag}><tt:Min>{}</tt:Min><tt:Max>{}</tt:Max></tt:{tag}>",
        r.min, r.max
    )
}

/// A PTZ node: what the mechanics can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PtzNode {
    /// The node token.
    pub token: String,
    /// Its name.
    pub name: String,
    /// How many presets the node can hold.
    pub max_presets: u32,
    /// Whether it has a home position.
    pub home_supported: bool,
    /// Whether the home position is fixed (cannot be set).
    pub fixed_home: bool,
}

impl PtzNode {
    pub(crate) fn read(node: Node<'_, '_>) -> Result<Self> {
        let max_presets = xml::child_text(node, "MaximumNumberOfPresets")
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| {
                Error::Malformed("PTZNode without a numeric MaximumNumberOfPresets".into())
            })?;
        Ok(PtzNode {
            token: xml::required_attr(node, "token")?.to_string(),
            name: xml::child_text(node, "Name").unwrap_or("").to_string(),
            max_presets,
            home_supported: xml::child_text(node, "HomeSupported")
                .and_then(xml::parse_bool)
                .unwrap_or(false),
            fixed_home: node
                .attribute("FixedHomePosition")
                .and_then(xml::parse_bool)
                .unwrap_or(false),
        })
    }

    pub(crate) fn write(&self, out: &mut String, tag: &str) {
        let space2 = |tag: &str, uri: &str| {
            format!(
                "<tt:{tag}><tt:URI>{uri}</tt:URI>{}{}</tt:{tag}>",
                write_range(
                    "XRange",
                    Range {
                        min: -1.0,
                        max: 1.0
                    }
                ),
                write_range(
                    "YRange",
                    Range {
                        min: -1.0,
                        max: 1.0
                    }
                )
            )
        };
        let space1 = |tag: &str, uri: &str, min: f64| {
            format!(
                "<tt:{tag}><tt:URI>{uri}</tt:URI>{}</tt:{tag}>",
                write_range("XRange", Range { min, max: 1.0 })
            )
        };
        let _ = write!(
            out,
            r#"<{tag} token="{}" FixedHomePosition="{}"><tt:Name>{}</tt:Name><tt:SupportedPTZSpaces>{}{}{}{}{}{}{}{}</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>{}</tt:MaximumNumberOfPresets><tt:HomeSupported>{}</tt:HomeSupported></{tag}>"#,
            escape(&self.token),
            self.fixed_home,
            escape(&self.name),
            space2("AbsolutePanTiltPositionSpace", ns::SPACE_PT_POSITION),
            space1("AbsoluteZoomPositionSpace", ns::SPACE_ZOOM_POSITION, 0.0),
            space2("RelativePanTiltTranslationSpace", ns::SPACE_PT_TRANSLATION),
            space1(
                "RelativeZoomTranslationSpace",
                ns::SPACE_ZOOM_TRANSLATION,
                -1.0
            ),
            space2("ContinuousPanTiltVelocitySpace", ns::SPACE_PT_VELOCITY),
            space1("ContinuousZoomVelocitySpace", ns::SPACE_ZOOM_VELOCITY, -1.0),
            space1("PanTiltSpeedSpace", ns::SPACE_PT_SPEED, 0.0),
            space1("ZoomSpeedSpace", ns::SPACE_ZOOM_SPEED, 0.0),
            self.max_presets,
            self.home_supported,
        );
    }
}

/// `GetServiceCapabilities` of the PTZ service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PtzServiceCapabilities {
    /// Whether `GetStatus` reports MoveStatus: without it, "wait for IDLE" must poll positions.
    pub move_status: bool,
    /// Whether `GetStatus` reports the position.
    pub status_position: bool,
}

/// Parses an `xs:duration` such as `PT5S`, `PT0.5S`, `PT1M30S` or `P0DT0H0M5S`.
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let rest = raw.trim().strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut seconds = 0.0f64;
    let mut take = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let scale = units.iter().find(|(u, _)| *u == c)?.1;
                seconds += number.parse::<f64>().ok()? * scale;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    take(date, &[('D', 86_400.0)])?;
    take(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    (seconds.is_finite() && seconds < 1e9).then(|| Duration::from_secs_f64(seconds))
}

/// Formats a duration as `xs:duration` seconds (`PT2.5S`).
pub fn format_duration(d: Duration) -> String {
    format!("PT{}S", d.as_secs_f64())
}

/// Reads a `tt:DateTime` (Date and Time children) as UTC.
pub fn read_date_time(node: Node<'_, '_>) -> Result<DateTime<Utc>> {
    let number = |parent: Option<Node<'_, '_>>, name: &str| -> Result<u32> {
        parent
            .and_then(|p| xml::child_text(p, name))
            .and_then(|t| t.parse::<u32>().ok())
            .ok_or_else(|| Error::Malformed(format!("date-time without numeric {name}")))
    };
    let date = xml::child_any(node, "Date");
    let time = xml::child_any(node, "Time");
    let year = i32::try_from(number(date, "Year")?)
        .map_err(|_| Error::Malformed("year out of range".into()))?;
    let day = NaiveDate::from_ymd_opt(year, number(date, "Month")?, number(date, "Day")?)
        .ok_or_else(|| Error::Malformed("date out of range".into()))?;
    // Leap seconds and sloppy clocks: clamp rather than refuse a usable time.
    let at = day
        .and_hms_opt(
            number(time, "Hour")?.min(23),
            number(time, "Minute")?.min(59),
            number(time, "Second")?.min(59),
        )
        .ok_or_else(|| Error::Malformed("time out of range".into()))?;
    Ok(at.and_utc())
}

/// Writes a `tt:DateTime` element named `tag`.
pub fn write_date_time(out: &mut String, tag: &str, at: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let _ = write!(
        out,
        "<{tag}><tt:Time><tt:Hour>{}</tt:Hour><tt:Minute>{}</tt:Minute><tt:Second>{}</tt:Second></tt:Time><tt:Date><tt:Year>{}</tt:Year><tt:Month>{}</tt:Month><tt:Day>{}</tt:Day></tt:Date></{tag}>",
        at.hour(),
        at.minute(),
        at.second(),
        at.year(),
        at.month(),
        at.day()
    );
}

impl PtzStatus {
    pub(crate) fn write(&self, out: &mut String, utc: DateTime<Utc>) {
        out.push_str("<tptz:PTZStatus>");
        if let Some(p) = &self.position {
            p.write(
                out,
                "tt:Position",
                Some((ns::SPACE_PT_POSITION, ns::SPACE_ZOOM_POSITION)),
            );
        }
        let _ = write!(
            out,
            "<tt:MoveStatus><tt:PanTilt>{}</tt:PanTilt><tt:Zoom>{}</tt:Zoom></tt:MoveStatus>",
            self.pan_tilt.as_str(),
            self.zoom.as_str()
        );
        if let Some(e) = &self.error {
            let _ = write!(out, "<tt:Error>{}</tt:Error>", escape(e));
        }
        let _ = write!(
            out,
            "<tt:UtcTime>{}</tt:UtcTime></tptz:PTZStatus>",
            utc.format("%Y-%m-%dT%H:%M:%SZ")
        );
    }
}

#[cfg(test)]
mod float_tests {
    use super::push_float;

    #[test]
    fn floats_are_written_shortest_without_exponent_and_read_back_exactly() {
        let mut values = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.5,
            0.1,
            0.2,
            0.3,
            1e-5,
            1e-6,
            1e-7,
            123456.0,
            0.30000000000000004,
            1e15,
            1e16,
            1e17,
            f64::MIN_POSITIVE,
            f64::MAX,
        ];
        // Positions as devices and the simulator produce them.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x % 2_000_001) as f64 / 1_000_000.0 - 1.0);
            values.push(f64::from_bits(x));
        }
        let mut same = 0;
        let mut total = 0;
        for v in values.into_iter().filter(|v| v.is_finite()) {
            let mut out = String::new();
            push_float(&mut out, v);
            let display = format!("{v}");
            assert!(!out.contains(['e', 'E']), "{out}");
            assert_eq!(out.parse::<f64>().ok(), Some(v), "{out} for {v:?}");
            assert_eq!(out.len(), display.len(), "{out} against {display}");
            same += usize::from(out == display);
            total += 1;
        }
        // Ties are rare: nearly every value is written as Display writes it.
        assert!(same * 100 >= total * 99, "{same} of {total}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("PT5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("PT0.5S"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("PT1M30S"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("P0DT0H0M5S"), Some(Duration::from_secs(5)));
        assert_eq!(parse_duration("5S"), None);
        assert_eq!(parse_duration("PT5X"), None);
        assert_eq!(
            parse_duration(&format_duration(Duration::from_millis(2500))),
            Some(Duration::from_millis(2500))
        );
    }

    #[test]
    fn preset_round_trips_and_keeps_missing_parts_missing() {
        let presets = [
            Preset {
                token: "a&b".into(),
                name: Some("Gate <1>".into()),
                position: Some(PtzVector::new(0.5, -0.25, 0.1)),
            },
            Preset {
                token: "2".into(),
                name: None,
                position: None,
            },
        ];
        let mut out = format!("<r {}>", ns::DECLARATIONS);
        for p in &presets {
            p.write(&mut out);
        }
        out.push_str("</r>");
        let doc = xml::parse(&out).expect("parses");
        let read: Vec<Preset> = xml::children_any(doc.root_element(), "Preset")
            .map(Preset::read)
            .collect::<Result<_>>()
            .expect("reads");
        assert_eq!(read, presets);
    }

    #[test]
    fn non_numeric_coordinates_are_refused() {
        let text = r#"<p token="1"><PTZPosition><PanTilt x="NaN" y="0"/></PTZPosition></p>"#;
        let doc = xml::parse(text).expect("parses");
        assert!(Preset::read(doc.root_element()).is_err());
    }
}
