//! `tandem demo` from nothing: simulated sites and the service come up, the
//! printed credentials log in, and the seeded mismatches of every kind the
//! sites can show appear: with the default XProtect secondary every kind but
//! "number differs" (XProtect presets have no numbers), with
//! `--secondary onvif` all five.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `tandem demo` with `extra` arguments until the mismatch kinds it
/// shows are `expected`; answers the sites' kinds as `GET /api/v1/sites`
/// gives them.
async fn demo_shows(extra: &[&str], expected: &[&str]) -> Vec<String> {
    let dir = std::env::temp_dir().join(format!(
        "tandem-demo-{}-{}",
        std::process::id(),
        extra.join("-")
    ));
    let mut demo = Guard(
        Command::new(env!("CARGO_BIN_EXE_tandem"))
            .args(["demo", "--listen", "127.0.0.1:0", "--data"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo starts"),
    );
    let mut lines = BufReader::new(demo.0.stdout.take().expect("stdout"));
    let (mut password, mut url) = (String::new(), String::new());
    let mut line = String::new();
    while url.is_empty() && lines.read_line(&mut line).expect("output") > 0 {
        if let Some(rest) = line.split("admin / ").nth(1) {
            password = rest.trim().trim_end_matches(')').to_string();
        }
        if let Some(rest) = line.strip_prefix("tandem serving on ") {
            url = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    assert!(
        !password.is_empty() && url.starts_with("http://127.0.0.1:"),
        "{password:?} {url:?}"
    );
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let get = |path: &str| {
        http.get(format!("{url}/api/v1/{path}"))
            .header("cookie", &cookie)
            .send()
    };
    // The first background scan runs as the service starts.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut kinds = Vec::new();
    while kinds != expected {
        assert!(
            Instant::now() < deadline,
            "mismatch kinds seen: {kinds:?}, expected {expected:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
        let open: serde_json::Value = get("mismatches")
            .await
            .expect("mismatches")
            .json()
            .await
            .expect("json");
        kinds = open
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["kind"].as_str().map(str::to_string))
            .collect();
        kinds.sort();
        kinds.dedup();
    }
    let sites: serde_json::Value = get("sites")
        .await
        .expect("sites")
        .json()
        .await
        .expect("json");
    drop(demo);
    let _ = std::fs::remove_dir_all(&dir);
    sites
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["kind"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn the_demo_runs_an_onvif_primary_and_an_xprotect_secondary_with_every_kind_they_can_differ_in()
 {
    let kinds = demo_shows(
        &[],
        &[
            "name_differs",
            "only_on_primary",
            "only_on_secondary",
            "position_differs",
        ],
    )
    .await;
    assert_eq!(kinds, ["onvif", "xprotect"]);
}

#[tokio::test]
async fn the_demo_with_an_onvif_secondary_shows_all_five_mismatch_kinds() {
    let kinds = demo_shows(
        &["--secondary", "onvif"],
        &[
            "name_differs",
            "number_differs",
            "only_on_primary",
            "only_on_secondary",
            "position_differs",
        ],
    )
    .await;
    assert_eq!(kinds, ["onvif", "onvif"]);
}
