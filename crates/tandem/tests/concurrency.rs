//! Concurrency across processes: many `tandem presets add` processes, the
//! service and its API on one store and one physical camera. Every add that
//! was acknowledged is its own preset with its own number on both sites (read
//! through the simulator's control API, never through tandem); a name is
//! claimed once; a process killed mid-operation leaves neither a number held
//! twice nor a lease that outlives its expiry.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{preset_writes, service, set_faults, simulator, site_presets, tandem, temp_dir};

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
        let cookie = support::login(&http, &url).await;
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
                    .header("origin", support::origin(&url))
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

/// A process killed with SIGKILL in the middle of an add may hold the
/// camera's lease or a queue's: nothing may stay stuck past the lease's
/// expiry, and no number may end up claimed by two operations.
#[test]
fn adds_killed_mid_operation_hold_no_number_twice_and_no_lease_past_its_expiry() {
    use tandem_store::prelude::*;
    let dir = temp_dir("killed-adds");
    let (_sim, control, config) = simulator(&dir);
    // Slow devices, so that the kills land in the middle of operations.
    for site in [1, 2] {
        set_faults(&control, site, json!({ "latency_ms": 40 }));
    }
    let mut children: Vec<(String, Child)> = (0..12)
        .map(|i| {
            let name = format!("killed-{i}");
            let child = spawn_add(&config, &name, i);
            (name, child)
        })
        .collect();
    let mut killed = 0;
    for (i, (_, child)) in children.iter_mut().enumerate() {
        if i % 2 == 0 {
            // Spread over the time the adds take, so kills land before the
            // journal, while holding the camera, and while draining.
            std::thread::sleep(Duration::from_millis(170));
            if child.kill().is_ok() {
                killed += 1;
            }
        }
    }
    let results: Vec<(String, Added)> = children
        .into_iter()
        .map(|(name, child)| (name, finish(child)))
        .collect();
    let journaled_then_killed = |store: &tandem_store::SqliteStore| {
        store
            .operations(None, 1000)
            .expect("journal")
            .iter()
            .filter(|op| {
                op.sites
                    .iter()
                    .any(|p| p.state == tandem_store::SiteState::Pending)
            })
            .count()
    };
    let store = tandem_store::SqliteStore::open(dir.join("tandem.db")).expect("store opens");
    let now = std::time::SystemTime::now();
    for (name, owner, expires) in store.leases().expect("leases") {
        let left = std::time::SystemTime::from(expires)
            .duration_since(now)
            .unwrap_or_default();
        assert!(
            left <= Duration::from_secs(16),
            "lease {name} of {owner} runs {left:?} more: past its 15 s expiry"
        );
    }
    println!(
        "killed {killed} of 12 adds; {} operations left pending by them",
        journaled_then_killed(&store)
    );
    // tandem sync finishes what the killed processes journaled, taking over
    // their leases once they expire.
    let started = Instant::now();
    sync(&config);
    println!("sync after the kills took {:?}", started.elapsed());
    for site in [1, 2] {
        set_faults(&control, site, json!({ "latency_ms": 0 }));
    }
    let mut numbers = BTreeMap::new();
    for op in store.operations(None, 1000).expect("journal") {
        if op.action["kind"] == "put" && op.action["renumber_from"].is_null() {
            let number = op.action["number"].as_u64().expect("number");
            let name = op.action["name"].as_str().expect("name").to_string();
            if let Some(other) = numbers.insert(number, name.clone()) {
                panic!("number {number} claimed by {other:?} and {name:?}");
            }
        }
    }
    assert!(
        numbers.len() >= 6,
        "the survivors' adds are journaled: {numbers:?}"
    );
    for (name, added) in &results {
        if added.code.is_some() {
            assert!(
                matches!(added.code, Some(0) | Some(3)),
                "{name}: {}{}",
                added.stdout,
                added.stderr
            );
        }
    }
    // Every journaled add is on both sites exactly once, and nothing else is.
    for site in [1, 2] {
        let held = site_presets(&control, site);
        for name in numbers.values() {
            assert_eq!(
                held.get(name).map(|h| h.1),
                Some(1),
                "site {site}: {name:?} in {held:?}"
            );
        }
        assert_eq!(held.len(), numbers.len(), "site {site}: {held:?}");
    }
}
