//! Concurrency across processes: many `tandem presets add` processes, the
//! service and its API on one store and one physical camera. Every add that
//! was acknowledged is its own preset with its own number on both sites (read
//! through the simulator's control API, never through tandem); a name is
//! claimed once; a process killed mid-operation leaves neither a number held
//! twice nor a lease that outlives its expiry.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Kills its process when dropped, so a failed test leaves nothing running.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn tandem() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tandem"));
    c.env("RUST_LOG", "error");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Reads `child`'s stdout until `ready` finds what it waits for; the rest is drained.
fn wait_for_line(child: &mut Child, mut ready: impl FnMut(&str) -> Option<String>) -> String {
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
fn simulator(dir: &Path) -> (Guard, String, PathBuf) {
    let config = dir.join("tandem.toml");
    let mut sim = tandem()
        .args(["sim", "--cameras", "1", "--profile", "2=vms", "--json"])
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
    (Guard(sim), control, config)
}

/// A `tandem serve` on `config`, on a free loopback port; answers the guard and its URL.
fn service(config: &Path) -> (Guard, String) {
    let mut serve = tandem()
        .arg("serve")
        .arg("-c")
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--scan-every-min", "0"])
        .env("TANDEM_ADMIN_PASSWORD", "concurrency-admin")
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
fn site_presets(control: &str, site: usize) -> BTreeMap<String, (String, usize)> {
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
fn preset_writes(control: &str) -> Vec<u64> {
    let sites: Value = get_json(&format!("{control}/api/sites"));
    sites
        .as_array()
        .expect("sites")
        .iter()
        .map(|s| s["preset_writes"].as_u64().expect("preset_writes"))
        .collect()
}

/// A GET of JSON from the simulator's control API, on a throwaway runtime
/// (the checks run between phases, from plain test threads).
fn get_json(url: &str) -> Value {
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

/// One finished `tandem presets add`: exit code and output.
struct Added {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Added {
    /// The number the add acknowledged ("preset N \"name\""), if it did.
    fn number(&self) -> Option<u32> {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix("preset "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
    }
}

/// Starts `tandem presets add` of `name` at a position that differs per `i`.
fn spawn_add(config: &Path, name: &str, i: usize) -> Child {
    let pan = format!("{:.3}", -0.9 + 0.06 * (i % 30) as f64);
    let tilt = format!("{:.3}", -0.5 + 0.03 * (i % 30) as f64);
    tandem()
        .args(["presets", "add", "-c"])
        .arg(config)
        .args([
            "--camera", "cam-1", "--name", name, "--pan", &pan, "--tilt", &tilt,
        ])
        .args(["--zoom", "0.2", "--wait-ms", "20000"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tandem presets add starts")
}

fn finish(child: Child) -> Added {
    let out = child.wait_with_output().expect("add ends");
    Added {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `count` adds at once, names `prefix-<i>`.
fn adds_at_once(config: &Path, prefix: &str, count: usize) -> Vec<(String, Added)> {
    let children: Vec<(String, Child)> = (0..count)
        .map(|i| {
            let name = format!("{prefix}-{i}");
            let child = spawn_add(config, &name, i);
            (name, child)
        })
        .collect();
    children
        .into_iter()
        .map(|(name, child)| (name, finish(child)))
        .collect()
}

/// Runs `tandem sync` until nothing is pending (bounded).
fn sync(config: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = tandem()
            .args(["sync", "-c"])
            .arg(config)
            .output()
            .expect("sync runs");
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "tandem sync still has pending work: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// Every acknowledged add is its own preset with a distinct number on both
/// sites, each exactly once; nothing else was added.
fn check_acknowledged(control: &str, acknowledged: &BTreeMap<String, u32>) {
    let numbers: BTreeSet<u32> = acknowledged.values().copied().collect();
    assert_eq!(
        numbers.len(),
        acknowledged.len(),
        "two acknowledged adds share a number: {acknowledged:?}"
    );
    for site in [1, 2] {
        let held = site_presets(control, site);
        for (name, number) in acknowledged {
            let Some((token, count)) = held.get(name) else {
                panic!("site {site} lost acknowledged preset {name:?} (number {number})");
            };
            assert_eq!(*count, 1, "site {site} holds {name:?} {count} times");
            if site == 1 {
                assert_eq!(token, &number.to_string(), "P's token is the number");
            }
        }
        assert_eq!(
            held.len(),
            acknowledged.len(),
            "site {site} holds exactly the acknowledged presets: {:?}",
            held.keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn concurrent_cli_processes_and_the_service_lose_no_acknowledged_add() {
    let dir = temp_dir("concurrency");
    let (_sim, control, config) = simulator(&dir);
    let mut acknowledged = BTreeMap::new();
    let mut take = |results: Vec<(String, Added)>, phase: &str| {
        for (name, added) in results {
            assert!(
                matches!(added.code, Some(0) | Some(3)),
                "{phase}: {name} exited {:?}: {}{}",
                added.code,
                added.stdout,
                added.stderr
            );
            assert!(
                !added.stdout.contains("from the target") && !added.stdout.contains("PresetExist"),
                "{phase}: {name} was disturbed by another process: {}",
                added.stdout
            );
            let number = added
                .number()
                .unwrap_or_else(|| panic!("{phase}: {name} printed no number: {}", added.stdout));
            acknowledged.insert(name, number);
        }
    };

    // Twenty processes at once on one camera.
    take(adds_at_once(&config, "cli", 20), "20 processes");
    // Ten more while the service runs on the same store (its retry loop drains too).
    let (serve, _url) = service(&config);
    take(
        adds_at_once(&config, "beside-serve", 10),
        "beside the service",
    );
    drop(serve);
    sync(&config);
    println!("acknowledged {} adds", acknowledged.len());
    assert_eq!(acknowledged.len(), 30);
    check_acknowledged(&control, &acknowledged);
}

#[test]
fn one_name_added_twenty_times_at_once_is_claimed_once_and_no_site_is_called_for_the_rest() {
    let dir = temp_dir("same-name");
    let (_sim, control, config) = simulator(&dir);
    // One add alone: how many preset writes a successful add costs the sites.
    let first = finish(spawn_add(&config, "Warm-up", 0));
    assert_eq!(first.code, Some(0), "{}{}", first.stdout, first.stderr);
    let before = preset_writes(&control);
    let alone = finish(spawn_add(&config, "Alone", 1));
    assert_eq!(alone.code, Some(0), "{}{}", alone.stdout, alone.stderr);
    let after_one = preset_writes(&control);
    let children: Vec<Child> = (0..20).map(|i| spawn_add(&config, "Gate", i)).collect();
    let results: Vec<Added> = children.into_iter().map(finish).collect();
    let codes: Vec<Option<i32>> = results.iter().map(|r| r.code).collect();
    let won = codes.iter().filter(|c| **c == Some(0)).count();
    let conflicts = codes.iter().filter(|c| **c == Some(7)).count();
    assert_eq!((won, conflicts), (1, 19), "exit codes {codes:?}");
    for r in results.iter().filter(|r| r.code == Some(7)) {
        assert!(
            r.stderr.contains("already has a preset named"),
            "{}",
            r.stderr
        );
    }
    let after = preset_writes(&control);
    for site in 0..2 {
        let per_add = after_one[site] - before[site];
        assert_eq!(
            after[site] - after_one[site],
            per_add,
            "site {}: the refused adds reached the site",
            site + 1
        );
    }
    assert_eq!(site_presets(&control, 1)["Gate"].1, 1);
    assert_eq!(site_presets(&control, 2)["Gate"].1, 1);
}

#[test]
fn fifty_concurrent_api_adds_half_of_them_the_current_view_are_fifty_presets() {
    let dir = temp_dir("api-adds");
    let (_sim, control, config) = simulator(&dir);
    let (_serve, url) = service(&config);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let acknowledged = runtime.block_on(async {
        let http = reqwest::Client::new();
        let login = http
            .post(format!("{url}/api/v1/login"))
            .json(&json!({ "username": "admin", "password": "concurrency-admin" }))
            .send()
            .await
            .expect("login");
        assert!(login.status().is_success(), "login: {}", login.status());
        let cookie = login
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string();
        let mut adds = tokio::task::JoinSet::new();
        for i in 0..50 {
            let http = http.clone();
            let url = url.clone();
            let cookie = cookie.clone();
            adds.spawn(async move {
                let name = format!("api-{i}");
                let body = if i % 2 == 0 {
                    json!({ "name": name, "position": { "pan": -0.8 + 0.03 * i as f64, "tilt": 0.1, "zoom": 0.3 } })
                } else {
                    json!({ "name": name })
                };
                let answer = http
                    .post(format!("{url}/api/v1/cameras/cam-1/presets"))
                    .header("cookie", cookie)
                    .json(&body)
                    .send()
                    .await
                    .expect("add");
                let status = answer.status();
                let value: Value = answer.json().await.expect("JSON");
                (name, status, value)
            });
        }
        let mut acknowledged = BTreeMap::new();
        while let Some(done) = adds.join_next().await {
            let (name, status, value) = done.expect("task");
            assert!(
                status.as_u16() == 200 || status.as_u16() == 202,
                "{name}: {status} {value}"
            );
            let number = value["preset"]["number"]
                .as_u64()
                .unwrap_or_else(|| panic!("{name}: no number in {value}"));
            acknowledged.insert(name, number as u32);
        }
        acknowledged
    });
    // The service finishes pending parts by itself; wait for it through the sites.
    let deadline = Instant::now() + Duration::from_secs(90);
    while Instant::now() < deadline
        && [1, 2]
            .iter()
            .any(|site| site_presets(&control, *site).len() < acknowledged.len())
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("acknowledged {} API adds", acknowledged.len());
    assert_eq!(acknowledged.len(), 50);
    check_acknowledged(&control, &acknowledged);
}
