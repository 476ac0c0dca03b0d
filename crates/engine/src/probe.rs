//! `tandem config probe`: reaches every binding of a [`Config`] and reports what
//! tandem will rely on: reachability, the authentication the device accepted,
//! its clock offset, the PTZ node and its preset capacity, the media profile,
//! whether preset tokens are numbers, and the device's identity.
//!
//! Probing only reads (`GetSystemDateAndTime`, `GetServices`,
//! `GetDeviceInformation`, `GetProfiles`, `GetNodes`, `GetPresets`): it is safe
//! against production sites. Bindings are probed concurrently, at most
//! [`PROBE_CONCURRENCY`] at once, so that a large installation is probed in
//! seconds without opening thousands of connections.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use tandem_core::TokenStyle;
use tandem_core::{CameraId, SiteId};
use tandem_onvif::client::{HttpTransport, Transport};
use tandem_onvif::types::{Profile, PtzNode};
use tandem_onvif::{AuthMode, ClientConfig, Device, Error};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::config::{BindingConfig, Config, OnvifSite, SiteKind};

/// Most bindings probed at once.
pub const PROBE_CONCURRENCY: usize = 16;

/// What probing one binding (one camera on one site) found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeReport {
    /// The camera.
    pub camera: CameraId,
    /// The site.
    pub site: SiteId,
    /// The device service URL probed.
    pub url: String,
    /// Whether the device answered at all (a fault or refusal still counts).
    pub reachable: bool,
    /// The failure that stopped the probe, with the call that failed.
    pub error: Option<String>,
    /// The authentication the device accepted on a call that needed it, as
    /// every call of tandem's authenticates (see `tandem_onvif::Device`), or
    /// the one it refused; `None` when not reached that far.
    pub auth: Option<Authentication>,
    /// Device clock minus ours, in whole seconds: the offset tandem's
    /// WS-Security timestamps use (ours, when the device misreports its clock).
    pub clock_offset_s: Option<i64>,
    /// The PTZ node the profile drives.
    pub ptz_node: Option<String>,
    /// How many presets that node holds.
    pub max_presets: Option<u32>,
    /// The media profile token used: the configured one, or the first with PTZ.
    pub profile: Option<String>,
    /// How the site names presets; `None` until presets were read and found
    /// (with `preset_count` at 0 there was nothing to tell by).
    pub token_style: Option<TokenStyle>,
    /// Presets the site has for the camera.
    pub preset_count: Option<usize>,
    /// The device's serial number.
    pub serial: Option<String>,
    /// The device's model.
    pub model: Option<String>,
}

/// The authentication a device accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// WS-Security UsernameToken (or a device that accepts anything we send).
    WsSecurity,
    /// HTTP Digest, after the device answered 401 with a challenge.
    HttpDigest,
    /// No credentials are configured and the device needs none.
    None,
    /// The device refused: what it said.
    Failed(String),
    /// An XProtect site: a bearer token from its identity provider, living
    /// this many seconds.
    Bearer {
        /// The token's lifetime, in seconds.
        lifetime_s: u64,
    },
}

impl From<AuthMode> for Authentication {
    fn from(mode: AuthMode) -> Self {
        match mode {
            AuthMode::WsSecurity => Authentication::WsSecurity,
            AuthMode::HttpDigest => Authentication::HttpDigest,
            AuthMode::Anonymous => Authentication::None,
        }
    }
}

impl fmt::Display for Authentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Authentication::WsSecurity => f.write_str("WS-Security"),
            Authentication::HttpDigest => f.write_str("HTTP Digest"),
            Authentication::None => f.write_str("none"),
            Authentication::Failed(why) => write!(f, "failed: {why}"),
            Authentication::Bearer { lifetime_s } => write!(f, "bearer {lifetime_s} s"),
        }
    }
}

