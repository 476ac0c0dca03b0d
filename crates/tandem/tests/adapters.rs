//! The server and the CLI are adapters over the same engine: the same request
//! through the API and through a local `tandem presets` command ends with the
//! same outcome kind (the API's problem `code` and status, the CLI's exit
//! code), for valid, bad and conflicting requests alike.

mod support;

use std::process::Stdio;

use serde_json::{Value, json};
use support::{service, simulator, tandem, temp_dir};

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
                .header("cookie", &cookie);
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
