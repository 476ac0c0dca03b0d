//! The TOML configuration: the two sites, the cameras and how each site reaches
//! each camera (its binding), credentials, the ONVIF call timeout and the
//! position tolerance.
//!
//! Reading has two stages, as ripgrep does with its flags: serde reads the file
//! into raw structures that keep every value's byte span ([`toml::Spanned`]),
//! then [`Config::parse`] checks the rules and builds the validated [`Config`].
//! Every [`Problem`] names the file, line, column and field, and all problems
//! are reported at once, so one `tandem config check` run shows everything to fix.
//!
//! Rules: exactly two sites with distinct priorities (1 is the primary); unique
//! site and camera ids of `[a-z0-9_-]`; every camera bound to every site and to
//! no unknown site; http/https URLs with a host; one camera per (URL, profile)
//! on a site; tolerance in (0, 0.5]; `timeout_ms` in 100..=60000; credentials
//! resolved binding > site > `[defaults]`, with `password_env` read at load.
//!
//! **Reserved numbers** (DESIGN.md, "Empty slots and command presets are not
//! presets"): many domes treat some preset numbers as commands (recall 95
//! opens the on-screen menu, 94 reboots). A camera's reserved numbers are
//! never written, recalled, deleted or compared, and the number allocator
//! skips them. They are the camera's own `reserved = [...]` plus those of its
//! vendor profile, `vendor = "NAME"`, a `[vendors.NAME] reserved = [...]`
//! table of this file or a built-in profile ([`BUILTIN_VENDORS`]; a table of
//! the same name replaces it). No profile applies unless a camera names it.
//!
//! ```toml
//! [service]
//! scan_every_min = 10          # full scans; 0: only on demand and when a site returns
//! header_timeout_ms = 10000    # HTTP: a request's head must arrive within this
//! body_timeout_ms = 30000      # HTTP: its body within this of the head
//! idle_timeout_ms = 60000      # HTTP: a connection without a request is kept this long
//! max_connections = 1024       # HTTP: connections served at once
//!
//! [vendors.domes-2019]
//! reserved = [33, 34, 94, 95]  # flip, pan zero, reboot, OSD menu
//!
//! [[camera]]
//! id = "gate-1"
//! vendor = "domes-2019"        # or the built-in "pelco-d"
//! reserved = [99]              # this camera's own, added to the profile's
//! bindings.primary = { url = "http://10.0.0.1/onvif/device_service" }
//! bindings.secondary = { url = "http://10.1.0.1/onvif/device_service" }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::{Range, RangeInclusive};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tandem_core::{CameraId, PresetNumber, SiteId, Tolerance};
use tandem_onvif::{ClientConfig, Credentials};
use toml::Spanned;

/// Per-call ONVIF timeout when `[defaults] timeout_ms` is not given.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
/// Accepted `timeout_ms`: under 100 ms even a LAN device times out; over a
/// minute a dead site would stall operators for too long.
pub const TIMEOUT_MS_RANGE: RangeInclusive<u64> = 100..=60_000;
/// Largest accepted tolerance: half the pan range would call any two positions equal.
pub const MAX_TOLERANCE: f64 = 0.5;
/// Where the store is (`[store]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// One SQLite file (`path`), resolved against the configuration file's
    /// folder: one `tandem serve` (and any number of CLI runs) on one machine.
    Sqlite(PathBuf),
    /// A PostgreSQL database (`url`): several `tandem serve` instances. Its
    /// password is never in the file: read from `password_file`, or the
    /// variable `password_env` names (`TANDEM_STORE_PASSWORD` by default),
    /// when the store is opened.
    Postgres {
        /// `postgres://user@host:port/database`, without a password.
        url: String,
        /// The variable holding the password, when not the default.
        password_env: Option<String>,
        /// The file holding the password (its first line), resolved against
        /// the configuration file's folder.
        password_file: Option<PathBuf>,
    },
}

/// The variable a PostgreSQL store's password is read from by default.
pub const STORE_PASSWORD_ENV: &str = "TANDEM_STORE_PASSWORD";

impl StoreConfig {
    /// The PostgreSQL password, read now: from `password_file`, else from
    /// `password_env` (or [`STORE_PASSWORD_ENV`]); `None` when neither holds
    /// one (a server that trusts the host, or a client certificate).
    pub fn password(&self) -> Result<Option<String>, String> {
        let StoreConfig::Postgres {
            password_env,
            password_file,
            ..
        } = self
        else {
            return Ok(None);
        };
        if let Some(file) = password_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("[store] password_file {}: {e}", file.display()))?;
            let line = text
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches('\r');
            return Ok(Some(line.to_string()));
        }
        let var = password_env.as_deref().unwrap_or(STORE_PASSWORD_ENV);
        match std::env::var(var) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) if password_env.is_none() => Ok(None),
            Err(e) => Err(format!("[store] password_env {var}: {e}")),
        }
    }

    /// The store, for messages: the file, or the URL (which holds no password).
    pub fn describe(&self) -> String {
        match self {
            StoreConfig::Sqlite(path) => path.display().to_string(),
            StoreConfig::Postgres { url, .. } => url.clone(),
        }
    }
}

/// Store file name, in the configuration file's folder, when `[store] path` is not given.
pub const DEFAULT_STORE_FILE: &str = "tandem.db";
/// Longest site or camera id.
pub const MAX_ID_LEN: usize = 64;
/// Longest display name.
const MAX_NAME_LEN: usize = 128;
/// Longest profile token: ONVIF's `ReferenceToken` is at most 64 characters.
const MAX_TOKEN_LEN: usize = 64;
/// Minutes between full scans when `[service] scan_every_min` is not given: a
/// difference that slipped past the scan when a site returned is seen soon.
pub const DEFAULT_SCAN_EVERY_MIN: u64 = 10;
/// Longest accepted `scan_every_min`: a day.
pub const MAX_SCAN_EVERY_MIN: u64 = 1_440;
/// Accepted `[service]` HTTP timeouts, in milliseconds: under 100 ms a
/// slow network would lose requests; over 10 minutes a slow client would
/// hold a connection for too long.
pub const HTTP_TIMEOUT_MS_RANGE: RangeInclusive<i64> = 100..=600_000;
/// Accepted `[service] max_connections`.
pub const MAX_CONNECTIONS_RANGE: RangeInclusive<i64> = 1..=65_536;

/// Limits on the HTTP service's connections (`[service]`): see
/// `tandem_server::ConnectionLimits`, which `tandem serve` builds from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// `header_timeout_ms`: a request's line and headers must arrive within
    /// this (default 10 s).
    pub header_timeout: Duration,
    /// `body_timeout_ms`: a request's body must arrive within this of its
    /// head (default 30 s).
    pub body_timeout: Duration,
    /// `idle_timeout_ms`: a connection without a request is kept this long
    /// (default 60 s).
    pub idle_timeout: Duration,
    /// `max_connections`: connections served at once (default 1024).
    pub max_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
        }
    }
}

/// Vendor profiles every configuration knows, applied only to cameras that
/// name them: (name, reserved numbers, what they do). `pelco-d` is the common
/// Pelco-D convention of many domes (recall 33 flips, 34 pans to zero, 94
/// reboots, 95 opens the on-screen menu); check the device's manual.
pub const BUILTIN_VENDORS: &[(&str, &[u32], &str)] = &[(
    "pelco-d",
    &[33, 34, 94, 95],
    "33 flip, 34 pan zero, 94 reboot, 95 on-screen menu",
)];

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was read from, as given (for messages).
    pub source: PathBuf,
    /// Exactly two sites, sorted by priority: the primary first.
    pub sites: Vec<SiteConfig>,
    /// The cameras in file order.
    pub cameras: Vec<CameraConfig>,
    /// Where the store is: a SQLite file (one instance) or a PostgreSQL
    /// database (several instances).
    pub store: StoreConfig,
    /// Time bound of one ONVIF call.
    pub timeout: Duration,
    /// Position tolerance of cameras that set none.
    pub tolerance: Tolerance,
    /// Time between full scans (`[service] scan_every_min`); `None`: only on
    /// demand and when a site returns.
    pub scan_every: Option<Duration>,
    /// Limits on the HTTP service's connections (`[service]`).
    pub http: HttpLimits,
}

/// One site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// The site's id.
    pub id: SiteId,
    /// Display name (the id when not given).
    pub name: String,
    /// 1 is preferred; the lower number is the primary.
    pub priority: u32,
    /// The site's credentials (site, else `[defaults]`), for tools that reach
    /// devices of the site without a binding, such as pairing.
    pub credentials: Option<Credentials>,
    /// How tandem reaches the site's cameras.
    pub kind: SiteKind,
}

/// How tandem reaches a site's cameras.
#[derive(Debug, Clone, PartialEq)]
pub enum SiteKind {
    /// ONVIF to each camera (or to a VMS's ONVIF bridge): `kind = "onvif"`,
    /// the default; with how the devices' HTTPS certificates are trusted.
    Onvif(OnvifSite),
    /// A Milestone XProtect installation through its REST API, presets kept
    /// in the VMS: `kind = "xprotect"`.
    Xprotect(XprotectSite),
}

impl Default for SiteKind {
    /// An ONVIF site that accepts any device certificate.
    fn default() -> Self {
        SiteKind::Onvif(OnvifSite::default())
    }
}

impl SiteKind {
    /// The kind as the configuration and the API spell it.
    pub fn as_str(&self) -> &'static str {
        match self {
            SiteKind::Onvif(_) => "onvif",
            SiteKind::Xprotect(_) => "xprotect",
        }
    }
}

/// How an ONVIF site's devices are reached over HTTPS.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OnvifSite {
    /// Which certificates its devices may present (`ca_file` or
    /// `fingerprint` on the site); `None`, the default, accepts any, as
    /// self-signed devices need. Bindings whose URL is `http://` are not
    /// concerned.
    pub device_trust: Option<tandem_onvif::tls::Trust>,
}

/// Where an XProtect site's management server is and how its certificate is trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct XprotectSite {
    /// The management server's address (`https://vms.example`).
    pub url: String,
    /// Which certificates it may present over HTTPS.
    pub trust: tandem_xprotect::Trust,
}

