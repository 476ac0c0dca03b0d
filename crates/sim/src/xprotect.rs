//! A simulated Milestone XProtect installation: its identity provider, the
//! REST API's cameras, PTZ presets (kept in the VMS, not on the camera) and
//! tasks, over the same physical cameras as the ONVIF sites.
//!
//! It answers the shapes `docs/design/xprotect.md` records from Milestone's
//! documentation, written here with `serde_json` by hand, never with
//! tandem-xprotect's types: the client is tested against an independent
//! server, and both against the fixtures written from the documentation.
//!
//! Knobs ([`XpKnobs`]): the product version (before 24.2 there is no preset
//! recall or absolute position), the token lifetime, long tasks (polled),
//! failing tasks, a server that is down, and tokens revoked at once.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::world::{World, lock};

/// What the simulated installation does; changeable while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct XpKnobs {
    /// The product version `/sites` and the well-known URIs report.
    pub version: String,
    /// How long a token lives.
    pub token_lifetime: Duration,
    /// Tasks answer with a path to poll (and finish on the second look)
    /// instead of their result.
    pub long_tasks: bool,
    /// Tasks end in `Error` (`VMO60277`).
    pub fail_tasks: bool,
    /// Every request answers 503.
    pub down: bool,
    /// Tokens are refused from now on until a new one is asked for (as
    /// after a server restart).
    pub revoke_tokens: bool,
    /// A `PATCH` of a patrolling profile leaves its entries as they were
    /// (only the documented entry tasks change them).
    pub patch_keeps_entries: bool,
    /// The user's granted camera actions as a mask of [`CAMERA_ACTIONS`]
    /// bits; `None`: an administrator.
    pub rights: Option<u64>,
    /// Added before every answer (a busy management server, a long link).
    pub latency: Duration,
}

/// The camera namespace's actions the simulator declares, with their mask
/// bits. `PTZ_CONTROL` is the name Milestone's sample shows; the preset
/// actions' names are the simulator's own (the documentation names none).
pub const CAMERA_ACTIONS: [(&str, u64); 4] = [
    ("PTZ_CONTROL", 1),
    ("PTZ_PRESETS_MANAGE", 2),
    ("PTZ_PRESETS_LOCK", 4),
    ("EXPORT", 8),
];

impl Default for XpKnobs {
    fn default() -> Self {
        XpKnobs {
            version: "24.2.0.1".into(),
            token_lifetime: Duration::from_secs(3600),
            long_tasks: false,
            fail_tasks: false,
            down: false,
            revoke_tokens: false,
            patch_keeps_entries: false,
            rights: None,
            latency: Duration::ZERO,
        }
    }
}

/// A partial [`XpKnobs`], as the control API takes it
/// (`PATCH /api/sites/{site}/xprotect`).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XpKnobsPatch {
    /// The product version, e.g. `24.1.0.5`.
    pub version: Option<String>,
    /// The token lifetime in seconds (at least 1).
    pub token_lifetime_s: Option<u64>,
    /// Tasks answer with a path to poll.
    pub long_tasks: Option<bool>,
    /// Tasks end in `Error`.
    pub fail_tasks: Option<bool>,
    /// Every request answers 503.
    pub down: Option<bool>,
    /// Refuse every token issued so far (once).
    pub revoke_tokens: Option<bool>,
    /// A `PATCH` of a patrolling profile leaves its entries.
    pub patch_keeps_entries: Option<bool>,
    /// The user's granted camera actions as a mask; `-1`: an administrator.
    pub rights: Option<i64>,
    /// Milliseconds added before every answer.
    pub latency_ms: Option<u64>,
}

impl XpKnobs {
    /// These knobs with `patch` applied, or why the patch is refused.
    pub fn patched(self, patch: XpKnobsPatch) -> Result<XpKnobs, String> {
        if let Some(v) = &patch.version {
            let mut parts = v.split('.');
            let numeric = |p: Option<&str>| p.is_some_and(|p| p.parse::<u32>().is_ok());
            if !(numeric(parts.next()) && numeric(parts.next())) {
                return Err(format!("version {v:?} is not like 24.2.0.1"));
            }
        }
        if patch.token_lifetime_s == Some(0) {
            return Err("token_lifetime_s must be at least 1".into());
        }
        Ok(XpKnobs {
            version: patch.version.unwrap_or(self.version),
            token_lifetime: patch
                .token_lifetime_s
                .map_or(self.token_lifetime, Duration::from_secs),
            long_tasks: patch.long_tasks.unwrap_or(self.long_tasks),
            fail_tasks: patch.fail_tasks.unwrap_or(self.fail_tasks),
            down: patch.down.unwrap_or(self.down),
            revoke_tokens: patch.revoke_tokens.unwrap_or(false),
            patch_keeps_entries: patch
                .patch_keeps_entries
                .unwrap_or(self.patch_keeps_entries),
            rights: match patch.rights {
                Some(r) if r < 0 => None,
                Some(r) => Some(r as u64),
                None => self.rights,
            },
            latency: patch.latency_ms.map_or(self.latency, Duration::from_millis),
        })
    }

