//! Issue 11, finding 7: a device that answers `ter:MovingPTZ` many times.
//! `presets add` reported pending after 0.6 s although `--wait-ms` was 10 s,
//! and `tandem sync` ran without a word until killed. Now a refusal the
//! device means as "not now" is retried with backoff within the caller's
//! wait, `sync` ends in bounded time listing what is still pending, and the
//! messages say what will retry it.

mod support;

use std::time::{Duration, Instant};

use support::{run, simulator_with, slots, temp_dir};

fn add(config: &std::path::Path, name: &str, wait_ms: &str) -> (Option<i32>, String, Duration) {
    let started = Instant::now();
    let (code, out) = run(
        config,
        &[
            "presets",
            "add",
            "--camera",
            "cam-1",
            "--name",
            name,
            "--pan",
            "0.2",
            "--tilt",
            "0",
            "--zoom",
            "0",
            "--wait-ms",
            wait_ms,
        ],
    );
    (code, out, started.elapsed())
}

/// S answers the first 4 `SetPreset` calls with `ter:MovingPTZ`: retried
/// (0.25 + 0.5 + 1 + 2 s of backoff) within a 15 s wait, the add is applied.
#[test]
fn a_few_moving_ptz_faults_are_retried_within_the_wait() {
    let dir = temp_dir("moving-few");
    let (_sim, control, config) =
        simulator_with(&dir, &["--cameras", "1", "--profile", "2=moving=4"]);
    let (code, out, _) = add(&config, "Gate", "15000");
    assert_eq!(code, Some(0), "applied on both sites: {out}");
    for site in [1, 2] {
        assert!(
            slots(&control, site, 1).values().any(|(n, _)| n == "Gate"),
            "site {site}"
        );
    }
}

/// S answers every `SetPreset` with `ter:MovingPTZ`: the add waits as long as
/// it was told, then says what is pending and what will retry it; `sync`
/// ends at its bound and lists it.
#[test]
fn endless_moving_ptz_faults_end_in_bounded_time_and_say_what_is_pending() {
    let dir = temp_dir("moving-many");
    let (_sim, _control, config) =
        simulator_with(&dir, &["--cameras", "1", "--profile", "2=moving=10000"]);
    let (code, out, took) = add(&config, "Gate", "3000");
    assert_eq!(code, Some(3), "pending: {out}");
    assert!(
        took >= Duration::from_millis(2900),
        "waited its 3 s: {took:?}"
    );
    assert!(out.contains("MovingPTZ"), "the device's words: {out}");
    assert!(out.contains("tandem sync"), "says what finishes it: {out}");
    assert!(!out.contains("background"), "no background promise: {out}");
    let started = Instant::now();
    let (code, out) = run(&config, &["sync", "--timeout-s", "3"]);
    assert!(started.elapsed() < Duration::from_secs(30), "bounded");
    assert_eq!(code, Some(3), "still pending: {out}");
    assert!(
        out.contains("giving up after 3 s"),
        "said at the start: {out}"
    );
    assert!(
        out.contains("still pending on secondary") && out.contains("MovingPTZ"),
        "lists what is pending and why: {out}"
    );
}
