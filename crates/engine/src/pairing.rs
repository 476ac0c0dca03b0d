//! Automatic pairing: which device endpoint on the primary site and which on
//! the secondary are the same physical camera.
//!
//! Large installations list hundreds of endpoints per site, in no shared order
//! and under unrelated addresses (a camera's own address on one site, a VMS
//! bridge's on the other). What they share is the camera's identity as the
//! device reports it: `GetDeviceInformation`'s serial number, or its hardware
//! id where the serial is empty. So pairing is three steps, I/O at the edges:
//!
//! 1. [`discover`] reads the device information of every endpoint of both
//!    sites (at most [`DISCOVERY_CONCURRENCY`] at once);
//! 2. [`pair`], a pure function, matches them by identity and lists what it
//!    could not match: endpoints without a counterpart, and identities that
//!    occur twice on one site (which can only be paired by hand);
//! 3. [`to_config_toml`] writes the pairs as `[[camera]]` tables that
//!    [`Config::parse`](crate::config::Config::parse) accepts.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use tandem_core::SiteId;
use tandem_onvif::client::{HttpTransport, Transport};
use tandem_onvif::types::DeviceInformation;
use tandem_onvif::{ClientConfig, Credentials, Device, Error};

use crate::config::MAX_ID_LEN;
use crate::probe::run_bounded;

/// Most endpoints asked for their device information at once.
pub const DISCOVERY_CONCURRENCY: usize = 16;

/// The identity that pairs a device across sites.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeviceKey {
    /// The serial number, trimmed.
    Serial(String),
    /// The hardware id, trimmed, for devices that report no serial number.
    HardwareId(String),
}

impl DeviceKey {
    /// The key of a device: its serial number, else its hardware id; `None`
    /// when it reports neither, and so cannot be paired automatically.
    pub fn of(info: &DeviceInformation) -> Option<DeviceKey> {
        let serial = info.serial_number.trim();
        let hardware = info.hardware_id.trim();
        if !serial.is_empty() {
            Some(DeviceKey::Serial(serial.to_string()))
        } else if !hardware.is_empty() {
            Some(DeviceKey::HardwareId(hardware.to_string()))
        } else {
            None
        }
    }

    /// The serial number or hardware id itself.
    pub fn value(&self) -> &str {
        match self {
            DeviceKey::Serial(v) | DeviceKey::HardwareId(v) => v,
        }
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceKey::Serial(v) => write!(f, "serial {v}"),
            DeviceKey::HardwareId(v) => write!(f, "hardware id {v}"),
        }
    }
}

/// One endpoint and what it said it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundDevice {
    /// The device service URL.
    pub url: String,
    /// Its `GetDeviceInformation` answer.
    pub info: DeviceInformation,
}

/// The same camera on both sites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The identity both endpoints reported.
    pub key: DeviceKey,
    /// The endpoint on the primary site.
    pub primary: FoundDevice,
    /// The endpoint on the secondary site.
    pub secondary: FoundDevice,
}

/// Which of the two sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    /// The primary site.
    Primary,
    /// The secondary site.
    Secondary,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Primary => "primary",
            Side::Secondary => "secondary",
        })
    }
}

/// Several endpoints of one site reporting the same identity: a cloned
/// configuration or a camera listed twice; none of them is paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The site.
    pub side: Side,
    /// The identity they share.
    pub key: DeviceKey,
    /// Their URLs, sorted.
    pub urls: Vec<String>,
}

/// The result of [`pair`]: every device is in exactly one of the lists.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pairing {
    /// Matched cameras, sorted by key.
    pub pairs: Vec<Pair>,
    /// Primary endpoints without a counterpart (or without identity), sorted by URL.
    pub unpaired_primary: Vec<FoundDevice>,
    /// Secondary endpoints without a counterpart (or without identity), sorted by URL.
    pub unpaired_secondary: Vec<FoundDevice>,
    /// Identities found more than once on one site, sorted by site and key.
    pub duplicates: Vec<Duplicate>,
}