    /// The knobs as the control API shows them.
    pub fn to_json(&self) -> Value {
        json!({
            "version": self.version,
            "token_lifetime_s": self.token_lifetime.as_secs(),
            "long_tasks": self.long_tasks,
            "fail_tasks": self.fail_tasks,
            "down": self.down,
            "patch_keeps_entries": self.patch_keeps_entries,
            "rights": self.rights,
            "latency_ms": self.latency.as_millis() as u64,
        })
    }
}

/// Requests seen, for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XpCounts {
    /// Tokens issued.
    pub logins: u64,
    /// REST requests refused with 401.
    pub refused: u64,
    /// Tasks cleaned up.
    pub cleanups: u64,
}

/// A preset in the VMS's database.
#[derive(Debug, Clone, PartialEq)]
pub struct XpPreset {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Pan, tilt, zoom.
    pub position: [f64; 3],
    /// Locked against users with limited rights.
    pub locked: bool,
    /// Taken from the device (rename-only in XProtect).
    pub device: bool,
}

/// One stop of a patrolling profile.
#[derive(Debug, Clone, PartialEq)]
pub struct XpEntry {
    /// The preset's GUID.
    pub preset: String,
    /// Seconds at the preset.
    pub wait: f64,
}

/// A patrolling profile: presets visited in order, by GUID.
#[derive(Debug, Clone, PartialEq)]
pub struct XpPatrol {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its stops, in order.
    pub entries: Vec<XpEntry>,
    /// Where the camera goes when the patrol ends.
    pub end_preset: Option<String>,
}

/// One camera as the VMS knows it.
#[derive(Debug)]
pub struct XpCamera {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The physical camera (0-based).
    pub index: usize,
    presets: Mutex<Vec<XpPreset>>,
    default: Mutex<Option<String>>,
    patrols: Mutex<Vec<XpPatrol>>,
}

impl XpCamera {
    /// The camera's patrolling profiles.
    pub fn patrols(&self) -> Vec<XpPatrol> {
        lock(&self.patrols).clone()
    }

    /// Adds a patrolling profile directly (as made in the Management Client).
    pub fn insert_patrol(&self, patrol: XpPatrol) {
        lock(&self.patrols).push(patrol);
    }

    /// The camera's presets, in creation order.
    pub fn presets(&self) -> Vec<XpPreset> {
        lock(&self.presets).clone()
    }

    /// Adds a preset directly (seeding, or "made by someone in the Management Client").
    pub fn insert(&self, preset: XpPreset) {
        lock(&self.presets).push(preset);
    }

    /// The default preset's id.
    pub fn default_preset(&self) -> Option<String> {
        lock(&self.default).clone()
    }
}

/// A running simulated XProtect installation.
#[derive(Debug)]
pub struct XpSite {
    url: String,
    username: String,
    password: String,
    world: Arc<World>,
    cameras: Vec<XpCamera>,
    knobs: Mutex<XpKnobs>,
    tokens: Mutex<HashMap<String, Instant>>,
    tasks: Mutex<BTreeMap<u64, Task>>,
    next: AtomicU64,
    counts: Mutex<XpCounts>,
}

/// A long task: its result once finished, and how often it was looked at.
#[derive(Debug, Clone)]
struct Task {
    name: String,
    result: Result<Value, String>,
    looks: u32,
}

/// The GUID of camera `index` (0-based) on site `site`: fixed, so a test
/// and a configuration can name it.
pub fn camera_guid(site: usize, index: usize) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        0x5a17_0000 + site,
        index + 1
    )
}

