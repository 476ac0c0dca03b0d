//! One action, both sites: operations through the journal against simulated
//! sites with mixed quirks (P numeric tokens, S GUID tokens and rounded
//! positions), outages, and permanent faults.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tandem_access::local_operator;

use common::*;
use tandem_core::Position;
use tandem_core::plan::Direction;
use tandem_engine::engine::{AddPreset, Engine, PositionSource, RetryPolicy, UpdatePreset};
use tandem_engine::watch::{WatchEvent, WatchPolicy};
use tandem_sim::world::Faults;
use tandem_store::{SiteState, SqliteStore};

fn at(pan: f64) -> PositionSource {
    PositionSource::Explicit(Position::new(pan, 0.1, 0.2).expect("valid"))
}

#[tokio::test]
async fn add_rename_reaim_renumber_delete_reach_both_sites() {
    let sim = sim(1, &["2=vms+rounded"], 0, false).await;
    let engine = engine(&sim, 0.01);
    let cam = camera(1);
    let added = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("Gate"),
                position: at(0.5),
            },
            &local_operator("alice"),
        )
        .await
        .expect("add");
    assert!(added.is_complete(), "{added:?}");
    assert!(
        added.sites.iter().all(|s| s.state == SiteState::Applied),
        "{added:?}"
    );
    assert_eq!(added.preset.as_ref().map(|p| p.number), Some(number(1)));
    assert_eq!(
        on_site(&sim, 1, 1),
        vec![("1".into(), Some("Gate".into()), Some(0.5))]
    );
    let s = on_site(&sim, 2, 1);
    assert_eq!(s.len(), 1);
    let guid = s[0].0.clone();
    assert_eq!(guid.len(), 36, "the VMS site chose a GUID token");

    // Rename keeps the token on both sites (update in place).
    let renamed = engine
        .update(
            &cam,
            number(1),
            UpdatePreset {
                name: Some(name("Main gate")),
                ..Default::default()
            },
            &local_operator("alice"),
        )
        .await
        .expect("rename");
    assert!(
        renamed.sites.iter().all(|s| s.state == SiteState::Applied),
        "{renamed:?}"
    );
    assert_eq!(on_site(&sim, 1, 1)[0].1.as_deref(), Some("Main gate"));
    assert_eq!(
        on_site(&sim, 2, 1),
        vec![(guid.clone(), Some("Main gate".into()), Some(0.5))]
    );

    // Re-aim.
    engine
        .update(
            &cam,
            number(1),
            UpdatePreset {
                position: Some(at(-0.25)),
                ..Default::default()
            },
            &local_operator("alice"),
        )
        .await
        .expect("re-aim");
    assert_eq!(on_site(&sim, 1, 1)[0].2, Some(-0.25));
    assert_eq!(on_site(&sim, 2, 1)[0].2, Some(-0.25));

    // Renumber: the numeric site moves the slot; the GUID site keeps its token.
    let renumbered = engine
        .update(
            &cam,
            number(1),
            UpdatePreset {
                number: Some(number(7)),
                ..Default::default()
            },
            &local_operator("alice"),
        )
        .await
        .expect("renumber");
    assert!(
        renumbered
            .sites
            .iter()
            .all(|s| s.state == SiteState::Applied),
        "{renumbered:?}"
    );
    assert_eq!(
        on_site(&sim, 1, 1),
        vec![("7".into(), Some("Main gate".into()), Some(-0.25))]
    );
    assert_eq!(on_site(&sim, 2, 1)[0].0, guid);

    // Delete.
    let deleted = engine
        .delete(&cam, number(7), &local_operator("alice"))
        .await
        .expect("delete");
    assert!(
        deleted.sites.iter().all(|s| s.state == SiteState::Applied),
        "{deleted:?}"
    );
    assert!(
        on_site(&sim, 1, 1).is_empty() && on_site(&sim, 2, 1).is_empty(),
        "{:?} {:?} {deleted:?}",
        on_site(&sim, 1, 1),
        on_site(&sim, 2, 1)
    );
    let scan = engine.scan_camera(&cam).await.expect("scan");
    assert!(scan.mismatches.is_empty());
}