/// Pairs the devices of the two sites by [`DeviceKey`]. Deterministic: the
/// order of the inputs does not change the result.
pub fn pair(
    primary: &[(String, DeviceInformation)],
    secondary: &[(String, DeviceInformation)],
) -> Pairing {
    /// Devices by key, and those without one.
    fn group(
        devices: &[(String, DeviceInformation)],
    ) -> (BTreeMap<DeviceKey, Vec<FoundDevice>>, Vec<FoundDevice>) {
        let mut by_key: BTreeMap<DeviceKey, Vec<FoundDevice>> = BTreeMap::new();
        let mut keyless = Vec::new();
        for (url, info) in devices {
            let found = FoundDevice {
                url: url.clone(),
                info: info.clone(),
            };
            match DeviceKey::of(info) {
                Some(key) => by_key.entry(key).or_default().push(found),
                None => keyless.push(found),
            }
        }
        (by_key, keyless)
    }

    let (mut primary_by_key, mut unpaired_primary) = group(primary);
    let (mut secondary_by_key, mut unpaired_secondary) = group(secondary);
    let keys: BTreeSet<DeviceKey> = primary_by_key
        .keys()
        .chain(secondary_by_key.keys())
        .cloned()
        .collect();
    let mut pairing = Pairing::default();
    for key in keys {
        let p = primary_by_key.remove(&key).unwrap_or_default();
        let s = secondary_by_key.remove(&key).unwrap_or_default();
        for (side, devices) in [(Side::Primary, &p), (Side::Secondary, &s)] {
            if devices.len() > 1 {
                let mut urls: Vec<String> = devices.iter().map(|d| d.url.clone()).collect();
                urls.sort();
                pairing.duplicates.push(Duplicate {
                    side,
                    key: key.clone(),
                    urls,
                });
            }
        }
        match (
            <[FoundDevice; 1]>::try_from(p),
            <[FoundDevice; 1]>::try_from(s),
        ) {
            (Ok([primary]), Ok([secondary])) => pairing.pairs.push(Pair {
                key,
                primary,
                secondary,
            }),
            (p, s) => {
                // A single device whose counterpart is missing or ambiguous.
                if let Ok([one]) = p {
                    unpaired_primary.push(one);
                }
                if let Ok([one]) = s {
                    unpaired_secondary.push(one);
                }
            }
        }
    }
    unpaired_primary.sort_by(|a, b| a.url.cmp(&b.url));
    unpaired_secondary.sort_by(|a, b| a.url.cmp(&b.url));
    pairing.unpaired_primary = unpaired_primary;
    pairing.unpaired_secondary = unpaired_secondary;
    pairing
        .duplicates
        .sort_by(|a, b| (a.side, &a.key).cmp(&(b.side, &b.key)));
    pairing
}

/// One site's endpoints to discover.
#[derive(Debug, Clone)]
pub struct SiteDevices {
    /// The site's device service URLs.
    pub urls: Vec<String>,
    /// Credentials for all of them; `None` for devices without authentication.
    pub credentials: Option<Credentials>,
}

/// An endpoint whose device information could not be read.
#[derive(Debug)]
pub struct DiscoveryFailure {
    /// The site.
    pub side: Side,
    /// The endpoint.
    pub url: String,
    /// Why.
    pub error: Error,
}

impl fmt::Display for DiscoveryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.side, self.url, self.error)
    }
}

/// What [`discover`] found.
#[derive(Debug)]
pub struct Discovery {
    /// The pairing of every endpoint that answered.
    pub pairing: Pairing,
    /// Endpoints that did not answer, by site then URL.
    pub failures: Vec<DiscoveryFailure>,
}

/// Reads every endpoint's device information over HTTP and pairs the two sites.
pub async fn discover(
    primary: &SiteDevices,
    secondary: &SiteDevices,
    client: ClientConfig,
) -> Discovery {
    match HttpTransport::new() {
        Ok(transport) => {
            discover_with(
                primary,
                secondary,
                client,
                Arc::new(transport),
                DISCOVERY_CONCURRENCY,
            )
            .await
        }
        Err(e) => {
            let message = e.to_string();
            let failures = [(Side::Primary, primary), (Side::Secondary, secondary)]
                .into_iter()
                .flat_map(|(side, devices)| {
                    unique(&devices.urls)
                        .into_iter()
                        .map(move |url| (side, url))
                })
                .map(|(side, url)| DiscoveryFailure {
                    side,
                    error: Error::Transport {
                        url: url.clone(),
                        message: format!("cannot start the HTTP client: {message}"),
                    },
                    url,
                })
                .collect();
            Discovery {
                pairing: Pairing::default(),
                failures,
            }
        }
    }
}