impl XpSite {
    /// Serves an installation of every camera of `world` on a free loopback
    /// port, as site number `site` (which the camera GUIDs carry).
    pub async fn start(
        world: Arc<World>,
        site: usize,
        username: &str,
        password: &str,
        knobs: XpKnobs,
    ) -> anyhow::Result<Arc<XpSite>> {
        Self::start_with(world, site, username, password, knobs, None).await
    }

    /// [`XpSite::start`] over HTTPS, presenting the PEM certificate chain
    /// `cert_pem` with its PEM private key `key_pem`.
    pub async fn start_https(
        world: Arc<World>,
        site: usize,
        username: &str,
        password: &str,
        knobs: XpKnobs,
        cert_pem: &[u8],
        key_pem: &[u8],
    ) -> anyhow::Result<Arc<XpSite>> {
        let acceptor = crate::tls_acceptor(cert_pem, key_pem)?;
        Self::start_with(world, site, username, password, knobs, Some(acceptor)).await
    }

    async fn start_with(
        world: Arc<World>,
        site: usize,
        username: &str,
        password: &str,
        knobs: XpKnobs,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> anyhow::Result<Arc<XpSite>> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr()?);
        let cameras = (0..world.len())
            .map(|index| XpCamera {
                id: camera_guid(site, index),
                name: format!("Camera {}", index + 1),
                index,
                presets: Mutex::new(Vec::new()),
                default: Mutex::new(None),
                patrols: Mutex::new(Vec::new()),
            })
            .collect();
        let xp = Arc::new(XpSite {
            url,
            username: username.into(),
            password: password.into(),
            world,
            cameras,
            knobs: Mutex::new(knobs),
            tokens: Mutex::new(HashMap::new()),
            tasks: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(1),
            counts: Mutex::new(XpCounts::default()),
        });
        let app = router(xp.clone());
        match tls {
            None => {
                tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
            }
            Some(acceptor) => {
                tokio::spawn(serve_https(listener, acceptor, app));
            }
        }
        Ok(xp)
    }

    /// The server's address (`http://127.0.0.1:port`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The cameras.
    pub fn cameras(&self) -> &[XpCamera] {
        &self.cameras
    }

    /// Camera by GUID.
    pub fn camera(&self, id: &str) -> Option<&XpCamera> {
        self.cameras.iter().find(|c| c.id.eq_ignore_ascii_case(id))
    }

    /// The knobs now.
    pub fn knobs(&self) -> XpKnobs {
        lock(&self.knobs).clone()
    }

    /// Changes the knobs; revoking drops every token issued so far.
    pub fn set_knobs(&self, knobs: XpKnobs) {
        if knobs.revoke_tokens {
            lock(&self.tokens).clear();
        }
        *lock(&self.knobs) = XpKnobs {
            revoke_tokens: false,
            ..knobs
        };
    }

    /// Requests seen so far.
    pub fn counts(&self) -> XpCounts {
        *lock(&self.counts)
    }

    /// Where physical camera `index` points now.
    pub fn position(&self, index: usize) -> [f64; 3] {
        self.world.camera(index).motion().position(Instant::now())
    }

    /// A fresh GUID, as the VMS gives a new object.
    pub fn new_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let r: u64 = rand::random();
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            r >> 32,
            (r >> 16) & 0xffff,
            r & 0xfff,
            n & 0xfff,
            n
        )
    }
}

