//! Several `tandem serve` instances on one PostgreSQL (issue 15): real
//! processes (three services, `tandem sim`, a PostgreSQL cluster of the
//! test's own, started from the machine's binaries) and the failures the
//! design must survive:
//!
//! - the leader killed with SIGKILL during 1,000 operations spread over the
//!   three: nothing acknowledged is lost, nothing is on a site twice, and
//!   another instance leads within the lease;
//! - PostgreSQL stopped (as a crash would) and started again mid-run;
//! - the leader cut off from PostgreSQL: it stops leading before any other
//!   instance can start;
//! - instances whose wall clocks jump by an hour: never two leaders.
//!
//! The figures each test measures are printed (`--nocapture`).

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{ADMIN_PASSWORD, Guard, tandem, temp_dir};
use tandem_store::testing::Cluster;

/// Cameras the simulator serves; operations are spread over them.
const CAMERAS: usize = 10;

/// A `tandem sim` of [`CAMERAS`] cameras whose configuration names the
/// PostgreSQL database at `store_url`; answers the guard, the control API
/// and the configuration file.
fn simulator(dir: &Path, store_url: &str) -> (Guard, String, PathBuf) {
    let cameras = CAMERAS.to_string();
    let (sim, control, config) =
        support::simulator_with(dir, &["--cameras", &cameras, "--profile", "2=vms"]);
    let text = std::fs::read_to_string(&config).expect("config");
    let text = text.replace(
        "[store]\npath = \"tandem.db\"",
        &format!("[store]\nurl = \"{store_url}\""),
    );
    assert!(
        text.contains(store_url),
        "the simulator's config has a [store]"
    );
    std::fs::write(&config, text).expect("config");
    (sim, control, config)
}

/// A `tandem serve` on `config` with `extra` arguments; answers the guard and its URL.
fn instance(config: &Path, extra: &[&str]) -> (Guard, String) {
    let (guard, url, _) = instance_logged(config, extra);
    (guard, url)
}