/// Probes every binding of `config` over HTTP, in camera then site order;
/// an ONVIF site's devices trusted over HTTPS as the site says
/// ([`crate::config::OnvifSite::device_trust`]).
pub async fn probe(config: &Config) -> Vec<ProbeReport> {
    // Without an HTTP client nothing is reachable: why is said on every line.
    let http = |trust| HttpTransport::with_trust(trust).map(|t| Arc::new(t) as Arc<dyn Transport>);
    let shared = http(None).map_err(|e| format!("cannot start the HTTP client: {e}"));
    let by_site: HashMap<SiteId, Result<Arc<dyn Transport>, String>> = config
        .sites
        .iter()
        .filter_map(|site| match &site.kind {
            SiteKind::Onvif(OnvifSite {
                device_trust: Some(trust),
            }) => Some((
                site.id.clone(),
                // A CA file that cannot be read says so itself.
                http(Some(trust)).map_err(|e| e.to_string()),
            )),
            _ => None,
        })
        .collect();
    run(
        config,
        |site| by_site.get(site).unwrap_or(&shared).clone(),
        PROBE_CONCURRENCY,
    )
    .await
}

/// [`probe`] through `transport` for every binding, at most `concurrency`
/// bindings at once.
pub async fn probe_with(
    config: &Config,
    transport: Arc<dyn Transport>,
    concurrency: usize,
) -> Vec<ProbeReport> {
    run(config, |_| Ok(transport.clone()), concurrency).await
}

/// Probes every binding through the transport `transport_of` gives its
/// site, or reports why there is none.
async fn run(
    config: &Config,
    transport_of: impl Fn(&SiteId) -> Result<Arc<dyn Transport>, String>,
    concurrency: usize,
) -> Vec<ProbeReport> {
    let client = config.client_config();
    let targets = targets(config)
        .into_iter()
        .map(|target| {
            let transport = transport_of(&target.binding.site);
            (target, transport)
        })
        .collect();
    run_bounded(targets, concurrency, move |(target, transport)| {
        let client = client.clone();
        async move {
            match transport {
                Ok(transport) => probe_one(target, transport, client).await,
                Err(why) => {
                    let mut report = ProbeReport::new(&target);
                    report.error = Some(why);
                    report
                }
            }
        }
    })
    .await
}

/// One binding to probe, owned so that it can move into a task.
struct Target {
    camera: CameraId,
    binding: BindingConfig,
    /// How its site's certificate is trusted, on an XProtect site.
    xprotect: Option<crate::config::XprotectSite>,
}

fn targets(config: &Config) -> Vec<Target> {
    config
        .cameras
        .iter()
        .flat_map(|camera| {
            camera.bindings.iter().map(|binding| Target {
                camera: camera.id.clone(),
                binding: binding.clone(),
                xprotect: match config.site(&binding.site).map(|s| &s.kind) {
                    Some(SiteKind::Xprotect(xp)) => Some(xp.clone()),
                    _ => None,
                },
            })
        })
        .collect()
}

impl ProbeReport {
    fn new(target: &Target) -> Self {
        ProbeReport {
            camera: target.camera.clone(),
            site: target.binding.site.clone(),
            url: target.binding.url.clone(),
            reachable: false,
            error: None,
            auth: None,
            clock_offset_s: None,
            ptz_node: None,
            max_presets: None,
            profile: None,
            token_style: None,
            preset_count: None,
            serial: None,
            model: None,
        }
    }
}

async fn probe_one(
    target: Target,
    transport: Arc<dyn Transport>,
    client: ClientConfig,
) -> ProbeReport {
    let mut report = ProbeReport::new(&target);
    if let (Some(site), Some(camera)) = (&target.xprotect, &target.binding.xprotect_camera) {
        probe_xprotect(site, camera, &target.binding, client.timeout, &mut report).await;
        return report;
    }
    let device = Device::new(
        transport,
        target.binding.url.clone(),
        target.binding.credentials.clone(),
        client,
    );
    let result = probe_steps(&device, &target.binding, &mut report).await;
    // What the calls used, found as every call authenticates: the offset in
    // force (a device that misreports its clock ends at ours) and the mode
    // that authenticated a call that needed it.
    if let Some(offset) = device.clock_offset() {
        report.clock_offset_s = Some(whole_seconds(offset));
    }
    report.auth = device.auth_mode().map(Authentication::from);
    if let Err((call, e)) = result {
        // Anything but a connection failure or timeout means the device answered.
        report.reachable = !e.is_unreachable();
        // A refusal after another call authenticated is that call's refusal
        // (the user's rights), not a failed authentication.
        if let Error::Unauthorized {
            message, refused, ..
        } = &e
            && report.auth.is_none()
        {
            let tried = match refused {
                _ if target.binding.credentials.is_none() => {
                    "no credentials configured".to_string()
                }
                Some(mode) => format!("{mode} refused"),
                None => "refused".to_string(),
            };
            report.auth = Some(Authentication::Failed(format!("{tried}: {message}")));
        }
        report.error = Some(format!("{call}: {e}"));
    }
    report
}