/// Serves `app` over TLS, one task per connection; a failed handshake
/// (a client that refused the certificate) ends that connection only.
async fn serve_https(listener: TcpListener, acceptor: tokio_rustls::TlsAcceptor, app: Router) {
    use tower::ServiceExt as _;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(stream).await else {
                return;
            };
            let service = hyper::service::service_fn(
                move |request: axum::extract::Request<hyper::body::Incoming>| {
                    app.clone().oneshot(request.map(axum::body::Body::new))
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

fn router(xp: Arc<XpSite>) -> Router {
    Router::new()
        .route("/api/.well-known/uris", get(well_known))
        .route("/API/IDP/connect/token", post(token))
        .route("/api/IDP/connect/token", post(token))
        .route("/api/rest/v1/sites", get(sites))
        .route("/api/rest/v1/cameras", get(cameras))
        .route(
            "/api/rest/v1/cameras/{camera}",
            get(camera).post(camera_task),
        )
        .route(
            "/api/rest/v1/cameras/{camera}/ptzPresets",
            get(presets).post(create_or_default),
        )
        .route(
            "/api/rest/v1/cameras/{camera}/ptzPresets/{preset}",
            get(preset).delete(delete_preset).post(preset_task),
        )
        .route(
            "/api/rest/v1/cameras/{camera}/patrollingProfiles",
            get(patrols),
        )
        .route(
            "/api/rest/v1/patrollingProfiles/{patrol}",
            get(patrol).patch(patch_patrol).post(patrol_task),
        )
        .route("/api/rest/v1/securityNamespaces", get(security_namespaces))
        .route(
            "/api/rest/v1/effectivePermissions/{namespace}",
            get(effective_permissions),
        )
        .route("/api/rest/v1/tasks/{task}", get(task).post(task_cleanup))
        .layer(axum::middleware::from_fn_with_state(xp.clone(), delayed))
        .with_state(xp)
}

/// Every answer after the `latency` knob's delay.
async fn delayed(
    State(xp): State<Arc<XpSite>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let latency = xp.knobs().latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    next.run(request).await
}

/// A refusal on its way out: boxed, as a response is large.
type Refused = Box<Response>;

/// An answer in XProtect's error shape.
fn error(status: StatusCode, text: &str) -> Response {
    let body =
        json!({ "error": { "httpCode": status.as_u16(), "details": [{ "errorText": text }] } });
    (status, axum::Json(body)).into_response()
}

/// Whether the request may go on: the server is up and (unless `anonymous`)
/// carries a live token.
fn admit(xp: &XpSite, headers: &HeaderMap, anonymous: bool) -> Result<(), Refused> {
    if xp.knobs().down {
        return Err(Box::new(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service unavailable",
        )));
    }
    if anonymous {
        return Ok(());
    }
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let live = token.is_some_and(|t| {
        lock(&xp.tokens)
            .get(t)
            .is_some_and(|expires| Instant::now() < *expires)
    });
    if live {
        Ok(())
    } else {
        lock(&xp.counts).refused += 1;
        Err(Box::new(error(StatusCode::UNAUTHORIZED, "Unauthorized")))
    }
}

/// The camera `id` of an admitted request ([`admit`] with a token).
fn admitted_camera<'a>(
    xp: &'a XpSite,
    headers: &HeaderMap,
    id: &str,
) -> Result<&'a XpCamera, Refused> {
    admit(xp, headers, false)?;
    xp_camera(xp, id)
}

fn xp_camera<'a>(xp: &'a XpSite, id: &str) -> Result<&'a XpCamera, Refused> {
    xp.camera(id).ok_or_else(|| {
        Box::new(error(
            StatusCode::NOT_FOUND,
            &format!("Camera {id} does not exist"),
        ))
    })
}

fn preset_json(camera: &XpCamera, p: &XpPreset) -> Value {
    let default = camera.default_preset().as_deref() == Some(p.id.as_str());
    json!({
        "id": p.id,
        "name": p.name,
        "displayName": p.name,
        "description": p.description,
        "pan": p.position[0],
        "tilt": p.position[1],
        "zoom": p.position[2],
        "defaultPreset": default,
        "locked": p.locked,
        "devicePreset": p.device,
        "devicePresetInternalId": if p.device { p.name.clone() } else { String::new() },
        "relations": {
            "self": { "type": "ptzPresets", "id": p.id },
            "parent": { "type": "cameras", "id": camera.id },
        },
    })
}

async fn well_known(State(xp): State<Arc<XpSite>>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&xp, &headers, true) {
        return *r;
    }
    axum::Json(json!({
        "ProductVersion": xp.knobs().version,
        "UnsecureManagementServer": format!("{}/", xp.url),
        "SecureManagementServer": "",
        "IdentityProvider": format!("{}/IDP", xp.url),
        "ApiGateways": [format!("{}/API/", xp.url)],
    }))
    .into_response()
}

async fn token(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, true) {
        return *r;
    }
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("grant_type") != Some("password") || field("client_id").is_none() {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "error": "unsupported_grant_type" })),
        )
            .into_response();
    }
    if field("username") != Some(xp.username.as_str())
        || field("password") != Some(xp.password.as_str())
    {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_grant",
                "error_description": "invalid_username_or_password",
                "error_code": "InvalidCredentials",
            })),
        )
            .into_response();
    }
    let lifetime = xp.knobs().token_lifetime;
    let value = format!("sim-{}-{}", xp.new_id(), rand::random::<u64>());
    lock(&xp.tokens).insert(value.clone(), Instant::now() + lifetime);
    lock(&xp.counts).logins += 1;
    axum::Json(json!({
        "access_token": value,
        "expires_in": lifetime.as_secs(),
        "token_type": "Bearer",
        "scope": "managementserver",
    }))
    .into_response()
}

