//! The processes a run measures: `tandem sim` and `tandem serve`, started
//! from the `tandem` binary beside this one on loopback ports chosen at run
//! time, and an HTTP client of the service's API (requests and answers of
//! `tandem_api`'s types).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tandem_api::access::{GrantDto, LoginDto, NewTokenDto, NewUserDto, RoleDto, TokenDto};
use tandem_api::sync::{ScanDto, ScanRequest};

/// The `tandem` binary: `TANDEM_BIN`, or the one built beside this one.
pub fn tandem_bin() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("TANDEM_BIN") {
        return Ok(PathBuf::from(path));
    }
    let me = std::env::current_exe().context("cannot locate tandem-bench")?;
    let beside = me.with_file_name(format!("tandem{}", std::env::consts::EXE_SUFFIX));
    if beside.exists() {
        return Ok(beside);
    }
    bail!(
        "no tandem binary beside {} (build it: cargo build --release -p tandem), or set TANDEM_BIN",
        me.display()
    )
}

/// A child process killed when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    /// CPU time the process has used so far (user + system; Linux).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .context("reading /proc: CPU figures need Linux")?;
        // Fields after the command name (which may hold spaces) start after ") ".
        let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name; 100 ticks a second.
        Ok(Duration::from_millis((ticks(11) + ticks(12)) * 10))
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `command` and reads its output line by line until `ready` finds
/// what it waits for; the rest of the output is then drained in the background.
fn start_until<T>(
    command: &mut Command,
    what: &str,
    mut ready: impl FnMut(&str) -> anyhow::Result<Option<T>>,
) -> anyhow::Result<(Proc, T)> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {what}"))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let proc = Proc(child);
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    let found = loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            bail!("{what} stopped before it was ready");
        }
        if let Some(found) = ready(&line)? {
            break found;
        }
    };
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Ok((proc, found))
}

/// A fresh scratch folder for one run.
pub fn scratch(name: &str) -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("tandem-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// One simulated endpoint, as `tandem sim --json` prints it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Endpoint {
    /// Site number, 1 for the primary.
    pub site: usize,
    /// Camera number, from 1.
    pub camera: usize,
    /// The device service URL.
    pub device_url: String,
    /// Device user.
    pub username: String,
    /// Device password.
    pub password: String,
}

/// A running `tandem sim` with its configuration written for the service.
pub struct Sim {
    /// The process.
    pub proc: Proc,
    /// The control API's base URL.
    pub control: String,
    /// Every endpoint.
    pub endpoints: Vec<Endpoint>,
    /// The tandem configuration for these sites.
    pub config: PathBuf,
    http: reqwest::Client,
}

impl Sim {
    /// Starts two sites of `cameras` cameras with `presets` seeded presets each.
    pub fn start(
        dir: &Path,
        cameras: usize,
        presets: usize,
        profiles: &[&str],
    ) -> anyhow::Result<Sim> {
        let config = dir.join("tandem.toml");
        let mut command = Command::new(tandem_bin()?);
        command
            .args([
                "sim",
                "--json",
                "--cameras",
                &cameras.to_string(),
                "--presets",
                &presets.to_string(),
            ])
            .arg("--write-config")
            .arg(&config);
        for p in profiles {
            command.args(["--profile", p]);
        }
        let mut endpoints = Vec::new();
        let (proc, control) = start_until(&mut command, "tandem sim", |line| {
            let value: Value = serde_json::from_str(line).context("sim output")?;
            match value["kind"].as_str() {
                Some("endpoint") => endpoints.push(serde_json::from_value(value)?),
                Some("control") => {
                    return Ok(Some(
                        value["url"].as_str().context("control url")?.to_string(),
                    ));
                }
                _ => {}
            }
            Ok(None)
        })?;
        Ok(Sim {
            proc,
            control,
            endpoints,
            config,
            http: reqwest::Client::new(),
        })
    }

    /// Changes a site's faults (`{"down": true}`, `{"latency_ms": 20}`...).
    pub async fn faults(&self, site: usize, patch: Value) -> anyhow::Result<()> {
        let response = self
            .http
            .patch(format!("{}/api/sites/{site}/faults", self.control))
            .json(&patch)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "faults: {}",
            response.status()
        );
        Ok(())
    }

    /// A site's presets of a camera: (token, name).
    pub async fn presets(
        &self,
        site: usize,
        camera: usize,
    ) -> anyhow::Result<Vec<(String, String)>> {
        let value: Value = self
            .http
            .get(format!(
                "{}/api/sites/{site}/cameras/{camera}/presets",
                self.control
            ))
            .send()
            .await?
            .json()
            .await?;
        Ok(value["presets"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                (
                    p["token"].as_str().unwrap_or_default().to_string(),
                    p["name"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect())
    }

    /// The endpoint of a camera on a site.
    pub fn endpoint(&self, site: usize, camera: usize) -> anyhow::Result<&Endpoint> {
        self.endpoints
            .iter()
            .find(|e| e.site == site && e.camera == camera)
            .with_context(|| format!("no endpoint for camera {camera} on site {site}"))
    }
}

/// The admin's password in every run.
pub const ADMIN_PASSWORD: &str = "bench-admin-password";

/// A running `tandem serve`.
pub struct Service {
    /// The process.
    pub proc: Proc,
    /// Its base URL.
    pub url: String,
}

impl Service {
    /// Starts `tandem serve` on `config` (no scheduled scans) on a free
    /// loopback port, with extra flags.
    pub fn start(config: &Path, extra: &[&str]) -> anyhow::Result<Service> {
        Service::start_on(config, "127.0.0.1:0", extra)
    }

    /// [`Service::start`] on a given address (a restart keeps its port).
    pub fn start_on(config: &Path, listen: &str, extra: &[&str]) -> anyhow::Result<Service> {
        let mut command = Command::new(tandem_bin()?);
        command
            .arg("serve")
            .arg("-c")
            .arg(config)
            .args(["--listen", listen, "--scan-every-min", "0"])
            .args(extra)
            .env("TANDEM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "error");
        let (proc, url) = start_until(&mut command, "tandem serve", |line| {
            Ok(line
                .strip_prefix("tandem serving on ")
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_string))
        })?;
        Ok(Service { proc, url })
    }

    /// CPU time the process has used so far (user + system; Linux).
    pub fn cpu_time(&self) -> anyhow::Result<Duration> {
        self.proc.cpu_time()
    }

    /// Resident and peak resident memory of the process, in KiB (Linux).
    pub fn memory_kib(&self) -> anyhow::Result<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.proc.pid()))
            .context("reading /proc: memory figures need Linux")?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((field("VmRSS:"), field("VmHWM:")))
    }
}

