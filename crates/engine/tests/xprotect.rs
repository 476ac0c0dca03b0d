//! Mixed sites through the engine: one site on ONVIF, the other a simulated
//! XProtect installation (presets in the VMS, reached through its REST API),
//! and the reverse. Operations reach both; scans compare both; repairs work
//! in both directions; a preset changed on XProtect is re-made (the API has
//! no update) with its patrols pointed at it; nothing moves on the XProtect side.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandem_access::local_operator;
use tandem_core::Position;
use tandem_core::plan::Direction;
use tandem_engine::engine::{AddPreset, Engine, PositionSource, UpdatePreset};
use tandem_engine::live::{Command, HealthPolicy, Live};
use tandem_sim::xprotect::{XpEntry, XpPatrol};
use tandem_sim::{SimConfig, Simulator};
use tandem_store::{SiteState, SqliteStore};

async fn mixed(xprotect_site: usize, seed_presets: u32) -> (Arc<Simulator>, Arc<Engine>) {
    let sim = Simulator::start(SimConfig {
        cameras: 1,
        seed_presets,
        xprotect: vec![xprotect_site],
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine =
        Engine::new(store, &topology(&sim, 0.001), Duration::from_secs(10)).expect("engine");
    (sim, engine)
}

fn at(pan: f64) -> PositionSource {
    PositionSource::Explicit(Position::new(pan, 0.1, 0.2).expect("valid"))
}

/// The XProtect site's presets of camera 1: (name, pan), sorted by name.
fn in_vms(sim: &Simulator, site: usize) -> Vec<(String, f64)> {
    let xp = sim.xprotect(site).expect("xprotect site");
    let mut presets: Vec<(String, f64)> = xp.cameras()[0]
        .presets()
        .into_iter()
        .map(|p| (p.name, p.position[0]))
        .collect();
    presets.sort_by(|a, b| a.0.cmp(&b.0));
    presets
}

/// Camera 1 with a "Gate" preset at pan 0.6, and live control over it that
/// probes every 100 ms and calls a site down after two failures.
async fn gate_and_live(engine: Arc<Engine>, cam: &tandem_core::CameraId) -> Arc<Live> {
    engine
        .add(
            cam,
            AddPreset {
                number: None,
                name: name("Gate"),
                position: at(0.6),
            },
            &local_operator("alice"),
        )
        .await
        .expect("add");
    Live::new(
        engine,
        HealthPolicy {
            probe_interval: Duration::from_millis(100),
            failures_to_down: 2,
            command_timeout: Duration::from_millis(500),
            ..HealthPolicy::default()
        },
    )
    .expect("live")
}

/// Where the simulated physical camera 1 points now.
fn where_camera_is(sim: &Simulator) -> [f64; 3] {
    sim.world()
        .camera(0)
        .motion()
        .position(std::time::Instant::now())
}

fn applied_everywhere(outcome: &tandem_engine::engine::Outcome) -> bool {
    outcome.sites.iter().all(|s| s.state == SiteState::Applied)
}

#[tokio::test]
async fn operations_reach_an_onvif_primary_and_an_xprotect_secondary_without_moving_the_camera_for_the_vms()
 {
    let (sim, engine) = mixed(2, 0).await;
    let cam = camera(1);
    let alice = local_operator("alice");
    let added = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("Gate"),
                position: at(0.5),
            },
            &alice,
        )
        .await
        .expect("add");
    assert!(applied_everywhere(&added), "{added:?}");
    assert!(added.moves_camera, "the ONVIF primary turns the camera");
    assert_eq!(in_vms(&sim, 2), vec![("Gate".to_string(), 0.5)]);
    let first_guid = sim.xprotect(2).expect("xp").cameras()[0].presets()[0]
        .id
        .clone();
    let patrol = sim.xprotect(2).expect("xp").new_id();
    sim.xprotect(2).expect("xp").cameras()[0].insert_patrol(XpPatrol {
        id: patrol,
        name: "Perimeter".into(),
        entries: vec![XpEntry {
            preset: first_guid.clone(),
            wait: 5.0,
        }],
        end_preset: None,
    });

    // Renamed and re-aimed: XProtect has no update, so the preset is made anew
    // and the patrol that named it follows.
    let renamed = engine
        .update(
            &cam,
            number(1),
            UpdatePreset {
                name: Some(name("Main gate")),
                position: Some(at(-0.25)),
                ..Default::default()
            },
            &alice,
        )
        .await
        .expect("update");
    assert!(applied_everywhere(&renamed), "{renamed:?}");
    assert_eq!(in_vms(&sim, 2), vec![("Main gate".to_string(), -0.25)]);
    let xp = sim.xprotect(2).expect("xp");
    let new_guid = xp.cameras()[0].presets()[0].id.clone();
    assert_ne!(new_guid, first_guid);
    assert_eq!(
        xp.cameras()[0].patrols()[0].entries[0].preset,
        new_guid,
        "the patrol follows"
    );

    // A renumber on XProtect only remaps: the VMS preset stays as it is.
    let renumbered = engine
        .update(
            &cam,
            number(1),
            UpdatePreset {
                number: Some(number(7)),
                ..Default::default()
            },
            &alice,
        )
        .await
        .expect("renumber");
    assert!(applied_everywhere(&renumbered), "{renumbered:?}");
    assert_eq!(xp.cameras()[0].presets()[0].id, new_guid);

    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(
        report.mismatches.is_empty() && report.unread.is_empty(),
        "{report:?}"
    );

    let deleted = engine
        .delete(&cam, number(7), &alice)
        .await
        .expect("delete");
    assert!(applied_everywhere(&deleted), "{deleted:?}");
    assert!(in_vms(&sim, 2).is_empty());
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_scan_compares_the_sites_and_repairs_work_in_both_directions() {
    // The ONVIF primary has 3 seeded presets; the XProtect secondary none.
    let (sim, engine) = mixed(2, 3).await;
    let cam = camera(1);
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert_eq!(report.mismatches.len(), 3, "{report:?}");
    // Adding to the XProtect secondary turns nothing; to the ONVIF primary it would.
    let plan = engine
        .plan_repair(&admin(), &cam, Direction::PrimaryToSecondary, None)
        .await
        .expect("plan");
    assert!(!plan.changes.is_empty() && !plan.moves_camera(), "{plan:?}");
    engine
        .repair(&cam, Direction::PrimaryToSecondary, None, &admin())
        .await
        .expect("repair P → S");
    engine
        .settle(Duration::from_secs(10))
        .await
        .expect("settled");
    assert_eq!(in_vms(&sim, 2).len(), 3, "{:?}", in_vms(&sim, 2));
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{report:?}");

    // Someone deletes one in the VMS: the scan sees it; the secondary's
    // state is taken back to the primary.
    let xp = sim.xprotect(2).expect("xp");
    let gone = xp.cameras()[0].presets()[0].clone();
    let vms = tandem_xprotect::Server::new(
        xp.url(),
        tandem_xprotect::Credentials {
            username: "admin".into(),
            password: "tandem".into(),
        },
        tandem_xprotect::ServerConfig::default(),
    )
    .expect("server");
    vms.delete_preset(&xp.cameras()[0].id, &gone.id)
        .await
        .expect("delete in the VMS");
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert_eq!(report.mismatches.len(), 1, "{report:?}");
    engine
        .repair(&cam, Direction::SecondaryToPrimary, None, &admin())
        .await
        .expect("repair S → P");
    engine
        .settle(Duration::from_secs(10))
        .await
        .expect("settled");
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{report:?}");
    let on_primary = on_site(&sim, 1, 1);
    assert_eq!(on_primary.len(), 2, "{on_primary:?}");
    assert!(
        !on_primary
            .iter()
            .any(|p| p.1.as_deref() == Some(gone.name.as_str()))
    );
}

#[tokio::test]
async fn an_xprotect_primary_is_imported_and_kept_in_step_with_an_onvif_secondary() {
    let (sim, engine) = mixed(1, 0).await;
    let cam = camera(1);
    let xp = sim.xprotect(1).expect("xp");
    let vms = tandem_xprotect::Server::new(
        xp.url(),
        tandem_xprotect::Credentials {
            username: "admin".into(),
            password: "tandem".into(),
        },
        tandem_xprotect::ServerConfig::default(),
    )
    .expect("server");
    for (name, pan) in [("Dock", 0.3), ("Yard", -0.6)] {
        vms.create_preset(
            &xp.cameras()[0].id,
            &tandem_xprotect::types::NewPreset {
                name: name.into(),
                description: String::new(),
                pan,
                tilt: 0.1,
                zoom: 0.2,
                locked: false,
            },
        )
        .await
        .expect("made in the VMS");
    }
    // First scan: the XProtect primary's presets become the canonical list.
    let report = engine.scan_camera(&cam).await.expect("scan");
    let names: Vec<String> = engine
        .presets(&admin(), &cam)
        .expect("presets")
        .into_iter()
        .map(|p| p.name.as_str().to_string())
        .collect();
    assert_eq!(names, ["Dock", "Yard"], "{report:?}");
    engine
        .repair(&cam, Direction::PrimaryToSecondary, None, &admin())
        .await
        .expect("repair P → S");
    engine
        .settle(Duration::from_secs(10))
        .await
        .expect("settled");
    assert_eq!(on_site(&sim, 2, 1).len(), 2);
    let added = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("Gate"),
                position: at(0.9),
            },
            &local_operator("alice"),
        )
        .await
        .expect("add");
    assert!(applied_everywhere(&added), "{added:?}");
    assert_eq!(in_vms(&sim, 1).len(), 3);
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_scan_reports_a_patrol_that_names_a_preset_the_other_site_lacks() {
    let (sim, engine) = mixed(2, 3).await;
    let cam = camera(1);
    engine.scan_camera(&cam).await.expect("scan");
    engine
        .repair(&cam, Direction::PrimaryToSecondary, None, &admin())
        .await
        .expect("repair P → S");
    engine
        .settle(Duration::from_secs(10))
        .await
        .expect("settled");
    let xp = sim.xprotect(2).expect("xp");
    let in_vms = xp.cameras()[0].presets();
    let named = |name: &str| in_vms.iter().find(|p| p.name == name).map(|p| p.id.clone());
    let (gate, parking) = (
        named("Gate").expect("Gate"),
        named("Parking").expect("Parking"),
    );
    xp.cameras()[0].insert_patrol(XpPatrol {
        id: xp.new_id(),
        name: "Perimeter".into(),
        entries: vec![
            XpEntry {
                preset: gate.clone(),
                wait: 5.0,
            },
            XpEntry {
                preset: parking,
                wait: 5.0,
            },
        ],
        end_preset: Some(gate),
    });
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert!(report.patrol_gaps.is_empty(), "{report:?}");

    // Someone removes Gate from the primary's camera by hand.
    {
        let site = sim.site(1).expect("primary");
        let on = site.camera(0).expect("camera");
        let quirks = on.quirks.clone();
        let mut table = on.presets();
        let token = table
            .entries()
            .iter()
            .find(|e| e.name.as_deref() == Some("Gate"))
            .map(|e| e.token.clone())
            .expect("Gate on the primary");
        table.remove(&quirks, &token).expect("removed");
    }
    let report = engine.scan_camera(&cam).await.expect("scan");
    assert_eq!(
        report.patrol_gaps.len(),
        1,
        "the end and the stop are one gap: {report:?}"
    );
    let gap = &report.patrol_gaps[0];
    assert_eq!(
        (
            gap.site.as_str(),
            gap.patrol.as_str(),
            gap.preset.as_str(),
            gap.missing_on.as_str()
        ),
        ("secondary", "Perimeter", "Gate", "primary")
    );
    assert_eq!(gap.number, Some(number(1)));
}