/// One camera and how every site reaches it.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraConfig {
    /// The camera's id.
    pub id: CameraId,
    /// Display name (the id when not given).
    pub name: String,
    /// Largest per-axis position difference still counted as equal.
    pub tolerance: Tolerance,
    /// Camera groups: roles may grant permissions on a group only.
    pub groups: Vec<String>,
    /// The vendor profile it names, if any.
    pub vendor: Option<String>,
    /// Numbers the device treats as commands: its own and its vendor
    /// profile's. Never written, recalled, deleted or compared.
    pub reserved: BTreeSet<PresetNumber>,
    /// Its lens and the degrees its generic ranges span, for click to
    /// centre and area zoom (a speed dome's unless `optics` says otherwise).
    pub optics: tandem_core::Optics,
    /// One binding per site, in the order of [`Config::sites`].
    pub bindings: Vec<BindingConfig>,
}

impl CameraConfig {
    /// The binding of `site`.
    pub fn binding(&self, site: &SiteId) -> Option<&BindingConfig> {
        self.bindings.iter().find(|b| &b.site == site)
    }
}

/// How one site reaches one camera.
#[derive(Debug, Clone, PartialEq)]
pub struct BindingConfig {
    /// The site.
    pub site: SiteId,
    /// The ONVIF device service URL.
    pub url: String,
    /// The media profile token; `None` means the first profile with PTZ.
    pub profile: Option<String>,
    /// Resolved credentials (binding, else site, else `[defaults]`); `None` when
    /// none are configured anywhere, for devices without authentication.
    pub credentials: Option<Credentials>,
    /// On an XProtect site: the camera there, by GUID or by its unique name
    /// (`camera = "..."`); `url` is then the site's management server.
    pub xprotect_camera: Option<String>,
    /// On an XProtect site: the camera's own ONVIF device service
    /// (`onvif_url = "..."`), for what XProtect's REST API cannot do:
    /// continuous moves, stops and pictures.
    pub onvif_url: Option<String>,
}

impl Config {
    /// Reads and checks the file at `path`; `password_env` variables are read now.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Checks `text`; `path` names the file in messages and anchors `[store] path`.
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, path, &|name| std::env::var(name).ok())
    }

    /// [`Config::parse`] with `env` in place of the process environment, so that
    /// tests and embedders need not change the environment of the whole process.
    pub fn parse_with_env(
        text: &str,
        path: impl AsRef<Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let mut checker = Checker::new(path, text, env);
        let raw: RawFile = match toml::from_str(text) {
            Ok(raw) => raw,
            Err(e) => {
                checker.syntax(&e);
                return Err(checker.into_error());
            }
        };
        let config = checker.check(raw);
        if checker.problems.is_empty() {
            Ok(config)
        } else {
            Err(checker.into_error())
        }
    }

    /// The primary site (lowest priority number). A `Config` from
    /// [`Config::parse`] always has two sites; one built by hand must too.
    pub fn primary(&self) -> &SiteConfig {
        &self.sites[0]
    }

    /// The secondary site.
    pub fn secondary(&self) -> &SiteConfig {
        &self.sites[1]
    }

    /// A site by id.
    pub fn site(&self, id: &SiteId) -> Option<&SiteConfig> {
        self.sites.iter().find(|s| &s.id == id)
    }

    /// A camera by id.
    pub fn camera(&self, id: &CameraId) -> Option<&CameraConfig> {
        self.cameras.iter().find(|c| &c.id == id)
    }

    /// The ONVIF client limits this configuration asks for.
    pub fn client_config(&self) -> ClientConfig {
        ClientConfig {
            timeout: self.timeout,
            ..ClientConfig::default()
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file was read and is wrong: every problem, sorted by position.
    #[error("{}", render_problems(.0))]
    Invalid(Vec<Problem>),
}

impl ConfigError {
    /// The problems found, empty when the file could not be read.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid(problems) => problems,
        }
    }
}

fn render_problems(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(Problem::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// One thing wrong in the file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, as given.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What the field belongs to, such as `camera "gate-1"` or `[defaults]`.
    pub subject: Option<String>,
    /// The field, relative to the subject, such as `bindings.tertiary`; empty
    /// for syntax errors, which are not about one field.
    pub field: String,
    /// What is wrong and, where it helps, how to fix it.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file.display(), self.line, self.column)?;
        if let Some(subject) = &self.subject {
            write!(f, "{subject}: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.detail)
    }
}

// The raw file, as serde reads it. Integers are read wide (i64) so that a
// negative or huge value gets this module's range message, not a serde one.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    defaults: Option<RawDefaults>,
    store: Option<RawStore>,
    service: Option<RawService>,
    #[serde(default)]
    vendors: BTreeMap<Spanned<String>, RawVendor>,
    #[serde(default)]
    site: Vec<Spanned<RawSite>>,
    #[serde(default)]
    camera: Vec<Spanned<RawCamera>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<i64>>,
    tolerance: Option<Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    scan_every_min: Option<Spanned<i64>>,
    header_timeout_ms: Option<Spanned<i64>>,
    body_timeout_ms: Option<Spanned<i64>>,
    idle_timeout_ms: Option<Spanned<i64>>,
    max_connections: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVendor {
    reserved: Vec<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    id: Spanned<String>,
    name: Option<Spanned<String>>,
    priority: Spanned<i64>,
    kind: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    ca_file: Option<Spanned<String>>,
    fingerprint: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCamera {
    id: Spanned<String>,
    name: Option<Spanned<String>>,
    tolerance: Option<Spanned<f64>>,
    groups: Option<Vec<Spanned<String>>>,
    vendor: Option<Spanned<String>>,
    reserved: Option<Vec<Spanned<i64>>>,
    optics: Option<Spanned<RawOptics>>,
    bindings: Option<BTreeMap<Spanned<String>, RawBinding>>,
}

/// `optics = { wide_hfov_deg = 60, tele_hfov_deg = 4, pan_range_deg = 360, tilt_range_deg = 180 }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOptics {
    wide_hfov_deg: Option<f64>,
    tele_hfov_deg: Option<f64>,
    pan_range_deg: Option<f64>,
    tilt_range_deg: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBinding {
    url: Option<Spanned<String>>,
    camera: Option<Spanned<String>>,
    onvif_url: Option<Spanned<String>>,
    profile: Option<Spanned<String>>,
    username: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_env: Option<Spanned<String>>,
}

/// The credential fields of one level (defaults, site or binding).
struct RawCredentials<'a> {
    username: Option<&'a Spanned<String>>,
    password: Option<&'a Spanned<String>>,
    password_env: Option<&'a Spanned<String>>,
}

/// One level's credentials, checked and with its password read.
#[derive(Clone, Default)]
struct Level {
    subject: Option<String>,
    username: Option<(Range<usize>, String)>,
    password: Option<Secret>,
}

#[derive(Clone)]
enum Secret {
    /// The password, from the file or the environment.
    Known(Range<usize>, String),
    /// `password_env` names an unset variable: already reported.
    Unavailable,
}

/// Byte offsets to 1-based line and column.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    fn locate(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        // `starts[0]` is 0, so at least one start is at or before any offset.
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        // Columns count characters, as editors do; a span inside a character
        // (which toml never produces) falls back to bytes.
        let column = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        (line, column + 1)
    }
}

