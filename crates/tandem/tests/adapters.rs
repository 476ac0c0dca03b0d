//! The server and the CLI are adapters over the same engine: the same request
//! through the API and through a local `tandem presets` command ends with the
//! same outcome kind (the API's problem `code` and status, the CLI's exit
//! code), for valid, bad and conflicting requests alike.

mod support;

use std::process::Stdio;

use serde_json::{Value, json};
use support::{service, simulator, simulator_with, site_counter, tandem, temp_dir};

/// What a request should end with.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Done,
    Invalid,
    NotFound,
    Conflict,
}

impl Kind {
    /// The API's status and problem code for this kind.
    fn api(self) -> (u16, Option<&'static str>) {
        match self {
            Kind::Done => (200, None),
            Kind::Invalid => (400, Some("invalid")),
            Kind::NotFound => (404, Some("not_found")),
            Kind::Conflict => (409, Some("conflict")),
        }
    }

    /// The CLI's exit code for this kind (see the binary's `exit` table).
    fn exit(self) -> i32 {
        match self {
            Kind::Done => 0,
            Kind::Invalid | Kind::NotFound => 2,
            Kind::Conflict => 7,
        }
    }
}

/// One request, as the API and the CLI spell it. `{side}` in a name becomes
/// `api` or `cli`, so that each adapter adds its own preset where it should.
struct Case {
    what: &'static str,
    api: (&'static str, &'static str, Option<Value>),
    cli: Vec<&'static str>,
    expect: Kind,
}

fn cases() -> Vec<Case> {
    let position = |pan: f64| json!({ "pan": pan, "tilt": 0.0, "zoom": 0.1 });
    vec![
        Case {
            what: "a valid add",
            api: (
                "POST",
                "/api/v1/cameras/cam-1/presets",
                Some(json!({ "number": 40, "name": "Gate {side}", "position": position(0.1) })),
            ),
            cli: vec![
                "add",
                "--camera",
                "cam-1",
                "--number",
                "{n40}",
                "--name",
                "Gate {side}",
                "--pan",
                "0.2",
                "--tilt",
                "0",
                "--zoom",
                "0.1",
            ],
            expect: Kind::Done,
        },
        Case {
            what: "a name of 65 characters",
            api: (
                "POST",
                "/api/v1/cameras/cam-1/presets",
                Some(json!({ "name": "x".repeat(65), "position": position(0.1) })),
            ),
            cli: vec![
                "add",
                "--camera",
                "cam-1",
                "--name",
                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                "--pan",
                "0.1",
                "--tilt",
                "0",
                "--zoom",
                "0",
            ],
            expect: Kind::Invalid,
        },
        Case {
            what: "a pan out of range",
            api: (
                "POST",
                "/api/v1/cameras/cam-1/presets",
                Some(json!({ "name": "Far", "position": position(1.5) })),
            ),
            cli: vec![
                "add", "--camera", "cam-1", "--name", "Far", "--pan", "1.5", "--tilt", "0",
                "--zoom", "0",
            ],
            expect: Kind::Invalid,
        },
        Case {
            what: "an unknown camera",
            api: (
                "POST",
                "/api/v1/cameras/cam-9/presets",
                Some(json!({ "name": "Nowhere", "position": position(0.1) })),
            ),
            cli: vec![
                "add", "--camera", "cam-9", "--name", "Nowhere", "--pan", "0.1", "--tilt", "0",
                "--zoom", "0",
            ],
            expect: Kind::NotFound,
        },
        Case {
            what: "a number that is taken",
            api: (
                "POST",
                "/api/v1/cameras/cam-1/presets",
                Some(json!({ "number": 40, "name": "Other", "position": position(0.3) })),
            ),
            cli: vec![
                "add", "--camera", "cam-1", "--number", "40", "--name", "Other", "--pan", "0.3",
                "--tilt", "0", "--zoom", "0",
            ],
            expect: Kind::Conflict,
        },
        Case {
            what: "a name that is taken, in another case",
            api: (
                "POST",
                "/api/v1/cameras/cam-1/presets",
                Some(json!({ "name": "GATE API", "position": position(0.4) })),
            ),
            cli: vec![
                "add", "--camera", "cam-1", "--name", "gate api", "--pan", "0.4", "--tilt", "0",
                "--zoom", "0",
            ],
            expect: Kind::Conflict,
        },
        Case {
            what: "a rename to a taken name",
            api: (
                "PATCH",
                "/api/v1/cameras/cam-1/presets/40",
                Some(json!({ "name": "Gate cli" })),
            ),
            cli: vec![
                "update", "--camera", "cam-1", "--number", "41", "--name", "Gate api",
            ],
            expect: Kind::Conflict,
        },
        Case {
            what: "a renumber to a taken number",
            api: (
                "PATCH",
                "/api/v1/cameras/cam-1/presets/40",
                Some(json!({ "number": 41 })),
            ),
            cli: vec![
                "update",
                "--camera",
                "cam-1",
                "--number",
                "41",
                "--new-number",
                "40",
            ],
            expect: Kind::Conflict,
        },
        Case {
            what: "an update of an unknown preset",
            api: (
                "PATCH",
                "/api/v1/cameras/cam-1/presets/99",
                Some(json!({ "name": "Ghost" })),
            ),
            cli: vec![
                "update", "--camera", "cam-1", "--number", "99", "--name", "Ghost",
            ],
            expect: Kind::NotFound,
        },
        Case {
            what: "a delete of an unknown preset",
            api: ("DELETE", "/api/v1/cameras/cam-1/presets/98", None),
            cli: vec!["delete", "--camera", "cam-1", "--number", "98"],
            expect: Kind::NotFound,
        },
        Case {
            what: "a valid rename",
            api: (
                "PATCH",
                "/api/v1/cameras/cam-1/presets/40",
                Some(json!({ "name": "Gate {side} renamed" })),
            ),
            cli: vec![
                "update",
                "--camera",
                "cam-1",
                "--number",
                "41",
                "--name",
                "Gate {side} renamed",
            ],
            expect: Kind::Done,
        },
    ]
}

