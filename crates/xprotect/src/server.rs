//! One XProtect installation, reached through its API Gateway.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::tls::{self, Trust};
use crate::types::{
    Camera, Data, EffectivePermissions, ErrorBody, Listing, NewPreset, Outcome, PatrolEntry,
    PatrollingProfile, Position, PtzPreset, SecurityNamespace, SiteInfo, Started, TaskStatus,
    TokenAnswer, TokenRefusal, WellKnownUris, absolute_position_body, add_patrol_entry_body,
    default_preset_body, patrol_patch_body, remove_patrol_entry_body, token_form,
};

/// The REST root under the server's address.
const REST: &str = "/api/rest/v1";
/// The identity provider's token endpoint under the server's address.
const TOKEN_PATH: &str = "/API/IDP/connect/token";
/// The largest answer read: a camera's presets are a few kilobytes; a
/// hostile or broken server must not fill memory.
const MAX_ANSWER: usize = 8 << 20;

/// An XProtect basic user's name and password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// How a [`Server`] behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Longest wait for one HTTP exchange, and for a task to finish.
    pub timeout: Duration,
    /// Pause between two looks at a running task.
    pub task_poll: Duration,
    /// The OAuth client id of the password grant (`GrantValidatorClient` in
    /// Milestone's samples).
    pub client_id: String,
    /// Which certificates the server may present over HTTPS.
    pub trust: Trust,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            timeout: Duration::from_secs(10),
            task_poll: Duration::from_millis(100),
            client_id: "GrantValidatorClient".into(),
            trust: Trust::PublicRoots,
        }
    }
}

/// An XProtect product version: `24.2.0.1` is 2024 R2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// The year within the century (24 for 2024).
    pub year: u32,
    /// The release of that year (R1 = 1).
    pub release: u32,
}

impl Version {
    /// The first version with the PTZ tasks (preset `Goto`, absolute position).
    pub const PTZ_TASKS: Version = Version {
        year: 24,
        release: 2,
    };

    /// Reads `24.2.0.1` (or `24.2`).
    pub fn parse(text: &str) -> Option<Version> {
        let mut parts = text.trim().split('.');
        let year = parts.next()?.parse().ok()?;
        let release = parts.next()?.parse().ok()?;
        Some(Version { year, release })
    }

    /// Whether preset recall and absolute moves exist (2024 R2 and later).
    pub fn has_ptz_tasks(self) -> bool {
        self >= Self::PTZ_TASKS
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "20{:02} R{}", self.year, self.release)
    }
}

/// The security namespace of cameras [SEC: Milestone's `SecurityPermission` sample].
pub const CAMERA_NAMESPACE: &str = "623D03F8-C5D5-46BC-A2F4-4C03562D4F85";

/// What a user may do on one camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    /// An administrator may do everything.
    pub administrator: bool,
    /// The camera actions granted, by name.
    pub granted: Vec<String>,
    /// The camera actions not granted, by name.
    pub refused: Vec<String>,
}

/// A bearer token and when to ask for the next one.
struct Token {
    value: String,
    renew_at: Instant,
    /// The lifetime the identity provider gave it.
    life: Duration,
}

/// One XProtect installation: its token, version, cameras, presets and tasks.
pub struct Server {
    base: String,
    credentials: Credentials,
    config: ServerConfig,
    http: reqwest::Client,
    /// One login at a time: concurrent calls wait for the same new token.
    token: tokio::sync::Mutex<Option<Token>>,
    /// The version and when it was read: read again after [`VERSION_TTL`],
    /// as a server is upgraded while tandem runs.
    version: std::sync::Mutex<Option<(Version, Instant)>>,
}

/// How long a read version is trusted.
const VERSION_TTL: Duration = Duration::from_secs(600);

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("base", &self.base)
            .field("username", &self.credentials.username)
            .finish()
    }
}

