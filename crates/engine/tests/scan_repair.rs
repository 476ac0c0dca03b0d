//! Mismatch detection and operator-chosen repair against seeded differences.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandem_core::{ErrorKind, MismatchKind, Position, plan::Direction};
use tandem_engine::engine::{AddPreset, Engine, PositionSource, UpdatePreset};
use tandem_engine::error::EngineError;
use tandem_engine::live::{Command, HealthPolicy, Live};
use tandem_store::{SiteState, SqliteStore};

#[tokio::test]
async fn drift_is_found_and_repaired_in_either_direction() {
    // Six presets everywhere; the secondary drifts on cameras 1 to 6.
    let sim = sim(7, &[], 6, true).await;
    let engine = engine(&sim, 0.001);
    let reports = engine
        .scan((1..=7).map(camera).collect(), 32, |_, _| {})
        .await;
    let kinds: Vec<Vec<MismatchKind>> = reports
        .iter()
        .map(|r| {
            r.as_ref()
                .expect("scan")
                .mismatches
                .iter()
                .map(|m| m.kind)
                .collect()
        })
        .collect();
    assert_eq!(kinds[0], vec![MismatchKind::NameDiffers]);
    assert_eq!(kinds[1], vec![MismatchKind::PositionDiffers]);
    assert_eq!(kinds[2], vec![MismatchKind::OnlyOnPrimary]);
    assert_eq!(kinds[3], vec![MismatchKind::OnlyOnSecondary]);
    assert_eq!(kinds[4], vec![MismatchKind::NumberDiffers]);
    assert!(
        kinds[5].is_empty(),
        "a move within tolerance is no mismatch"
    );
    assert!(kinds[6].is_empty());
    assert_eq!(engine.backlog().map(|b| b.1).expect("count"), 5);

    // Dry run: a plan, nothing sent.
    let before = on_site(&sim, 2, 1);
    let plan = engine
        .plan_repair(
            &common::admin(),
            &camera(1),
            Direction::PrimaryToSecondary,
            None,
        )
        .await
        .expect("plan");
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(on_site(&sim, 2, 1), before);

    // Primary to secondary on cameras 1 to 4; secondary to primary on camera 5.
    for c in 1..=4 {
        let report = engine
            .repair(
                &camera(c),
                Direction::PrimaryToSecondary,
                None,
                &tandem_access::local_operator("carol"),
            )
            .await
            .expect("repair");
        assert!(
            report.remaining.is_empty(),
            "camera {c}: {:?} {:?}",
            report.remaining,
            report.outcomes
        );
    }
    let report = engine
        .repair(
            &camera(5),
            Direction::SecondaryToPrimary,
            None,
            &tandem_access::local_operator("carol"),
        )
        .await
        .expect("repair");
    assert!(
        report.remaining.is_empty(),
        "{:?} {:?}",
        report.remaining,
        report.outcomes
    );
    assert_eq!(
        on_site(&sim, 1, 1)
            .iter()
            .filter(|p| p.1.as_deref() == Some("Parking"))
            .count(),
        1
    );
    assert!(
        on_site(&sim, 2, 1)
            .iter()
            .any(|p| p.1.as_deref() == Some("Parking")),
        "S renamed back"
    );
    assert!(
        on_site(&sim, 1, 5)
            .iter()
            .any(|p| p.0 == "7" && p.1.as_deref() == Some("Lobby")),
        "P renumbered 4 to 7"
    );
    assert!(!on_site(&sim, 1, 5).iter().any(|p| p.0 == "4"));
    assert_eq!(engine.backlog().map(|b| b.1).expect("count"), 0);
    let audit = engine.verify_audit(&common::admin()).expect("verify");
    assert!(audit.first_bad.is_none());
}