async fn sites(State(xp): State<Arc<XpSite>>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    axum::Json(json!({ "array": [{
        "id": "5a170000-0000-4000-8000-000000000000",
        "name": "Simulated XProtect",
        "displayName": "Simulated XProtect",
        "version": xp.knobs().version,
        "relations": { "self": { "type": "sites", "id": "5a170000-0000-4000-8000-000000000000" } },
    }] }))
    .into_response()
}

fn camera_json(c: &XpCamera) -> Value {
    json!({
        "id": c.id,
        "name": c.name,
        "displayName": c.name,
        "enabled": true,
        "ptzEnabled": true,
        "relations": { "self": { "type": "cameras", "id": c.id } },
    })
}

async fn cameras(State(xp): State<Arc<XpSite>>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    let array: Vec<Value> = xp.cameras.iter().map(camera_json).collect();
    axum::Json(json!({ "array": array })).into_response()
}

async fn camera(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    match xp_camera(&xp, &id) {
        Ok(c) => axum::Json(json!({ "data": camera_json(c) })).into_response(),
        Err(r) => *r,
    }
}

async fn presets(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let array: Vec<Value> = camera
        .presets()
        .iter()
        .map(|p| preset_json(camera, p))
        .collect();
    axum::Json(json!({ "array": array })).into_response()
}

async fn preset(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path((id, preset)): Path<(String, String)>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    match camera
        .presets()
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(&preset))
    {
        Some(p) => axum::Json(json!({ "data": preset_json(camera, p) })).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("PtzPreset {preset} does not exist"),
        ),
    }
}

/// The number in `value[key]`, if it is one within `range`.
fn number_in(
    value: &Value,
    key: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<f64, Refused> {
    value
        .get(key)
        .and_then(Value::as_f64)
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            let body = json!({ "error": { "httpCode": 400, "details": [{
                "errorText": format!("{key} must be a number from {} to {}", range.start(), range.end()),
                "errorTextId": "VMO61008",
                "property": key,
            }] } });
            Box::new((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
        })
}

async fn create_or_default(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    match query.get("task").map(String::as_str) {
        None => {}
        Some("DefaultPtzPreset") => {
            let selection = body
                .get("itemSelection")
                .and_then(Value::as_str)
                .unwrap_or("");
            let wanted = selection
                .strip_prefix("PtzPreset[")
                .and_then(|s| s.strip_suffix(']'))
                .unwrap_or("");
            if !camera
                .presets()
                .iter()
                .any(|p| p.id.eq_ignore_ascii_case(wanted))
            {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("No preset matches {selection:?}"),
                );
            }
            *lock(&camera.default) = Some(wanted.to_lowercase());
            return run_task(
                &xp,
                "DefaultPtzPreset",
                json!({ "itemSelection": selection }),
            );
        }
        Some(other) => return error(StatusCode::BAD_REQUEST, &format!("Unknown task: {other}")),
    }
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .trim()
        .to_string();
    if name.is_empty() {
        return error(StatusCode::BAD_REQUEST, "name must not be empty");
    }
    let (pan, tilt, zoom) = match (
        number_in(&body, "pan", -1.0..=1.0),
        number_in(&body, "tilt", -1.0..=1.0),
        number_in(&body, "zoom", 0.0..=1.0),
    ) {
        (Ok(p), Ok(t), Ok(z)) => (p, t, z),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return *r,
    };
    if camera.presets().iter().any(|p| p.device) {
        return error(
            StatusCode::BAD_REQUEST,
            "The camera uses presets from the device; presets cannot be added",
        );
    }
    if camera.presets().iter().any(|p| p.name == name) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("A preset named {name:?} already exists"),
        );
    }
    let preset = XpPreset {
        id: xp.new_id(),
        name,
        description: body
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        position: [pan, tilt, zoom],
        locked: body.get("locked").and_then(Value::as_bool).unwrap_or(false),
        device: false,
    };
    let answer = preset_json(camera, &preset);
    camera.insert(preset);
    (StatusCode::CREATED, axum::Json(json!({ "result": answer }))).into_response()
}