#[tokio::test]
async fn current_view_is_saved_on_both_sites() {
    let sim = sim(1, &["2=vms"], 0, false).await;
    let engine = engine(&sim, 0.001);
    sim.world()
        .camera(0)
        .motion()
        .move_to([0.3, -0.3, 0.6], None, std::time::Instant::now());
    while sim
        .world()
        .camera(0)
        .motion()
        .is_moving(std::time::Instant::now())
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcome = engine
        .add(
            &camera(1),
            AddPreset {
                number: Some(number(4)),
                name: name("Dock 4"),
                position: PositionSource::Current,
            },
            &local_operator("bob"),
        )
        .await
        .expect("add");
    let p = outcome.preset.and_then(|p| p.position).expect("position");
    assert!(
        p.within(
            &Position {
                pan: 0.3,
                tilt: -0.3,
                zoom: 0.6
            },
            1e-6
        ),
        "{p:?}"
    );
    assert_eq!(on_site(&sim, 2, 1)[0].2, Some(0.3));
}

#[tokio::test]
async fn bad_requests_change_nothing() {
    let sim = sim(1, &[], 0, false).await;
    let engine = engine(&sim, 0.001);
    let cam = camera(1);
    engine
        .add(
            &cam,
            AddPreset {
                number: Some(number(2)),
                name: name("A"),
                position: at(0.0),
            },
            &local_operator("x"),
        )
        .await
        .expect("add");
    let taken = engine
        .add(
            &cam,
            AddPreset {
                number: Some(number(2)),
                name: name("B"),
                position: at(0.1),
            },
            &local_operator("x"),
        )
        .await;
    assert!(matches!(
        taken,
        Err(tandem_engine::error::EngineError::NumberTaken { .. })
    ));
    let missing = engine.delete(&cam, number(9), &local_operator("x")).await;
    assert!(matches!(
        missing,
        Err(tandem_engine::error::EngineError::UnknownPreset { .. })
    ));
    let unknown = engine
        .delete(&camera(99), number(2), &local_operator("x"))
        .await;
    assert!(matches!(
        unknown,
        Err(tandem_engine::error::EngineError::UnknownCamera(_))
    ));
    assert_eq!(on_site(&sim, 1, 1).len(), 1);
    assert_eq!(
        engine
            .operations(&common::admin(), None, 100)
            .expect("ops")
            .len(),
        1
    );
}