#[tokio::test]
async fn presets_on_a_guid_site_are_recognised_by_name_then_position() {
    // The secondary is a VMS bridge with GUID tokens that tandem did not create:
    // its numbers are unknown, so presets are recognised by exact name, then by
    // position (a renamed preset). A renumber cannot show on such a site.
    let sim = sim(7, &["2=vms"], 6, true).await;
    let engine = engine(&sim, 0.001);
    let reports = engine
        .scan((1..=7).map(camera).collect(), 32, |_, _| {})
        .await;
    let kinds: Vec<Vec<MismatchKind>> = reports
        .iter()
        .map(|r| {
            r.as_ref()
                .expect("scan")
                .mismatches
                .iter()
                .map(|m| m.kind)
                .collect()
        })
        .collect();
    assert_eq!(
        kinds[0],
        vec![MismatchKind::NameDiffers],
        "renamed: recognised by position"
    );
    assert_eq!(
        kinds[1],
        vec![MismatchKind::PositionDiffers],
        "moved: recognised by name"
    );
    assert_eq!(kinds[2], vec![MismatchKind::OnlyOnPrimary]);
    assert_eq!(kinds[3], vec![MismatchKind::OnlyOnSecondary]);
    assert!(
        kinds[4].is_empty() && kinds[5].is_empty() && kinds[6].is_empty(),
        "{kinds:?}"
    );
    for c in 1..=4 {
        let report = engine
            .repair(
                &camera(c),
                Direction::PrimaryToSecondary,
                None,
                &tandem_access::local_operator("carol"),
            )
            .await
            .expect("repair");
        assert!(
            report.remaining.is_empty(),
            "camera {c}: {:?} {:?}",
            report.remaining,
            report.outcomes
        );
    }
    // The GUID tokens were kept for the updated presets (update in place).
    let renamed = on_site(&sim, 2, 1);
    assert_eq!(renamed.len(), 6);
    assert!(renamed.iter().all(|p| p.0.len() == 36));
}

fn add_at(name_text: &str, number_asked: Option<u32>, pan: f64) -> AddPreset {
    AddPreset {
        number: number_asked.map(number),
        name: name(name_text),
        position: PositionSource::Explicit(Position::new(pan, 0.1, 0.2).expect("position")),
    }
}

/// What every site of the simulator has answered: (preset writes, removals, command calls).
fn calls(sim: &tandem_sim::Simulator) -> (usize, usize, usize) {
    sim.sites().iter().fold((0, 0, 0), |(w, r, c), site| {
        (
            w + site.preset_writes(),
            r + site.preset_removals(),
            c + site.command_calls(),
        )
    })
}

/// Issue 11, finding 6: a primary that lists 250 empty slots (no name, no
/// position) had them imported as "Preset 4"..., reported as 250 mismatches
/// no repair could fix, pushed new presets to number 257 and made a repair
/// from the secondary send 253 RemovePresets.
#[tokio::test]
async fn a_site_listing_250_empty_slots_imports_compares_and_removes_none_of_them() {
    let sim = sim(1, &["1=camera+empty=250"], 3, false).await;
    let engine = engine(&sim, 0.001);
    let listed = {
        let site = sim.site(1).expect("site");
        let cam = site.camera(0).expect("camera");
        cam.presets().report(&cam.quirks).len()
    };
    assert_eq!(listed, 253, "3 presets and 250 empty slots");

    let report = engine.scan_camera(&camera(1)).await.expect("scan");
    assert!(
        report.mismatches.is_empty(),
        "{} mismatches, the first: {:?}",
        report.mismatches.len(),
        report.mismatches.first()
    );
    let imported = engine.presets(&admin(), &camera(1)).expect("presets");
    assert_eq!(imported.len(), 3, "{imported:?}");

    let added = engine
        .add(&camera(1), add_at("Dock 4", None, 0.3), &admin())
        .await
        .expect("add");
    assert_eq!(
        added.preset.as_ref().map(|p| p.number),
        Some(number(4)),
        "not 257"
    );
    assert!(
        added.sites.iter().all(|s| s.state == SiteState::Applied),
        "an empty slot may be written: {added:?}"
    );
    assert!(
        on_site(&sim, 1, 1)
            .iter()
            .any(|p| p.0 == "4" && p.1.as_deref() == Some("Dock 4"))
    );

    for direction in [Direction::SecondaryToPrimary, Direction::PrimaryToSecondary] {
        let repair = engine
            .repair(&camera(1), direction, None, &admin())
            .await
            .expect("repair");
        assert!(repair.plan.changes.is_empty(), "{:?}", repair.plan.changes);
        assert!(repair.remaining.is_empty(), "{:?}", repair.remaining);
    }
    assert_eq!(calls(&sim).1, 0, "no RemovePreset for an empty slot");
    assert_eq!(engine.backlog().expect("backlog"), (0, 0));
}