/// A client of the API with a bearer token.
#[derive(Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// An answer: status and JSON body (null when not JSON); [`typed`] reads it
/// as its `tandem_api` type.
pub type Answer = (u16, Value);

/// An answer's body as the `tandem_api` type the route answers with.
pub fn typed<T: DeserializeOwned>(body: &Value) -> anyhow::Result<T> {
    T::deserialize(body).with_context(|| format!("an unexpected answer: {body}"))
}

impl Api {
    /// Logs in as `user` and makes an API token for the rest of the run.
    pub async fn login(base: &str, user: &str, password: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        let login = http
            .post(format!("{base}/api/v1/login"))
            .json(&LoginDto {
                username: user.to_string(),
                password: password.to_string(),
            })
            .send()
            .await?;
        anyhow::ensure!(
            login.status().is_success(),
            "login as {user}: {}",
            login.status()
        );
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .context("no session cookie")?
            .to_string();
        let token: TokenDto = http
            .post(format!("{base}/api/v1/tokens"))
            .header("cookie", cookie)
            // A change authenticated by the cookie must name the service's origin.
            .header("origin", base)
            .json(&NewTokenDto {
                label: "bench".into(),
            })
            .send()
            .await?
            .json()
            .await?;
        Ok(Api {
            http,
            base: base.to_string(),
            token: token.secret.context("token secret")?,
        })
    }

    /// Sends one request, with a body of a `tandem_api` request type or none.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&impl Serialize>,
    ) -> anyhow::Result<Answer> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(900));
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    /// GET of a text resource (`/metrics`).
    pub async fn text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        Ok(response.text().await?)
    }

    /// GET.
    pub async fn get(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::GET, path, None::<&()>).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// POST without a body: the live commands that take none (`ptz/stop`,
    /// `presets/{n}/recall`).
    pub async fn command(&self, path: &str) -> anyhow::Result<Answer> {
        self.call(reqwest::Method::POST, path, None::<&()>).await
    }

    /// `POST /api/v1/scans` of every camera; the reports, or why not.
    pub async fn scan(&self) -> anyhow::Result<Vec<ScanDto>> {
        let (status, body) = self
            .post("/api/v1/scans", &ScanRequest { cameras: None })
            .await?;
        anyhow::ensure!(status == 200, "scan: {status} {body}");
        typed(&body)
    }

    /// Waits until the service answers `/healthz`.
    pub async fn wait_healthy(base: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Ok(r) = reqwest::get(format!("{base}/healthz")).await
                && r.status().is_success()
            {
                return Ok(());
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{base} did not come up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates `count` users `op1`.. with one role holding `permissions`, each logged in.
    pub async fn operators(&self, count: usize, permissions: &[&str]) -> anyhow::Result<Vec<Api>> {
        let role = RoleDto {
            name: "bench-operator".into(),
            ptz_priority: 1000,
            grants: permissions
                .iter()
                .map(|p| GrantDto {
                    permission: p.to_string(),
                    group: None,
                })
                .collect(),
        };
        let (status, body) = self
            .call(
                reqwest::Method::PUT,
                "/api/v1/roles/bench-operator",
                Some(&role),
            )
            .await?;
        anyhow::ensure!(status < 300, "role: {status} {body}");
        let mut out = Vec::with_capacity(count);
        for i in 1..=count {
            let name = format!("op{i}");
            // Not containing the user name: the password policy refuses that.
            let password = format!("tulip-kettle-harbour-{i}");
            let user = NewUserDto {
                name: name.clone(),
                password: password.clone(),
                roles: vec!["bench-operator".into()],
            };
            let (status, body) = self.post("/api/v1/users", &user).await?;
            anyhow::ensure!(
                status < 300 || status == 409,
                "user {name}: {status} {body}"
            );
            out.push(Api::login(&self.base, &name, &password).await?);
        }
        Ok(out)
    }
}

/// A loopback address free now, for a service restarted on the same port.
pub fn free_address() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.to_string())
}

/// Whether a camera's report from `POST /api/v1/scans` says its scan failed
/// (an error, or a site that could not be read).
pub fn scan_failed(report: &ScanDto) -> bool {
    report.error.is_some() || !report.unreachable.is_empty()
}

/// Percentile `p` (0 to 100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A device client for an endpoint (direct baselines).
pub fn device(endpoint: &Endpoint) -> anyhow::Result<tandem_onvif::client::Device> {
    let transport = std::sync::Arc::new(tandem_onvif::client::HttpTransport::new()?);
    Ok(tandem_onvif::client::Device::new(
        transport,
        endpoint.device_url.clone(),
        Some(tandem_onvif::auth::Credentials::new(
            endpoint.username.clone(),
            endpoint.password.clone(),
        )),
        tandem_onvif::client::ClientConfig::default(),
    ))
}
