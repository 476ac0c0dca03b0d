//! A hostile camera (every SOAP answer mangled, a different way each time)
//! among honest ones: its scans report each kind of mangling as a clear
//! error of that camera, and nothing it does touches the other cameras.

mod common;

use std::time::{Duration, Instant};
use tandem_access::local_operator;

use common::*;
use tandem_core::Position;
use tandem_engine::engine::{AddPreset, PositionSource};
use tandem_engine::error::DeviceFailure;
use tandem_store::SiteState;

/// What each of the five kinds (in `mixed` order) says through the engine.
const EXPECTED: [&str; 5] = [
    "XML: expected",
    "the document ends early",
    "exceeds 4194304 bytes",
    "in namespace \"urn:tandem-sim:hostile\"",
    "declares a DTD, which is refused",
];

#[tokio::test]
async fn hostile_camera_fails_its_scans_clearly_and_spares_the_others() {
    // Camera 3 is hostile on both sites; cameras 1, 2 and 4 are honest.
    let sim = sim(4, &["1/3=hostile", "2/3=hostile=mixed"], 2, false).await;
    let engine = engine(&sim, 0.001);
    let cameras: Vec<_> = (1..=4).map(camera).collect();

    // Every scan reads one answer per site of camera 3 (its service
    // discovery), so five scans meet the five kinds in turn on both sites.
    for expected in EXPECTED {
        let started = Instant::now();
        let reports = tokio::time::timeout(
            Duration::from_secs(20),
            engine.scan(cameras.clone(), 32, |_, _| {}),
        )
        .await
        .expect("a scan with a hostile camera still ends");
        assert!(started.elapsed() < Duration::from_secs(10), "{expected}");
        for c in [1, 2, 4] {
            let report = reports[c - 1].as_ref().expect("an honest camera scans");
            assert!(
                report.unread.is_empty() && report.mismatches.is_empty(),
                "camera {c} during {expected:?}: {report:?}"
            );
        }
        let hostile = reports[2]
            .as_ref()
            .expect("the hostile camera gets a report, not a failed scan");
        let sites: Vec<&str> = hostile.unread.iter().map(|u| u.site.as_str()).collect();
        assert_eq!(sites, ["primary", "secondary"], "{hostile:?}");
        for unread in &hostile.unread {
            let (site, why) = (&unread.site, &unread.message);
            assert!(
                why.contains(&format!("site {site}, camera cam-3: ")) && why.contains(expected),
                "{site}: {why:?} lacks {expected:?}"
            );
            // A device that answered garbage is not reported as unreachable.
            assert_eq!(unread.failure, DeviceFailure::Malformed, "{unread:?}");
        }
        assert!(hostile.mismatches.is_empty(), "{hostile:?}");
    }
    // The honest cameras' presets were imported; nothing of camera 3 was.
    for c in [1, 2, 4] {
        assert_eq!(
            engine
                .presets(&common::admin(), &camera(c))
                .expect("presets")
                .len(),
            2
        );
    }
    assert!(
        engine
            .presets(&common::admin(), &camera(3))
            .expect("presets")
            .is_empty()
    );
    assert_eq!(engine.backlog().map(|b| b.1).expect("count"), 0);

    // A preset added on an honest camera reaches both sites.
    let added = engine
        .add(
            &camera(1),
            AddPreset {
                number: None,
                name: name("Side door"),
                position: PositionSource::Explicit(Position::new(0.5, 0.1, 0.2).expect("valid")),
            },
            &local_operator("alice"),
        )
        .await
        .expect("add");
    assert!(
        added.sites.iter().all(|s| s.state == SiteState::Applied),
        "{added:?}"
    );
    for site in [1, 2] {
        assert!(
            on_site(&sim, site, 1)
                .iter()
                .any(|p| p.1.as_deref() == Some("Side door") && p.2 == Some(0.5)),
            "site {site}: {:?}",
            on_site(&sim, site, 1)
        );
    }
    let audit = engine.verify_audit(&common::admin()).expect("verify");
    assert!(audit.first_bad.is_none());
}