/// [`discover`] through `transport`, at most `concurrency` endpoints at once.
pub async fn discover_with(
    primary: &SiteDevices,
    secondary: &SiteDevices,
    client: ClientConfig,
    transport: Arc<dyn Transport>,
    concurrency: usize,
) -> Discovery {
    let mut jobs = Vec::new();
    for (side, devices) in [(Side::Primary, primary), (Side::Secondary, secondary)] {
        // An endpoint listed twice is one device, not a duplicate identity.
        for url in unique(&devices.urls) {
            jobs.push((side, url, devices.credentials.clone()));
        }
    }
    let results = run_bounded(jobs, concurrency, move |(side, url, credentials)| {
        let device = Device::new(transport.clone(), url.clone(), credentials, client.clone());
        async move {
            // The clock first: WS-Security timestamps must be on the device's clock.
            let info = match device.sync_clock().await {
                Ok(_) => device.get_device_information().await,
                Err(e) => Err(e),
            };
            (side, url, info)
        }
    })
    .await;
    let mut found_primary = Vec::new();
    let mut found_secondary = Vec::new();
    let mut failures = Vec::new();
    for (side, url, info) in results {
        match (info, side) {
            (Ok(info), Side::Primary) => found_primary.push((url, info)),
            (Ok(info), Side::Secondary) => found_secondary.push((url, info)),
            (Err(error), side) => failures.push(DiscoveryFailure { side, url, error }),
        }
    }
    failures.sort_by(|a, b| (a.side, &a.url).cmp(&(b.side, &b.url)));
    Discovery {
        pairing: pair(&found_primary, &found_secondary),
        failures,
    }
}

/// The URLs trimmed, without blanks and repeats, in their first order.
fn unique(urls: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    urls.iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty() && seen.insert(u.clone()))
        .collect()
}

/// How a site appears in the generated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedSite {
    /// The site id (`[a-z0-9_-]+`).
    pub id: SiteId,
    /// Display name, if any.
    pub name: Option<String>,
    /// Device username for the site's bindings, if the devices need one.
    pub username: Option<String>,
    /// The environment variable holding the password: the generated file never
    /// holds a password itself.
    pub password_env: Option<String>,
}

/// A camera id from a serial number or hardware id: lower case `[a-z0-9-]`,
/// at most [`MAX_ID_LEN`] characters, never empty.
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c.to_ascii_lowercase());
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(MAX_ID_LEN);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "camera".to_string()
    } else {
        slug.to_string()
    }
}

/// The pairing as a configuration file: both sites, one `[[camera]]` per pair
/// (its id slugified from the serial number), and the unpaired endpoints and
/// duplicates as comments for the operator to settle.
pub fn to_config_toml(
    pairing: &Pairing,
    primary: &GeneratedSite,
    secondary: &GeneratedSite,
) -> String {
    let mut out = String::from(
        "# Generated by `tandem config pair`: check the names, then `tandem config check`.\n",
    );
    for (site, priority) in [(primary, 1), (secondary, 2)] {
        let _ = write!(
            out,
            "\n[[site]]\nid = {}\npriority = {priority}\n",
            quote(site.id.as_str())
        );
        if let Some(name) = &site.name {
            let _ = writeln!(out, "name = {}", quote(name));
        }
        if let Some(username) = &site.username {
            let _ = writeln!(out, "username = {}", quote(username));
        }
        if let Some(var) = &site.password_env {
            let _ = writeln!(out, "password_env = {}", quote(var));
        }
    }
    let mut used = HashSet::new();
    for pair in &pairing.pairs {
        let id = unique_id(&slugify(pair.key.value()), &mut used);
        let info = &pair.primary.info;
        let _ = write!(
            out,
            "\n# {} {}, {}\n[[camera]]\nid = {}\n",
            comment(&info.manufacturer),
            comment(&info.model),
            comment(&pair.key.to_string()),
            quote(&id)
        );
        for (site, device) in [(primary, &pair.primary), (secondary, &pair.secondary)] {
            let _ = write!(
                out,
                "[camera.bindings.{}]\nurl = {}\n",
                site.id,
                quote(&device.url)
            );
        }
    }
    let unpaired = [
        (primary, &pairing.unpaired_primary),
        (secondary, &pairing.unpaired_secondary),
    ];
    if unpaired.iter().any(|(_, devices)| !devices.is_empty()) {
        out.push_str("\n# Not paired: no device on the other site reports the same identity.\n");
        for (site, devices) in unpaired {
            for d in devices {
                let identity = DeviceKey::of(&d.info)
                    .map_or_else(|| "no serial or hardware id".to_string(), |k| k.to_string());
                let _ = writeln!(
                    out,
                    "# only on {}: {} ({})",
                    site.id,
                    comment(&d.url),
                    comment(&identity)
                );
            }
        }
    }
    if !pairing.duplicates.is_empty() {
        out.push_str("\n# Not paired: the same identity on several devices of one site.\n");
        for d in &pairing.duplicates {
            let site = match d.side {
                Side::Primary => primary,
                Side::Secondary => secondary,
            };
            let _ = writeln!(
                out,
                "# {} on {}: {}",
                comment(&d.key.to_string()),
                site.id,
                comment(&d.urls.join(", "))
            );
        }
    }
    out
}

