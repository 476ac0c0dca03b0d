//! Processes the integration tests start: `tandem sim` and `tandem serve` on
//! loopback ports chosen at run time, and what they hold read through the
//! simulator's control API (never through tandem).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The first admin's password of every `tandem serve` started here.
pub const ADMIN_PASSWORD: &str = "integration-admin";

/// Kills its process when dropped, so a failed test leaves nothing running.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn tandem() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("RUST_LOG", "error");
    c
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Reads `child`'s stdout until `ready` finds what it waits for; the rest is drained.
pub fn wait_for_line(child: &mut Child, mut ready: impl FnMut(&str) -> Option<String>) -> String {
    let mut lines = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    loop {
        line.clear();
        let read = lines.read_line(&mut line).expect("output");
        assert!(read > 0, "the process ended before it was ready");
        if let Some(found) = ready(line.trim()) {
            std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
            return found;
        }
    }
}

/// A `tandem sim` of one camera (P numeric tokens, S GUID tokens, no presets)
/// with its configuration written to `dir`; answers the guard and the control API.
pub fn simulator(dir: &Path) -> (Guard, String, PathBuf) {
    simulator_with(dir, &["--cameras", "1", "--profile", "2=vms"])
}

/// A `tandem sim` started with `args` (and `--json --write-config`), its
/// configuration written to `dir`; answers the guard, the control API and the config.
pub fn simulator_with(dir: &Path, args: &[&str]) -> (Guard, String, PathBuf) {
    let config = dir.join("tandem.toml");
    let mut sim = tandem()
        .arg("sim")
        .args(args)
        .arg("--json")
        .arg("--write-config")
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sim starts");
    let control = wait_for_line(&mut sim, |line| {
        let value: Value = serde_json::from_str(line).ok()?;
        (value["kind"] == "control").then(|| value["url"].as_str().map(str::to_string))?
    });
    use_store_asked(&config);
    (Guard(sim), control, config)
}

/// Runs `tandem ARGS -c CONFIG`; answers the exit code and stdout + stderr.
pub fn run(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = tandem()
        .args(args)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("tandem runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// The presets site `site` holds for camera `camera`, by token: (name, pan).
pub fn slots(control: &str, site: usize, camera: usize) -> BTreeMap<String, (String, f64)> {
    let url = format!("{control}/api/sites/{site}/cameras/{camera}/presets");
    let body: Value = get_json(&url);
    body["presets"]
        .as_array()
        .expect("presets")
        .iter()
        .map(|p| {
            let token = p["token"].as_str().unwrap_or_default().to_string();
            let name = p["name"].as_str().unwrap_or_default().to_string();
            let pan = p["position"][0].as_f64().unwrap_or(f64::NAN);
            (token, (name, pan))
        })
        .collect()
}

/// A `tandem serve` on `config`, on a free loopback port; answers the guard and its URL.
pub fn service(config: &Path) -> (Guard, String) {
    let mut serve = tandem()
        .arg("serve")
        .arg("-c")
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--scan-every-min", "0"])
        .env("TANDEM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve starts");
    let url = wait_for_line(&mut serve, |line| {
        line.strip_prefix("tandem serving on ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    });
    (Guard(serve), url)
}

/// The presets site `site` holds for camera 1, by name: (token, count).
pub fn site_presets(control: &str, site: usize) -> BTreeMap<String, (String, usize)> {
    let url = format!("{control}/api/sites/{site}/cameras/1/presets");
    let body: Value = get_json(&url);
    let mut by_name = BTreeMap::new();
    for p in body["presets"].as_array().expect("presets") {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        let token = p["token"].as_str().unwrap_or_default().to_string();
        let entry = by_name.entry(name).or_insert((token, 0));
        entry.1 += 1;
    }
    by_name
}

/// How many preset writes (`SetPreset`, `RemovePreset`) each site has answered.
pub fn preset_writes(control: &str) -> Vec<u64> {
    site_counter(control, "preset_writes")
}

/// One of the simulator's per-site counters (`preset_writes`,
/// `preset_removals`, `command_calls`), site by site.
pub fn site_counter(control: &str, counter: &str) -> Vec<u64> {
    let sites: Value = get_json(&format!("{control}/api/sites"));
    sites
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s[counter].as_u64().expect("a counter"))
        .collect()
}

/// A GET of JSON from the simulator's control API, on a throwaway runtime
/// (the checks run between phases, from plain test threads).
pub fn get_json(url: &str) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::get(url).await.expect("GET");
        assert!(response.status().is_success(), "GET {url}");
        response.json().await.expect("JSON")
    })
}

/// Sends `body` to the simulator's control API with `method`, on a throwaway
/// runtime (from plain test threads); fails the test unless it succeeds.
pub fn control_send(method: reqwest::Method, url: &str, body: &Value) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .request(method, url)
            .json(body)
            .send()
            .await
            .expect("control API request");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
    })
}

/// Sets faults of simulated site `site` (1-based) through the control API:
/// `patch` is a partial `Faults` (`{"latency_ms": 60}`).
pub fn set_faults(control: &str, site: usize, patch: Value) {
    control_send(
        reqwest::Method::PATCH,
        &format!("{control}/api/sites/{site}/faults"),
        &patch,
    );
}

/// The origin (`http://host:port`) of a URL: what a browser sends as
/// `Origin` with the console's requests, which the service requires of every
/// change authenticated by the session cookie.
pub fn origin(url: &str) -> String {
    url.split('/').take(3).collect::<Vec<_>>().join("/")
}

/// Creates an API token labelled `label` with the session `cookie`; answers its secret.
pub async fn api_token(http: &reqwest::Client, url: &str, cookie: &str, label: &str) -> String {
    let created = http
        .post(format!("{url}/api/v1/tokens"))
        .header("cookie", cookie)
        .header("origin", origin(url))
        .json(&serde_json::json!({ "label": label }))
        .send()
        .await
        .expect("token");
    assert_eq!(created.status().as_u16(), 201, "a token is issued");
    let body: Value = created.json().await.expect("token JSON");
    body["secret"].as_str().expect("the secret").to_string()
}

/// Logs in to the service at `url` as the first admin; answers the session
/// cookie (`name=value`) to send with each request.
pub async fn login(http: &reqwest::Client, url: &str) -> String {
    login_as(http, url, "admin", ADMIN_PASSWORD).await
}

/// Logs in as `user`; answers the session cookie (`name=value`).
pub async fn login_as(http: &reqwest::Client, url: &str, user: &str, password: &str) -> String {
    let login = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login");
    assert!(login.status().is_success(), "login: {}", login.status());
    login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// Points the configuration at a new PostgreSQL database when the run asks
/// for it (`TANDEM_TEST_STORE=postgres`); leaves the SQLite file otherwise.
pub fn use_store_asked(config: &Path) {
    if let Some(section) = tandem_store::testing::store_section() {
        let text = std::fs::read_to_string(config).expect("config");
        assert!(
            text.contains("[store]\npath = \"tandem.db\""),
            "a [store] to replace"
        );
        let text = text.replace("[store]\npath = \"tandem.db\"", &section);
        std::fs::write(config, text).expect("config");
    }
}
