//! Seeding: the standard set, the deliberate differences of `--drift`, and seed files.

use tandem_sim::{SimConfig, Simulator};

fn names(
    sim: &Simulator,
    site: usize,
    camera: usize,
) -> Vec<(String, Option<String>, Option<[f64; 3]>)> {
    let site = sim.site(site).expect("site");
    let cam = site.camera(camera - 1).expect("camera");
    cam.presets()
        .entries()
        .iter()
        .map(|e| (e.token.clone(), e.name.clone(), e.position))
        .collect()
}

#[tokio::test]
async fn drift_gives_the_last_site_one_difference_of_each_kind() {
    let config = SimConfig {
        cameras: 7,
        seed_presets: 6,
        drift: true,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.expect("starts");
    let get = |site, camera, token: &str| {
        names(&sim, site, camera)
            .into_iter()
            .find(|(t, _, _)| t == token)
    };
    // Camera 1: preset 2 renamed.
    assert_eq!(get(1, 1, "2").and_then(|p| p.1).as_deref(), Some("Parking"));
    assert_eq!(
        get(2, 1, "2").and_then(|p| p.1).as_deref(),
        Some("Parking lot")
    );
    // Camera 2: preset 3 moved.
    let (p, s) = (
        get(1, 2, "3").and_then(|p| p.2),
        get(2, 2, "3").and_then(|p| p.2),
    );
    assert!(p.zip(s).is_some_and(|(p, s)| (p[0] - s[0]).abs() > 0.1));
    // Camera 3: preset 4 only on the primary.
    assert!(get(1, 3, "4").is_some() && get(2, 3, "4").is_none());
    // Camera 4: an extra preset only on the secondary.
    assert_eq!(names(&sim, 2, 4).len(), names(&sim, 1, 4).len() + 1);
    // Camera 5: "Lobby" is number 4 on the primary, 7 on the secondary.
    assert_eq!(get(1, 5, "4").and_then(|p| p.1).as_deref(), Some("Lobby"));
    assert_eq!(get(2, 5, "7").and_then(|p| p.1).as_deref(), Some("Lobby"));
    // Camera 7: identical.
    assert_eq!(names(&sim, 1, 7), names(&sim, 2, 7));
}

#[tokio::test]
async fn seed_file_places_presets_per_site_and_camera_and_bad_files_are_refused() {
    let dir = std::env::temp_dir().join(format!("tandem-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "[[preset]]\nnumber = 3\nname = \"Gate\"\npan = 0.1\ntilt = 0.2\nzoom = 0.3\n\n\
         [[preset]]\nsite = 2\ncamera = 1\nnumber = 3\nname = \"Lobby\"\npan = 0.1\ntilt = 0.2\nzoom = 0.3\n",
    )
    .expect("write");
    let config = SimConfig {
        cameras: 2,
        seed_file: Some(good),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.expect("starts");
    assert_eq!(names(&sim, 1, 1)[0].1.as_deref(), Some("Gate"));
    assert_eq!(names(&sim, 2, 1)[0].1.as_deref(), Some("Lobby"));
    assert_eq!(names(&sim, 2, 2)[0].1.as_deref(), Some("Gate"));
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[preset]]\nnumber = 1\npan = 3.0\ntilt = 0\nzoom = 0\n",
    )
    .expect("write");
    let err = Simulator::start(SimConfig {
        seed_file: Some(bad),
        ..SimConfig::default()
    })
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("outside"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