/// [`instance`], its warnings logged to a file of its own beside the
/// configuration; answers that file too.
fn instance_logged(config: &Path, extra: &[&str]) -> (Guard, String, PathBuf) {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let log = config.with_file_name(format!("serve-{n}.log"));
    LOGS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(log.clone());
    let mut serve = tandem()
        .arg("serve")
        .arg("-c")
        .arg(config)
        .args(["--listen", "127.0.0.1:0", "--scan-every-min", "0"])
        .args(extra)
        .env("TANDEM_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("serve starts");
    let url = support::wait_for_line(&mut serve, |line| {
        line.strip_prefix("tandem serving on ")
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    });
    (Guard(serve), url, log)
}

/// Every instance's log, for [`errors_logged`].
static LOGS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The ERROR lines the instances of this test process logged: what a
/// failing assertion shows beside the answer it did not expect.
fn errors_logged() -> String {
    let logs = LOGS.lock().unwrap_or_else(|p| p.into_inner()).clone();
    logs.iter()
        .flat_map(|log| {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("ERROR"))
                .map(|l| format!("{}: {l}", log.display()))
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The instance's answer about the lead, or `None` when it does not answer.
async fn lead_of(http: &reqwest::Client, url: &str, cookie: &str) -> Option<Value> {
    let answer = http
        .get(format!("{url}/api/v1/instance"))
        .header("cookie", cookie)
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?;
    answer.json().await.ok()
}

async fn leads(http: &reqwest::Client, url: &str, cookie: &str) -> bool {
    lead_of(http, url, cookie)
        .await
        .is_some_and(|v| v["leading"] == true)
}

/// Waits until one of `urls` leads; answers its index and how long it took.
async fn await_leader(
    http: &reqwest::Client,
    urls: &[String],
    cookie: &str,
    within: Duration,
) -> (usize, Duration) {
    let start = Instant::now();
    loop {
        for (i, url) in urls.iter().enumerate() {
            if leads(http, url, cookie).await {
                return (i, start.elapsed());
            }
        }
        assert!(
            start.elapsed() < within,
            "no instance leads after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How an add ended, as an operator behind a load balancer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 200 or 202 from an instance.
    Acknowledged,
    /// Retried after a dropped connection and refused as a duplicate name:
    /// the first try was acknowledged by an instance that died before answering.
    AlreadyThere,
}

/// Adds preset `name` to `camera` through `urls[first]`, moving on to the
/// next instance (as a load balancer does) while one does not answer or
/// answers 503; answers how it ended.
async fn add(
    http: &reqwest::Client,
    urls: &[String],
    first: usize,
    cookie: &str,
    camera: usize,
    name: &str,
    pan: f64,
) -> Outcome {
    let body = json!({ "name": name, "position": { "pan": pan, "tilt": 0.1, "zoom": 0.2 } });
    let mut tried_elsewhere = false;
    let deadline = Instant::now() + Duration::from_secs(120);
    for attempt in 0.. {
        assert!(
            Instant::now() < deadline,
            "{name}: not acknowledged in 120 s"
        );
        let url = &urls[(first + attempt) % urls.len()];
        let sent = http
            .post(format!("{url}/api/v1/cameras/cam-{camera}/presets"))
            .header("cookie", cookie)
            .header("origin", support::origin(url))
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(_) => {
                tried_elsewhere = true;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        match status {
            200 | 202 => return Outcome::Acknowledged,
            409 if tried_elsewhere && text.contains("already has a preset named") => {
                return Outcome::AlreadyThere;
            }
            503 => {
                tried_elsewhere = true;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => panic!(
                "{name} on {url}: {status} {text}\nthe instances logged:\n{}",
                errors_logged()
            ),
        }
    }
    unreachable!()
}

/// Adds `count` presets named `{prefix}-{i}`, spread over the cameras and,
/// round-robin, over `urls`, `in_flight` at a time; counts each
/// acknowledgement in `acknowledged` as it comes (what the failure the test
/// injects waits for). Answers each add's (camera, name) and outcome.
#[allow(clippy::too_many_arguments)]
async fn burst(
    http: &reqwest::Client,
    urls: &[String],
    cookie: &str,
    prefix: &str,
    count: usize,
    in_flight: usize,
    acknowledged: &Arc<AtomicUsize>,
) -> Vec<((usize, String), Outcome)> {
    let gate = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let per_camera = count.div_ceil(CAMERAS).max(1) as f64;
    let mut work = tokio::task::JoinSet::new();
    for i in 0..count {
        let permit = gate.clone().acquire_owned().await.expect("permit");
        let (http, urls, cookie, acknowledged) = (
            http.clone(),
            urls.to_vec(),
            cookie.to_string(),
            acknowledged.clone(),
        );
        let name = format!("{prefix}-{i}");
        work.spawn(async move {
            let camera = 1 + i % CAMERAS;
            let pan = -0.9 + 1.8 * (i / CAMERAS) as f64 / per_camera;
            let outcome = add(&http, &urls, i % urls.len(), &cookie, camera, &name, pan).await;
            acknowledged.fetch_add(1, Ordering::Relaxed);
            drop(permit);
            ((camera, name), outcome)
        });
    }
    let mut outcomes = Vec::new();
    while let Some(done) = work.join_next().await {
        outcomes.push(done.expect("add task"));
    }
    outcomes
}

/// Each camera's preset names on `site`, counted: a name held twice is a
/// preset applied twice.
fn names_on(control: &str, site: usize) -> BTreeMap<(usize, String), usize> {
    let mut names = BTreeMap::new();
    for camera in 1..=CAMERAS {
        for (_, (name, _)) in support::slots(control, site, camera) {
            *names.entry((camera, name)).or_insert(0) += 1;
        }
    }
    names
}

/// Waits until both sites hold every name in `expected`; answers how long it took.
fn await_on_sites(
    control: &str,
    expected: &BTreeSet<(usize, String)>,
    within: Duration,
) -> Duration {
    let start = Instant::now();
    loop {
        let missing: usize = [1, 2]
            .iter()
            .map(|site| {
                let names = names_on(control, *site);
                expected.iter().filter(|k| !names.contains_key(*k)).count()
            })
            .sum();
        if missing == 0 {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "{missing} acknowledged presets still missing on the sites after {within:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Checks that every name in `expected` is on both sites exactly once, and
/// nothing else the test added is; answers the device writes per site.
fn check_sites(control: &str, expected: &BTreeSet<(usize, String)>, prefix: &str) -> Vec<u64> {
    for site in [1, 2] {
        let names = names_on(control, site);
        let twice: Vec<_> = names.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            twice.is_empty(),
            "site {site}: presets held twice: {twice:?}"
        );
        let ours: BTreeSet<_> = names
            .keys()
            .filter(|(_, name)| name.starts_with(prefix))
            .cloned()
            .collect();
        assert_eq!(
            &ours, expected,
            "site {site}: exactly the acknowledged presets"
        );
    }
    support::preset_writes(control)
}

#[test]
fn the_leader_killed_during_a_thousand_operations_over_three_instances_loses_none() {
    let cluster = Cluster::start().expect("PostgreSQL");
    let db = cluster.database().expect("database");
    let dir = temp_dir("instances-kill");
    let (_sim, control, config) = simulator(&dir, db.url());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();

    let (a, url_a) = instance(&config, &[]);
    let cookie = runtime.block_on(support::login(&http, &url_a));
    // One add per camera first: the secondary's first write on each camera
    // learns its token style (a refused numeric token), which is not an
    // operation applied twice; counting starts after.
    runtime.block_on(async {
        for camera in 1..=CAMERAS {
            let name = format!("warm-{camera}");
            let outcome = add(
                &http,
                std::slice::from_ref(&url_a),
                0,
                &cookie,
                camera,
                &name,
                0.95,
            )
            .await;
            assert_eq!(outcome, Outcome::Acknowledged);
        }
    });
    let warm: BTreeSet<_> = (1..=CAMERAS).map(|c| (c, format!("warm-{c}"))).collect();
    await_on_sites(&control, &warm, Duration::from_secs(30));
    let writes_before = support::preset_writes(&control);
    runtime.block_on(await_leader(
        &http,
        std::slice::from_ref(&url_a),
        &cookie,
        Duration::from_secs(15),
    ));
    let (_b, url_b) = instance(&config, &[]);
    let (_c, url_c) = instance(&config, &[]);
    let urls = vec![url_a.clone(), url_b, url_c];
    let epoch_before = runtime
        .block_on(lead_of(&http, &url_a, &cookie))
        .and_then(|v| v["epoch"].as_u64())
        .expect("an epoch");

    let leader = Arc::new(Mutex::new(Some(a)));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let (outcomes, takeover) = runtime.block_on(async {
        // The killer: SIGKILL to the leader once 300 operations are
        // acknowledged; then it watches the others until one leads.
        let killer = {
            let leader = leader.clone();
            let acknowledged = acknowledged.clone();
            let (http, others, cookie) = (http.clone(), urls[1..].to_vec(), cookie.clone());
            tokio::spawn(async move {
                while acknowledged.load(Ordering::Relaxed) < 300 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if let Some(mut guard) = leader.lock().expect("leader").take() {
                    let _ = guard.0.kill();
                    let _ = guard.0.wait();
                }
                await_leader(&http, &others, &cookie, Duration::from_secs(30)).await
            })
        };
        let outcomes = burst(&http, &urls, &cookie, "op", 1000, 24, &acknowledged).await;
        let (_, takeover) = killer.await.expect("killer");
        (outcomes, takeover)
    });
    let new_epoch = runtime
        .block_on(async {
            for url in &urls[1..] {
                if let Some(v) = lead_of(&http, url, &cookie).await
                    && v["leading"] == true
                {
                    return v["epoch"].as_u64();
                }
            }
            None
        })
        .expect("a new leader's epoch");

    let expected: BTreeSet<_> = outcomes.iter().map(|(k, _)| k.clone()).collect();
    let already = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::AlreadyThere)
        .count();
    let settled = await_on_sites(&control, &expected, Duration::from_secs(180));
    let writes = check_sites(&control, &expected, "op-");
    let writes: Vec<u64> = writes
        .iter()
        .zip(&writes_before)
        .map(|(after, before)| after - before)
        .collect();
    println!(
        "1000 adds over 3 instances, leader killed after 300 acknowledgements: {} acknowledged \
         ({} of them by the killed instance, found on retry), 0 lost, 0 held twice; device \
         preset writes per site {:?}; epoch {} -> {}, the new leader seen {:?} after the kill; \
         all on both sites {:?} after the last acknowledgement",
        outcomes.len(),
        already,
        writes,
        epoch_before,
        new_epoch,
        takeover,
        settled
    );
    assert_eq!(expected.len(), 1000);
    assert_eq!(
        writes,
        [1000, 1000],
        "one device write per operation and site: none applied twice"
    );
    assert!(new_epoch > epoch_before, "a new leader has a new epoch");
    assert!(
        takeover <= Duration::from_millis(6500),
        "a new leader within the lease (5 s), its asking interval and a poll: {takeover:?}"
    );
}

/// Polls every instance's `leading` for `during`; panics if two ever lead
/// in one round. Answers how many rounds each instance led.
async fn never_two_leaders(
    http: &reqwest::Client,
    urls: &[String],
    cookie: &str,
    during: Duration,
) -> Vec<usize> {
    let start = Instant::now();
    let mut led = vec![0; urls.len()];
    while start.elapsed() < during {
        let mut now = Vec::new();
        for (i, url) in urls.iter().enumerate() {
            if leads(http, url, cookie).await {
                now.push(i);
                led[i] += 1;
            }
        }
        assert!(now.len() <= 1, "two instances lead at once: {now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    led
}

#[test]
fn clock_jumps_of_an_hour_on_two_instances_never_make_two_leaders() {
    let cluster = Cluster::start().expect("PostgreSQL");
    let db = cluster.database().expect("database");
    let dir = temp_dir("instances-clock");
    let (_sim, _control, config) = simulator(&dir, db.url());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let (mut a, url_a) = instance(&config, &[]);
    let cookie = runtime.block_on(support::login(&http, &url_a));
    runtime.block_on(await_leader(
        &http,
        std::slice::from_ref(&url_a),
        &cookie,
        Duration::from_secs(15),
    ));
    // B's clock jumps an hour ahead, C's an hour back, two seconds after they start.
    let (_b, url_b) = instance(&config, &["--clock-jump", "2:3600"]);
    let (_c, url_c) = instance(&config, &["--clock-jump", "2:-3600"]);
    let urls = vec![url_a, url_b, url_c];
    let led = runtime.block_on(never_two_leaders(
        &http,
        &urls,
        &cookie,
        Duration::from_secs(10),
    ));
    assert!(
        led[0] > 0 && led[1] == 0 && led[2] == 0,
        "A kept the lead: {led:?}"
    );
    let _ = a.0.kill();
    let _ = a.0.wait();
    let (new, took) = runtime.block_on(await_leader(
        &http,
        &urls[1..],
        &cookie,
        Duration::from_secs(30),
    ));
    let led_after = runtime.block_on(never_two_leaders(
        &http,
        &urls[1..],
        &cookie,
        Duration::from_secs(8),
    ));
    println!(
        "clock jumps of +1 h and -1 h: A led throughout {led:?}; after A was killed, instance {} \
         led within {took:?}; then {led_after:?} rounds each, never two",
        ["B", "C"][new]
    );
    assert_eq!(
        led_after.iter().filter(|n| **n > 0).count(),
        1,
        "{led_after:?}"
    );
}

/// A TCP relay between one instance and PostgreSQL that the test can cut:
/// every connection dropped at once and new ones refused, as when the
/// instance's link to the database goes down.
struct Relay {
    port: u16,
    cut: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay");
        let port = listener.local_addr().expect("addr").port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (cut2, open2) = (cut.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                for s in [&client, &server] {
                    if let Ok(s) = s.try_clone() {
                        open2.lock().expect("open").push(s);
                    }
                }
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Relay { port, cut, open }
    }

    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for s in self.open.lock().expect("open").drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

#[test]
fn a_leader_cut_off_from_postgresql_stops_leading_before_another_can_start() {
    let cluster = Cluster::start().expect("PostgreSQL");
    let db = cluster.database().expect("database");
    let dir = temp_dir("instances-cut");
    let relay = Relay::start(cluster.port());
    let relayed_url = db.url().replace(
        &format!(":{}/", cluster.port()),
        &format!(":{}/", relay.port),
    );
    let (_sim, _control, config) = simulator(&dir, &relayed_url);
    // B and C reach the database directly: their own configuration.
    let direct = dir.join("direct.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&direct, text.replace(&relayed_url, db.url())).expect("config");

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let (_a, url_a, log_a) = instance_logged(&config, &[]);
    let cookie = runtime.block_on(support::login(&http, &url_a));
    runtime.block_on(await_leader(
        &http,
        std::slice::from_ref(&url_a),
        &cookie,
        Duration::from_secs(15),
    ));
    let (_b, url_b) = instance(&direct, &[]);
    let (_c, url_c) = instance(&direct, &[]);
    let others = vec![url_b, url_c];

    relay.cut();
    let cut_at = Instant::now();
    let (stepped_down, other_led) = runtime.block_on(async {
        let mut stepped_down = None;
        let mut other_led = None;
        // The cut-off instance cannot check a session without its store, so
        // its own account of stepping down is its log.
        let stepped_down_in_log = || {
            std::fs::read_to_string(&log_a)
                .unwrap_or_default()
                .contains("stepping down: the lead could not be renewed in time")
        };
        while other_led.is_none() && cut_at.elapsed() < Duration::from_secs(30) {
            if stepped_down.is_none() && stepped_down_in_log() {
                stepped_down = Some(cut_at.elapsed());
            }
            for url in &others {
                if leads(&http, url, &cookie).await {
                    other_led = Some(cut_at.elapsed());
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (stepped_down, other_led)
    });
    let stepped_down = stepped_down.expect("the cut-off leader stepped down");
    let other_led = other_led.expect("another instance took the lead");
    println!(
        "leader cut off from PostgreSQL: it stopped leading {stepped_down:?} after the cut, \
         another instance led {other_led:?} after it"
    );
    assert!(stepped_down < other_led);
}

#[test]
fn postgresql_stopped_and_started_mid_run_loses_nothing_acknowledged() {
    let cluster = Arc::new(Cluster::start().expect("PostgreSQL"));
    let db = cluster.database().expect("database");
    let dir = temp_dir("instances-restart");
    let (_sim, control, config) = simulator(&dir, db.url());
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let (_a, url_a) = instance(&config, &[]);
    let cookie = runtime.block_on(support::login(&http, &url_a));
    let (_b, url_b) = instance(&config, &[]);
    let (_c, url_c) = instance(&config, &[]);
    let urls = vec![url_a, url_b, url_c];

    let acknowledged = Arc::new(AtomicUsize::new(0));
    let outage = Arc::new(Mutex::new(None::<Duration>));
    let outcomes = runtime.block_on(async {
        let restarter = {
            let (cluster, acknowledged, outage) =
                (cluster.clone(), acknowledged.clone(), outage.clone());
            tokio::task::spawn_blocking(move || {
                while acknowledged.load(Ordering::Relaxed) < 100 {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let start = Instant::now();
                cluster.stop().expect("stop");
                std::thread::sleep(Duration::from_secs(2));
                cluster.start_server().expect("start");
                *outage.lock().expect("outage") = Some(start.elapsed());
            })
        };
        let outcomes = burst(&http, &urls, &cookie, "rs", 300, 12, &acknowledged).await;
        restarter.await.expect("restarter");
        outcomes
    });
    let expected: BTreeSet<_> = outcomes.iter().map(|(k, _)| k.clone()).collect();
    let settled = await_on_sites(&control, &expected, Duration::from_secs(180));
    check_sites(&control, &expected, "rs-");
    // Every instance works again, and one leads.
    let leader = runtime.block_on(async {
        for (i, url) in urls.iter().enumerate() {
            let name = format!("after-{i}");
            let outcome = add(&http, std::slice::from_ref(url), 0, &cookie, 1, &name, 0.5).await;
            assert_eq!(outcome, Outcome::Acknowledged);
        }
        await_leader(&http, &urls, &cookie, Duration::from_secs(15)).await
    });
    println!(
        "PostgreSQL stopped (immediate) and started again after 100 of 300 adds: outage {:?}; \
         300 acknowledged, 0 lost, 0 held twice, on both sites {settled:?} later; every \
         instance answers afterwards; instance {} leads",
        outage.lock().expect("outage"),
        leader.0
    );
    assert_eq!(expected.len(), 300);
}

/// A request with the session `cookie` (and the console's origin when it changes something).
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = http
        .request(method, format!("{url}{path}"))
        .header("cookie", cookie)
        .header("origin", support::origin(url));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("answer");
    let status = answer.status().as_u16();
    (status, answer.json().await.unwrap_or(Value::Null))
}

#[test]
fn instances_agree_on_who_steers_a_camera() {
    let cluster = Cluster::start().expect("PostgreSQL");
    let db = cluster.database().expect("database");
    let dir = temp_dir("instances-control");
    let (_sim, _control, config) = simulator(&dir, db.url());
    let (_a, url_a) = instance(&config, &[]);
    let (_b, url_b) = instance(&config, &[]);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        use reqwest::Method;
        let http = reqwest::Client::new();
        let admin = support::login(&http, &url_a).await;
        let (status, _) = call(
            &http,
            Method::POST,
            &url_a,
            "/api/v1/users",
            &admin,
            Some(
                json!({ "name": "olga", "password": "Tr4ck-the-harbour-9", "roles": ["operator"] }),
            ),
        )
        .await;
        assert_eq!(status, 201);
        let olga = support::login_as(&http, &url_b, "olga", "Tr4ck-the-harbour-9").await;

        // The admin takes cam-1 on A; B knows it at once.
        let (status, taken) = call(
            &http,
            Method::POST,
            &url_a,
            "/api/v1/cameras/cam-1/control",
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200, "{taken}");
        let (_, seen) = call(
            &http,
            Method::GET,
            &url_b,
            "/api/v1/cameras/cam-1/control",
            &olga,
            None,
        )
        .await;
        assert_eq!(seen["user"], "admin", "{seen}");
        // Olga (a lower priority) on B is refused, naming the holder; her
        // joystick on B does not move the camera.
        let (status, refused) = call(
            &http,
            Method::POST,
            &url_b,
            "/api/v1/cameras/cam-1/control",
            &olga,
            None,
        )
        .await;
        assert_eq!(status, 409, "{refused}");
        assert!(refused.to_string().contains("admin"), "{refused}");
        let (status, _) = call(
            &http,
            Method::POST,
            &url_b,
            "/api/v1/cameras/cam-1/ptz/continuous",
            &olga,
            Some(json!({ "pan": 0.5, "tilt": 0.0, "zoom": 0.0, "timeout_ms": 300 })),
        )
        .await;
        assert_eq!(status, 409, "a move on B while the admin steers on A");
        // Released on B, free on A; Olga takes it on B and A sees her.
        let (status, _) = call(
            &http,
            Method::DELETE,
            &url_b,
            "/api/v1/cameras/cam-1/control",
            &admin,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (_, seen) = call(
            &http,
            Method::GET,
            &url_a,
            "/api/v1/cameras/cam-1/control",
            &admin,
            None,
        )
        .await;
        assert_eq!(seen["user"], Value::Null, "{seen}");
        let (status, _) = call(
            &http,
            Method::POST,
            &url_b,
            "/api/v1/cameras/cam-1/control",
            &olga,
            None,
        )
        .await;
        assert_eq!(status, 200);
        let (_, seen) = call(
            &http,
            Method::GET,
            &url_a,
            "/api/v1/cameras/cam-1/control",
            &admin,
            None,
        )
        .await;
        assert_eq!(seen["user"], "olga", "{seen}");
        println!("manual control: taken on A, seen and enforced on B; released on B, free on A");
    });
}