/// Failover of live control to an XProtect secondary: with the primary
/// down, absolute moves, recall and status go through XProtect; a
/// continuous move is refused with the reason, or goes to the camera's own
/// ONVIF service when the binding names it (`onvif_url`).
#[tokio::test]
async fn live_control_fails_over_to_an_xprotect_secondary_and_its_camera_s_onvif_service() {
    for with_onvif in [false, true] {
        let sim = Simulator::start(SimConfig {
            cameras: 1,
            xprotect: vec![2],
            ..SimConfig::default()
        })
        .await
        .expect("simulator");
        let mut topology = topology(&sim, 0.001);
        if with_onvif {
            let onvif = sim
                .endpoints()
                .into_iter()
                .find(|e| e.site == 2 && e.camera == 1)
                .map(|e| e.device_url);
            for b in &mut topology.cameras[0].bindings {
                if b.xprotect_camera.is_some() {
                    b.onvif_url = onvif.clone();
                }
            }
        }
        let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
        let engine = Engine::new(store, &topology, Duration::from_secs(10)).expect("engine");
        let cam = camera(1);
        let live = gate_and_live(engine, &cam).await;
        let kinds: Vec<(String, &str)> = live
            .sites(&admin())
            .expect("sites")
            .into_iter()
            .map(|s| (s.id.to_string(), s.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("primary".to_string(), "onvif"),
                ("secondary".to_string(), "xprotect")
            ]
        );
        let monitor = live.spawn_monitor();
        sim.set_faults(
            1,
            tandem_sim::world::Faults {
                down: true,
                ..Default::default()
            },
        );
        tokio::time::sleep(Duration::from_millis(600)).await;

        let target = Position::new(-0.4, 0.2, 0.1).expect("valid");
        let served = live
            .command(&cam, &Command::AbsoluteMove { position: target })
            .await
            .expect("absolute move through XProtect");
        assert_eq!(served.site.as_str(), "secondary");
        let physical = || where_camera_is(&sim);
        let mut arrived = false;
        for _ in 0..50 {
            let at = physical();
            if (at[0] + 0.4).abs() < 1e-6 && (at[1] - 0.2).abs() < 1e-6 {
                arrived = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            arrived,
            "the camera did not reach the target: {:?}",
            physical()
        );
        live.command(&cam, &Command::RecallPreset(number(1)))
            .await
            .expect("recall through XProtect");
        let status = live.command(&cam, &Command::Status).await.expect("status");
        assert_eq!(status.site.as_str(), "secondary");

        let continuous = live
            .command(
                &cam,
                &Command::ContinuousMove {
                    velocity: [0.3, 0.0, 0.0],
                    timeout: Duration::from_millis(300),
                },
            )
            .await;
        if with_onvif {
            let served = continuous.expect("continuous move through the camera's ONVIF service");
            assert_eq!(served.site.as_str(), "secondary");
            live.command(&cam, &Command::Stop)
                .await
                .expect("stop through ONVIF");
        } else {
            let refused = continuous.expect_err("no continuous move through XProtect");
            assert!(
                refused.to_string().contains("no continuous moves"),
                "{refused}"
            );
        }
        monitor.abort();
    }
}

/// An XProtect primary's presets have no numbers: on import each takes the
/// number the ONVIF secondary gives a preset of the same name, else a number
/// no site uses, so that it never pairs with another preset there.
#[tokio::test]
async fn an_xprotect_primary_takes_the_secondarys_numbers_by_name_and_free_ones_otherwise() {
    // The secondary (ONVIF) is seeded with Gate #1, Parking #2, Dock 3 #3.
    let (sim, engine) = mixed(1, 3).await;
    let xp = sim.xprotect(1).expect("xp");
    let vms = tandem_xprotect::Server::new(
        xp.url(),
        tandem_xprotect::Credentials {
            username: "admin".into(),
            password: "tandem".into(),
        },
        tandem_xprotect::ServerConfig::default(),
    )
    .expect("server");
    for name in ["Yard", "Parking"] {
        vms.create_preset(
            &xp.cameras()[0].id,
            &tandem_xprotect::types::NewPreset {
                name: name.into(),
                description: String::new(),
                pan: 0.5,
                tilt: 0.1,
                zoom: 0.2,
                locked: false,
            },
        )
        .await
        .expect("made in the VMS");
    }
    let cam = camera(1);
    let report = engine.scan_camera(&cam).await.expect("scan");
    let numbers: Vec<(String, u32)> = engine
        .presets(&admin(), &cam)
        .expect("presets")
        .into_iter()
        .map(|p| (p.name.as_str().to_string(), p.number.get()))
        .collect();
    assert_eq!(
        numbers,
        [("Parking".to_string(), 2), ("Yard".to_string(), 4)],
        "{report:?}"
    );
    assert!(
        report
            .mismatches
            .iter()
            .all(|m| m.kind != tandem_core::diff::MismatchKind::NameDiffers),
        "no preset paired with another of a different name: {report:?}"
    );
}

/// Two XProtect sites store coordinates: an add says the camera does not move,
/// and it does not.
#[tokio::test]
async fn with_two_xprotect_sites_preset_work_says_nothing_moves_and_nothing_does() {
    let sim = Simulator::start(SimConfig {
        cameras: 1,
        xprotect: vec![1, 2],
        ..SimConfig::default()
    })
    .await
    .expect("simulator");
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine =
        Engine::new(store, &topology(&sim, 0.001), Duration::from_secs(10)).expect("engine");
    let before = where_camera_is(&sim);
    let added = engine
        .add(
            &camera(1),
            AddPreset {
                number: None,
                name: name("Gate"),
                position: at(0.7),
            },
            &local_operator("alice"),
        )
        .await
        .expect("add");
    assert!(applied_everywhere(&added), "{added:?}");
    assert!(!added.moves_camera, "{added:?}");
    assert_eq!(in_vms(&sim, 1), in_vms(&sim, 2));
    assert_eq!(where_camera_is(&sim), before);
}

/// Live control with the primary on XProtect: absolute moves and recalls go
/// through the VMS while it answers; when the whole XProtect installation
/// goes down, the ONVIF secondary takes over (a continuous move included),
/// and the primary serves again after a failback.
#[tokio::test]
async fn live_control_runs_through_an_xprotect_primary_and_fails_over_to_an_onvif_secondary() {
    let (sim, engine) = mixed(1, 0).await;
    let cam = camera(1);
    let live = gate_and_live(engine, &cam).await;
    let monitor = live.spawn_monitor();
    let physical = || where_camera_is(&sim);
    let arrives = |pan: f64| {
        let physical = &physical;
        async move {
            for _ in 0..50 {
                if (physical()[0] - pan).abs() < 1e-6 {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };

    let served = live
        .command(
            &cam,
            &Command::AbsoluteMove {
                position: Position::new(-0.3, 0.1, 0.2).expect("valid"),
            },
        )
        .await
        .expect("absolute move through XProtect");
    assert_eq!(served.site.as_str(), "primary");
    assert!(arrives(-0.3).await, "moved by XProtect: {:?}", physical());
    let recalled = live
        .command(&cam, &Command::RecallPreset(number(1)))
        .await
        .expect("recall through XProtect");
    assert_eq!(recalled.site.as_str(), "primary");
    assert!(arrives(0.6).await, "recalled by XProtect: {:?}", physical());

    // The XProtect installation goes down as a whole.
    let xp = sim.xprotect(1).expect("XProtect primary");
    xp.set_knobs(tandem_sim::xprotect::XpKnobs {
        down: true,
        ..xp.knobs()
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    let served = live
        .command(
            &cam,
            &Command::AbsoluteMove {
                position: Position::new(0.2, -0.1, 0.2).expect("valid"),
            },
        )
        .await
        .expect("absolute move through the ONVIF secondary");
    assert_eq!(served.site.as_str(), "secondary");
    assert!(arrives(0.2).await, "moved through S: {:?}", physical());
    let continuous = live
        .command(
            &cam,
            &Command::ContinuousMove {
                velocity: [0.3, 0.0, 0.0],
                timeout: Duration::from_millis(300),
            },
        )
        .await
        .expect("continuous move through the ONVIF secondary");
    assert_eq!(continuous.site.as_str(), "secondary");
    live.command(&cam, &Command::Stop).await.expect("stop");
    assert_eq!(live.active().as_str(), "secondary");
    let sites = live.sites(&admin()).expect("sites");
    let (at, why) = sites[1]
        .active_since
        .clone()
        .expect("since when S is active");
    assert!(why.contains("down"), "{why}");
    assert!(at <= chrono::Utc::now());
    assert_eq!(sites[0].failback_in, None, "no failback while P is down");

    // Back up: an explicit failback returns live control to the VMS.
    xp.set_knobs(tandem_sim::xprotect::XpKnobs {
        down: false,
        ..xp.knobs()
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let countdown = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let sites = live.sites(&admin()).expect("sites");
        if let Some(left) = sites[0].failback_in {
            break left;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failback countdown once P is up"
        );
    };
    assert!(
        countdown <= HealthPolicy::default().failback_hold,
        "{countdown:?}"
    );
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if live.failback(&admin()).is_ok() && live.active().as_str() == "primary" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failback to the XProtect primary"
        );
    }
    let status = live.command(&cam, &Command::Status).await.expect("status");
    assert_eq!(status.site.as_str(), "primary");
    monitor.abort();
}

/// "Show view" with live control on an XProtect site that names no
/// `onvif_url`: the camera turns through XProtect, the picture (which
/// XProtect's REST API cannot give) comes from the other site, and the
/// camera is turned back.
#[tokio::test]
async fn show_view_through_an_xprotect_site_without_onvif_takes_the_picture_from_the_other_site() {
    let (sim, engine) = mixed(1, 0).await;
    let cam = camera(1);
    let live = Live::new(engine, HealthPolicy::default()).expect("live");
    assert_eq!(live.active().as_str(), "primary");
    let physical = || where_camera_is(&sim);
    let before = physical();
    let look = live
        .look(
            &admin(),
            &cam,
            Position::new(0.5, -0.2, 0.3).expect("valid"),
        )
        .await
        .expect("a look");
    assert_eq!(look.site.as_str(), "secondary", "the picture's site");
    assert!(look.jpeg.starts_with(&[0xff, 0xd8]), "a JPEG");
    assert!(look.returned, "the camera was turned back");
    let after = physical();
    assert!(
        (after[0] - before[0]).abs() < 1e-6 && (after[1] - before[1]).abs() < 1e-6,
        "back where it was: {before:?} -> {after:?}"
    );
}
