//! Open mismatches across scans.

mod common;

use common::*;
use tandem_core::{Mismatch, MismatchKind, SitePreset};
use tandem_store::StoreError;
use tandem_store::prelude::*;

fn sp(token: &str, number: u32, name: &str) -> SitePreset {
    SitePreset {
        token: token.into(),
        number: Some(num(number)),
        name: Some(name.into()),
        position: None,
    }
}

fn only_p(token: &str, number: u32) -> Mismatch {
    Mismatch {
        kind: MismatchKind::OnlyOnPrimary,
        primary: Some(sp(token, number, "x")),
        secondary: None,
        position_unknown: true,
    }
}

fn name_differs(number: u32, p: &str, s: &str) -> Mismatch {
    Mismatch {
        kind: MismatchKind::NameDiffers,
        primary: Some(sp(&number.to_string(), number, p)),
        secondary: Some(sp(&format!("g{number}"), number, s)),
        position_unknown: true,
    }
}

#[test]
fn replace_mismatches_reports_new_still_open_and_gone_and_keeps_first_seen() {
    let store = memory_store();
    let c = cam("cam-1");
    let first = vec![only_p("3", 3), name_differs(1, "Gate", "Gate!")];
    let d = store.replace_mismatches(&c, &first, t(0)).expect("scan 1");
    assert_eq!(d.new, first);
    assert!(d.still_open.is_empty() && d.gone.is_empty());

    // Scan 2: the name mismatch is still there (names changed again), preset
    // 3 was repaired, a new one appeared.
    let renamed = name_differs(1, "Gate", "Gate 2");
    let second = vec![renamed.clone(), only_p("7", 7)];
    let d = store
        .replace_mismatches(&c, &second, t(60))
        .expect("scan 2");
    assert_eq!(d.new, [only_p("7", 7)]);
    assert_eq!(d.still_open, std::slice::from_ref(&renamed));
    assert_eq!(d.gone, [only_p("3", 3)]);

    let stored = store.mismatches(Some(&c)).expect("read");
    let summary: Vec<_> = stored
        .iter()
        .map(|s| {
            (
                s.mismatch.number().map(|n| n.get()),
                s.first_seen_utc,
                s.last_seen_utc,
            )
        })
        .collect();
    assert_eq!(summary, [(Some(1), t(0), t(60)), (Some(7), t(60), t(60))]);
    assert_eq!(
        stored[0].mismatch, renamed,
        "the detail is the latest scan's"
    );

    // A clean scan resolves everything.
    let d = store.replace_mismatches(&c, &[], t(120)).expect("scan 3");
    assert_eq!(d.gone.len(), 2);
    assert_eq!(store.mismatch_count().expect("count"), 0);
}

#[test]
fn mismatches_are_sorted_by_camera_then_number_and_kind() {
    let store = memory_store();
    store
        .replace_mismatches(&cam("cam-2"), &[only_p("1", 1)], t(0))
        .expect("cam-2");
    let position = Mismatch {
        kind: MismatchKind::PositionDiffers,
        ..name_differs(2, "A", "A")
    };
    store
        .replace_mismatches(
            &cam("cam-1"),
            &[
                only_p("9", 9),
                position,
                name_differs(2, "A", "B"),
                only_p("4", 4),
            ],
            t(0),
        )
        .expect("cam-1");
    let order: Vec<_> = store
        .mismatches(None)
        .expect("read")
        .into_iter()
        .map(|s| {
            (
                s.camera.0,
                s.mismatch.number().map(|n| n.get()),
                s.mismatch.kind,
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            ("cam-1".to_string(), Some(2), MismatchKind::NameDiffers),
            ("cam-1".to_string(), Some(2), MismatchKind::PositionDiffers),
            ("cam-1".to_string(), Some(4), MismatchKind::OnlyOnPrimary),
            ("cam-1".to_string(), Some(9), MismatchKind::OnlyOnPrimary),
            ("cam-2".to_string(), Some(1), MismatchKind::OnlyOnPrimary),
        ]
    );
    assert_eq!(store.mismatch_count().expect("count"), 5);
    assert_eq!(
        store.mismatches(Some(&cam("cam-2"))).expect("read").len(),
        1
    );
}

#[test]
fn the_same_mismatch_twice_in_one_scan_counts_once() {
    let store = memory_store();
    let d = store
        .replace_mismatches(&cam("cam-1"), &[only_p("3", 3), only_p("3", 3)], t(0))
        .expect("scan");
    assert_eq!(d.new.len(), 1);
    assert_eq!(store.mismatch_count().expect("count"), 1);
}

#[test]
fn replace_mismatches_of_an_unknown_camera_is_not_found() {
    let store = memory_store();
    let err = store
        .replace_mismatches(&cam("nope"), &[only_p("3", 3)], t(0))
        .expect_err("unknown camera");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[test]
fn a_mismatch_row_that_is_not_a_mismatch_is_reported_corrupt() {
    let db = TestDb::new("corrupt-mismatch");
    let store = tandem_store::SqliteStore::open(db.path()).expect("open");
    add_cameras(&store);
    store
        .replace_mismatches(&cam("cam-1"), &[only_p("3", 3)], t(0))
        .expect("scan");
    db.raw()
        .execute("update mismatch set detail = '{\"kind\": 42}'", [])
        .expect("tamper");
    let err = store.mismatches(None).expect_err("corrupt row");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
    assert!(err.to_string().contains("mismatch.detail"), "{err}");
}
