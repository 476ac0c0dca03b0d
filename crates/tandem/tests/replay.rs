//! Issue 11, finding 4: a renumber replayed on an opaque-token site (the site
//! was down when it was asked) left a stray `~N` preset there after `tandem
//! sync`, which a later repair copied to the other site. Replays are
//! idempotent for every operation kind on every token style.

mod support;

use support::{run, set_faults, simulator, slots, temp_dir};

fn names(control: &str, site: usize) -> Vec<String> {
    let mut names: Vec<String> = slots(control, site, 1)
        .into_values()
        .map(|(name, _)| name)
        .collect();
    names.sort();
    names
}

#[test]
fn a_renumber_replayed_on_an_opaque_site_leaves_no_temporary_preset() {
    let dir = temp_dir("replay-renumber");
    // P numeric tokens, S opaque (GUID) tokens.
    let (_sim, control, config) = simulator(&dir);
    for (number, name, pan) in [("5", "Gate", "0.2"), ("6", "Dock", "-0.3")] {
        let (code, out) = run(
            &config,
            &[
                "presets", "add", "--camera", "cam-1", "--number", number, "--name", name, "--pan",
                pan, "--tilt", "0", "--zoom", "0.1",
            ],
        );
        assert_eq!(code, Some(0), "{out}");
    }
    set_faults(&control, 2, serde_json::json!({ "down": true }));
    // Renumbered, renamed and deleted while S is down: all pending there.
    for args in [
        &[
            "presets",
            "update",
            "--camera",
            "cam-1",
            "--number",
            "5",
            "--new-number",
            "9",
        ][..],
        &[
            "presets", "update", "--camera", "cam-1", "--number", "9", "--name", "Gate 2",
        ][..],
        &[
            "presets",
            "update",
            "--camera",
            "cam-1",
            "--number",
            "6",
            "--new-number",
            "5",
        ][..],
    ] {
        let mut args = args.to_vec();
        args.extend_from_slice(&["--wait-ms", "3000"]);
        let (code, out) = run(&config, &args);
        assert_eq!(code, Some(3), "pending on S: {out}");
    }
    set_faults(&control, 2, serde_json::json!({ "down": false }));
    // Replayed twice: the second run finds nothing left to do.
    for _ in 0..2 {
        let (code, out) = run(&config, &["sync"]);
        assert_eq!(code, Some(0), "{out}");
    }
    let expected = vec!["Dock".to_string(), "Gate 2".to_string()];
    assert_eq!(names(&control, 2), expected, "S: no ~N, no duplicate");
    assert_eq!(names(&control, 1), expected, "P");
    let p = slots(&control, 1, 1);
    assert_eq!(p.get("9").map(|(n, _)| n.as_str()), Some("Gate 2"));
    assert_eq!(p.get("5").map(|(n, _)| n.as_str()), Some("Dock"));
    let (code, out) = run(&config, &["scan"]);
    assert_eq!(code, Some(0), "no mismatch after the replay: {out}");
    // A repair has nothing to copy.
    let (code, out) = run(
        &config,
        &["repair", "--camera", "cam-1", "--from", "primary"],
    );
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(names(&control, 2), expected);
}
