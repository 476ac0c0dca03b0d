//! Crash safety: `tandem presets add` processes are killed with SIGKILL at
//! random points, at least 20 times, while a `tandem sim` process (P numeric
//! tokens; S GUID tokens over ONVIF, or S an XProtect site with its presets
//! in the VMS) keeps running. After `tandem sync`, every operation the
//! journal holds (everything ever acknowledged) is on both sites exactly
//! once, nothing else is, and a scan is clean.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A small deterministic generator: the kill points vary with the seed, which is printed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// The names of a camera's presets on a site: the ONVIF site's table, or
/// the VMS's presets of an XProtect site.
fn names_on(control: &str, site: usize, camera: usize, xprotect: bool) -> Vec<String> {
    let url = if xprotect {
        format!("{control}/api/sites/{site}/xprotect")
    } else {
        format!("{control}/api/sites/{site}/cameras/{camera}/presets")
    };
    let body = std::process::Command::new("curl")
        .args(["-sf", &url])
        .output()
        .expect("curl runs");
    let value: serde_json::Value = serde_json::from_slice(&body.stdout).expect("control API JSON");
    let presets = if xprotect {
        &value["cameras"][camera - 1]["presets"]
    } else {
        &value["presets"]
    };
    presets
        .as_array()
        .expect("presets")
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tandem-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The journal's operations by preset name, read from the configured store
/// (the SQLite file, or PostgreSQL when the run asks for it).
fn journaled_names(config: &Path) -> BTreeMap<String, u32> {
    use tandem_engine::config::{Config, StoreConfig};
    let config = Config::load(config).expect("config");
    let store: Box<dyn tandem_store::Store> = match &config.store {
        StoreConfig::Sqlite(path) => {
            Box::new(tandem_store::SqliteStore::open(path).expect("store opens after the crashes"))
        }
        StoreConfig::Postgres { url, .. } => {
            Box::new(tandem_store::PgStore::open(url, None).expect("store opens after the crashes"))
        }
    };
    let mut names = BTreeMap::new();
    for op in store.operations(None, 100_000).expect("journal") {
        if let Some(name) = op.action["name"].as_str() {
            *names.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    names
}

#[test]
fn kill_9_during_operations_loses_and_duplicates_nothing() {
    crash_loop(None);
}

#[test]
fn kill_9_with_an_xprotect_secondary_loses_and_duplicates_nothing() {
    crash_loop(Some(2));
}

#[test]
fn kill_9_with_an_xprotect_primary_loses_and_duplicates_nothing() {
    crash_loop(Some(1));
}

/// The crash loop; `xprotect` names the site (1 or 2) served as XProtect.
fn crash_loop(xprotect: Option<usize>) {
    let dir = temp_dir(match xprotect {
        Some(1) => "xprotect-primary",
        Some(_) => "xprotect-secondary",
        None => "onvif",
    });
    let config = dir.join("tandem.toml");
    let site_arg = xprotect.map(|s| s.to_string());
    let secondary: Vec<&str> = match &site_arg {
        Some(site) => vec!["--xprotect", site.as_str()],
        None => vec!["--profile", "2=vms"],
    };
    let mut sim = Guard(
        tandem()
            .args(["sim", "--cameras", "2"])
            .args(&secondary)
            .args(["--json", "--write-config"])
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("sim starts"),
    );
    let mut control = String::new();
    let mut lines = BufReader::new(sim.0.stdout.take().expect("stdout"));
    let mut line = String::new();
    while lines.read_line(&mut line).expect("sim output") > 0 {
        let value: serde_json::Value = serde_json::from_str(&line).expect("JSON line");
        if value["kind"] == "control" {
            control = value["url"].as_str().expect("url").to_string();
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    assert!(!control.is_empty(), "the simulator printed its control API");
    // PostgreSQL instead of the SQLite file when the run asks for it.
    if let Some(section) = tandem_store::testing::store_section() {
        let text = std::fs::read_to_string(&config).expect("config");
        let replaced = text.replace("[store]\npath = \"tandem.db\"", &section);
        assert_ne!(replaced, text, "a [store] to replace");
        std::fs::write(&config, replaced).expect("config");
    }

    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(7, |d| d.as_nanos() as u64);
    println!("seed {seed}");
    let mut rng = Lcg(seed);
    let (mut kills, mut completed) = (0, 0);
    let started = Instant::now();
    let mut i = 0;
    while kills < 24 || i < 40 {
        let camera = 1 + i % 2;
        let pan = (rng.next(1800) as f64 / 1000.0) - 0.9;
        let mut child = tandem()
            .args(["presets", "add", "--config"])
            .arg(&config)
            .args([
                "--camera",
                &format!("cam-{camera}"),
                "--name",
                &format!("op-{i}"),
            ])
            .args([
                "--pan",
                &format!("{pan:.3}"),
                "--tilt",
                "0",
                "--zoom",
                "0.2",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tandem runs");
        if i % 5 != 0 {
            // Anywhere from before the journal commit to the middle of the site calls.
            let delay = if rng.next(4) == 0 {
                rng.next(40)
            } else {
                rng.next(600)
            };
            std::thread::sleep(Duration::from_millis(delay));
            if child.try_wait().expect("wait").is_none() {
                child.kill().expect("SIGKILL");
                kills += 1;
            }
        }
        let status = child.wait().expect("exit");
        if status.success() {
            completed += 1;
        }
        i += 1;
        assert!(
            started.elapsed() < Duration::from_secs(240),
            "the crash loop takes too long"
        );
    }

    let sync = tandem()
        .args(["sync", "--config"])
        .arg(&config)
        .output()
        .expect("sync runs");
    assert!(
        sync.status.success(),
        "sync: {}",
        String::from_utf8_lossy(&sync.stdout)
    );

    let journal = journaled_names(&config);
    assert!(
        journal.values().all(|n| *n == 1),
        "each add journaled once: {journal:?}"
    );
    for camera in 1..=2 {
        let expected: Vec<&String> = journal
            .keys()
            .filter(|n| {
                n.trim_start_matches("op-")
                    .parse::<usize>()
                    .is_ok_and(|k| 1 + k % 2 == camera)
            })
            .collect();
        for site in 1..=2 {
            let mut on_site = names_on(&control, site, camera, xprotect == Some(site));
            on_site.sort();
            let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
            want.sort();
            assert_eq!(
                on_site, want,
                "site {site} camera {camera}: exactly the journaled presets, once each"
            );
        }
    }
    let scan = tandem()
        .args(["scan", "--config"])
        .arg(&config)
        .output()
        .expect("scan runs");
    assert!(
        scan.status.success(),
        "scan clean: {}",
        String::from_utf8_lossy(&scan.stdout)
    );
    println!(
        "crash test ({}): {i} processes, {kills} killed with SIGKILL, {completed} completed, {} operations journaled and on both sites exactly once",
        match xprotect {
            Some(1) => "XProtect primary",
            Some(_) => "XProtect secondary",
            None => "ONVIF",
        },
        journal.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
