//! Interoperability with an ONVIF implementation nobody here wrote: the
//! Python package `onvif-zeep-async`, which parses answers against the ONVIF
//! WSDLs it ships, drives a `tandem sim` process over WS-Security with a
//! device clock two hours off.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Kills the simulator when the test ends, pass or fail.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The Python with `onvif-zeep-async`: `TANDEM_PYTHON`, or the venv that
/// `scripts/test.sh` makes. Missing is a failure, never a skip.
fn python() -> PathBuf {
    let path = std::env::var_os("TANDEM_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    assert!(
        path.exists(),
        "no Python peer at {}: run `bash scripts/test.sh` (the README's test command), which installs it",
        path.display()
    );
    path
}

#[test]
fn onvif_zeep_async_drives_the_simulator() {
    let python = python();
    let child = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args([
            "sim",
            "--sites",
            "1",
            "--cameras",
            "1",
            "--presets",
            "3",
            "--profile",
            "wsse+skewed=7200",
            "--json",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("tandem sim starts");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout);
    let mut first = String::new();
    lines.read_line(&mut first).expect("an endpoint line");
    // Keep draining: the simulator exits if its stdout closes under it.
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let endpoint: serde_json::Value = serde_json::from_str(&first).expect("JSON endpoint line");
    assert_eq!(endpoint["kind"], "endpoint");
    let url = endpoint["device_url"].as_str().expect("device_url");
    let port = url
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .expect("a port")
        .to_string();
    let output = Command::new(python)
        .arg(workspace().join("crates/sim/tests/python/interop.py"))
        .args(["--host", "127.0.0.1", "--port", &port])
        .args(["--user", endpoint["username"].as_str().expect("username")])
        .args([
            "--password",
            endpoint["password"].as_str().expect("password"),
        ])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "interop failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        11,
        "all 11 steps pass:\n{stdout}"
    );
}