#[test]
fn the_same_request_through_the_api_and_the_cli_ends_the_same_way() {
    let dir = temp_dir("adapters");
    let (_sim, _control, config) = simulator(&dir);
    let (_serve, url) = service(&config);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let cookie = runtime.block_on(support::login(&http, &url));
    let mut failures = Vec::new();
    for case in cases() {
        // Through the API.
        let (method, path, body) = &case.api;
        let body = body.as_ref().map(|b| {
            serde_json::from_str::<Value>(&b.to_string().replace("{side}", "api")).expect("json")
        });
        let (status, answer) = runtime.block_on(async {
            let mut request = http
                .request(method.parse().expect("method"), format!("{url}{path}"))
                .header("cookie", &cookie)
                .header("origin", support::origin(&url));
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.expect("API answers");
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        });
        let (want_status, want_code) = case.expect.api();
        if status != want_status || want_code.is_some_and(|c| answer["code"] != c) {
            failures.push(format!("API, {}: {status} {answer}", case.what));
        }
        // Through the local CLI, on the same store while the service runs.
        let args: Vec<String> = case
            .cli
            .iter()
            .map(|a| a.replace("{side}", "cli").replace("{n40}", "41"))
            .collect();
        let out = tandem()
            .arg("presets")
            .arg(&args[0])
            .arg("-c")
            .arg(&config)
            .args(&args[1..])
            .stdin(Stdio::null())
            .output()
            .expect("the CLI runs");
        if out.status.code() != Some(case.expect.exit()) {
            failures.push(format!(
                "CLI, {}: exit {:?}: {}{}",
                case.what,
                out.status.code(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Issue 11, finding 8: `tandem audit export | head -1` panicked on the
/// closed pipe (exit 101); `presets list` printed `NaN` for unknown positions
/// and misaligned wide names.
#[test]
fn listing_commands_end_quietly_on_a_closed_pipe_and_align_wide_names() {
    let dir = temp_dir("pipes");
    let (_sim, _control, config) = simulator(&dir);
    for i in 0..3 {
        let name = if i == 0 {
            "正門 🚪".to_string()
        } else {
            format!("P{i}")
        };
        let out = tandem()
            .args(["presets", "add", "-c"])
            .arg(&config)
            .args([
                "--camera", "cam-1", "--name", &name, "--pan", "0.1", "--tilt", "0", "--zoom", "0",
            ])
            .output()
            .expect("add runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The reader goes away at once: every line meets a closed pipe.
    for command in [&["mismatches"][..], &["audit", "export"][..]] {
        let mut child = tandem()
            .args(command)
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("runs");
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("ends");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(
            out.status.code(),
            Some(101),
            "{command:?} panicked: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{command:?}: {stderr}");
        assert!(
            out.status.success() || out.status.code().is_none(),
            "{command:?} ends quietly, as Unix tools do: {:?} {stderr}",
            out.status
        );
    }

    let list = tandem()
        .args(["presets", "list", "-c"])
        .arg(&config)
        .args(["--camera", "cam-1"])
        .output()
        .expect("list runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(!text.contains("NaN"), "{text}");
    // Every row's token column starts at the same display column.
    let columns: Vec<usize> = text
        .lines()
        .take(3)
        .map(|l| {
            let before: String = l.chars().take_while(|c| *c != '.').collect();
            unicode_width::UnicodeWidthStr::width(before.as_str())
        })
        .skip(1)
        .collect();
    assert!(text.contains("正門 🚪"), "{text}");
    assert_eq!(columns.len(), 2, "{text}");
    assert_eq!(columns[0], columns[1], "the pan column moved:\n{text}");
}

/// Issue 11, finding 3: `tandem scan` exited 0 with "0 error(s)" when a site
/// could not be read. Now each unread site is listed with how it failed, and
/// the exit code says the scan is not done.
#[test]
fn a_scan_that_cannot_read_a_site_lists_it_and_exits_10() {
    let dir = temp_dir("unread-scan");
    let (_sim, control, config) = simulator(&dir);
    support::set_faults(&control, 2, json!({ "down": true }));
    let out = tandem()
        .args(["scan", "-c"])
        .arg(&config)
        .output()
        .expect("scan runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(10),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("secondary could not be read (unreachable)"),
        "{stdout}"
    );
    assert!(stdout.contains("1 site read(s) failed"), "{stdout}");
    support::set_faults(&control, 2, json!({ "down": false }));
    let out = tandem()
        .args(["scan", "-c"])
        .arg(&config)
        .output()
        .expect("scan runs");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A request to the service at `url` with the session `cookie`: (status, JSON answer).
fn call(
    runtime: &tokio::runtime::Runtime,
    http: &reqwest::Client,
    cookie: &str,
    (method, url, body): (&str, String, Option<Value>),
) -> (u16, Value) {
    runtime.block_on(async {
        let origin = support::origin(&url);
        let mut request = http
            .request(method.parse().expect("method"), url)
            .header("cookie", cookie)
            .header("origin", origin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the service answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    })
}

/// Runs `tandem ARGS -c CONFIG`: (exit code, stdout, stderr).
fn run(config: &std::path::Path, args: &[&str]) -> (Option<i32>, String, String) {
    let out = tandem()
        .args(args)
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .output()
        .expect("the CLI runs");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 11, finding 6: a primary listing 250 empty slots (no name, no
/// position) had them imported, reported as 250 mismatches no repair could
/// fix, pushed new presets to number 257, and `repair --from secondary`
/// sent 253 RemovePresets.
#[test]
fn a_device_listing_250_empty_slots_is_scanned_numbered_and_repaired_as_if_they_were_not_there() {
    let dir = temp_dir("empty-slots");
    let (_sim, control, config) = simulator_with(
        &dir,
        &[
            "--cameras",
            "1",
            "--profile",
            "1=camera+empty=250",
            "--presets",
            "3",
        ],
    );
    let (code, stdout, stderr) = run(&config, &["scan"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("in sync"), "{stdout}");
    let (code, stdout, stderr) = run(&config, &["mismatches", "--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(serde_json::from_str::<Value>(&stdout).ok(), Some(json!([])));

    let (code, stdout, stderr) = run(
        &config,
        &[
            "presets", "add", "--camera", "cam-1", "--name", "Dock 4", "--pan", "0.3", "--tilt",
            "0", "--zoom", "0.1",
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (_, stdout, _) = run(&config, &["presets", "list", "--camera", "cam-1", "--json"]);
    let presets: Value = serde_json::from_str(&stdout).expect("JSON");
    let numbers: Vec<u64> = presets
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|p| p["number"].as_u64())
        .collect();
    assert_eq!(numbers, [1, 2, 3, 4], "the lowest free number, not 257");

    let (code, stdout, stderr) = run(
        &config,
        &["repair", "--camera", "cam-1", "--from", "secondary"],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(
        site_counter(&control, "preset_removals"),
        [0, 0],
        "no RemovePreset for an empty slot: {stdout}"
    );
}

/// DESIGN.md: a camera's reserved numbers (commands on many domes: recall 94
/// reboots, 95 opens the menu) are refused by the API and the CLI alike,
/// skipped by the allocator, ignored by scans, and never reach a device.
#[test]
fn reserved_numbers_are_refused_everywhere_and_never_reach_a_device() {
    let dir = temp_dir("reserved");
    let seeds = dir.join("seeds.toml");
    std::fs::write(
        &seeds,
        "[[preset]]\nsite = 1\nnumber = 33\nname = \"Flip\"\npan = 0.5\ntilt = 0\nzoom = 0\n\n\
         [[preset]]\nsite = 2\nnumber = 33\nname = \"Pan zero\"\npan = 0.5\ntilt = 0\nzoom = 0\n",
    )
    .expect("seed file");
    let seeds = seeds.to_string_lossy().into_owned();
    let (_sim, control, config) = simulator_with(
        &dir,
        &[
            "--cameras",
            "1",
            "--profile",
            "commands",
            "--seed-file",
            &seeds,
        ],
    );
    let text = std::fs::read_to_string(&config).expect("config");
    let camera = "id = \"cam-1\"\nname = \"Camera 1\"\n";
    assert!(text.contains(camera), "{text}");
    let text = text.replacen(
        camera,
        &format!("{camera}vendor = \"pelco-d\"\nreserved = [1]\n"),
        1,
    );
    std::fs::write(&config, text).expect("config");

    let (code, stdout, stderr) = run(&config, &["scan"]);
    assert_eq!(
        code,
        Some(0),
        "33 differs, and is ignored: {stdout}{stderr}"
    );
    let (code, stdout, stderr) = run(
        &config,
        &[
            "presets", "add", "--camera", "cam-1", "--number", "33", "--name", "Flip", "--pan",
            "0.5", "--tilt", "0", "--zoom", "0",
        ],
    );
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    assert!(stderr.contains("reserved"), "{stderr}");

    let (_serve, url) = service(&config);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let cookie = runtime.block_on(support::login(&http, &url));
    let presets = format!("{url}/api/v1/cameras/cam-1/presets");
    let position = json!({ "pan": 0.2, "tilt": 0.0, "zoom": 0.1 });
    let (status, answer) = call(
        &runtime,
        &http,
        &cookie,
        (
            "POST",
            presets.clone(),
            Some(json!({ "number": 95, "name": "Menu", "position": position })),
        ),
    );
    assert_eq!(
        (status, &answer["code"]),
        (400, &json!("invalid")),
        "{answer}"
    );
    let (status, answer) = call(
        &runtime,
        &http,
        &cookie,
        ("POST", format!("{presets}/34/recall"), None),
    );
    assert_eq!(
        (status, &answer["code"]),
        (400, &json!("invalid")),
        "{answer}"
    );
    let (status, answer) = call(
        &runtime,
        &http,
        &cookie,
        (
            "POST",
            presets.clone(),
            Some(json!({ "name": "Gate", "position": position })),
        ),
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["preset"]["number"], 2, "1 is reserved: {answer}");
    let (_, listed) = call(&runtime, &http, &cookie, ("GET", presets, None));
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "33 was not imported: {listed}"
    );
    assert_eq!(site_counter(&control, "command_calls"), [0, 0]);
}

/// Issue 11, finding 10: after the primary came back, the scan on its return
/// ran before the change made during the outage was replayed, and reported
/// "only on the secondary" for a preset the screen showed as applied; the
/// mismatch stayed until the hourly scan, and its repair would have deleted
/// the preset. Now the change is applied first and never reported.
#[test]
fn a_change_made_during_an_outage_is_replayed_before_the_recovery_scan_and_never_reported() {
    let dir = temp_dir("outage-scan");
    let (_sim, control, config) = simulator(&dir);
    let (_serve, url) = service(&config);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let http = reqwest::Client::new();
    let cookie = runtime.block_on(support::login(&http, &url));
    let presets = format!("{url}/api/v1/cameras/cam-1/presets");
    let position = |pan: f64| json!({ "pan": pan, "tilt": 0.0, "zoom": 0.1 });
    let (status, gate) = call(
        &runtime,
        &http,
        &cookie,
        (
            "POST",
            presets.clone(),
            Some(json!({ "name": "Gate", "position": position(0.1) })),
        ),
    );
    assert_eq!(status, 200, "{gate}");
    let gate = gate["preset"]["number"].as_u64().expect("a number");

    let primary_health = || {
        let (_, sites) = call(
            &runtime,
            &http,
            &cookie,
            ("GET", format!("{url}/api/v1/sites"), None),
        );
        sites.as_array().and_then(|s| {
            s.iter()
                .find(|s| s["id"] == "primary")
                .and_then(|s| s["health"].as_str().map(str::to_string))
        })
    };
    let wait_until = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "never: {what}");
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    };
    support::set_faults(&control, 1, json!({ "down": true }));
    wait_until("the primary is down", &|| {
        primary_health().as_deref() == Some("down")
    });
    let (status, dock) = call(
        &runtime,
        &http,
        &cookie,
        (
            "POST",
            presets.clone(),
            Some(json!({ "name": "Dock", "position": position(0.3) })),
        ),
    );
    assert_eq!(status, 202, "pending on the primary: {dock}");
    let (status, renamed) = call(
        &runtime,
        &http,
        &cookie,
        (
            "PATCH",
            format!("{presets}/{gate}"),
            Some(json!({ "name": "Gate north" })),
        ),
    );
    assert_eq!(status, 202, "pending on the primary: {renamed}");
    let seq_before: u64 = {
        let (_, audit) = call(
            &runtime,
            &http,
            &cookie,
            ("GET", format!("{url}/api/v1/audit?limit=1000"), None),
        );
        audit
            .as_array()
            .and_then(|a| a.last())
            .and_then(|e| e["seq"].as_u64())
            .unwrap_or(0)
    };
    // Long enough for the retries to back off by seconds: the primary then
    // answers again well before its work is due (what made the scan run
    // first). Not a timing assertion: the outcome must hold whatever the wait.
    std::thread::sleep(std::time::Duration::from_secs(8));
    support::set_faults(&control, 1, json!({ "down": false }));

    // The on-recovery scan: the only scan this service runs (no schedule).
    let scans = || {
        let (_, audit) = call(
            &runtime,
            &http,
            &cookie,
            (
                "GET",
                format!("{url}/api/v1/audit?action=scan&after={seq_before}"),
                None,
            ),
        );
        audit.as_array().cloned().unwrap_or_default()
    };
    wait_until("a scan after the primary's return", &|| !scans().is_empty());
    for scan in scans() {
        assert_eq!(
            (&scan["after"]["open"], &scan["after"]["new"]),
            (&json!(0), &json!(0)),
            "the recovery scan recorded a mismatch: {scan}"
        );
    }
    let (_, open) = call(
        &runtime,
        &http,
        &cookie,
        ("GET", format!("{url}/api/v1/mismatches"), None),
    );
    assert_eq!(open, json!([]));
    let (_, operations) = call(
        &runtime,
        &http,
        &cookie,
        ("GET", format!("{url}/api/v1/operations?camera=cam-1"), None),
    );
    for op in operations.as_array().expect("operations") {
        for part in op["sites"].as_array().expect("sites") {
            assert_eq!(part["state"], "applied", "{op}");
        }
    }
    let on_primary = support::site_presets(&control, 1);
    assert!(
        on_primary.contains_key("Dock") && on_primary.contains_key("Gate north"),
        "{on_primary:?}"
    );
}

/// `[service]`'s connection limits reach `tandem serve`: with 300 ms limits
/// a silent connection and a half-sent request are closed within seconds
/// (the defaults would keep them 10 s and more), while a client sending
/// requests is served.
#[test]
fn tandem_serve_closes_slow_connections_after_the_configured_timeouts() {
    use std::io::{Read, Write};
    let dir = temp_dir("connection-limits");
    let (_sim, _control, config) = simulator(&dir);
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(
        "\n[service]\nheader_timeout_ms = 300\nbody_timeout_ms = 300\nidle_timeout_ms = 300\n",
    );
    std::fs::write(&config, text).expect("config written");
    let (_serve, url) = service(&config);
    let address = url.trim_start_matches("http://").to_string();
    let closed_within = |mut stream: std::net::TcpStream, within: std::time::Duration| {
        stream.set_read_timeout(Some(within)).expect("read timeout");
        let mut got = Vec::new();
        // Ok(0) or a reset: closed by the service; a timeout: still open.
        match stream.read_to_end(&mut got) {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    };
    let silent = std::net::TcpStream::connect(&address).expect("connect");
    assert!(
        closed_within(silent, std::time::Duration::from_secs(5)),
        "a silent connection is kept"
    );
    let mut half = std::net::TcpStream::connect(&address).expect("connect");
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\n")
        .expect("write");
    assert!(
        closed_within(half, std::time::Duration::from_secs(5)),
        "a half-sent request is kept"
    );
    let mut busy = std::net::TcpStream::connect(&address).expect("connect");
    for _ in 0..5 {
        busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\n\r\n")
            .expect("write");
        let mut answer = [0u8; 512];
        let n = busy.read(&mut answer).expect("answer");
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "served");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