/// Probes a binding on an XProtect site: the login (the token's lifetime),
/// the server's version, the camera found, its presets and whether the
/// version can recall them (2024 R2 and later).
async fn probe_xprotect(
    site: &crate::config::XprotectSite,
    camera: &str,
    binding: &BindingConfig,
    timeout: std::time::Duration,
    report: &mut ProbeReport,
) {
    let Some(credentials) = &binding.credentials else {
        report.auth = Some(Authentication::Failed("no credentials configured".into()));
        report.error = Some("an XProtect site needs a username and a password".into());
        return;
    };
    let server = match tandem_xprotect::Server::new(
        &site.url,
        tandem_xprotect::Credentials {
            username: credentials.username.clone(),
            password: credentials.password.clone(),
        },
        tandem_xprotect::ServerConfig {
            timeout,
            trust: site.trust.clone(),
            ..tandem_xprotect::ServerConfig::default()
        },
    ) {
        Ok(s) => s,
        Err(e) => {
            report.error = Some(e.to_string());
            return;
        }
    };
    let failed = |report: &mut ProbeReport, step: &str, e: tandem_xprotect::Error| {
        report.reachable = !matches!(e, tandem_xprotect::Error::Unavailable(_));
        if matches!(e, tandem_xprotect::Error::Unauthorized(_)) {
            report.auth = Some(Authentication::Failed(e.to_string()));
        }
        report.error = Some(format!("{step}: {e}"));
    };
    let version = match server.version().await {
        Ok(v) => v,
        Err(e) => return failed(report, "version", e),
    };
    report.reachable = true;
    if let Some(life) = server.token_lifetime().await {
        report.auth = Some(Authentication::Bearer {
            lifetime_s: life.as_secs(),
        });
    }
    report.model = Some(format!("XProtect {version}"));
    report.token_style = Some(TokenStyle::Opaque);
    let found = match server.find_camera(camera).await {
        Ok(c) => c,
        Err(e) => return failed(report, "camera", e),
    };
    report.serial = Some(found.id.clone());
    match server.presets(&found.id).await {
        Ok(presets) => report.preset_count = Some(presets.len()),
        Err(e) => return failed(report, "ptzPresets", e),
    }
    if version.has_ptz_tasks() {
        // tandem needs the camera's PTZ actions: control, and presets.
        match server.camera_rights(&found.id).await {
            Ok(rights) if rights.administrator => {}
            Ok(rights) => {
                let missing: Vec<&str> = rights
                    .refused
                    .iter()
                    .filter(|a| a.to_ascii_uppercase().contains("PTZ"))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    report.error = Some(format!(
                        "the XProtect user lacks {} on this camera; grant them to its role",
                        missing.join(", ")
                    ));
                }
            }
            Err(e) => failed(report, "effectivePermissions", e),
        }
    } else {
        report.error = Some(format!(
            "XProtect {version} manages presets but cannot recall them or move the camera through \
             its REST API; {} or later is needed for live control through this site",
            tandem_xprotect::Version::PTZ_TASKS
        ));
    }
}

/// An offset in whole seconds: the device answers in whole seconds, so round
/// rather than truncate.
fn whole_seconds(offset: chrono::TimeDelta) -> i64 {
    (offset.num_milliseconds() as f64 / 1000.0).round() as i64
}