#[tokio::test]
async fn outage_of_the_secondary_during_200_operations_converges() {
    let sim = sim(4, &["2=vms"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let retry = engine.spawn_retry_loop(Duration::from_millis(100));
    sim.set_faults(
        2,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let mut pending_on_s = 0;
    for i in 0..200u32 {
        let cam = camera((i % 4) as usize + 1);
        let request = AddPreset {
            number: None,
            name: name(&format!("P{i}")),
            position: at(f64::from(i % 50) / 50.0),
        };
        let outcome = engine
            .add(&cam, request, &local_operator("ops"))
            .await
            .expect("journaled");
        assert_eq!(
            outcome.sites[0].state,
            SiteState::Applied,
            "P has it at once: {outcome:?}"
        );
        if outcome.sites[1].state == SiteState::Pending {
            pending_on_s += 1;
        }
    }
    assert_eq!(
        pending_on_s, 200,
        "every operation is pending on the down site"
    );
    for c in 1..=4 {
        assert_eq!(on_site(&sim, 1, c).len(), 50);
    }
    sim.set_faults(2, Faults::default());
    let left = engine
        .settle(Duration::from_secs(60))
        .await
        .expect("settles");
    retry.abort();
    assert_eq!(left, 0, "nothing pending");
    for c in 1..=4 {
        assert_eq!(
            on_site(&sim, 2, c).len(),
            50,
            "S converged, each preset once"
        );
        let scan = engine.scan_camera(&camera(c)).await.expect("scan");
        assert!(scan.mismatches.is_empty(), "{:?}", scan.mismatches);
    }
    println!("outage: 200 operations, 200 pending on S during the outage, 0 pending after");
}

#[tokio::test]
async fn permanent_faults_are_reported_per_site_in_the_devices_words() {
    let sim = sim(2, &["2/1=limited=2", "2/2=max-name=8"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let cam = camera(1);
    for i in 0..2 {
        engine
            .add(
                &cam,
                AddPreset {
                    number: None,
                    name: name(&format!("N{i}")),
                    position: at(0.1),
                },
                &local_operator("x"),
            )
            .await
            .expect("add");
    }
    let third = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("N2"),
                position: at(0.2),
            },
            &local_operator("x"),
        )
        .await
        .expect("add");
    assert_eq!(third.sites[0].state, SiteState::Applied);
    assert_eq!(third.sites[1].state, SiteState::Failed);
    let error = third.sites[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("TooManyPresets") && error.contains("at most 2"),
        "{error}"
    );
    assert_eq!(
        on_site(&sim, 1, 1).len(),
        3,
        "P stays consistent with the journal"
    );

    let long = engine
        .add(
            &camera(2),
            AddPreset {
                number: None,
                name: name("Loading bay north"),
                position: at(0.3),
            },
            &local_operator("x"),
        )
        .await
        .expect("add");
    assert_eq!(long.sites[0].state, SiteState::Applied);
    assert_eq!(long.sites[1].state, SiteState::Failed);
    let error = long.sites[1].error.clone().unwrap_or_default();
    assert!(
        error.contains("InvalidPresetName") && error.contains("8 characters"),
        "{error}"
    );
    assert_eq!(
        engine.backlog().map(|b| b.0).expect("count"),
        0,
        "permanent faults are not retried"
    );
}

#[tokio::test]
async fn a_returning_site_is_noticed_and_scanned() {
    let sim = sim(2, &[], 2, false).await;
    let engine = engine(&sim, 0.001);
    sim.set_faults(
        2,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let policy = WatchPolicy {
        tick: Duration::from_millis(100),
        scan_every: None,
        scan_concurrency: 4,
    };
    let watcher = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .watch(
                    policy,
                    move |e| seen.lock().expect("events").push(e),
                    std::future::pending(),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(400)).await;
    sim.set_faults(2, Faults::default());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let scanned = events
            .lock()
            .expect("events")
            .iter()
            .any(|e| matches!(e, WatchEvent::Scanned { cameras: 2, .. }));
        if scanned {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no scan after the site returned: {:?}",
            events.lock()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watcher.abort();
    let events = events.lock().expect("events").clone();
    let down = events
        .iter()
        .position(|e| *e == WatchEvent::SiteDown("secondary".into()));
    let up = events
        .iter()
        .position(|e| *e == WatchEvent::SiteUp("secondary".into()));
    assert!(down.is_some() && up > down, "{events:?}");
}

#[tokio::test]
async fn nameless_rounding_secondary_stays_in_sync() {
    let sim = sim(1, &["2=vms+nameless+rounded=0.01"], 0, false).await;
    let engine = engine(&sim, 0.01);
    let cam = camera(1);
    for (i, pan) in [0.123, -0.456, 0.789].into_iter().enumerate() {
        let outcome = engine
            .add(
                &cam,
                AddPreset {
                    number: None,
                    name: name(&format!("Gate {i}")),
                    position: at(pan),
                },
                &local_operator("x"),
            )
            .await
            .expect("add");
        assert!(
            outcome.sites.iter().all(|s| s.state == SiteState::Applied),
            "{outcome:?}"
        );
    }
    assert!(
        on_site(&sim, 2, 1).iter().all(|p| p.1.is_none()),
        "the device keeps no names"
    );
    let scan = engine.scan_camera(&cam).await.expect("scan");
    assert!(
        scan.mismatches.is_empty(),
        "names not compared, rounding within tolerance: {:?}",
        scan.mismatches
    );
}

#[tokio::test]
async fn an_add_every_site_refuses_leaves_no_preset_behind() {
    let sim = sim(1, &["limited=1"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let cam = camera(1);
    engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("One"),
                position: at(0.1),
            },
            &local_operator("x"),
        )
        .await
        .expect("add");
    let refused = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("Two"),
                position: at(0.2),
            },
            &local_operator("x"),
        )
        .await
        .expect("journaled");
    assert!(
        refused.sites.iter().all(|s| s.state == SiteState::Failed),
        "{refused:?}"
    );
    assert_eq!(refused.preset, None);
    let canonical = engine.presets(&common::admin(), &cam).expect("presets");
    assert_eq!(
        canonical.len(),
        1,
        "the refused preset was taken back: {canonical:?}"
    );
    assert_eq!(engine.backlog().map(|b| b.0).expect("count"), 0);
    assert!(
        engine
            .scan_camera(&cam)
            .await
            .expect("scan")
            .mismatches
            .is_empty()
    );
}

/// Issue 11, finding 5: a SOAP 1.1 device (subcodes in `detail`) with opaque
/// tokens. tandem did not read those subcodes, so the NoToken fallback never
/// triggered (every add failed there) and deleting a preset already gone
/// failed instead of counting as done.
#[tokio::test]
async fn a_soap_1_1_device_with_subcodes_in_detail_is_written_and_cleaned_like_any_other() {
    let sim = sim(1, &["2=vms+soap11"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let cam = camera(1);
    let added = engine
        .add(
            &cam,
            AddPreset {
                number: Some(number(3)),
                name: name("Old gate"),
                position: at(0.3),
            },
            &local_operator("sam"),
        )
        .await
        .expect("journaled");
    assert!(
        added.sites.iter().all(|s| s.state == SiteState::Applied),
        "{added:?}"
    );
    let on_s = on_site(&sim, 2, 1);
    assert_eq!(on_s.len(), 1, "{on_s:?}");
    assert_ne!(on_s[0].0, "3", "S chose its own token after ter:NoToken");
    // Someone removes it on S behind tandem's back; the delete still completes.
    {
        let site = sim.site(2).expect("site");
        let camera = site.camera(0).expect("camera");
        camera
            .presets()
            .remove(&camera.quirks, &on_s[0].0)
            .expect("removed by hand");
    }
    let deleted = engine
        .delete(&cam, number(3), &local_operator("sam"))
        .await
        .expect("journaled");
    assert!(
        deleted.sites.iter().all(|s| s.state == SiteState::Applied),
        "an already-gone preset counts as removed: {deleted:?}"
    );
    assert!(on_site(&sim, 1, 1).is_empty());
}

fn down() -> Faults {
    Faults {
        down: true,
        ..Faults::default()
    }
}

/// Issue 11, finding 10: a scan that ran while an operation was still pending
/// on a site reported a difference the operation was about to remove ("only
/// on the secondary" for a preset the operator was told was saved), and its
/// repair would have undone the operation. Such differences are held back,
/// and a stored mismatch about them is not offered while the work is pending.
#[tokio::test]
async fn a_scan_holds_back_differences_whose_operation_is_still_pending() {
    let sim = sim(1, &[], 2, false).await;
    let engine = engine(&sim, 0.001);
    let cam = camera(1);
    {
        // The secondary drifted: preset 2 renamed there.
        let site = sim.site(2).expect("site");
        let on_s = site.camera(0).expect("camera");
        let mut table = on_s.presets();
        let here = table.get("2").and_then(|e| e.position).expect("seeded");
        table
            .set(&on_s.quirks, Some("Parking lot"), Some("2"), here)
            .expect("renamed");
    }
    let first = engine.scan_camera(&cam).await.expect("scan");
    assert_eq!(first.mismatches.len(), 1, "{:?}", first.mismatches);
    assert_eq!(
        engine
            .mismatches(&common::admin(), Some(&cam))
            .expect("open")
            .len(),
        1
    );

    // While the primary is down: a new preset, and a rename of preset 2.
    sim.set_faults(1, down());
    let added = engine
        .add(
            &cam,
            AddPreset {
                number: None,
                name: name("Dock"),
                position: at(0.4),
            },
            &local_operator("ops"),
        )
        .await
        .expect("journaled");
    assert_eq!(added.sites[0].state, SiteState::Pending, "{added:?}");
    let rename = UpdatePreset {
        name: Some(name("Parking north")),
        ..UpdatePreset::default()
    };
    let renamed = engine
        .update(&cam, number(2), rename, &local_operator("ops"))
        .await
        .expect("journaled");
    assert_eq!(renamed.sites[0].state, SiteState::Pending, "{renamed:?}");
    sim.set_faults(1, Faults::default());

    // Back, not yet replayed: both differ, neither is a mismatch.
    assert!(
        engine
            .mismatches(&common::admin(), Some(&cam))
            .expect("open")
            .is_empty(),
        "the stored mismatch on 2 waits for the rename"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let scan = loop {
        // The simulator takes a moment to listen again; a scan drains nothing.
        let scan = engine.scan_camera(&cam).await.expect("scan");
        if scan.unread.is_empty() || std::time::Instant::now() > deadline {
            break scan;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(scan.unread.is_empty(), "{:?}", scan.unread);
    assert!(scan.mismatches.is_empty(), "{:?}", scan.mismatches);
    assert_eq!(scan.pending, [number(2), number(3)]);
    let plan = engine
        .plan_repair(&admin(), &cam, Direction::SecondaryToPrimary, None)
        .await
        .expect("plan");
    assert!(plan.changes.is_empty(), "{:?}", plan.changes);

    assert_eq!(
        engine
            .settle(Duration::from_secs(30))
            .await
            .expect("settles"),
        0
    );
    let scan = engine.scan_camera(&cam).await.expect("scan");
    assert!(
        scan.mismatches.is_empty() && scan.pending.is_empty(),
        "{scan:?}"
    );
    let names: Vec<Option<String>> = on_site(&sim, 1, 1).into_iter().map(|p| p.1).collect();
    assert!(names.contains(&Some("Dock".into())), "{names:?}");
    assert!(names.contains(&Some("Parking north".into())), "{names:?}");
}

/// Issue 11, finding 10: when a site returned, the scan ran before its
/// pending work (still waiting out its retry backoff) was replayed, and the
/// false mismatch stayed until the next scheduled scan. Now the returned
/// site's work is applied first, whatever its backoff, then the sites are
/// compared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_sites_pending_work_is_applied_before_it_is_scanned() {
    let sim = sim(1, &[], 1, false).await;
    // Retries ten minutes apart: only the site's return can bring its work on.
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine = Engine::new(store, &topology(&sim, 0.001), Duration::from_secs(10))
        .expect("engine")
        .with_retry(RetryPolicy {
            first: Duration::from_secs(600),
            max: Duration::from_secs(600),
        });
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let policy = WatchPolicy {
        tick: Duration::from_millis(100),
        scan_every: None,
        scan_concurrency: 4,
    };
    let watcher = {
        let engine = engine.clone();
        tokio::spawn(async move {
            engine
                .watch(
                    policy,
                    move |e| seen.lock().expect("events").push(e),
                    std::future::pending(),
                )
                .await
        })
    };
    // A camera in service: scanned (its presets imported) before the outage.
    let first = engine.scan_camera(&camera(1)).await.expect("scan");
    assert!(first.mismatches.is_empty(), "{first:?}");
    let wait_for = |what: &'static str, found: &dyn Fn(&[WatchEvent]) -> bool| {
        let events = events.clone();
        let found = |e: &[WatchEvent]| found(e);
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if found(&events.lock().expect("events")) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {what}: {:?}",
                events.lock()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    sim.set_faults(1, down());
    tokio::task::block_in_place(|| {
        wait_for("site down", &|e| {
            e.contains(&WatchEvent::SiteDown("primary".into()))
        })
    });
    let added = engine
        .add(
            &camera(1),
            AddPreset {
                number: None,
                name: name("Dock"),
                position: at(0.4),
            },
            &local_operator("ops"),
        )
        .await
        .expect("journaled");
    assert_eq!(added.sites[0].state, SiteState::Pending, "{added:?}");
    sim.set_faults(1, Faults::default());
    tokio::task::block_in_place(|| {
        wait_for("scan after the return", &|e| {
            e.iter().any(|e| matches!(e, WatchEvent::Scanned { .. }))
        })
    });
    watcher.abort();
    let events = events.lock().expect("events").clone();
    let scanned = events
        .iter()
        .find(|e| matches!(e, WatchEvent::Scanned { .. }))
        .cloned();
    assert_eq!(
        scanned,
        Some(WatchEvent::Scanned {
            cameras: 1,
            open: 0,
            pending: 0,
            errors: 0
        }),
        "the work was applied before the scan: {events:?}"
    );
    let op = engine.outcome(added.operation).expect("outcome");
    assert!(
        op.sites.iter().all(|s| s.state == SiteState::Applied),
        "{op:?}"
    );
    assert!(
        engine
            .mismatches(&common::admin(), None)
            .expect("open")
            .is_empty()
    );
}