async fn delete_preset(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path((id, preset)): Path<(String, String)>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let mut presets = lock(&camera.presets);
    let before = presets.len();
    presets.retain(|p| !p.id.eq_ignore_ascii_case(&preset));
    if presets.len() == before {
        return error(
            StatusCode::NOT_FOUND,
            &format!("PtzPreset {preset} does not exist"),
        );
    }
    drop(presets);
    let mut default = lock(&camera.default);
    if default
        .as_deref()
        .is_some_and(|d| d.eq_ignore_ascii_case(&preset))
    {
        *default = None;
    }
    axum::Json(json!({ "state": "Success" })).into_response()
}

/// Tasks that only 2024 R2 and later know.
fn ptz_tasks_known(xp: &XpSite) -> bool {
    let version = xp.knobs().version;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (year, release) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (year, release) >= (24, 2)
}

async fn preset_task(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path((id, preset)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let task = query.get("task").map(String::as_str).unwrap_or("");
    if task != "Goto" || !ptz_tasks_known(&xp) {
        return error(StatusCode::BAD_REQUEST, &format!("Unknown task: {task}"));
    }
    let Some(p) = camera
        .presets()
        .into_iter()
        .find(|p| p.id.eq_ignore_ascii_case(&preset))
    else {
        return error(
            StatusCode::NOT_FOUND,
            &format!("PtzPreset {preset} does not exist"),
        );
    };
    if !xp.knobs().fail_tasks {
        xp.world
            .camera(camera.index)
            .motion()
            .move_to(p.position, None, Instant::now());
    }
    run_task(&xp, "Goto", json!({}))
}

async fn camera_task(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Option<axum::Json<Value>>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let task = query.get("task").map(String::as_str).unwrap_or("");
    if !ptz_tasks_known(&xp) {
        return error(StatusCode::BAD_REQUEST, &format!("Unknown task: {task}"));
    }
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    match task {
        "GetPtzAbsolutePosition" => {
            let [pan, tilt, zoom] = xp.position(camera.index);
            run_task(&xp, task, json!({ "pan": pan, "tilt": tilt, "zoom": zoom }))
        }
        "SetPtzAbsolutePosition" => {
            let (pan, tilt, zoom) = match (
                number_in(&body, "pan", -1.0..=1.0),
                number_in(&body, "tilt", -1.0..=1.0),
                number_in(&body, "zoom", 0.0..=1.0),
            ) {
                (Ok(p), Ok(t), Ok(z)) => (p, t, z),
                (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return *r,
            };
            if !xp.knobs().fail_tasks {
                xp.world.camera(camera.index).motion().move_to(
                    [pan, tilt, zoom],
                    None,
                    Instant::now(),
                );
            }
            run_task(&xp, task, json!({}))
        }
        other => error(StatusCode::BAD_REQUEST, &format!("Unknown task: {other}")),
    }
}

/// A task's answer: its result at once, or (long tasks) a path to poll.
fn run_task(xp: &XpSite, name: &str, result: Value) -> Response {
    let knobs = xp.knobs();
    let outcome = if knobs.fail_tasks {
        Err("VMO60277: The device did not respond".to_string())
    } else {
        Ok(result)
    };
    // A task that finishes at once answers its result fields (or only its
    // state when it has none). A failure is only ever shown as the
    // documentation shows it: by the task's status, so failing tasks are long.
    if !knobs.long_tasks
        && let Ok(result) = &outcome
    {
        let body = match result {
            Value::Object(fields) if !fields.is_empty() => result.clone(),
            _ => json!({ "state": "Success" }),
        };
        return axum::Json(json!({ "result": body })).into_response();
    }
    let id = xp.next.fetch_add(1, Ordering::Relaxed);
    lock(&xp.tasks).insert(
        id,
        Task {
            name: name.into(),
            result: outcome,
            looks: 0,
        },
    );
    (
        StatusCode::CREATED,
        axum::Json(json!({ "result": {
            "state": "Idle",
            "path": { "type": "tasks", "id": id.to_string() },
        } })),
    )
        .into_response()
}

async fn task(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    let mut tasks = lock(&xp.tasks);
    let Some(task) = id.parse::<u64>().ok().and_then(|n| tasks.get_mut(&n)) else {
        return error(StatusCode::NOT_FOUND, &format!("Task {id} does not exist"));
    };
    task.looks += 1;
    let relations = json!({
        "self": { "type": "tasks", "id": id },
        "parent": { "type": "sites", "id": "5a170000-0000-4000-8000-000000000000" },
    });
    let data = if task.looks < 2 {
        json!({ "displayName": task.name, "progress": 50, "state": "InProgress", "relations": relations })
    } else {
        match &task.result {
            Ok(result) => {
                let mut data = json!({ "displayName": task.name, "progress": 100, "state": "Success", "relations": relations });
                if let (Some(d), Value::Object(fields)) = (data.as_object_mut(), result) {
                    for (k, v) in fields {
                        d.insert(k.clone(), v.clone());
                    }
                }
                data
            }
            Err(text) => json!({
                "displayName": task.name, "progress": 100, "state": "Error",
                "errorCode": 60277, "errorText": text, "relations": relations,
            }),
        }
    };
    axum::Json(json!({ "data": data })).into_response()
}

async fn task_cleanup(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    if query.get("task").map(String::as_str) != Some("TaskCleanup") {
        return error(StatusCode::BAD_REQUEST, "Unknown task");
    }
    let removed = id
        .parse::<u64>()
        .ok()
        .and_then(|n| lock(&xp.tasks).remove(&n));
    if removed.is_none() {
        return error(StatusCode::NOT_FOUND, &format!("Task {id} does not exist"));
    }
    lock(&xp.counts).cleanups += 1;
    axum::Json(json!({ "result": { "state": "Success" } })).into_response()
}

fn patrol_json(camera: &XpCamera, p: &XpPatrol) -> Value {
    let entries: Vec<Value> = p
        .entries
        .iter()
        .enumerate()
        .map(|(order, e)| {
            let name = camera
                .presets()
                .into_iter()
                .find(|x| x.id == e.preset)
                .map(|x| x.name)
                .unwrap_or_default();
            json!({ "displayName": name, "order": order, "presetId": e.preset, "waitTime": e.wait })
        })
        .collect();
    json!({
        "id": p.id,
        "name": p.name,
        "displayName": p.name,
        "description": "",
        "customizeTransitions": false,
        "initSpeed": 0.0,
        "initTransitionTime": 0.0,
        "endPresetId": p.end_preset.clone().unwrap_or_default(),
        "endSpeed": 0.0,
        "endTransitionTime": 0.0,
        "patrollingEntry": entries,
        "relations": {
            "self": { "type": "patrollingProfiles", "id": p.id },
            "parent": { "type": "cameras", "id": camera.id },
        },
    })
}

async fn patrols(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let camera = match admitted_camera(&xp, &headers, &id) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let array: Vec<Value> = camera
        .patrols()
        .iter()
        .map(|p| patrol_json(camera, p))
        .collect();
    axum::Json(json!({ "array": array })).into_response()
}

/// The camera and index of patrolling profile `id`.
fn find_patrol<'a>(xp: &'a XpSite, id: &str) -> Result<(&'a XpCamera, usize), Refused> {
    xp.cameras
        .iter()
        .find_map(|c| {
            lock(&c.patrols)
                .iter()
                .position(|p| p.id.eq_ignore_ascii_case(id))
                .map(|i| (c, i))
        })
        .ok_or_else(|| {
            Box::new(error(
                StatusCode::NOT_FOUND,
                &format!("PatrollingProfile {id} does not exist"),
            ))
        })
}

async fn patrol(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    match find_patrol(&xp, &id) {
        Ok((camera, i)) => {
            let p = camera.patrols()[i].clone();
            axum::Json(json!({ "data": patrol_json(camera, &p) })).into_response()
        }
        Err(r) => *r,
    }
}

/// The stops of a `patrollingEntry` array, in `order`.
fn entries_of(value: &Value) -> Option<Vec<XpEntry>> {
    let mut entries: Vec<(i64, XpEntry)> = value
        .as_array()?
        .iter()
        .map(|e| {
            Some((
                e.get("order")?.as_i64()?,
                XpEntry {
                    preset: e.get("presetId")?.as_str()?.to_string(),
                    wait: e.get("waitTime").and_then(Value::as_f64).unwrap_or(5.0),
                },
            ))
        })
        .collect::<Option<_>>()?;
    entries.sort_by_key(|(order, _)| *order);
    Some(entries.into_iter().map(|(_, e)| e).collect())
}

async fn patch_patrol(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    let (camera, i) = match find_patrol(&xp, &id) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let known = |preset: &str| {
        camera
            .presets()
            .iter()
            .any(|p| p.id.eq_ignore_ascii_case(preset))
    };
    let mut patrols = lock(&camera.patrols);
    let patrol = &mut patrols[i];
    if let Some(entries) = body.get("patrollingEntry") {
        let Some(entries) = entries_of(entries) else {
            return error(
                StatusCode::BAD_REQUEST,
                "patrollingEntry: each entry needs order and presetId",
            );
        };
        if let Some(bad) = entries.iter().find(|e| !known(&e.preset)) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("PtzPreset {} does not exist", bad.preset),
            );
        }
        if !xp.knobs().patch_keeps_entries {
            patrol.entries = entries;
        }
    }
    if let Some(end) = body.get("endPresetId").and_then(Value::as_str) {
        if !end.is_empty() && !known(end) {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("PtzPreset {end} does not exist"),
            );
        }
        patrol.end_preset = (!end.is_empty()).then(|| end.to_string());
    }
    let p = patrol.clone();
    drop(patrols);
    axum::Json(json!({ "data": patrol_json(camera, &p) })).into_response()
}