/// A fixed-slot device lists its unused slots as "Preset1".."PresetN" without
/// a position: placeholders, not presets.
#[tokio::test]
async fn fixed_slots_with_the_devices_own_placeholder_names_are_not_presets() {
    let sim = sim(1, &["1=fixed8"], 0, false).await;
    let engine = engine(&sim, 0.001);
    let report = engine.scan_camera(&camera(1)).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert!(
        engine
            .presets(&admin(), &camera(1))
            .expect("presets")
            .is_empty()
    );
    let added = engine
        .add(&camera(1), add_at("Gate", None, 0.1), &admin())
        .await
        .expect("add");
    assert_eq!(added.preset.as_ref().map(|p| p.number), Some(number(1)));
    assert!(added.is_complete(), "{added:?}");
    let report = engine.scan_camera(&camera(1)).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
}

/// DESIGN.md: reserved numbers (commands on many domes: a flip, a reboot)
/// are never written, recalled, deleted or compared, and the allocator
/// skips them. Both sites' devices treat 2 and 33 as commands and list a
/// preset 33 each, named differently.
#[tokio::test]
async fn reserved_numbers_are_never_written_recalled_deleted_or_compared() {
    let sim = sim(1, &["commands=2,33"], 1, false).await;
    for (site, label) in [(1, "Flip"), (2, "Pan zero")] {
        let site = sim.site(site).expect("site");
        let cam = site.camera(0).expect("camera");
        cam.presets()
            .set(&cam.quirks, Some(label), Some("33"), [0.5, 0.0, 0.0])
            .expect("seeded");
    }
    let mut topology = topology(&sim, 0.001);
    topology.cameras[0].reserved = [number(2), number(33)].into();
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine = Engine::new(store, &topology, Duration::from_secs(10)).expect("engine");

    let report = engine.scan_camera(&camera(1)).await.expect("scan");
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    let numbers: Vec<u32> = engine
        .presets(&admin(), &camera(1))
        .expect("presets")
        .iter()
        .map(|p| p.number.get())
        .collect();
    assert_eq!(numbers, [1], "33 is not imported");

    let before = calls(&sim);
    let refused = engine
        .add(&camera(1), add_at("Menu", Some(33), 0.2), &admin())
        .await;
    match refused {
        Err(e @ EngineError::Reserved { .. }) => {
            assert_eq!(e.kind(), ErrorKind::Invalid);
            assert!(e.to_string().contains("reserved"), "{e}");
        }
        other => panic!("a reserved number was not refused: {other:?}"),
    }
    let renumber = UpdatePreset {
        number: Some(number(2)),
        ..UpdatePreset::default()
    };
    let refused = engine
        .update(&camera(1), number(1), renumber, &admin())
        .await;
    assert!(
        matches!(refused, Err(EngineError::Reserved { .. })),
        "{refused:?}"
    );
    let refused = engine.delete(&camera(1), number(33), &admin()).await;
    assert!(
        matches!(refused, Err(EngineError::Reserved { .. })),
        "{refused:?}"
    );
    let live = Live::new(engine.clone(), HealthPolicy::default()).expect("live");
    let refused = live
        .operate(&admin(), &camera(1), &Command::RecallPreset(number(33)))
        .await;
    assert!(
        matches!(refused, Err(EngineError::Reserved { .. })),
        "{refused:?}"
    );
    assert_eq!(calls(&sim), before, "no site was called");

    let added = engine
        .add(&camera(1), add_at("Dock", None, 0.3), &admin())
        .await
        .expect("add");
    assert_eq!(
        added.preset.as_ref().map(|p| p.number),
        Some(number(3)),
        "2 is skipped"
    );
    assert!(added.is_complete(), "{added:?}");
    for direction in [Direction::PrimaryToSecondary, Direction::SecondaryToPrimary] {
        let repair = engine
            .repair(&camera(1), direction, None, &admin())
            .await
            .expect("repair");
        assert!(repair.plan.changes.is_empty(), "{:?}", repair.plan.changes);
    }
    assert_eq!(calls(&sim).2, 0, "no request ever named a command number");
    assert!(
        on_site(&sim, 2, 1)
            .iter()
            .any(|p| p.0 == "33" && p.1.as_deref() == Some("Pan zero")),
        "the secondary's 33 is left as it was"
    );
}
