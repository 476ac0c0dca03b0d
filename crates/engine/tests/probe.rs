//! `probe` against a real simulator on loopback: authentication modes, clock
//! offsets, token styles, identity, and sites that are down or refuse us.

use std::sync::Arc;

use tandem_core::TokenStyle;
use tandem_engine::config::Config;
use tandem_engine::probe::{Authentication, ProbeReport, probe, render_table};
use tandem_sim::world::Faults;
use tandem_sim::{SimConfig, Simulator};

async fn start(profiles: &[&str], seed_presets: u32) -> Arc<Simulator> {
    let config = SimConfig {
        sites: 2,
        cameras: 2,
        profiles: profiles
            .iter()
            .map(|p| p.parse().expect("valid profile"))
            .collect(),
        seed_presets,
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("simulator starts")
}

/// A configuration binding every simulated camera on both sites, written as a
/// user would write it, so that it goes through `Config::parse`.
fn config_for(sim: &Simulator, password: &str) -> Config {
    let mut text = format!(
        "[defaults]\nusername = \"admin\"\npassword = \"{password}\"\ntimeout_ms = 3000\n\
         [[site]]\nid = \"primary\"\npriority = 1\n[[site]]\nid = \"secondary\"\npriority = 2\n"
    );
    for camera in 1..=2 {
        text.push_str(&format!("[[camera]]\nid = \"cam-{camera}\"\n"));
        for e in sim.endpoints().iter().filter(|e| e.camera == camera) {
            text.push_str(&format!(
                "[camera.bindings.{}]\nurl = \"{}\"\n",
                e.site_name, e.device_url
            ));
        }
    }
    Config::parse(&text, "sim.toml").expect("valid configuration")
}

fn find<'a>(reports: &'a [ProbeReport], camera: &str, site: &str) -> &'a ProbeReport {
    reports
        .iter()
        .find(|r| r.camera.as_str() == camera && r.site.as_str() == site)
        .expect("report exists")
}

#[tokio::test]
async fn probe_reports_authentication_clock_tokens_and_identity() {
    let sim = start(&["1/1=wsse+skewed", "2=vms+digest"], 3).await;
    let reports = probe(&config_for(&sim, "tandem")).await;
    assert_eq!(reports.len(), 4);
    let order: Vec<_> = reports
        .iter()
        .map(|r| format!("{}@{}", r.camera, r.site))
        .collect();
    assert_eq!(
        order,
        [
            "cam-1@primary",
            "cam-1@secondary",
            "cam-2@primary",
            "cam-2@secondary"
        ]
    );
    for r in &reports {
        assert!(r.reachable && r.error.is_none(), "{r:?}");
        assert_eq!(r.profile.as_deref(), Some("profile_1"));
        assert_eq!(r.ptz_node.as_deref(), Some("ptz_node_1"));
        assert_eq!(r.max_presets, Some(256));
        assert_eq!(r.preset_count, Some(3));
        assert_eq!(r.model.as_deref(), Some("Simulated PTZ"));
    }
    let skewed = find(&reports, "cam-1", "primary");
    assert_eq!(skewed.auth, Some(Authentication::WsSecurity));
    let offset = skewed.clock_offset_s.expect("offset");
    assert!((offset - 7200).abs() <= 2, "offset {offset}");
    assert_eq!(skewed.token_style, Some(TokenStyle::Numeric));
    assert_eq!(skewed.serial.as_deref(), Some("SIM-00001"));

    let plain = find(&reports, "cam-2", "primary");
    assert_eq!(plain.auth, Some(Authentication::WsSecurity));
    assert!(plain.clock_offset_s.is_some_and(|s| s.abs() <= 1));
    assert_eq!(plain.serial.as_deref(), Some("SIM-00002"));

    for camera in ["cam-1", "cam-2"] {
        let vms = find(&reports, camera, "secondary");
        assert_eq!(vms.auth, Some(Authentication::HttpDigest), "{vms:?}");
        assert_eq!(vms.token_style, Some(TokenStyle::Opaque), "{vms:?}");
    }

    let table = render_table(&reports);
    assert_eq!(table.lines().count(), 5, "{table}");
    assert!(table.contains("HTTP Digest"), "{table}");
    assert!(table.contains("+7200 s") || table.contains("+7199 s") || table.contains("+7201 s"));
}

#[tokio::test]
async fn a_down_site_is_unreachable_and_the_other_still_answers() {
    let sim = start(&["2=vms+digest"], 1).await;
    assert!(sim.set_faults(
        2,
        Faults {
            down: true,
            ..Faults::default()
        }
    ));
    let reports = probe(&config_for(&sim, "tandem")).await;
    for camera in ["cam-1", "cam-2"] {
        let down = find(&reports, camera, "secondary");
        assert!(!down.reachable, "{down:?}");
        assert_eq!(down.auth, None);
        let error = down.error.as_deref().unwrap_or_default();
        assert!(
            error.starts_with("GetSystemDateAndTime: cannot reach"),
            "{error}"
        );
        let up = find(&reports, camera, "primary");
        assert!(up.reachable && up.error.is_none(), "{up:?}");
    }
    let table = render_table(&reports);
    assert!(
        table.lines().nth(2).is_some_and(|l| l.contains(" no ")),
        "{table}"
    );
}