async fn patrol_task(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    body: Option<axum::Json<Value>>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    let (camera, i) = match find_patrol(&xp, &id) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    let task = query.get("task").map(String::as_str).unwrap_or("");
    let known = |preset: &str| {
        camera
            .presets()
            .iter()
            .any(|p| p.id.eq_ignore_ascii_case(preset))
    };
    let mut patrols = lock(&camera.patrols);
    let patrol = &mut patrols[i];
    match task {
        "AddPatrollingEntry" => {
            let order = body
                .get("order")
                .and_then(Value::as_u64)
                .map(|o| o as usize);
            let preset = body.get("presetId").and_then(Value::as_str).unwrap_or("");
            if !known(preset) {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("PtzPreset {preset} does not exist"),
                );
            }
            let wait = body.get("waitTime").and_then(Value::as_f64).unwrap_or(5.0);
            let at = order
                .unwrap_or(patrol.entries.len())
                .min(patrol.entries.len());
            patrol.entries.insert(
                at,
                XpEntry {
                    preset: preset.into(),
                    wait,
                },
            );
        }
        "RemovePatrollingEntry" => {
            let selection = body
                .get("itemSelection")
                .and_then(Value::as_str)
                .unwrap_or("");
            let index = selection
                .strip_prefix("PatrollingEntry[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|i| *i < patrol.entries.len());
            let Some(index) = index else {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("No entry matches {selection:?}"),
                );
            };
            patrol.entries.remove(index);
        }
        other => return error(StatusCode::BAD_REQUEST, &format!("Unknown task: {other}")),
    }
    drop(patrols);
    axum::Json(json!({ "result": { "state": "Success" } })).into_response()
}