/// The probe's calls in order; each failure names the call.
async fn probe_steps(
    device: &Device,
    binding: &BindingConfig,
    report: &mut ProbeReport,
) -> Result<(), (&'static str, Error)> {
    let offset = device
        .sync_clock()
        .await
        .map_err(|e| ("GetSystemDateAndTime", e))?;
    report.reachable = true;
    report.clock_offset_s = Some(whole_seconds(offset));
    device
        .service_addresses()
        .await
        .map_err(|e| ("GetServices", e))?;
    // The first call every device authenticates (GetServices may be answered
    // to anyone, as ONVIF's PRE_AUTH class allows).
    let info = device
        .get_device_information()
        .await
        .map_err(|e| ("GetDeviceInformation", e))?;
    report.serial = Some(info.serial_number);
    report.model = Some(info.model);
    let profiles = device
        .get_profiles()
        .await
        .map_err(|e| ("GetProfiles", e))?;
    let profile = choose_profile(&profiles, binding.profile.as_deref())
        .map_err(|why| ("GetProfiles", Error::Malformed(why)))?;
    report.profile = Some(profile.token.clone());
    let nodes = device.get_nodes().await.map_err(|e| ("GetNodes", e))?;
    if let Some(node) = choose_node(&nodes, profile) {
        report.ptz_node = Some(node.token.clone());
        report.max_presets = Some(node.max_presets);
    }
    let presets = device
        .get_presets(&profile.token)
        .await
        .map_err(|e| ("GetPresets", e))?;
    report.token_style = TokenStyle::of(presets.iter().map(|p| p.token.as_str()));
    report.preset_count = Some(presets.len());
    Ok(())
}

/// The configured profile, or the first with a PTZ configuration.
fn choose_profile<'a>(
    profiles: &'a [Profile],
    wanted: Option<&str>,
) -> Result<&'a Profile, String> {
    let tokens = || {
        profiles
            .iter()
            .map(|p| p.token.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match wanted {
        Some(wanted) => match profiles.iter().find(|p| p.token == wanted) {
            Some(p) if p.ptz.is_some() => Ok(p),
            Some(_) => Err(format!("profile {wanted:?} has no PTZ configuration")),
            None => Err(format!(
                "no profile {wanted:?}; the device has: {}",
                tokens()
            )),
        },
        None => profiles
            .iter()
            .find(|p| p.ptz.is_some())
            .ok_or_else(|| format!("no media profile has PTZ; the device has: {}", tokens())),
    }
}

/// The node the profile's PTZ configuration drives; the only node when the
/// configuration names none (some devices leave `NodeToken` empty).
fn choose_node<'a>(nodes: &'a [PtzNode], profile: &Profile) -> Option<&'a PtzNode> {
    let wanted = profile.ptz.as_ref().map(|c| c.node_token.as_str());
    match wanted.and_then(|w| nodes.iter().find(|n| n.token == w)) {
        Some(node) => Some(node),
        None if nodes.len() == 1 => nodes.first(),
        None => None,
    }
}

/// Runs `work` on every item, at most `limit` at once, and returns the results
/// in the items' order. Each item runs in its own task, so a slow device never
/// holds up the others beyond the bound.
pub(crate) async fn run_bounded<I, T, F, Fut>(items: Vec<I>, limit: usize, work: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let semaphore = Arc::new(Semaphore::new(limit.max(1)));
    let mut tasks = JoinSet::new();
    let count = items.len();
    for (index, item) in items.into_iter().enumerate() {
        let semaphore = semaphore.clone();
        let future = work(item);
        tasks.spawn(async move {
            // The semaphore is never closed, so acquiring only waits.
            let _permit = semaphore.acquire_owned().await;
            (index, future.await)
        });
    }
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(count).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, result)) => results[index] = Some(result),
            // A panic in a probe is a bug: surface it rather than lose a report.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    results.into_iter().flatten().collect()
}