#[tokio::test]
async fn refused_credentials_and_empty_preset_tables_are_reported() {
    let sim = start(&["1=wsse", "2=digest"], 0).await;
    let reports = probe(&config_for(&sim, "wrong")).await;
    let wsse = find(&reports, "cam-1", "primary");
    assert!(wsse.reachable);
    assert!(
        matches!(&wsse.auth, Some(Authentication::Failed(why)) if why.starts_with("WS-Security refused")),
        "{wsse:?}"
    );
    let digest = find(&reports, "cam-1", "secondary");
    assert!(
        matches!(&digest.auth, Some(Authentication::Failed(why)) if why.starts_with("HTTP Digest refused")),
        "{digest:?}"
    );
    assert!(
        digest
            .error
            .as_deref()
            .is_some_and(|e| e.contains("authentication refused"))
    );

    let reports = probe(&config_for(&sim, "tandem")).await;
    for r in &reports {
        assert_eq!(r.token_style, None, "{r:?}");
        assert_eq!(r.preset_count, Some(0));
    }
}

/// Issue 11, finding 11: a Digest-only device that answers service
/// discovery to anyone (ONVIF's PRE_AUTH class) was reported as WS-Security,
/// the mode of the first call, which proved nothing.
#[tokio::test]
async fn the_auth_column_names_the_mode_calls_use_and_digest_is_challenged_once_per_binding() {
    let sim = start(&["1=wsse", "2=digest+preauth"], 1).await;
    let reports = probe(&config_for(&sim, "tandem")).await;
    for camera in ["cam-1", "cam-2"] {
        let wsse = find(&reports, camera, "primary");
        assert_eq!(wsse.auth, Some(Authentication::WsSecurity), "{wsse:?}");
        let digest = find(&reports, camera, "secondary");
        assert!(digest.error.is_none(), "{digest:?}");
        assert_eq!(digest.auth, Some(Authentication::HttpDigest), "{digest:?}");
    }
    let seen = sim.site(2).expect("site").requests();
    // Six authenticated calls per binding, one challenge each.
    assert_eq!(seen.challenges, 2, "{seen:?}");
    assert!(seen.soap >= 12, "{seen:?}");
}

/// Issue 11, finding 11: the probe applied an offset the scan did not and
/// reported an authentication failure for a device whose scans worked (one
/// that reports local time as UTC and checks timestamps against true UTC).
#[tokio::test]
async fn a_device_that_misreports_its_clock_is_no_auth_failure() {
    let sim = start(&["wsse"], 1).await;
    sim.site(1)
        .expect("site")
        .set_clock(tandem_sim::world::DeviceClock {
            skew_s: 0,
            reported_skew_s: 7200,
        });
    let reports = probe(&config_for(&sim, "tandem")).await;
    for camera in ["cam-1", "cam-2"] {
        let r = find(&reports, camera, "primary");
        assert!(r.error.is_none(), "{r:?}");
        assert_eq!(r.auth, Some(Authentication::WsSecurity), "{r:?}");
        assert_eq!(r.clock_offset_s, Some(0), "the offset in force: {r:?}");
    }
}

/// An XProtect secondary: the probe reports the token's lifetime, the
/// version, the camera's GUID and its presets, and the PTZ rights the user
/// lacks on the camera.
#[tokio::test]
async fn an_xprotect_binding_reports_version_token_lifetime_camera_and_missing_rights() {
    let sim = Simulator::start(SimConfig {
        cameras: 1,
        xprotect: vec![2],
        ..SimConfig::default()
    })
    .await
    .expect("simulator starts");
    let xp = sim.xprotect(2).expect("xprotect site");
    let primary = sim
        .endpoints()
        .into_iter()
        .find(|e| e.site == 1)
        .expect("primary endpoint");
    let text = format!(
        "[defaults]\nusername = \"admin\"\npassword = \"tandem\"\ntimeout_ms = 3000\n\
         [[site]]\nid = \"primary\"\npriority = 1\n\
         [[site]]\nid = \"secondary\"\npriority = 2\nkind = \"xprotect\"\nurl = \"{}\"\n\
         [[camera]]\nid = \"cam-1\"\n\
         [camera.bindings.primary]\nurl = \"{}\"\n\
         [camera.bindings.secondary]\ncamera = \"Camera 1\"\n",
        xp.url(),
        primary.device_url
    );
    let config = Config::parse(&text, "tandem.toml").expect("valid configuration");
    let secondary = |reports: &[ProbeReport]| {
        reports
            .iter()
            .find(|r| r.site.as_str() == "secondary")
            .cloned()
            .expect("secondary probed")
    };
    let report = secondary(&probe(&config).await);
    assert!(report.reachable, "{report:?}");
    assert_eq!(
        report.auth,
        Some(Authentication::Bearer { lifetime_s: 3600 })
    );
    assert_eq!(report.model.as_deref(), Some("XProtect 2024 R2"));
    assert_eq!(report.serial.as_deref(), Some(xp.cameras()[0].id.as_str()));
    assert_eq!(report.preset_count, Some(0));
    assert_eq!(report.error, None, "an administrator lacks nothing");

    xp.set_knobs(tandem_sim::xprotect::XpKnobs {
        rights: Some(1),
        ..xp.knobs()
    });
    let report = secondary(&probe(&config).await);
    let error = report.error.unwrap_or_default();
    assert!(
        error.contains("lacks PTZ_PRESETS_MANAGE, PTZ_PRESETS_LOCK"),
        "{error}"
    );
    assert!(
        !error.contains("EXPORT"),
        "only PTZ rights are asked for: {error}"
    );
}
