//! Issue 11, finding 2: a device whose clock is two hours off. CLI processes
//! (`tandem scan`, `repair`, `presets add`) against `tandem sim` whose
//! secondary's clock jumps 2 h after tandem learned it: they work, the store
//! keeps the new offset, the next process uses it without reading the clock
//! again; and a clock the device still refuses is reported as a clock problem.

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};
use support::{Guard, get_json, site_presets, tandem, temp_dir};
use tandem_core::{CameraId, SiteId};
use tandem_store::prelude::*;
use tandem_store::{BindingLearned, SqliteStore};

/// A `tandem sim` of one camera with three presets, the secondary (WS-Security
/// only) with a renamed one; its configuration written to `dir`.
fn simulator(dir: &Path) -> (Guard, String, PathBuf) {
    support::simulator_with(
        dir,
        &[
            "--cameras",
            "1",
            "--presets",
            "3",
            "--drift",
            "--profile",
            "2=wsse",
        ],
    )
}

/// `tandem COMMAND -c CONFIG ARGS...`, to its end.
fn run(config: &Path, command: &[&str], args: &[&str]) -> Output {
    tandem()
        .args(command)
        .arg("-c")
        .arg(config)
        .args(args)
        .output()
        .expect("tandem runs")
}

fn ok(output: &Output, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(0),
        "{what}: stdout {} stderr {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The secondary's request counts: (clock reads, NotAuthorized refusals).
fn secondary_counts(control: &str) -> (u64, u64) {
    let sites = get_json(&format!("{control}/api/sites"));
    let requests = &sites[1]["requests"];
    (
        requests["clock_reads"].as_u64().expect("clock_reads"),
        requests["refusals"].as_u64().expect("refusals"),
    )
}

fn set_clock(control: &str, body: Value) {
    support::control_send(
        reqwest::Method::PUT,
        &format!("{control}/api/sites/2/clock"),
        &body,
    );
}

/// What the store kept of cam-1 on the secondary.
fn kept(dir: &Path) -> BindingLearned {
    let store = SqliteStore::open(dir.join("tandem.db")).expect("store opens");
    store
        .learned_bindings()
        .expect("learned")
        .into_iter()
        .find(|l| l.camera == CameraId::from("cam-1") && l.site == SiteId::from("secondary"))
        .expect("the binding learned something")
}

#[test]
fn a_device_clock_two_hours_off_after_first_contact_does_not_stop_scans_repairs_or_adds() {
    let dir = temp_dir("clock");
    let (_sim, control, config) = simulator(&dir);

    // First contact: the renamed preset is found; the offset learned is ~0.
    let scan = run(&config, &["scan"], &[]);
    assert_eq!(scan.status.code(), Some(5), "one mismatch open");
    let first = kept(&dir);
    assert!(
        first.clock_offset_ms.is_some_and(|ms| ms.abs() < 2_000),
        "{first:?}"
    );
    assert_eq!(first.auth_mode.as_deref(), Some("ws-security"));

    // The secondary's clock jumps 2 h: the stored offset is stale.
    set_clock(&control, json!({ "skew_s": 7200 }));
    let (reads, refusals) = secondary_counts(&control);
    ok(
        &run(
            &config,
            &["repair"],
            &["--camera", "cam-1", "--from", "primary"],
        ),
        "repair",
    );
    let (reads_after, refusals_after) = secondary_counts(&control);
    assert!(refusals_after > refusals, "the stale offset was refused");
    assert!(reads_after > reads, "and the clock read again");
    let learned = kept(&dir);
    assert!(
        learned
            .clock_offset_ms
            .is_some_and(|ms| (ms - 7_200_000).abs() < 2_000),
        "{learned:?}"
    );

    // The next processes start from the stored offset: no clock read, no refusal.
    ok(&run(&config, &["scan"], &[]), "scan after the repair");
    ok(
        &run(
            &config,
            &["presets", "add"],
            &[
                "--camera",
                "cam-1",
                "--name",
                "Loading bay",
                "--pan",
                "0.3",
                "--tilt",
                "0",
                "--zoom",
                "0.1",
            ],
        ),
        "presets add",
    );
    assert_eq!(
        secondary_counts(&control),
        (reads_after, refusals_after),
        "the stored offset was used as it is"
    );
    assert!(site_presets(&control, 2).contains_key("Loading bay"));

    // A device that reports +2 h and checks against +1 h: no offset satisfies
    // it, and the scan says it is the clock, not the password.
    set_clock(&control, json!({ "skew_s": 3600, "reported_skew_s": 7200 }));
    let scan = run(&config, &["scan"], &[]);
    let stdout = String::from_utf8_lossy(&scan.stdout);
    assert_eq!(scan.status.code(), Some(10), "{stdout}");
    assert!(
        stdout.contains("the device's clock is 2 h 0 min ahead of this host"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("check the binding's username and password"),
        "{stdout}"
    );
}
