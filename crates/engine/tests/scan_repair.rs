//! Mismatch detection and operator-chosen repair against seeded differences.

mod common;

use common::*;
use tandem_core::{MismatchKind, plan::Direction};

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