/// The reports as a table with aligned columns, one line per binding.
pub fn render_table(reports: &[ProbeReport]) -> String {
    const HEADER: [&str; 12] = [
        "CAMERA",
        "SITE",
        "REACHABLE",
        "AUTH",
        "CLOCK",
        "NODE",
        "MAX",
        "PROFILE",
        "TOKENS",
        "SERIAL",
        "MODEL",
        "ERROR",
    ];
    let dash = || "-".to_string();
    let rows: Vec<[String; 12]> = reports
        .iter()
        .map(|r| {
            [
                r.camera.to_string(),
                r.site.to_string(),
                if r.reachable { "yes" } else { "no" }.to_string(),
                r.auth.as_ref().map_or_else(dash, |a| match a {
                    // The reason is in the error column already.
                    Authentication::Failed(_) => "failed".to_string(),
                    other => other.to_string(),
                }),
                r.clock_offset_s.map_or_else(dash, |s| match s {
                    0 => "0 s".to_string(),
                    s => format!("{s:+} s"),
                }),
                r.ptz_node.clone().unwrap_or_else(dash),
                r.max_presets.map_or_else(dash, |m| m.to_string()),
                r.profile.clone().unwrap_or_else(dash),
                match (r.token_style, r.preset_count) {
                    (Some(t), _) => t.to_string(),
                    (None, Some(0)) => "unknown (no presets)".to_string(),
                    (None, _) => dash(),
                },
                r.serial.clone().unwrap_or_else(dash),
                r.model.clone().unwrap_or_else(dash),
                r.error.clone().unwrap_or_default(),
            ]
            // Device-supplied text could carry escapes or newlines that break the table.
            .map(|cell| printable(&cell))
        })
        .collect();
    let mut widths = HEADER.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header = HEADER.map(str::to_string);
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            // The last column is not padded: no trailing spaces.
            if i + 1 < row.len() {
                line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `text` with control characters replaced, for terminal output.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_styles() {
        assert_eq!(TokenStyle::of(["1", "2", "10"]), Some(TokenStyle::Numeric));
        assert_eq!(TokenStyle::of(["1", "a1b2"]), Some(TokenStyle::Opaque));
        assert_eq!(TokenStyle::of(["+1"]), Some(TokenStyle::Opaque));
        assert_eq!(TokenStyle::of(["01"]), Some(TokenStyle::Opaque));
        assert_eq!(TokenStyle::of([""]), Some(TokenStyle::Opaque));
        assert_eq!(TokenStyle::of([]), None);
    }

    fn report(camera: &str, site: &str) -> ProbeReport {
        ProbeReport::new(&Target {
            camera: CameraId::from(camera),
            binding: BindingConfig {
                site: SiteId::from(site),
                url: "http://h/".into(),
                profile: None,
                credentials: None,
                xprotect_camera: None,
                onvif_url: None,
            },
            xprotect: None,
        })
    }

    #[test]
    fn table_columns_align_and_device_text_is_sanitized() {
        let mut up = report("gate-1", "primary");
        up.reachable = true;
        up.auth = Some(Authentication::HttpDigest);
        up.clock_offset_s = Some(7200);
        up.ptz_node = Some("ptz_node_1".into());
        up.max_presets = Some(256);
        up.profile = Some("profile_1".into());
        up.token_style = Some(TokenStyle::Opaque);
        up.serial = Some("SIM\n00001".into());
        up.model = Some("Simulated PTZ".into());
        let mut down = report("dock-3", "secondary");
        down.error = Some("GetSystemDateAndTime: cannot reach http://h/".into());
        let table = render_table(&[up, down]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("CAMERA  SITE       REACHABLE  AUTH         CLOCK"));
        assert!(lines[1].contains("HTTP Digest  +7200 s"), "{table}");
        assert!(lines[1].contains("SIM?00001"), "{table}");
        assert!(lines[2].ends_with("GetSystemDateAndTime: cannot reach http://h/"));
        // Every column starts at the same character position on every line.
        let model_at = lines[0].find("MODEL");
        assert_eq!(lines[1].find("Simulated PTZ"), model_at);
        assert!(lines.iter().all(|l| !l.ends_with(' ')));
    }

    #[tokio::test]
    async fn bounded_runs_keep_order_and_bound() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let results = run_bounded((0..40).collect(), 4, |i: u32| {
            let running = running.clone();
            let most = most.clone();
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(std::time::Duration::from_millis(u64::from(40 - i) % 7)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(results, (0..40).map(|i| i * 2).collect::<Vec<_>>());
        assert!(most.load(Ordering::SeqCst) <= 4);
    }
}