/// `base`, or `base-2`, `base-3`... when taken; recorded as taken.
fn unique_id(base: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = base.to_string();
    let mut n = 2u32;
    while used.contains(&candidate) {
        let suffix = format!("-{n}");
        let mut stem = base.to_string();
        stem.truncate(MAX_ID_LEN - suffix.len());
        candidate = format!("{}{suffix}", stem.trim_end_matches('-'));
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// A TOML basic string with every needed escape.
fn quote(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Device-supplied text made safe for a TOML comment: a newline in it would
/// end the comment and inject configuration.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn info(serial: &str, hardware: &str) -> DeviceInformation {
        DeviceInformation {
            manufacturer: "Acme".into(),
            model: "PTZ-1".into(),
            firmware_version: "1.0".into(),
            serial_number: serial.into(),
            hardware_id: hardware.into(),
        }
    }

    fn dev(url: &str, serial: &str, hardware: &str) -> (String, DeviceInformation) {
        (url.to_string(), info(serial, hardware))
    }

    fn urls(devices: &[FoundDevice]) -> Vec<&str> {
        devices.iter().map(|d| d.url.as_str()).collect()
    }

    #[test]
    fn pairs_by_serial_whatever_the_order() {
        let primary = [
            dev("p1", "S1", "h1"),
            dev("p2", "S2", "h2"),
            dev("p3", "S3", ""),
        ];
        let secondary = [
            dev("s3", " S3 ", "x"),
            dev("s1", "S1", "other"),
            dev("s2", "S2", "h2"),
        ];
        let pairing = pair(&primary, &secondary);
        let pairs: Vec<_> = pairing
            .pairs
            .iter()
            .map(|p| {
                (
                    p.key.value(),
                    p.primary.url.as_str(),
                    p.secondary.url.as_str(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [("S1", "p1", "s1"), ("S2", "p2", "s2"), ("S3", "p3", "s3")]
        );
        assert!(pairing.unpaired_primary.is_empty() && pairing.unpaired_secondary.is_empty());
        let mut reversed = secondary.to_vec();
        reversed.reverse();
        assert_eq!(pair(&primary, &reversed), pairing, "deterministic");
    }

    #[test]
    fn falls_back_to_the_hardware_id_when_the_serial_is_empty() {
        let pairing = pair(&[dev("p1", "", "HW-9")], &[dev("s1", " ", "HW-9")]);
        assert_eq!(pairing.pairs.len(), 1);
        assert_eq!(pairing.pairs[0].key, DeviceKey::HardwareId("HW-9".into()));
        // A serial never pairs with an equal hardware id: they are different namespaces.
        let pairing = pair(&[dev("p1", "X", "")], &[dev("s1", "", "X")]);
        assert!(pairing.pairs.is_empty());
        assert_eq!(urls(&pairing.unpaired_primary), ["p1"]);
        assert_eq!(urls(&pairing.unpaired_secondary), ["s1"]);
    }

    #[test]
    fn reports_the_unpaired_sorted() {
        let pairing = pair(
            &[dev("p2", "S2", ""), dev("p1", "S1", ""), dev("p0", "", "")],
            &[dev("s1", "S1", ""), dev("s9", "S9", "")],
        );
        assert_eq!(pairing.pairs.len(), 1);
        assert_eq!(urls(&pairing.unpaired_primary), ["p0", "p2"]);
        assert_eq!(urls(&pairing.unpaired_secondary), ["s9"]);
    }

    #[test]
    fn duplicates_are_reported_and_not_paired() {
        let pairing = pair(
            &[
                dev("p2", "S1", ""),
                dev("p1", "S1", ""),
                dev("p3", "S3", ""),
            ],
            &[
                dev("s1", "S1", ""),
                dev("s3", "S3", ""),
                dev("s4", "S3", ""),
            ],
        );
        assert!(pairing.pairs.is_empty());
        assert_eq!(
            pairing.duplicates,
            [
                Duplicate {
                    side: Side::Primary,
                    key: DeviceKey::Serial("S1".into()),
                    urls: vec!["p1".into(), "p2".into()],
                },
                Duplicate {
                    side: Side::Secondary,
                    key: DeviceKey::Serial("S3".into()),
                    urls: vec!["s3".into(), "s4".into()],
                },
            ]
        );
        // The single device whose counterpart is ambiguous stays unpaired.
        assert_eq!(urls(&pairing.unpaired_primary), ["p3"]);
        assert_eq!(urls(&pairing.unpaired_secondary), ["s1"]);
    }

    #[test]
    fn slugs_are_valid_camera_ids() {
        assert_eq!(slugify("SIM-00001"), "sim-00001");
        assert_eq!(slugify("  AB.12/ 3 "), "ab-12-3");
        assert_eq!(slugify("ÄÖ"), "camera");
        assert_eq!(slugify(&"x".repeat(100)).len(), MAX_ID_LEN);
        let mut used = HashSet::new();
        assert_eq!(unique_id("a-1", &mut used), "a-1");
        assert_eq!(unique_id("a-1", &mut used), "a-1-2");
        assert_eq!(unique_id("a-1", &mut used), "a-1-3");
        let long = "y".repeat(MAX_ID_LEN);
        assert_eq!(unique_id(&long, &mut used), long);
        assert!(unique_id(&long, &mut used).ends_with("y-2"));
        assert!(used.iter().all(|id| crate::config::is_valid_id(id)));
    }

    fn site(id: &str, env: Option<&str>) -> GeneratedSite {
        GeneratedSite {
            id: SiteId::from(id),
            name: Some(format!("{id} \"VMS\"")),
            username: env.map(|_| "admin".to_string()),
            password_env: env.map(str::to_string),
        }
    }

    #[test]
    fn generated_configuration_parses_back() {
        let pairing = pair(
            &[
                dev("http://10.0.0.1/onvif/device_service", "AB.12", ""),
                dev("http://10.0.0.2/onvif/device_service", "ab-12", ""),
                dev("http://10.0.0.3/onvif/device_service", "", "HW\n[[site]]"),
                dev("http://10.0.0.4/onvif/device_service", "LONELY\nid = 1", ""),
            ],
            &[
                dev("http://vms/onvif/cam?id=\"1\"", "AB.12", ""),
                dev("http://vms/onvif/cam?id=2", "ab-12", ""),
                dev("http://vms/onvif/cam?id=3", "", "HW\n[[site]]"),
            ],
        );
        assert_eq!(pairing.pairs.len(), 3);
        let text = to_config_toml(
            &pairing,
            &site("main", Some("MAIN_PW")),
            &site("backup", None),
        );
        let config = Config::parse_with_env(&text, "paired.toml", &|var| {
            (var == "MAIN_PW").then(|| "pw".to_string())
        })
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
        let ids: Vec<_> = config.cameras.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["ab-12", "ab-12-2", "hw-site"], "{text}");
        assert_eq!(config.primary().id.as_str(), "main");
        assert_eq!(config.secondary().name, "backup \"VMS\"");
        let first = &config.cameras[0];
        assert_eq!(
            first.bindings[0].url,
            "http://10.0.0.1/onvif/device_service"
        );
        assert_eq!(first.bindings[1].url, "http://vms/onvif/cam?id=\"1\"");
        assert_eq!(
            first.bindings[0].credentials,
            Some(Credentials::new("admin", "pw"))
        );
        assert_eq!(first.bindings[1].credentials, None);
        assert!(
            text.contains(
                "# only on main: http://10.0.0.4/onvif/device_service (serial LONELY?id = 1)"
            ),
            "{text}"
        );
        assert!(!text.contains("pw\""), "never a password");
    }
}