/// Collects problems while building the [`Config`].
struct Checker<'a> {
    file: &'a Path,
    index: LineIndex<'a>,
    env: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn new(file: &'a Path, text: &'a str, env: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Checker {
            file,
            index: LineIndex::new(text),
            env,
            problems: Vec::new(),
        }
    }

    fn report(
        &mut self,
        span: Range<usize>,
        subject: Option<&str>,
        field: &str,
        detail: impl Into<String>,
    ) {
        let (line, column) = self.index.locate(span.start);
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            line,
            column,
            subject: subject.map(str::to_string),
            field: field.to_string(),
            detail: detail.into(),
        });
    }

    fn into_error(mut self) -> ConfigError {
        // Credentials shared by many bindings would repeat one problem per binding.
        self.problems.sort_by(|a, b| {
            (a.line, a.column, &a.subject, &a.field, &a.detail)
                .cmp(&(b.line, b.column, &b.subject, &b.field, &b.detail))
        });
        self.problems.dedup();
        ConfigError::Invalid(self.problems)
    }

    /// A TOML syntax or shape error (wrong type, unknown or missing field).
    fn syntax(&mut self, e: &toml::de::Error) {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim().to_string();
        let field = quoted_field(&message)
            .or_else(|| key_before(self.index.text, span.start))
            .unwrap_or_default();
        self.report(span, None, &field, message);
    }

    fn check(&mut self, raw: RawFile) -> Config {
        let source = self.file.to_path_buf();
        let (timeout, tolerance, defaults) = self.check_defaults(raw.defaults.as_ref());
        let store = self.check_store(raw.store.as_ref());
        let scan_every = self.check_service(raw.service.as_ref());
        let http = self.check_http(raw.service.as_ref());
        let vendors = self.check_vendors(&raw.vendors);
        let (sites, site_levels) = self.check_sites(&raw.site, &defaults);
        let mut cameras = self.check_cameras(
            &raw.camera,
            &raw.site,
            &sites,
            &site_levels,
            &defaults,
            tolerance,
        );
        // `check_cameras` builds one camera per [[camera]] table, in order.
        for (camera, raw) in cameras.iter_mut().zip(&raw.camera) {
            self.check_reserved_of(camera, raw.get_ref(), &vendors);
        }
        Config {
            source,
            sites,
            cameras,
            store,
            timeout,
            tolerance,
            scan_every,
            http,
        }
    }

    /// The `[service]` HTTP limits, each in its range, defaults where not given.
    fn check_http(&mut self, service: Option<&RawService>) -> HttpLimits {
        let defaults = HttpLimits::default();
        let Some(service) = service else {
            return defaults;
        };
        let mut timeout = |value: &Option<Spanned<i64>>, field: &str, default: Duration| {
            let Some(value) = value else {
                return default;
            };
            match u64::try_from(*value.get_ref()) {
                Ok(ms) if HTTP_TIMEOUT_MS_RANGE.contains(value.get_ref()) => {
                    Duration::from_millis(ms)
                }
                _ => {
                    self.report(
                        value.span(),
                        Some("[service]"),
                        field,
                        format!(
                            "{} is outside {}..={} (milliseconds)",
                            value.get_ref(),
                            HTTP_TIMEOUT_MS_RANGE.start(),
                            HTTP_TIMEOUT_MS_RANGE.end()
                        ),
                    );
                    default
                }
            }
        };
        let header_timeout = timeout(
            &service.header_timeout_ms,
            "header_timeout_ms",
            defaults.header_timeout,
        );
        let body_timeout = timeout(
            &service.body_timeout_ms,
            "body_timeout_ms",
            defaults.body_timeout,
        );
        let idle_timeout = timeout(
            &service.idle_timeout_ms,
            "idle_timeout_ms",
            defaults.idle_timeout,
        );
        let max_connections = match &service.max_connections {
            None => defaults.max_connections,
            Some(value) => match usize::try_from(*value.get_ref()) {
                Ok(n) if MAX_CONNECTIONS_RANGE.contains(value.get_ref()) => n,
                _ => {
                    self.report(
                        value.span(),
                        Some("[service]"),
                        "max_connections",
                        format!(
                            "{} is outside {}..={}",
                            value.get_ref(),
                            MAX_CONNECTIONS_RANGE.start(),
                            MAX_CONNECTIONS_RANGE.end()
                        ),
                    );
                    defaults.max_connections
                }
            },
        };
        HttpLimits {
            header_timeout,
            body_timeout,
            idle_timeout,
            max_connections,
        }
    }

    fn check_service(&mut self, service: Option<&RawService>) -> Option<Duration> {
        let minutes = |m: u64| (m > 0).then(|| Duration::from_secs(m * 60));
        let Some(every) = service.and_then(|s| s.scan_every_min.as_ref()) else {
            return minutes(DEFAULT_SCAN_EVERY_MIN);
        };
        match u64::try_from(*every.get_ref()) {
            Ok(m) if m <= MAX_SCAN_EVERY_MIN => minutes(m),
            _ => {
                self.report(
                    every.span(),
                    Some("[service]"),
                    "scan_every_min",
                    format!(
                        "{} is outside 0..={MAX_SCAN_EVERY_MIN} (minutes between full scans; 0: only on demand and when a site returns)",
                        every.get_ref()
                    ),
                );
                minutes(DEFAULT_SCAN_EVERY_MIN)
            }
        }
    }

    /// The vendor profiles: the built-in ones, replaced by tables of the same name.
    fn check_vendors(
        &mut self,
        raw: &BTreeMap<Spanned<String>, RawVendor>,
    ) -> BTreeMap<String, BTreeSet<PresetNumber>> {
        let mut vendors: BTreeMap<String, BTreeSet<PresetNumber>> = BUILTIN_VENDORS
            .iter()
            .map(|(name, numbers, _)| {
                let numbers = numbers
                    .iter()
                    .filter_map(|n| PresetNumber::new(*n).ok())
                    .collect();
                (name.to_string(), numbers)
            })
            .collect();
        for (name, vendor) in raw {
            let subject = format!("[vendors.{}]", name.get_ref());
            let valid = match id_error(name.get_ref()) {
                Some(why) => {
                    self.report(name.span(), Some(&subject), "name", why);
                    false
                }
                None => true,
            };
            let numbers = self.check_numbers(&vendor.reserved, &subject);
            if valid {
                vendors.insert(name.get_ref().clone(), numbers);
            }
        }
        vendors
    }

    /// Preset numbers of a `reserved` list, each in 1..=9999.
    fn check_numbers(&mut self, raw: &[Spanned<i64>], subject: &str) -> BTreeSet<PresetNumber> {
        let mut numbers = BTreeSet::new();
        for n in raw {
            match u32::try_from(*n.get_ref())
                .ok()
                .and_then(|n| PresetNumber::new(n).ok())
            {
                Some(number) => {
                    numbers.insert(number);
                }
                None => self.report(
                    n.span(),
                    Some(subject),
                    "reserved",
                    format!(
                        "{} is not a preset number (1 to {})",
                        n.get_ref(),
                        tandem_core::preset::MAX_NUMBER
                    ),
                ),
            }
        }
        numbers
    }

    /// A camera's reserved numbers: its own and its vendor profile's.
    fn check_reserved_of(
        &mut self,
        camera: &mut CameraConfig,
        raw: &RawCamera,
        vendors: &BTreeMap<String, BTreeSet<PresetNumber>>,
    ) {
        let subject = format!("camera {:?}", camera.id.as_str());
        let mut reserved =
            self.check_numbers(raw.reserved.as_deref().unwrap_or_default(), &subject);
        if let Some(vendor) = &raw.vendor {
            match vendors.get(vendor.get_ref()) {
                Some(numbers) => {
                    reserved.extend(numbers.iter().copied());
                    camera.vendor = Some(vendor.get_ref().clone());
                }
                None => {
                    let known: Vec<&str> = vendors.keys().map(String::as_str).collect();
                    self.report(
                        vendor.span(),
                        Some(&subject),
                        "vendor",
                        format!(
                            "no vendor profile {:?}; define [vendors.{}] with its reserved numbers, or use one of: {}",
                            vendor.get_ref(),
                            vendor.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        camera.reserved = reserved;
    }

    fn check_defaults(&mut self, defaults: Option<&RawDefaults>) -> (Duration, Tolerance, Level) {
        let subject = Some("[defaults]");
        let mut timeout = Duration::from_millis(DEFAULT_TIMEOUT_MS);
        let mut tolerance = Tolerance::default();
        let Some(d) = defaults else {
            return (timeout, tolerance, Level::default());
        };
        if let Some(ms) = &d.timeout_ms {
            match u64::try_from(*ms.get_ref()) {
                Ok(value) if TIMEOUT_MS_RANGE.contains(&value) => {
                    timeout = Duration::from_millis(value);
                }
                _ => self.report(
                    ms.span(),
                    subject,
                    "timeout_ms",
                    format!(
                        "{} is outside {}..={} (milliseconds per ONVIF call)",
                        ms.get_ref(),
                        TIMEOUT_MS_RANGE.start(),
                        TIMEOUT_MS_RANGE.end()
                    ),
                ),
            }
        }
        if let Some(t) = &d.tolerance
            && let Some(value) = self.check_tolerance(t, subject)
        {
            tolerance = value;
        }
        let level = self.level(
            subject,
            RawCredentials {
                username: d.username.as_ref(),
                password: d.password.as_ref(),
                password_env: d.password_env.as_ref(),
            },
        );
        (timeout, tolerance, level)
    }

    fn check_tolerance(&mut self, t: &Spanned<f64>, subject: Option<&str>) -> Option<Tolerance> {
        let value = *t.get_ref();
        if value.is_finite() && value > 0.0 && value <= MAX_TOLERANCE {
            Some(Tolerance(value))
        } else {
            self.report(
                t.span(),
                subject,
                "tolerance",
                format!("{value} is outside (0, {MAX_TOLERANCE}] (generic position units)"),
            );
            None
        }
    }

    fn check_store(&mut self, store: Option<&RawStore>) -> StoreConfig {
        let folder = self.file.parent().unwrap_or(Path::new(""));
        if let Some(raw) = store
            && let Some(url) = &raw.url
        {
            return self.check_store_url(raw, url, folder);
        }
        if let Some(raw) = store {
            for (field, value) in [
                ("password_env", &raw.password_env),
                ("password_file", &raw.password_file),
            ] {
                if let Some(value) = value {
                    self.report(
                        value.span(),
                        Some("[store]"),
                        field,
                        "is for a PostgreSQL store: give `url` too, or remove it",
                    );
                }
            }
        }
        StoreConfig::Sqlite(self.check_store_path(store))
    }

    fn check_store_url(
        &mut self,
        raw: &RawStore,
        url: &Spanned<String>,
        folder: &Path,
    ) -> StoreConfig {
        if let Some(path) = &raw.path {
            self.report(
                path.span(),
                Some("[store]"),
                "path",
                "give either path (SQLite) or url (PostgreSQL), not both",
            );
        }
        let text = url.get_ref().trim();
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            self.report(
                url.span(),
                Some("[store]"),
                "url",
                "must be a PostgreSQL URL, such as \"postgres://tandem@db.example/tandem\"",
            );
        } else if text
            .split_once("://")
            .and_then(|(_, rest)| rest.split(['@', '/']).next().filter(|_| rest.contains('@')))
            .is_some_and(|userinfo| userinfo.contains(':'))
        {
            // A password in the URL would sit in a file that is copied,
            // versioned and shown; it belongs in a file of its own.
            self.report(
                url.span(),
                Some("[store]"),
                "url",
                "must not hold a password: use password_file or password_env \
                 (TANDEM_STORE_PASSWORD by default)",
            );
        }
        if raw.password_env.is_some()
            && let Some(file) = &raw.password_file
        {
            self.report(
                file.span(),
                Some("[store]"),
                "password_file",
                "give either password_env or password_file, not both",
            );
        }
        StoreConfig::Postgres {
            url: text.to_string(),
            password_env: raw.password_env.as_ref().map(|v| v.get_ref().clone()),
            password_file: raw.password_file.as_ref().map(|f| folder.join(f.get_ref())),
        }
    }

    fn check_store_path(&mut self, store: Option<&RawStore>) -> PathBuf {
        let folder = self.file.parent().unwrap_or(Path::new(""));
        let Some(path) = store.and_then(|s| s.path.as_ref()) else {
            return folder.join(DEFAULT_STORE_FILE);
        };
        if path.get_ref().trim().is_empty() || path.get_ref().contains('\0') {
            self.report(
                path.span(),
                Some("[store]"),
                "path",
                "must name a file, such as \"tandem.db\"",
            );
            return folder.join(DEFAULT_STORE_FILE);
        }
        // `join` keeps an absolute path as it is.
        folder.join(path.get_ref())
    }

    /// Checks the sites; returns them sorted by priority, with their credential levels.
    fn check_sites(
        &mut self,
        raw: &[Spanned<RawSite>],
        defaults: &Level,
    ) -> (Vec<SiteConfig>, HashMap<SiteId, Level>) {
        if raw.len() != 2 {
            // At the first site too many, or at the last one when too few.
            let span = match raw.get(2).or(raw.last()) {
                Some(site) => site.span(),
                None => 0..0,
            };
            self.report(
                span,
                None,
                "site",
                format!(
                    "tandem keeps a primary and a secondary site identical, so exactly two [[site]] tables are needed; found {}",
                    raw.len()
                ),
            );
        }
        let mut sites: Vec<SiteConfig> = Vec::new();
        let mut levels = HashMap::new();
        let mut seen_ids: HashMap<String, usize> = HashMap::new();
        let mut seen_priorities: HashMap<u32, (String, usize)> = HashMap::new();
        for spanned in raw {
            let site = spanned.get_ref();
            let id_text = site.id.get_ref();
            let subject = format!("site {id_text:?}");
            let subject = Some(subject.as_str());
            let mut valid = self.check_id(&site.id, subject);
            let (line, _) = self.index.locate(site.id.span().start);
            if let Some(first) = seen_ids.get(id_text) {
                self.report(
                    site.id.span(),
                    subject,
                    "id",
                    format!("another site already has this id (line {first})"),
                );
                valid = false;
            } else {
                seen_ids.insert(id_text.clone(), line);
            }
            let priority = match u32::try_from(*site.priority.get_ref()) {
                Ok(p) if p >= 1 => Some(p),
                _ => {
                    self.report(
                        site.priority.span(),
                        subject,
                        "priority",
                        format!(
                            "{} is not a whole number of at least 1 (1 is the primary)",
                            site.priority.get_ref()
                        ),
                    );
                    None
                }
            };
            if let Some(p) = priority {
                let (line, _) = self.index.locate(site.priority.span().start);
                if let Some((other, other_line)) = seen_priorities.get(&p) {
                    self.report(
                        site.priority.span(),
                        subject,
                        "priority",
                        format!(
                            "{p} is also the priority of site {other:?} (line {other_line}); priorities must differ so that one site is the primary"
                        ),
                    );
                    valid = false;
                } else {
                    seen_priorities.insert(p, (id_text.clone(), line));
                }
            }
            let name = self.check_name(site.name.as_ref(), id_text, subject);
            let level = self.level(
                subject,
                RawCredentials {
                    username: site.username.as_ref(),
                    password: site.password.as_ref(),
                    password_env: site.password_env.as_ref(),
                },
            );
            let kind = self.check_kind(site, subject);
            let (Some(priority), true, Some(kind)) = (priority, valid, kind) else {
                continue;
            };
            let id = SiteId(id_text.clone());
            let credentials = self.combine(&[&level, defaults], false);
            levels.insert(id.clone(), level);
            sites.push(SiteConfig {
                id,
                name,
                priority,
                credentials,
                kind,
            });
        }
        sites.sort_by_key(|s| s.priority);
        (sites, levels)
    }

    /// The site's kind, with how its certificates are trusted and, for
    /// XProtect, its server; `None` when something about them was reported.
    fn check_kind(&mut self, site: &RawSite, subject: Option<&str>) -> Option<SiteKind> {
        let kind = site.kind.as_ref().map(|k| k.get_ref().as_str());
        match kind {
            None | Some("onvif") => {
                if let Some(url) = &site.url {
                    self.report(
                        url.span(),
                        subject,
                        "url",
                        "only an XProtect site (kind = \"xprotect\") has this; an ONVIF site's \
                         addresses are in each camera's binding",
                    );
                }
                // Checked even after a stray url, so that both are reported at once.
                let device_trust = self.check_trust(site, subject);
                let device_trust = device_trust.filter(|_| site.url.is_none())?;
                Some(SiteKind::Onvif(OnvifSite { device_trust }))
            }
            Some("xprotect") => {
                let Some(url) = &site.url else {
                    let span = site.kind.as_ref().map_or(0..0, |k| k.span());
                    self.report(
                        span,
                        subject,
                        "url",
                        "an XProtect site needs url, its management server's address \
                         (such as \"https://vms.example\")",
                    );
                    return None;
                };
                if let Err(why) = check_url(url.get_ref()) {
                    self.report(url.span(), subject, "url", why);
                    return None;
                }
                let trust = self.check_trust(site, subject)?;
                Some(SiteKind::Xprotect(XprotectSite {
                    url: url.get_ref().trim_end_matches('/').to_string(),
                    trust: trust.unwrap_or_default(),
                }))
            }
            Some(other) => {
                let span = site.kind.as_ref().map_or(0..0, |k| k.span());
                self.report(
                    span,
                    subject,
                    "kind",
                    format!(
                        "{other:?} is not a site kind; use \"onvif\" (the default) or \"xprotect\""
                    ),
                );
                None
            }
        }
    }

    /// The site's `ca_file` (relative to the configuration's folder) or
    /// `fingerprint`: `Some(None)` when it has neither, `None` when
    /// something about them was reported.
    fn check_trust(
        &mut self,
        site: &RawSite,
        subject: Option<&str>,
    ) -> Option<Option<tandem_onvif::tls::Trust>> {
        use tandem_onvif::tls::{Fingerprint, Trust};
        match (&site.ca_file, &site.fingerprint) {
            (Some(ca), Some(fp)) => {
                self.report(
                    fp.span(),
                    subject,
                    "fingerprint",
                    format!(
                        "give ca_file or fingerprint, not both (ca_file is on line {})",
                        self.index.locate(ca.span().start).0
                    ),
                );
                None
            }
            (Some(ca), None) => {
                let folder = self.file.parent().unwrap_or(Path::new(""));
                Some(Some(Trust::CaFile(folder.join(ca.get_ref()))))
            }
            (None, Some(fp)) => match Fingerprint::parse(fp.get_ref()) {
                Ok(f) => Some(Some(Trust::Pinned(f))),
                Err(e) => {
                    self.report(fp.span(), subject, "fingerprint", e.message().to_string());
                    None
                }
            },
            (None, None) => Some(None),
        }
    }

    fn check_cameras(
        &mut self,
        raw: &[Spanned<RawCamera>],
        declared_sites: &[Spanned<RawSite>],
        sites: &[SiteConfig],
        site_levels: &HashMap<SiteId, Level>,
        defaults: &Level,
        default_tolerance: Tolerance,
    ) -> Vec<CameraConfig> {
        let mut cameras = Vec::new();
        let mut seen_ids: HashMap<String, usize> = HashMap::new();
        // (site, URL, profile) -> (camera, line): one camera per device profile and site.
        let mut seen_targets: HashMap<(SiteId, String, Option<String>), (String, usize)> =
            HashMap::new();
        let mut declared: Vec<_> = declared_sites
            .iter()
            .map(|s| {
                (
                    *s.get_ref().priority.get_ref(),
                    s.get_ref().id.get_ref().as_str(),
                )
            })
            .collect();
        declared.sort();
        let site_list = declared
            .iter()
            .map(|(_, id)| *id)
            .collect::<Vec<_>>()
            .join(", ");
        for spanned in raw {
            let camera = spanned.get_ref();
            let id_text = camera.id.get_ref();
            let subject = format!("camera {id_text:?}");
            let subject = Some(subject.as_str());
            self.check_id(&camera.id, subject);
            let (line, _) = self.index.locate(camera.id.span().start);
            if let Some(first) = seen_ids.get(id_text) {
                self.report(
                    camera.id.span(),
                    subject,
                    "id",
                    format!("another camera already has this id (line {first})"),
                );
            } else {
                seen_ids.insert(id_text.clone(), line);
            }
            let name = self.check_name(camera.name.as_ref(), id_text, subject);
            let tolerance = match &camera.tolerance {
                Some(t) => self
                    .check_tolerance(t, subject)
                    .unwrap_or(default_tolerance),
                None => default_tolerance,
            };
            let empty = BTreeMap::new();
            let bindings_span = spanned.span();
            let raw_bindings = camera.bindings.as_ref().unwrap_or(&empty);
            for site_key in raw_bindings.keys() {
                let site_key_span = site_key.span();
                let site_key = site_key.get_ref();
                // Sites declared with a problem of their own still count as
                // known, so that one mistake is reported once.
                if !declared_sites
                    .iter()
                    .any(|s| s.get_ref().id.get_ref() == site_key)
                {
                    self.report(
                        site_key_span,
                        subject,
                        &format!("bindings.{site_key}"),
                        format!(
                            "binding for site {site_key:?} names no configured site (sites: {site_list})"
                        ),
                    );
                }
            }
            let mut bindings = Vec::new();
            for site in sites {
                let Some((_, binding)) = raw_bindings
                    .iter()
                    .find(|(k, _)| k.get_ref() == site.id.as_str())
                else {
                    // With other than two sites, the site count is the mistake to report.
                    if declared_sites.len() != 2 {
                        continue;
                    }
                    self.report(
                        bindings_span.clone(),
                        subject,
                        "bindings",
                        format!(
                            "no binding for site {:?}; add [camera.bindings.{}] with its url",
                            site.id.as_str(),
                            site.id
                        ),
                    );
                    continue;
                };
                let b = binding;
                let field = |name: &str| format!("bindings.{}.{name}", site.id);
                // An ONVIF binding names its device; an XProtect one its camera there.
                let (url, xprotect_camera) = match &site.kind {
                    SiteKind::Onvif(_) => {
                        if let Some(u) = &b.onvif_url {
                            self.report(
                                u.span(),
                                subject,
                                &field("onvif_url"),
                                "only a binding on an XProtect site has this; an ONVIF binding's url is its ONVIF address",
                            );
                        }
                        if let Some(c) = &b.camera {
                            self.report(
                                c.span(),
                                subject,
                                &field("camera"),
                                format!(
                                    "site {:?} is an ONVIF site: its binding names the device's url, not a camera",
                                    site.id.as_str()
                                ),
                            );
                        }
                        let Some(url) = &b.url else {
                            self.report(
                                bindings_span.clone(),
                                subject,
                                &field("url"),
                                "an ONVIF binding needs url, the device service address",
                            );
                            continue;
                        };
                        if let Err(why) = check_url(url.get_ref()) {
                            self.report(url.span(), subject, &field("url"), why);
                        }
                        (url.clone(), None)
                    }
                    SiteKind::Xprotect(xp) => {
                        if let Some(u) = &b.url {
                            self.report(
                                u.span(),
                                subject,
                                &field("url"),
                                format!(
                                    "site {:?} is an XProtect site: its server is the site's url; the binding names the camera (camera = \"GUID or name\")",
                                    site.id.as_str()
                                ),
                            );
                        }
                        let Some(camera) =
                            b.camera.as_ref().filter(|c| !c.get_ref().trim().is_empty())
                        else {
                            self.report(
                                bindings_span.clone(),
                                subject,
                                &field("camera"),
                                "an XProtect binding needs camera, the camera's GUID or its name in XProtect",
                            );
                            continue;
                        };
                        if let Some(u) = &b.onvif_url
                            && let Err(why) = check_url(u.get_ref())
                        {
                            self.report(u.span(), subject, &field("onvif_url"), why);
                        }
                        let at = camera.span();
                        (
                            Spanned::new(
                                at,
                                format!("{}#camera={}", xp.url, camera.get_ref().trim()),
                            ),
                            Some(camera.get_ref().trim().to_string()),
                        )
                    }
                };
                let b_url = url;
                let profile = b.profile.as_ref().map(|p| p.get_ref().clone());
                if let Some(p) = &b.profile {
                    let token = p.get_ref();
                    if token.is_empty()
                        || token.chars().count() > MAX_TOKEN_LEN
                        || token.chars().any(char::is_control)
                    {
                        self.report(
                            p.span(),
                            subject,
                            &field("profile"),
                            format!(
                                "a profile token is 1 to {MAX_TOKEN_LEN} characters without control characters; leave it out to use the first profile with PTZ"
                            ),
                        );
                    }
                }
                let target = (site.id.clone(), b_url.get_ref().clone(), profile.clone());
                let (line, _) = self.index.locate(b_url.span().start);
                if let Some((other, other_line)) = seen_targets.get(&target) {
                    self.report(
                        b_url.span(),
                        subject,
                        &field("url"),
                        format!(
                            "camera {other:?} (line {other_line}) already uses this url{} on site {:?}; give each camera its own url or profile",
                            if profile.is_some() {
                                " and profile"
                            } else {
                                ""
                            },
                            site.id.as_str()
                        ),
                    );
                } else {
                    seen_targets.insert(target, (id_text.clone(), line));
                }
                let binding_subject = format!("camera {id_text:?} binding {:?}", site.id.as_str());
                let level = self.level(
                    Some(&binding_subject),
                    RawCredentials {
                        username: b.username.as_ref(),
                        password: b.password.as_ref(),
                        password_env: b.password_env.as_ref(),
                    },
                );
                let site_level = site_levels.get(&site.id).cloned().unwrap_or_default();
                let credentials = self.combine(&[&level, &site_level, defaults], true);
                let url = match &site.kind {
                    SiteKind::Xprotect(xp) => xp.url.clone(),
                    SiteKind::Onvif(_) => b_url.get_ref().clone(),
                };
                let onvif_url = match &site.kind {
                    SiteKind::Xprotect(_) => b.onvif_url.as_ref().map(|u| u.get_ref().clone()),
                    SiteKind::Onvif(_) => None,
                };
                bindings.push(BindingConfig {
                    site: site.id.clone(),
                    url,
                    profile,
                    credentials,
                    xprotect_camera,
                    onvif_url,
                });
            }
            let mut groups = Vec::new();
            for g in camera.groups.iter().flatten() {
                match tandem_core::access::check_group_name(g.get_ref()) {
                    Ok(()) => groups.push(g.get_ref().clone()),
                    Err(e) => self.report(g.span(), subject, "groups", e.to_string()),
                }
            }
            let defaults = tandem_core::Optics::default();
            let optics = match &camera.optics {
                None => defaults,
                Some(raw) => {
                    let o = raw.get_ref();
                    let optics = tandem_core::Optics {
                        wide_hfov_deg: o.wide_hfov_deg.unwrap_or(defaults.wide_hfov_deg),
                        tele_hfov_deg: o.tele_hfov_deg.unwrap_or(defaults.tele_hfov_deg),
                        pan_range_deg: o.pan_range_deg.unwrap_or(defaults.pan_range_deg),
                        tilt_range_deg: o.tilt_range_deg.unwrap_or(defaults.tilt_range_deg),
                    };
                    match optics.validate() {
                        Ok(()) => optics,
                        Err(e) => {
                            self.report(raw.span(), subject, "optics", e.to_string());
                            defaults
                        }
                    }
                }
            };
            cameras.push(CameraConfig {
                id: CameraId(id_text.clone()),
                name,
                tolerance,
                groups,
                vendor: None,
                reserved: BTreeSet::new(),
                optics,
                bindings,
            });
        }
        cameras
    }

    /// Checks an id's charset and length; true when it is valid.
    fn check_id(&mut self, id: &Spanned<String>, subject: Option<&str>) -> bool {
        match id_error(id.get_ref()) {
            Some(why) => {
                self.report(id.span(), subject, "id", why);
                false
            }
            None => true,
        }
    }

    /// The display name, or the id when none is given or it is invalid.
    fn check_name(
        &mut self,
        name: Option<&Spanned<String>>,
        id: &str,
        subject: Option<&str>,
    ) -> String {
        let Some(name) = name else {
            return id.to_string();
        };
        let text = name.get_ref();
        if text.trim().is_empty()
            || text.chars().count() > MAX_NAME_LEN
            || text.chars().any(char::is_control)
        {
            self.report(
                name.span(),
                subject,
                "name",
                format!(
                    "a name is 1 to {MAX_NAME_LEN} characters without control characters; leave it out to use the id"
                ),
            );
            return id.to_string();
        }
        text.clone()
    }

    /// Checks one level's credential fields and reads its `password_env`.
    fn level(&mut self, subject: Option<&str>, raw: RawCredentials<'_>) -> Level {
        let mut level = Level {
            subject: subject.map(str::to_string),
            ..Level::default()
        };
        if let Some(username) = raw.username {
            if username.get_ref().is_empty() || username.get_ref().chars().any(char::is_control) {
                self.report(
                    username.span(),
                    subject,
                    "username",
                    "must not be empty or contain control characters",
                );
            } else {
                level.username = Some((username.span(), username.get_ref().clone()));
            }
        }
        match (raw.password, raw.password_env) {
            (Some(_), Some(var)) => {
                self.report(
                    var.span(),
                    subject,
                    "password_env",
                    "give either password or password_env, not both",
                );
                level.password = Some(Secret::Unavailable);
            }
            (Some(password), None) => {
                level.password = Some(Secret::Known(password.span(), password.get_ref().clone()));
            }
            (None, Some(var)) => {
                let name = var.get_ref();
                let valid_name =
                    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let value = valid_name.then(|| (self.env)(name)).flatten();
                level.password = Some(match value {
                    Some(value) if !value.is_empty() => Secret::Known(var.span(), value),
                    Some(_) => {
                        self.report(
                            var.span(),
                            subject,
                            "password_env",
                            format!("environment variable {name:?} is empty; set it to the device password"),
                        );
                        Secret::Unavailable
                    }
                    None if valid_name => {
                        self.report(
                            var.span(),
                            subject,
                            "password_env",
                            format!("environment variable {name:?} is not set; set it to the device password"),
                        );
                        Secret::Unavailable
                    }
                    None => {
                        self.report(
                            var.span(),
                            subject,
                            "password_env",
                            format!("{name:?} is not an environment variable name (letters, digits and _)"),
                        );
                        Secret::Unavailable
                    }
                });
            }
            (None, None) => {}
        }
        level
    }

    /// Layers credentials, nearest level first; with `report`, a username without
    /// a password (or the reverse) is a problem.
    fn combine(&mut self, levels: &[&Level], report: bool) -> Option<Credentials> {
        let username = levels
            .iter()
            .find_map(|l| l.username.as_ref().map(|u| (*l, u)));
        let password = levels
            .iter()
            .find_map(|l| l.password.as_ref().map(|p| (*l, p)));
        match (username, password) {
            (Some((_, (_, user))), Some((_, Secret::Known(_, password)))) => {
                Some(Credentials::new(user.clone(), password.clone()))
            }
            (None, Some((level, Secret::Known(span, _)))) => {
                if report {
                    self.report(
                        span.clone(),
                        level.subject.as_deref(),
                        "password",
                        "a password needs a username; add username here or in [defaults]",
                    );
                }
                None
            }
            (Some((level, (span, user))), None) => {
                if report {
                    self.report(
                        span.clone(),
                        level.subject.as_deref(),
                        "username",
                        format!(
                            "{user:?} has no password; add password or password_env here or in [defaults]"
                        ),
                    );
                }
                None
            }
            // Unavailable passwords were reported where they were read.
            (_, Some((_, Secret::Unavailable))) | (None, None) => None,
        }
    }
}

/// Why `id` is not a valid site or camera id.
fn id_error(id: &str) -> Option<String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Some(format!("must be 1 to {MAX_ID_LEN} characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-'))
    {
        return Some(format!("{id:?} has {c:?}; ids use only a-z, 0-9, _ and -"));
    }
    None
}

/// True when `id` is a valid site or camera id.
pub fn is_valid_id(id: &str) -> bool {
    id_error(id).is_none()
}

/// Checks a device URL: http or https, with a host, without embedded credentials.
fn check_url(url: &str) -> Result<(), String> {
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("a URL has no spaces or control characters".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(format!(
            "{url:?} is not an absolute URL such as \"http://192.0.2.10/onvif/device_service\""
        ));
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(format!("scheme {scheme:?} is not http or https"));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err("credentials belong in username and password, not in the URL".into());
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        // An IPv6 literal: "[::1]:8080".
        let Some((host, after)) = inner.split_once(']') else {
            return Err(format!("host {authority:?} lacks its closing ']'"));
        };
        if host.is_empty()
            || !host
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(format!("{host:?} is not an IPv6 address"));
        }
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected {after:?} after the IPv6 address")),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{url:?} has no host"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'))
    {
        return Err(format!("host {host:?} is not a valid host name or address"));
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p >= 1)
    {
        return Err(format!("port {port:?} is not a number from 1 to 65535"));
    }
    Ok(())
}

/// The field a serde message quotes: "missing field `priority`".
fn quoted_field(message: &str) -> Option<String> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?;
    rest.split_once('`').map(|(field, _)| field.to_string())
}

/// The key assigned on the line at `offset`: for `  timeout_ms = "x"` the span
/// points at the value and the key is just before the `=`.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line = before.rsplit('\n').next().unwrap_or(before);
    let head = line.trim_end().strip_suffix('=')?.trim_end();
    // Inside an inline table, the key follows the last '{' or ','.
    let key = head
        .rsplit(['{', ','])
        .next()
        .unwrap_or(head)
        .trim()
        .trim_matches('"');
    (!key.is_empty()).then(|| key.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"# tandem configuration
[defaults]
username = "admin"
password = "secret"
timeout_ms = 2500
tolerance = 0.002

[store]
path = "data/tandem.db"

[[site]]
id = "secondary"
priority = 2
password_env = "SECONDARY_PW"

[[site]]
id = "primary"
name = "Primary VMS"
priority = 1

[[camera]]
id = "gate-1"
name = "Gate 1"
tolerance = 0.01
[camera.bindings.primary]
url = "http://127.0.0.1:18000/onvif/device_service"
profile = "profile_1"
[camera.bindings.secondary]
url = "https://[::1]:18001/onvif/device_service"
username = "operator"

[[camera]]
id = "dock_3"
bindings.primary = { url = "http://cam-dock3.local/onvif/device_service" }
bindings.secondary = { url = "http://10.0.0.3/onvif/device_service", password = "other" }
"#;

    fn env(name: &str) -> Option<String> {
        (name == "SECONDARY_PW").then(|| "from-env".to_string())
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse_with_env(text, "conf/tandem.toml", &env)
    }

    /// The problems' rendered lines.
    fn problems(text: &str) -> Vec<String> {
        match parse(text) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(Problem::to_string).collect(),
        }
    }

    /// `GOOD` with `from` replaced by `to` (which must occur once).
    fn edited(from: &str, to: &str) -> String {
        assert_eq!(GOOD.matches(from).count(), 1, "{from:?} occurs once");
        GOOD.replacen(from, to, 1)
    }

    fn assert_one(text: &str, expected: &str) {
        assert_eq!(problems(text), vec![expected.to_string()]);
    }

    #[test]
    fn a_good_file_resolves_everything() {
        let config = parse(GOOD).expect("valid");
        assert_eq!(config.timeout, Duration::from_millis(2500));
        assert_eq!(config.tolerance, Tolerance(0.002));
        assert_eq!(
            config.store,
            StoreConfig::Sqlite(PathBuf::from("conf/data/tandem.db"))
        );
        let ids: Vec<_> = config.sites.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["primary", "secondary"], "sorted by priority");
        assert_eq!(config.primary().name, "Primary VMS");
        assert_eq!(config.secondary().name, "secondary");
        assert_eq!(
            config.secondary().credentials,
            Some(Credentials::new("admin", "from-env"))
        );
        let gate = config.camera(&CameraId::from("gate-1")).expect("gate-1");
        assert_eq!(gate.tolerance, Tolerance(0.01));
        let p = gate.binding(&SiteId::from("primary")).expect("binding");
        assert_eq!(p.profile.as_deref(), Some("profile_1"));
        assert_eq!(p.credentials, Some(Credentials::new("admin", "secret")));
        let s = gate.binding(&SiteId::from("secondary")).expect("binding");
        assert_eq!(
            s.credentials,
            Some(Credentials::new("operator", "from-env"))
        );
        let dock = config.camera(&CameraId::from("dock_3")).expect("dock_3");
        assert_eq!(dock.name, "dock_3");
        assert_eq!(dock.tolerance, Tolerance(0.002));
        assert_eq!(dock.bindings[0].site.as_str(), "primary", "in site order");
        assert_eq!(dock.bindings[0].profile, None);
        assert_eq!(
            dock.bindings[1].credentials,
            Some(Credentials::new("admin", "other"))
        );
        assert_eq!(config.client_config().timeout, Duration::from_millis(2500));
    }

    #[test]
    fn a_camera_s_optics_default_to_a_dome_and_are_checked() {
        let config = parse(GOOD).expect("valid");
        assert_eq!(config.cameras[0].optics, tandem_core::Optics::default());
        let text = edited(
            "tolerance = 0.01\n",
            "tolerance = 0.01\noptics = { wide_hfov_deg = 90, tele_hfov_deg = 3, pan_range_deg = 340 }\n",
        );
        let optics = parse(&text).expect("valid").cameras[0].optics;
        assert_eq!(
            (
                optics.wide_hfov_deg,
                optics.tele_hfov_deg,
                optics.pan_range_deg,
                optics.tilt_range_deg
            ),
            (90.0, 3.0, 340.0, 180.0)
        );
        let text = edited(
            "tolerance = 0.01\n",
            "tolerance = 0.01\noptics = { tele_hfov_deg = 70 }\n",
        );
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("camera \"gate-1\": optics:")
                && found[0].contains("tele not wider than wide"),
            "{found:?}"
        );
    }

    #[test]
    fn debug_output_never_shows_a_password() {
        let config = parse(GOOD).expect("valid");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("secret") && !debug.contains("from-env") && !debug.contains("other\"")
        );
    }

    #[test]
    fn store_defaults_to_the_config_folder() {
        let text = edited("[store]\npath = \"data/tandem.db\"\n", "");
        let config = parse(&text).expect("valid");
        assert_eq!(
            config.store,
            StoreConfig::Sqlite(PathBuf::from("conf/tandem.db"))
        );
        let text = edited("data/tandem.db", "/var/lib/tandem/t.db");
        let config = parse(&text).expect("valid");
        assert_eq!(
            config.store,
            StoreConfig::Sqlite(PathBuf::from("/var/lib/tandem/t.db"))
        );
    }

    #[test]
    fn a_postgres_store_takes_its_password_from_a_file_or_the_environment_only() {
        let text = edited(
            "[store]\npath = \"data/tandem.db\"\n",
            "[store]\nurl = \"postgres://tandem@db:5432/tandem\"\npassword_file = \"secrets/db\"\n",
        );
        let config = parse(&text).expect("valid");
        assert_eq!(
            config.store,
            StoreConfig::Postgres {
                url: "postgres://tandem@db:5432/tandem".into(),
                password_env: None,
                password_file: Some(PathBuf::from("conf/secrets/db")),
            }
        );
        let text = edited(
            "[store]\npath = \"data/tandem.db\"\n",
            "[store]\nurl = \"postgres://tandem:hunter2@db/tandem\"\n",
        );
        let found = problems(&text);
        assert!(
            found.iter().any(|p| p.contains("must not hold a password")),
            "{found:?}"
        );
        let text = edited(
            "[store]\npath = \"data/tandem.db\"\n",
            "[store]\nurl = \"mysql://db/tandem\"\npath = \"x.db\"\n",
        );
        let found = problems(&text);
        assert!(
            found.iter().any(|p| p.contains("must be a PostgreSQL URL")),
            "{found:?}"
        );
        assert!(found.iter().any(|p| p.contains("not both")), "{found:?}");
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let text = edited("timeout_ms = 2500", "timeout_ms = = 2500");
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("conf/tandem.toml:5:"), "{found:?}");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let text = edited("priority = 2", "priority = \"two\"");
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("conf/tandem.toml:13:12: priority: invalid type"),
            "{found:?}"
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let text = edited("tolerance = 0.01", "tolerence = 0.01");
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("conf/tandem.toml:24:1: tolerence: unknown field `tolerence`"),
            "{found:?}"
        );
    }

    #[test]
    fn missing_fields_are_named() {
        let text = edited("priority = 2\n", "");
        let found = problems(&text);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("conf/tandem.toml:")
                && found[0].contains("priority: missing field `priority`"),
            "{found:?}"
        );
    }

    #[test]
    fn exactly_two_sites() {
        let text = format!("{GOOD}\n[[site]]\nid = \"tertiary\"\npriority = 3\n");
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("conf/tandem.toml:37:1: site: tandem keeps a primary and a secondary site identical, so exactly two [[site]] tables are needed; found 3"),
            "{found:?}"
        );
        let one = "[[site]]\nid = \"primary\"\npriority = 1\n";
        assert_one(
            one,
            "conf/tandem.toml:1:1: site: tandem keeps a primary and a secondary site identical, so exactly two [[site]] tables are needed; found 1",
        );
        assert_one(
            "",
            "conf/tandem.toml:1:1: site: tandem keeps a primary and a secondary site identical, so exactly two [[site]] tables are needed; found 0",
        );
    }

    #[test]
    fn priorities_differ() {
        let text = edited("priority = 2", "priority = 1");
        let found = problems(&text);
        assert!(
            found.contains(&"conf/tandem.toml:19:12: site \"primary\": priority: 1 is also the priority of site \"secondary\" (line 13); priorities must differ so that one site is the primary".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn priorities_are_positive() {
        let text = edited("priority = 2", "priority = 0");
        assert_one(
            &text,
            "conf/tandem.toml:13:12: site \"secondary\": priority: 0 is not a whole number of at least 1 (1 is the primary)",
        );
    }

    #[test]
    fn site_ids_are_unique() {
        let text = edited("id = \"secondary\"", "id = \"primary\"");
        let found = problems(&text);
        assert!(
            found.contains(&"conf/tandem.toml:17:6: site \"primary\": id: another site already has this id (line 12)".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn site_ids_use_the_charset() {
        let text = edited("id = \"secondary\"", "id = \"Second Site\"");
        let found = problems(&text);
        assert_eq!(
            found[0],
            "conf/tandem.toml:12:6: site \"Second Site\": id: \"Second Site\" has 'S'; ids use only a-z, 0-9, _ and -"
        );
    }

    #[test]
    fn camera_ids_are_unique_and_use_the_charset() {
        let text = edited("id = \"dock_3\"", "id = \"gate-1\"");
        let found = problems(&text);
        assert_eq!(
            found,
            [
                "conf/tandem.toml:33:6: camera \"gate-1\": id: another camera already has this id (line 22)"
            ]
        );
        let text = edited("id = \"dock_3\"", "id = \"dock.3\"");
        assert_one(
            &text,
            "conf/tandem.toml:33:6: camera \"dock.3\": id: \"dock.3\" has '.'; ids use only a-z, 0-9, _ and -",
        );
    }

    /// `GOOD` with the secondary an XProtect site at `site_extra`, and its
    /// bindings as `gate` and `dock` give them.
    fn xprotect(site_extra: &str, gate: &str, dock: &str) -> String {
        edited(
            "password_env = \"SECONDARY_PW\"\n",
            &format!("password_env = \"SECONDARY_PW\"\nkind = \"xprotect\"\n{site_extra}"),
        )
        .replace(
            "[camera.bindings.secondary]\nurl = \"https://[::1]:18001/onvif/device_service\"\n",
            &format!("[camera.bindings.secondary]\n{gate}\n"),
        )
        .replace(
            "bindings.secondary = { url = \"http://10.0.0.3/onvif/device_service\", password = \"other\" }",
            &format!("bindings.secondary = {{ {dock} }}"),
        )
    }

    #[test]
    fn an_xprotect_site_names_its_server_and_its_bindings_name_cameras() {
        let text = xprotect(
            "url = \"https://vms-b.example/\"\nfingerprint = \"9c:ab:32:96:c6:e1:40:c9:ce:07:7d:a6:81:de:dc:c0:9a:9b:bd:92:55:6a:b6:5d:89:ac:f2:60:1c:95:01:ac\"\n",
            "camera = \"Gate PTZ\"",
            "camera = \"0f3c5a9e-8d21-4b7a-9c44-2e6f1b0d5a77\", password = \"other\"",
        );
        let config = parse(&text).expect("valid");
        let secondary = config.secondary();
        let SiteKind::Xprotect(xp) = &secondary.kind else {
            panic!("not XProtect: {secondary:?}");
        };
        assert_eq!(xp.url, "https://vms-b.example");
        assert!(matches!(xp.trust, tandem_xprotect::Trust::Pinned(_)));
        assert_eq!(config.primary().kind, SiteKind::default());
        let gate = config.cameras[0]
            .binding(&SiteId::from("secondary"))
            .expect("binding");
        assert_eq!(gate.xprotect_camera.as_deref(), Some("Gate PTZ"));
        assert_eq!(gate.url, "https://vms-b.example");
        let dock = config.cameras[1]
            .binding(&SiteId::from("secondary"))
            .expect("binding");
        assert_eq!(
            dock.credentials.as_ref().map(|c| c.password.as_str()),
            Some("other")
        );
        let ca = xprotect(
            "url = \"https://vms-b.example\"\nca_file = \"certs/ca.pem\"\n",
            "camera = \"Gate PTZ\"",
            "camera = \"Dock\"",
        );
        let SiteKind::Xprotect(xp) = parse(&ca).expect("valid").secondary().kind.clone() else {
            panic!("not XProtect");
        };
        assert_eq!(
            xp.trust,
            tandem_xprotect::Trust::CaFile(PathBuf::from("conf/certs/ca.pem")),
            "resolved against the configuration's folder"
        );
    }

    #[test]
    fn an_onvif_site_trusts_its_devices_by_ca_file_or_fingerprint() {
        use tandem_onvif::tls::{Fingerprint, Trust};
        let hex = "9c:ab:32:96:c6:e1:40:c9:ce:07:7d:a6:81:de:dc:c0:9a:9b:bd:92:55:6a:b6:5d:89:ac:f2:60:1c:95:01:ac";
        let device_trust = |config: &Config, site: &str| match &config
            .site(&SiteId::from(site))
            .expect("site")
            .kind
        {
            SiteKind::Onvif(onvif) => onvif.device_trust.clone(),
            other => panic!("not ONVIF: {other:?}"),
        };
        let config = parse(GOOD).expect("valid");
        assert_eq!(device_trust(&config, "primary"), None, "any certificate");

        let pinned = parse(&edited(
            "priority = 1\n",
            &format!("priority = 1\nfingerprint = \"{hex}\"\n"),
        ))
        .expect("valid");
        let expected = Trust::Pinned(Fingerprint::parse(hex).expect("fingerprint"));
        assert_eq!(device_trust(&pinned, "primary"), Some(expected.clone()));
        assert_eq!(device_trust(&pinned, "secondary"), None);
        let topology = crate::sites::Topology::from_config(&pinned, 4);
        assert_eq!(
            topology.sites[0].kind,
            SiteKind::Onvif(OnvifSite {
                device_trust: Some(expected)
            }),
            "the engine's site carries it"
        );

        let ca = parse(&edited(
            "priority = 2\n",
            "priority = 2\nca_file = \"certs/devices.pem\"\n",
        ))
        .expect("valid");
        assert_eq!(
            device_trust(&ca, "secondary"),
            Some(Trust::CaFile(PathBuf::from("conf/certs/devices.pem"))),
            "resolved against the configuration's folder"
        );

        let both = problems(&edited(
            "priority = 2\n",
            &format!("priority = 2\nca_file = \"ca.pem\"\nfingerprint = \"{hex}\"\n"),
        ));
        assert_eq!(
            both,
            [
                "conf/tandem.toml:15:15: site \"secondary\": fingerprint: give ca_file or \
                 fingerprint, not both (ca_file is on line 14)"
            ]
        );
        let bad = problems(&edited(
            "priority = 2\n",
            "priority = 2\nfingerprint = \"9c:ab:32\"\n",
        ));
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert!(
            bad[0].contains(
                "site \"secondary\": fingerprint: \"9c:ab:32\" is not a SHA-256 fingerprint"
            ),
            "{bad:?}"
        );
        // A stray url and a bad fingerprint are both reported at once.
        let two = problems(&edited(
            "priority = 2\n",
            "priority = 2\nurl = \"https://x\"\nfingerprint = \"zz\"\n",
        ));
        assert_eq!(two.len(), 2, "{two:?}");
        assert!(two[0].contains("url: only an XProtect site"), "{two:?}");
        assert!(two[1].contains("is not a SHA-256 fingerprint"), "{two:?}");
    }

    #[test]
    fn xprotect_mistakes_are_reported_where_they_are() {
        let found = problems(&xprotect(
            "",
            "url = \"http://10.0.0.9/onvif/device_service\"",
            "camera = \" \"",
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("an XProtect site needs url"), "{found:?}");
        let found = problems(&xprotect(
            "url = \"https://vms.example\"\nca_file = \"ca.pem\"\nfingerprint = \"00\"\n",
            "url = \"http://10.0.0.9/onvif/device_service\"",
            "camera = \" \"",
        ));
        assert!(
            found
                .iter()
                .any(|p| p.contains("give ca_file or fingerprint, not both")),
            "{found:?}"
        );
        let found = problems(&xprotect(
            "url = \"https://vms.example\"\n",
            "url = \"http://10.0.0.9/onvif/device_service\"",
            "camera = \" \"",
        ));
        assert!(
            found
                .iter()
                .any(|p| p
                    .contains("bindings.secondary.url: site \"secondary\" is an XProtect site")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("an XProtect binding needs camera")),
            "{found:?}"
        );
        let found = problems(&xprotect(
            "url = \"https://vms.example\"\nfingerprint = \"zz\"\n",
            "camera = \"A\"",
            "camera = \"B\"",
        ));
        assert!(
            found
                .iter()
                .any(|p| p.contains("is not a SHA-256 fingerprint")),
            "{found:?}"
        );
        let found = problems(&edited(
            "priority = 2\n",
            "priority = 2\nkind = \"genetec\"\nurl = \"https://x\"\n",
        ));
        assert!(
            found
                .iter()
                .any(|p| p.contains("\"genetec\" is not a site kind")),
            "{found:?}"
        );
        let found = problems(&edited(
            "priority = 2\n",
            "priority = 2\nurl = \"https://x\"\n",
        ));
        assert!(
            found
                .iter()
                .any(|p| p.contains("only an XProtect site (kind = \"xprotect\") has this")),
            "{found:?}"
        );
        let found = problems(&edited(
            "bindings.primary = { url = \"http://cam-dock3.local/onvif/device_service\" }",
            "bindings.primary = { url = \"http://cam-dock3.local/onvif/device_service\", onvif_url = \"http://x/\" }",
        ));
        assert!(
            found
                .iter()
                .any(|p| p
                    .contains("bindings.primary.onvif_url: only a binding on an XProtect site")),
            "{found:?}"
        );
        let with_onvif = xprotect(
            "url = \"https://vms.example\"\n",
            "camera = \"Gate PTZ\"\nonvif_url = \"http://10.1.0.7/onvif/device_service\"",
            "camera = \"Dock\", onvif_url = \"ftp://dock\"",
        );
        let found = problems(&with_onvif);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("bindings.secondary.onvif_url: scheme \"ftp\""),
            "{found:?}"
        );
        let fixed = with_onvif.replace("ftp://dock", "http://dock/onvif/device_service");
        let config = parse(&fixed).expect("valid");
        let gate = config.cameras[0]
            .binding(&SiteId::from("secondary"))
            .expect("binding");
        assert_eq!(
            gate.onvif_url.as_deref(),
            Some("http://10.1.0.7/onvif/device_service")
        );
        let found = problems(&edited(
            "bindings.primary = { url = \"http://cam-dock3.local/onvif/device_service\" }",
            "bindings.primary = { camera = \"Dock\" }",
        ));
        assert!(
            found
                .iter()
                .any(|p| p.contains("is an ONVIF site: its binding names the device's url")),
            "{found:?}"
        );
    }

    #[test]
    fn bindings_for_unknown_sites_are_refused() {
        let text = edited("[camera.bindings.secondary]", "[camera.bindings.tertiary]");
        assert_eq!(
            problems(&text),
            [
                // The binding renamed away from "secondary" leaves that site unbound.
                "conf/tandem.toml:21:1: camera \"gate-1\": bindings: no binding for site \"secondary\"; add [camera.bindings.secondary] with its url",
                "conf/tandem.toml:28:18: camera \"gate-1\": bindings.tertiary: binding for site \"tertiary\" names no configured site (sites: primary, secondary)",
            ]
        );
    }

    #[test]
    fn every_site_needs_a_binding() {
        let text = edited(
            "bindings.secondary = { url = \"http://10.0.0.3/onvif/device_service\", password = \"other\" }\n",
            "",
        );
        assert_one(
            &text,
            "conf/tandem.toml:32:1: camera \"dock_3\": bindings: no binding for site \"secondary\"; add [camera.bindings.secondary] with its url",
        );
    }

    #[test]
    fn urls_are_http_with_a_host() {
        let cases = [
            (
                "ftp://10.0.0.3/x",
                "bindings.secondary.url: scheme \"ftp\" is not http or https",
            ),
            (
                "http:///onvif",
                "bindings.secondary.url: \"http:///onvif\" has no host",
            ),
            (
                "10.0.0.3/onvif",
                "bindings.secondary.url: \"10.0.0.3/onvif\" is not an absolute URL",
            ),
            (
                "http://10.0.0.3:99999/x",
                "bindings.secondary.url: port \"99999\" is not a number",
            ),
            (
                "http://u:p@10.0.0.3/x",
                "bindings.secondary.url: credentials belong in username and password",
            ),
        ];
        for (url, expected) in cases {
            let text = edited("http://10.0.0.3/onvif/device_service", url);
            let found = problems(&text);
            assert_eq!(found.len(), 1, "{url}: {found:?}");
            assert!(
                found[0].starts_with(&format!(
                    "conf/tandem.toml:35:30: camera \"dock_3\": {expected}"
                )),
                "{url}: {found:?}"
            );
        }
    }

    #[test]
    fn one_camera_per_url_and_profile_on_a_site() {
        let text = edited(
            "http://cam-dock3.local/onvif/device_service",
            "http://127.0.0.1:18000/onvif/device_service",
        );
        // gate-1 names a profile on that URL and dock_3 does not: both may stand.
        assert!(parse(&text).is_ok());
        let text = text.replace(
            "url = \"http://127.0.0.1:18000/onvif/device_service\" }",
            "url = \"http://127.0.0.1:18000/onvif/device_service\", profile = \"profile_1\" }",
        );
        assert_one(
            &text,
            "conf/tandem.toml:34:28: camera \"dock_3\": bindings.primary.url: camera \"gate-1\" (line 26) already uses this url and profile on site \"primary\"; give each camera its own url or profile",
        );
    }

    #[test]
    fn tolerance_is_within_bounds() {
        let text = edited("tolerance = 0.01", "tolerance = 0.9");
        assert_one(
            &text,
            "conf/tandem.toml:24:13: camera \"gate-1\": tolerance: 0.9 is outside (0, 0.5] (generic position units)",
        );
        let text = edited("tolerance = 0.002", "tolerance = 0");
        assert_one(
            &text,
            "conf/tandem.toml:6:13: [defaults]: tolerance: 0 is outside (0, 0.5] (generic position units)",
        );
    }

    #[test]
    fn scans_default_to_every_ten_minutes_and_the_interval_is_checked() {
        let config = parse(GOOD).expect("valid");
        assert_eq!(config.scan_every, Some(Duration::from_secs(600)));
        let text = edited("[store]", "[service]\nscan_every_min = 0\n\n[store]");
        assert_eq!(parse(&text).expect("valid").scan_every, None);
        let text = edited("[store]", "[service]\nscan_every_min = 3\n\n[store]");
        assert_eq!(
            parse(&text).expect("valid").scan_every,
            Some(Duration::from_secs(180))
        );
        let text = edited("[store]", "[service]\nscan_every_min = -1\n\n[store]");
        assert_one(
            &text,
            "conf/tandem.toml:9:18: [service]: scan_every_min: -1 is outside 0..=1440 (minutes between full scans; 0: only on demand and when a site returns)",
        );
    }

    #[test]
    fn http_limits_default_and_are_checked() {
        assert_eq!(parse(GOOD).expect("valid").http, HttpLimits::default());
        let text = edited(
            "[store]",
            "[service]\nheader_timeout_ms = 300\nbody_timeout_ms = 400\nidle_timeout_ms = 500\nmax_connections = 8\n\n[store]",
        );
        assert_eq!(
            parse(&text).expect("valid").http,
            HttpLimits {
                header_timeout: Duration::from_millis(300),
                body_timeout: Duration::from_millis(400),
                idle_timeout: Duration::from_millis(500),
                max_connections: 8,
            }
        );
        let text = edited("[store]", "[service]\nidle_timeout_ms = 5\n\n[store]");
        assert_one(
            &text,
            "conf/tandem.toml:9:19: [service]: idle_timeout_ms: 5 is outside 100..=600000 (milliseconds)",
        );
        let text = edited("[store]", "[service]\nmax_connections = 0\n\n[store]");
        assert_one(
            &text,
            "conf/tandem.toml:9:19: [service]: max_connections: 0 is outside 1..=65536",
        );
    }

    #[test]
    fn reserved_numbers_come_from_the_camera_and_its_vendor_profile() {
        let text = edited(
            "[[camera]]\nid = \"dock_3\"",
            "[[camera]]\nid = \"dock_3\"\nvendor = \"domes\"\nreserved = [7, 33]",
        );
        let text = text.replacen(
            "[store]",
            "[vendors.domes]\nreserved = [33, 95]\n\n[store]",
            1,
        );
        let config = parse(&text).expect("valid");
        let dock = config.camera(&CameraId::from("dock_3")).expect("dock_3");
        let numbers: Vec<u32> = dock.reserved.iter().map(|n| n.get()).collect();
        assert_eq!(numbers, [7, 33, 95]);
        assert_eq!(dock.vendor.as_deref(), Some("domes"));
        let gate = config.camera(&CameraId::from("gate-1")).expect("gate-1");
        assert!(gate.reserved.is_empty(), "no profile applies by default");

        let builtin = edited(
            "[[camera]]\nid = \"dock_3\"",
            "[[camera]]\nid = \"dock_3\"\nvendor = \"pelco-d\"",
        );
        let config = parse(&builtin).expect("valid");
        let dock = config.camera(&CameraId::from("dock_3")).expect("dock_3");
        let numbers: Vec<u32> = dock.reserved.iter().map(|n| n.get()).collect();
        assert_eq!(numbers, [33, 34, 94, 95]);
    }

    #[test]
    fn an_unknown_vendor_or_a_bad_reserved_number_is_named() {
        let text = edited(
            "[[camera]]\nid = \"dock_3\"",
            "[[camera]]\nid = \"dock_3\"\nvendor = \"acme\"\nreserved = [0, 10000]",
        );
        assert_eq!(
            problems(&text),
            vec![
                "conf/tandem.toml:34:10: camera \"dock_3\": vendor: no vendor profile \"acme\"; define [vendors.acme] with its reserved numbers, or use one of: pelco-d".to_string(),
                "conf/tandem.toml:35:13: camera \"dock_3\": reserved: 0 is not a preset number (1 to 9999)".to_string(),
                "conf/tandem.toml:35:16: camera \"dock_3\": reserved: 10000 is not a preset number (1 to 9999)".to_string(),
            ]
        );
        let text = edited("[store]", "[vendors.Acme]\nreserved = [95]\n\n[store]");
        let found = problems(&text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("[vendors.Acme]: name:"), "{found:?}");
    }

    #[test]
    fn timeout_is_within_bounds() {
        let text = edited("timeout_ms = 2500", "timeout_ms = 99");
        assert_one(
            &text,
            "conf/tandem.toml:5:14: [defaults]: timeout_ms: 99 is outside 100..=60000 (milliseconds per ONVIF call)",
        );
        let text = edited("timeout_ms = 2500", "timeout_ms = -1");
        assert_eq!(problems(&text).len(), 1);
        let text = edited("timeout_ms = 2500", "timeout_ms = 60000");
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn unset_password_env_names_the_variable() {
        let text = edited("SECONDARY_PW", "TANDEM_TEST_UNSET_PASSWORD");
        // One problem, although three bindings of two cameras rely on it.
        assert_one(
            &text,
            "conf/tandem.toml:14:16: site \"secondary\": password_env: environment variable \"TANDEM_TEST_UNSET_PASSWORD\" is not set; set it to the device password",
        );
        // The real environment is read by `parse`.
        assert!(Config::parse(&text, "t.toml").is_err());
    }

    #[test]
    fn password_and_password_env_are_exclusive() {
        let text = edited(
            "password_env = \"SECONDARY_PW\"",
            "password = \"x\"\npassword_env = \"SECONDARY_PW\"",
        );
        let found = problems(&text);
        assert_eq!(
            found,
            [
                "conf/tandem.toml:15:16: site \"secondary\": password_env: give either password or password_env, not both"
            ]
        );
    }

    #[test]
    fn a_username_needs_a_password() {
        let text = edited("password = \"secret\"\n", "");
        let found = problems(&text);
        // gate-1 and dock_3 on the primary use the defaults' username without a password.
        assert_eq!(
            found,
            [
                "conf/tandem.toml:3:12: [defaults]: username: \"admin\" has no password; add password or password_env here or in [defaults]"
            ]
        );
    }

    #[test]
    fn dotted_keys_and_implicit_tables_are_accepted() {
        // `bindings.a.url` makes the binding table implicit: it has no span of its own.
        let text = "defaults.timeout_ms = 1000\n[[site]]\nid = \"a\"\npriority = 1\n[[site]]\nid = \"b\"\npriority = 2\n\
                    [[camera]]\nid = \"c\"\nbindings.a.url = \"http://h1/\"\nbindings.b.url = \"http://h2/\"\n";
        let config = parse(text).expect("valid");
        assert_eq!(config.timeout, Duration::from_millis(1000));
    }

    #[test]
    fn no_credentials_anywhere_means_none() {
        let text = "[[site]]\nid = \"a\"\npriority = 1\n[[site]]\nid = \"b\"\npriority = 2\n\
                    [[camera]]\nid = \"c\"\nbindings.a.url = \"http://h1/\"\nbindings.b.url = \"http://h2/\"\n";
        let config = parse(text).expect("valid");
        assert_eq!(config.cameras[0].bindings[0].credentials, None);
        assert_eq!(config.sites[0].credentials, None);
    }

    #[test]
    fn every_problem_is_reported_sorted() {
        let text = edited("timeout_ms = 2500", "timeout_ms = 1")
            .replace("tolerance = 0.01", "tolerance = 2.0");
        let found = problems(&text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with("conf/tandem.toml:5:14:"));
        assert!(found[1].starts_with("conf/tandem.toml:24:13:"));
    }

    #[test]
    fn unreadable_files_name_the_path() {
        let err = Config::load("/nonexistent/tandem.toml")
            .err()
            .map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(
                |e| e.starts_with("cannot read configuration /nonexistent/tandem.toml:")
            ),
            "{err:?}"
        );
    }

    #[test]
    fn columns_count_characters() {
        let index = LineIndex::new("ab\nçé = 1\n");
        assert_eq!(index.locate(0), (1, 1));
        assert_eq!(index.locate(3), (2, 1));
        // "çé" is four bytes, two characters.
        assert_eq!(index.locate(7), (2, 3));
        assert_eq!(index.locate(1_000), (3, 1));
    }

    #[test]
    fn keys_before_values_are_found() {
        assert_eq!(
            key_before("a = 1\n  timeout_ms = x", 21),
            Some("timeout_ms".into())
        );
        assert_eq!(key_before("b = { url = x", 12), Some("url".into()));
        assert_eq!(key_before("[x]\n", 3), None);
    }

    #[test]
    fn ids_charset() {
        assert!(is_valid_id("gate-1_b"));
        assert!(!is_valid_id(""));
        assert!(!is_valid_id("Gate"));
        assert!(!is_valid_id(&"a".repeat(MAX_ID_LEN + 1)));
    }
}