impl Server {
    /// A server at `base` (e.g. `https://vms.example:443`), not contacted yet.
    pub fn new(base: &str, credentials: Credentials, config: ServerConfig) -> Result<Server> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::Refused(format!(
                "XProtect address {base:?} must start with http:// or https://"
            )));
        }
        let builder = reqwest::Client::builder().timeout(config.timeout);
        let http = tls::configure(builder, &config.trust)?
            .build()
            .map_err(|e| Error::Protocol(format!("cannot build an HTTP client: {e}")))?;
        Ok(Server {
            base,
            credentials,
            config,
            http,
            token: tokio::sync::Mutex::new(None),
            version: std::sync::Mutex::new(None),
        })
    }

    /// The server's address.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The product version, from `/sites` (which proves the login too),
    /// else from the well-known URIs; read again after ten minutes.
    pub async fn version(&self) -> Result<Version> {
        if let Some((v, read)) = *self.version.lock().unwrap_or_else(|p| p.into_inner())
            && read.elapsed() < VERSION_TTL
        {
            return Ok(v);
        }
        let sites: Listing<SiteInfo> = self.get(&format!("{REST}/sites")).await?;
        let from_sites = sites.array.iter().find_map(|s| Version::parse(&s.version));
        let version = match from_sites {
            Some(v) => v,
            None => {
                let uris: WellKnownUris = self.get_anonymous("/api/.well-known/uris").await?;
                uris.product_version
                    .as_deref()
                    .and_then(Version::parse)
                    .ok_or_else(|| {
                        Error::Protocol(format!(
                            "XProtect {}: the server names no product version",
                            self.base
                        ))
                    })?
            }
        };
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = Some((version, Instant::now()));
        Ok(version)
    }

    /// Whether the server answers with the current token (its `/sites`,
    /// never cached): a health probe. Refreshes the version read.
    pub async fn ping(&self) -> Result<Version> {
        *self.version.lock().unwrap_or_else(|p| p.into_inner()) = None;
        self.version().await
    }

    /// The lifetime of the tokens the identity provider gives (that of the
    /// current token), once one was asked for.
    pub async fn token_lifetime(&self) -> Option<Duration> {
        self.token.lock().await.as_ref().map(|t| t.life)
    }

    /// Every camera, disabled ones included.
    pub async fn cameras(&self) -> Result<Vec<Camera>> {
        let list: Listing<Camera> = self.get(&format!("{REST}/cameras?disabled")).await?;
        Ok(list.array)
    }

    /// One camera by GUID.
    pub async fn camera(&self, id: &str) -> Result<Camera> {
        let one: Data<Camera> = self
            .get(&format!("{REST}/cameras/{}", segment(id)?))
            .await?;
        Ok(one.data)
    }

    /// The camera named by `guid_or_name`: a GUID, or a name (or display
    /// name) that exactly one camera has.
    pub async fn find_camera(&self, guid_or_name: &str) -> Result<Camera> {
        let cameras = self.cameras().await?;
        if let Some(c) = cameras
            .iter()
            .find(|c| c.id.eq_ignore_ascii_case(guid_or_name))
        {
            return Ok(c.clone());
        }
        let named: Vec<&Camera> = cameras
            .iter()
            .filter(|c| c.name == guid_or_name || c.display_name.as_deref() == Some(guid_or_name))
            .collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(Error::NotFound(format!(
                "XProtect {}: no camera has the id or name {guid_or_name:?}",
                self.base
            ))),
            many => Err(Error::Refused(format!(
                "XProtect {}: {} cameras are named {guid_or_name:?}; name the camera by its id",
                self.base,
                many.len()
            ))),
        }
    }

    /// The camera's presets as the VMS keeps them.
    pub async fn presets(&self, camera: &str) -> Result<Vec<PtzPreset>> {
        let list: Listing<PtzPreset> = self
            .get(&format!("{REST}/cameras/{}/ptzPresets", segment(camera)?))
            .await?;
        Ok(list.array)
    }

    /// Creates a system preset (the camera does not move) and answers it as
    /// the server then lists it.
    pub async fn create_preset(&self, camera: &str, preset: &NewPreset) -> Result<PtzPreset> {
        let camera = segment(camera)?;
        let body = serde_json::to_value(preset)
            .map_err(|e| Error::Protocol(format!("cannot write a preset: {e}")))?;
        let path = format!("{REST}/cameras/{camera}/ptzPresets");
        let (status, bytes) = self.send(Method::POST, &path, Some(&body)).await?;
        let started: Outcome<Started> = self.decode(status, &bytes, &path)?;
        let id = started
            .result
            .id
            .or_else(|| started.result.path.map(|p| p.id))
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "XProtect {}: the new preset's id is missing from the answer",
                    self.base
                ))
            })?;
        let one: Data<PtzPreset> = self.get(&format!("{path}/{}", segment(&id)?)).await?;
        Ok(one.data)
    }

    /// Deletes a preset; one already gone is not an error.
    pub async fn delete_preset(&self, camera: &str, preset: &str) -> Result<()> {
        let path = format!(
            "{REST}/cameras/{}/ptzPresets/{}",
            segment(camera)?,
            segment(preset)?
        );
        match self.send(Method::DELETE, &path, None).await {
            Ok((status, bytes)) => self.decode::<Value>(status, &bytes, &path).map(|_| ()),
            Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Changes a system preset. The API has no update for presets, so the
    /// preset is made anew: its patrols and default flag are read first,
    /// the old preset deleted (XProtect names are unique per camera), the
    /// new one created, then the patrols pointed at it and the default set
    /// again. The new preset has a new GUID, which is answered. A crash in
    /// between leaves the camera without it; the caller's journal makes it
    /// again (the patrols that named it are then reported, not lost).
    /// A preset from the device (rename-only in XProtect) is refused.
    pub async fn replace_preset(
        &self,
        camera: &str,
        old: &PtzPreset,
        new: &NewPreset,
    ) -> Result<PtzPreset> {
        if old.device_preset {
            return Err(Error::Refused(format!(
                "XProtect {}: preset {:?} comes from the device; XProtect lets it be renamed only, \
                 in its Management Client",
                self.base, old.name
            )));
        }
        let patrols: Vec<PatrollingProfile> = self
            .patrols(camera)
            .await?
            .into_iter()
            .filter(|p| p.refers_to(&old.id))
            .collect();
        self.delete_preset(camera, &old.id).await?;
        let created = self.create_preset(camera, new).await?;
        for patrol in &patrols {
            self.repoint(patrol, &old.id, &created.id).await?;
        }
        if old.default_preset {
            self.set_default_preset(camera, &created.id).await?;
        }
        Ok(created)
    }

    /// What the user may do on a camera (2024 R2 and later): an
    /// administrator, or the names of the camera actions granted and those
    /// not granted.
    pub async fn camera_rights(&self, camera: &str) -> Result<Rights> {
        self.require_ptz_tasks("report the user's rights").await?;
        let namespaces: Listing<SecurityNamespace> =
            self.get(&format!("{REST}/securityNamespaces")).await?;
        let cameras = namespaces
            .array
            .into_iter()
            .find(|n| n.id.eq_ignore_ascii_case(CAMERA_NAMESPACE))
            .ok_or_else(|| {
                Error::Protocol(format!(
                    "XProtect {}: no security namespace for cameras ({CAMERA_NAMESPACE})",
                    self.base
                ))
            })?;
        let camera = segment(camera)?;
        let effective: Data<EffectivePermissions> = self
            .get(&format!(
                "{REST}/effectivePermissions/{}?objectIds={camera}",
                segment(&cameras.id)?
            ))
            .await?;
        let mask = effective
            .data
            .object_permissions
            .iter()
            .find(|o| o.id.eq_ignore_ascii_case(camera))
            .map_or(0, |o| o.mask);
        let (granted, refused): (Vec<_>, Vec<_>) = cameras
            .security_actions
            .into_iter()
            .partition(|a| effective.data.is_administrator || a.security_mask & mask != 0);
        Ok(Rights {
            administrator: effective.data.is_administrator,
            granted: granted.into_iter().map(|a| a.name).collect(),
            refused: refused.into_iter().map(|a| a.name).collect(),
        })
    }

    /// The camera's patrolling profiles.
    pub async fn patrols(&self, camera: &str) -> Result<Vec<PatrollingProfile>> {
        let list: Listing<PatrollingProfile> = self
            .get(&format!(
                "{REST}/cameras/{}/patrollingProfiles",
                segment(camera)?
            ))
            .await?;
        Ok(list.array)
    }

    /// Points every stop and the end of `patrol` (as it was read) that named
    /// `from` at `to`: one `PATCH` of the profile, checked by reading it
    /// back; where the server kept the old stops, the documented entry tasks
    /// (`RemovePatrollingEntry`, `AddPatrollingEntry`) one stop at a time.
    pub async fn repoint(&self, patrol: &PatrollingProfile, from: &str, to: &str) -> Result<()> {
        let path = format!("{REST}/patrollingProfiles/{}", segment(&patrol.id)?);
        let same = |id: &str| id.eq_ignore_ascii_case(from);
        let entries: Vec<PatrolEntry> = patrol
            .patrolling_entry
            .iter()
            .map(|e| PatrolEntry {
                preset_id: if same(&e.preset_id) {
                    to.into()
                } else {
                    e.preset_id.clone()
                },
                ..e.clone()
            })
            .collect();
        let end = patrol
            .end_preset_id
            .as_deref()
            .filter(|e| !e.is_empty())
            .map(|e| if same(e) { to } else { e });
        let body = patrol_patch_body(&entries, end);
        // What the PATCH answers is not documented: the read-back decides.
        self.send(Method::PATCH, &path, Some(&body)).await?;
        let now: Data<PatrollingProfile> = self.get(&path).await?;
        if !now.data.refers_to(from) {
            return Ok(());
        }
        // The entries did not take through PATCH: one stop at a time, from
        // the last, so the indexes of those before do not move.
        let mut stops = now.data.patrolling_entry.clone();
        stops.sort_by_key(|e| e.order);
        for (index, stop) in stops.iter().enumerate().rev() {
            if !same(&stop.preset_id) {
                continue;
            }
            self.task(
                &path,
                "RemovePatrollingEntry",
                &remove_patrol_entry_body(index),
            )
            .await?;
            let add = add_patrol_entry_body(index, to, stop.wait_time);
            self.task(&path, "AddPatrollingEntry", &add).await?;
        }
        let now: Data<PatrollingProfile> = self.get(&path).await?;
        if now.data.refers_to(from) {
            return Err(Error::Protocol(format!(
                "XProtect {}: patrolling profile {:?} still names the old preset after re-pointing",
                self.base, patrol.name
            )));
        }
        Ok(())
    }

    /// Makes `preset` the camera's default preset (`DefaultPtzPreset` task).
    pub async fn set_default_preset(&self, camera: &str, preset: &str) -> Result<()> {
        let path = format!("{REST}/cameras/{}/ptzPresets", segment(camera)?);
        let body = default_preset_body(segment(preset)?);
        self.task(&path, "DefaultPtzPreset", &body)
            .await
            .map(|_| ())
    }

    /// Moves the camera to a preset (`Goto`, 2024 R2 and later).
    pub async fn goto_preset(&self, camera: &str, preset: &str) -> Result<()> {
        self.require_ptz_tasks("recall a preset").await?;
        let path = format!(
            "{REST}/cameras/{}/ptzPresets/{}",
            segment(camera)?,
            segment(preset)?
        );
        self.task(&path, "Goto", &json!({})).await.map(|_| ())
    }

    /// Where the camera points (`GetPtzAbsolutePosition`, 2024 R2 and later).
    pub async fn position(&self, camera: &str) -> Result<Position> {
        self.require_ptz_tasks("read the camera's position").await?;
        let path = format!("{REST}/cameras/{}", segment(camera)?);
        let fields = self
            .task(&path, "GetPtzAbsolutePosition", &json!({}))
            .await?;
        serde_json::from_value(Value::Object(fields)).map_err(|e| {
            Error::Protocol(format!(
                "XProtect {}: GetPtzAbsolutePosition answered without a position: {e}",
                self.base
            ))
        })
    }

    /// Moves the camera to `position` at `speed` (0 to 1)
    /// (`SetPtzAbsolutePosition`, 2024 R2 and later).
    pub async fn move_to(&self, camera: &str, position: Position, speed: f64) -> Result<()> {
        self.require_ptz_tasks("move the camera").await?;
        let path = format!("{REST}/cameras/{}", segment(camera)?);
        let body = absolute_position_body(position, speed);
        self.task(&path, "SetPtzAbsolutePosition", &body)
            .await
            .map(|_| ())
    }

    async fn require_ptz_tasks(&self, what: &str) -> Result<()> {
        let version = self.version().await?;
        if version.has_ptz_tasks() {
            Ok(())
        } else {
            Err(Error::Unsupported(format!(
                "XProtect {} runs {version}, which cannot {what} through its REST API; \
                 {} or later is needed",
                self.base,
                Version::PTZ_TASKS
            )))
        }
    }

    /// Runs task `name` on the object at `path`: started, followed to its
    /// end when it is long (polled, then cleaned up), its result fields answered.
    async fn task(&self, path: &str, name: &str, body: &Value) -> Result<Map<String, Value>> {
        let url = format!("{path}?task={name}");
        let (status, bytes) = self.send(Method::POST, &url, Some(body)).await?;
        let started: Outcome<Started> = self.decode(status, &bytes, &url)?;
        let Some(task) = started.result.path.filter(|p| p.kind == "tasks") else {
            if started.result.state.as_deref() == Some("Error") {
                return Err(Error::Refused(format!(
                    "XProtect {}: task {name} failed: {}",
                    self.base,
                    text_of(&started.result.fields)
                )));
            }
            return Ok(started.result.fields);
        };
        let id = segment(&task.id)?.to_string();
        let outcome = self.follow(&id, name).await;
        // Always cleaned up: a finished task stays on the server until then.
        let cleanup = format!("{REST}/tasks/{id}?task=TaskCleanup");
        if let Err(e) = self.send(Method::POST, &cleanup, Some(&json!({}))).await {
            tracing::debug!(server = %self.base, task = %id, error = %e, "task cleanup failed");
        }
        outcome
    }

    /// Polls task `id` until it ends or the timeout passes.
    async fn follow(&self, id: &str, name: &str) -> Result<Map<String, Value>> {
        let deadline = Instant::now() + self.config.timeout;
        loop {
            let status: Data<TaskStatus> = self.get(&format!("{REST}/tasks/{id}")).await?;
            let status = status.data;
            if status.finished() {
                return if status.state == "Success" {
                    Ok(status.fields)
                } else {
                    let code = status
                        .error_code
                        .as_ref()
                        .map(|c| format!(" (code {c})"))
                        .unwrap_or_default();
                    Err(Error::Refused(format!(
                        "XProtect {}: task {name} failed{code}: {}",
                        self.base,
                        status.error_text.as_deref().unwrap_or("no reason given")
                    )))
                };
            }
            if Instant::now() >= deadline {
                return Err(Error::Unavailable(format!(
                    "XProtect {}: task {name} did not finish within {:?} (state {}, {}%)",
                    self.base,
                    self.config.timeout,
                    status.state,
                    status.progress.unwrap_or(0.0)
                )));
            }
            tokio::time::sleep(self.config.task_poll).await;
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (status, bytes) = self.send(Method::GET, path, None).await?;
        self.decode(status, &bytes, path)
    }

    async fn get_anonymous<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let request = self.http.get(format!("{}{path}", self.base));
        let (status, bytes) = self.exchange(request, path).await?;
        self.decode(status, &bytes, path)
    }

    /// Sends a request with the bearer token; on a 401, asks for a new token
    /// once and sends it again (the server did not execute a refused request).
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let mut renewed = false;
        loop {
            let token = self.bearer(renewed).await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{path}", self.base))
                .bearer_auth(&token)
                .header(reqwest::header::ACCEPT, "application/json");
            if let Some(body) = body {
                request = request.json(body);
            }
            let (status, bytes) = self.exchange(request, path).await?;
            if status == StatusCode::UNAUTHORIZED && !renewed {
                self.forget(&token).await;
                renewed = true;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(Error::Unauthorized(format!(
                    "XProtect {}: {path}: a new token was refused too (401){}",
                    self.base,
                    quote(&bytes)
                )));
            }
            return match classify(status, &bytes) {
                None => Ok((status, bytes)),
                Some(make) => Err(make(format!(
                    "XProtect {}: {path}: {}{}",
                    self.base,
                    status.as_u16(),
                    quote(&bytes)
                ))),
            };
        }
    }

    /// One HTTP exchange; the answer read up to [`MAX_ANSWER`].
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        path: &str,
    ) -> Result<(StatusCode, Vec<u8>)> {
        let unreachable = |e: reqwest::Error| match tls::certificate_problem(&e) {
            // A certificate no retry will cure: said as such.
            Some(problem) => Error::Refused(format!(
                "XProtect {}: the server's certificate is not trusted: {problem}",
                self.base
            )),
            None => Error::Unavailable(format!("XProtect {}: {path}: {e}", self.base)),
        };
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if bytes.len() + chunk.len() > MAX_ANSWER {
                return Err(Error::Protocol(format!(
                    "XProtect {}: {path}: the answer is larger than {} MiB",
                    self.base,
                    MAX_ANSWER >> 20
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((status, bytes))
    }

    fn decode<T: DeserializeOwned>(
        &self,
        status: StatusCode,
        bytes: &[u8],
        path: &str,
    ) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::Protocol(format!(
                "XProtect {}: {path}: {} answer is not the documented JSON ({e}){}",
                self.base,
                status.as_u16(),
                quote(bytes)
            ))
        })
    }

    /// The current token, or a new one when there is none, it is due for
    /// renewal, or `renew` (the last one was refused).
    async fn bearer(&self, renew: bool) -> Result<String> {
        let mut token = self.token.lock().await;
        if let Some(t) = token
            .as_ref()
            .filter(|t| !renew && Instant::now() < t.renew_at)
        {
            return Ok(t.value.clone());
        }
        let fresh = self.login().await?;
        let value = fresh.value.clone();
        *token = Some(fresh);
        Ok(value)
    }

    /// Drops `refused` unless another call already replaced it.
    async fn forget(&self, refused: &str) {
        let mut token = self.token.lock().await;
        if token.as_ref().is_some_and(|t| t.value == refused) {
            *token = None;
        }
    }

    /// Asks the identity provider for a token (the password grant).
    async fn login(&self) -> Result<Token> {
        let asked = Instant::now();
        let form = token_form(
            &self.credentials.username,
            &self.credentials.password,
            &self.config.client_id,
        );
        let request = self
            .http
            .post(format!("{}{TOKEN_PATH}", self.base))
            .form(&form);
        let (status, bytes) = self.exchange(request, TOKEN_PATH).await?;
        if status.is_server_error() {
            return Err(Error::Unavailable(format!(
                "XProtect {}: the identity provider answered {}{}",
                self.base,
                status.as_u16(),
                quote(&bytes)
            )));
        }
        if !status.is_success() {
            let refusal: TokenRefusal = serde_json::from_slice(&bytes).unwrap_or_default();
            let reason = refusal
                .error_description
                .or(refusal.error_code)
                .or(refusal.error)
                .unwrap_or_else(|| format!("{}{}", status.as_u16(), quote(&bytes)));
            return Err(Error::Unauthorized(format!(
                "XProtect {}: the identity provider refused user {:?}: {reason}",
                self.base, self.credentials.username
            )));
        }
        let answer: TokenAnswer = self.decode(status, &bytes, TOKEN_PATH)?;
        // Renewed well before the end: at 80 % of its life, and at least
        // 30 s before it expires, so no request carries a token about to lapse.
        let life = Duration::from_secs(answer.expires_in);
        let early = (life / 5).max(Duration::from_secs(30)).min(life);
        Ok(Token {
            value: answer.access_token,
            renew_at: asked + (life - early),
            life,
        })
    }
}

