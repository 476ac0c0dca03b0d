//! Issue 11, finding 1: tandem never overwrites or removes a device preset it
//! has not read. Each test drives `tandem` CLI processes against `tandem sim`
//! sites seeded with presets of their own (numeric tokens: a `SetPreset` on a
//! slot replaces whatever it held), and reads the sites through the
//! simulator's control API.

mod support;

use std::path::Path;

use support::{run, set_faults, simulator_with, slots, temp_dir};

/// P holds Home (1) and Door (2); S holds its own "S Home" in 1, Door in 2 and
/// "S-only Dock" in 3, which P does not have.
fn seed(dir: &Path) -> String {
    let seed = dir.join("seed.toml");
    std::fs::write(
        &seed,
        r#"
[[preset]]
site = 1
number = 1
name = "Home"
pan = 0.0
tilt = 0.0
zoom = 0.0

[[preset]]
site = 2
number = 1
name = "S Home"
pan = 0.05
tilt = 0.0
zoom = 0.0

[[preset]]
number = 2
name = "Door"
pan = 0.3
tilt = 0.1
zoom = 0.2

[[preset]]
site = 2
number = 3
name = "S-only Dock"
pan = -0.4
tilt = 0.2
zoom = 0.3
"#,
    )
    .expect("seed file");
    seed.to_string_lossy().into_owned()
}

fn add(config: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let mut args = vec![
        "presets", "add", "--camera", "cam-1", "--pan", "0.6", "--tilt", "0", "--zoom", "0.1",
    ];
    args.extend_from_slice(extra);
    run(config, &args)
}

fn name_at(control: &str, site: usize, token: &str) -> Option<String> {
    slots(control, site, 1).get(token).map(|(n, _)| n.clone())
}

/// 1a and 1c: the first operation on a camera never scanned reads both sites
/// first; the new preset gets a number no site uses, and every device preset
/// stays where it was.
#[test]
fn a_first_add_on_a_camera_never_read_takes_a_number_no_site_uses() {
    let dir = temp_dir("rbw-first");
    let seed = seed(&dir);
    let (_sim, control, config) = simulator_with(&dir, &["--cameras", "1", "--seed-file", &seed]);
    let (code, out) = add(&config, &["--name", "New"]);
    assert_eq!(code, Some(0), "{out}");
    for site in [1, 2] {
        assert_eq!(
            name_at(&control, site, "4").as_deref(),
            Some("New"),
            "site {site}"
        );
    }
    assert_eq!(name_at(&control, 1, "1").as_deref(), Some("Home"));
    assert_eq!(name_at(&control, 2, "1").as_deref(), Some("S Home"));
    assert_eq!(name_at(&control, 2, "3").as_deref(), Some("S-only Dock"));
    assert_eq!(name_at(&control, 1, "3"), None, "nothing was written to 3");
    // Asking for the number S uses for its own preset is refused before any
    // site is called: the mismatch that reports it must be resolved first.
    let (code, out) = add(&config, &["--name", "Taken", "--number", "3"]);
    assert_eq!(code, Some(7), "a conflict: {out}");
    assert!(out.contains("S-only Dock"), "names the preset: {out}");
    assert_eq!(name_at(&control, 2, "3").as_deref(), Some("S-only Dock"));
    assert_eq!(name_at(&control, 1, "3"), None);
}

/// 1b: the first scan could not read S. An add (made while S is still down)
/// on a number S uses for its own preset is refused there when S returns,
/// naming it; a delete of a number whose S slot tandem never read removes
/// nothing there.
#[test]
fn a_site_never_read_refuses_writes_over_its_own_presets() {
    let dir = temp_dir("rbw-unread");
    let seed = seed(&dir);
    let (_sim, control, config) = simulator_with(&dir, &["--cameras", "1", "--seed-file", &seed]);
    set_faults(&control, 2, serde_json::json!({ "down": true }));
    let (code, out) = run(&config, &["scan"]);
    assert_eq!(code, Some(10), "S could not be read: {out}");

    // Number 3 looks free to tandem (P has 1 and 2): S holds its own preset there.
    let (code, out) = add(
        &config,
        &["--name", "New", "--number", "3", "--wait-ms", "5000"],
    );
    assert_eq!(code, Some(3), "pending on S: {out}");
    assert_eq!(
        name_at(&control, 1, "3").as_deref(),
        Some("New"),
        "P has it"
    );
    set_faults(&control, 2, serde_json::json!({ "down": false }));
    let (code, out) = run(&config, &["sync"]);
    assert_ne!(code, Some(0), "S refused: {out}");
    let (_, ops) = run(&config, &["operations", "--camera", "cam-1"]);
    assert!(
        ops.contains("S-only Dock") && ops.contains("not adopted"),
        "the refusal names the preset: {ops}"
    );
    assert_eq!(name_at(&control, 2, "3").as_deref(), Some("S-only Dock"));

    // Preset 1 is P's "Home"; S's slot 1 holds "S Home", never read.
    let (code, out) = run(
        &config,
        &["presets", "delete", "--camera", "cam-1", "--number", "1"],
    );
    assert_eq!(code, Some(4), "S refused: {out}");
    assert!(out.contains("S Home"), "{out}");
    assert_eq!(name_at(&control, 1, "1"), None, "removed from P");
    assert_eq!(
        name_at(&control, 2, "1").as_deref(),
        Some("S Home"),
        "kept on S"
    );
}

/// A camera's first operation while the primary cannot be read: the
/// secondary's presets are read and imported first, so the new preset takes
/// a number the secondary does not use; the primary, read before it is
/// written when it returns, keeps its own presets.
#[test]
fn a_first_add_while_the_primary_is_down_takes_a_number_the_secondary_does_not_use() {
    let dir = temp_dir("rbw-p-down");
    let seed = seed(&dir);
    let (_sim, control, config) = simulator_with(&dir, &["--cameras", "1", "--seed-file", &seed]);
    set_faults(&control, 1, serde_json::json!({ "down": true }));
    let (code, out) = add(&config, &["--name", "New", "--wait-ms", "3000"]);
    assert_eq!(code, Some(3), "pending on P: {out}");
    assert_eq!(name_at(&control, 2, "4").as_deref(), Some("New"), "{out}");
    set_faults(&control, 1, serde_json::json!({ "down": false }));
    let (code, out) = run(&config, &["sync"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(name_at(&control, 1, "4").as_deref(), Some("New"));
    assert_eq!(name_at(&control, 1, "1").as_deref(), Some("Home"));
    assert_eq!(name_at(&control, 2, "1").as_deref(), Some("S Home"));
    assert_eq!(name_at(&control, 2, "3").as_deref(), Some("S-only Dock"));
}