/// The camera namespace's GUID [SEC: Milestone's `SecurityPermission` sample].
const CAMERA_NAMESPACE: &str = "623D03F8-C5D5-46BC-A2F4-4C03562D4F85";

async fn security_namespaces(State(xp): State<Arc<XpSite>>, headers: HeaderMap) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    if !ptz_tasks_known(&xp) {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    let actions: Vec<Value> = CAMERA_ACTIONS
        .iter()
        .map(|(name, mask)| json!({ "name": name, "displayName": name, "securityMask": mask }))
        .collect();
    axum::Json(json!({ "array": [{
        "id": CAMERA_NAMESPACE,
        "name": "Cameras",
        "displayName": "Cameras",
        "securityActions": actions,
    }] }))
    .into_response()
}

async fn effective_permissions(
    State(xp): State<Arc<XpSite>>,
    headers: HeaderMap,
    Path(namespace): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = admit(&xp, &headers, false) {
        return *r;
    }
    if !ptz_tasks_known(&xp) {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    if !namespace.eq_ignore_ascii_case(CAMERA_NAMESPACE) {
        return error(
            StatusCode::NOT_FOUND,
            &format!("SecurityNamespace {namespace} does not exist"),
        );
    }
    let rights = xp.knobs().rights;
    let objects: Vec<Value> = query
        .get("objectIds")
        .map(|ids| {
            ids.split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|id| json!({ "id": id, "mask": rights.unwrap_or(u64::MAX >> 1) }))
        .collect();
    axum::Json(json!({ "data": {
        "isAdministrator": rights.is_none(),
        "objectPermissions": objects,
    } }))
    .into_response()
}