/// The error class of a non-2xx answer (401 is handled by the caller).
fn classify(status: StatusCode, _bytes: &[u8]) -> Option<fn(String) -> Error> {
    match status.as_u16() {
        200..=299 => None,
        403 => Some(Error::Forbidden),
        404 => Some(Error::NotFound),
        400..=499 => Some(Error::Refused),
        _ => Some(Error::Unavailable),
    }
}

/// `": <the server's words>"`, from its error JSON or the body's first line.
fn quote(bytes: &[u8]) -> String {
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes)
        && let Some(text) = body.text()
    {
        return format!(": {}", cut(&text));
    }
    let text = String::from_utf8_lossy(bytes);
    match text.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => format!(": {}", cut(line)),
        None => String::new(),
    }
}

/// At most 300 characters, control characters dropped.
fn cut(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(300).collect()
}

/// The reason a task's own fields give, if any.
fn text_of(fields: &Map<String, Value>) -> String {
    ["errorText", "error", "message"]
        .iter()
        .find_map(|k| fields.get(*k).and_then(Value::as_str))
        .unwrap_or("no reason given")
        .to_string()
}

/// An id as one path segment: XProtect ids are GUIDs and digit strings;
/// anything else is refused rather than sent.
fn segment(id: &str) -> Result<&str> {
    if !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        Ok(id)
    } else {
        Err(Error::Refused(format!("{id:?} is not an XProtect id")))
    }
}
