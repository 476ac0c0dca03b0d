//! The journal, the canonical presets and the site token maps.

mod common;

use common::*;
use serde_json::json;
use tandem_store::prelude::*;
use tandem_store::{PresetWrite, SiteState, SqliteStore, StoreError, TokenStyle};

#[test]
fn journal_writes_operation_pending_sites_preset_and_audit_together() {
    let clock = TestClock::new();
    let store = clock.install(memory_store());
    clock.set(t(10));
    let gate = preset(1, "Gate", Some(0.1));
    let id = store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(gate.clone()),
            &new_audit("cam-1", "preset.add"),
        )
        .expect("journal");

    let op = store.operation(id).expect("read").expect("exists");
    assert_eq!(op.camera, cam("cam-1"));
    assert_eq!(op.action, json!({ "action": "add" }));
    assert_eq!(op.created_utc, t(10));
    let sites: Vec<_> = op
        .sites
        .iter()
        .map(|s| (s.site.as_str(), s.state))
        .collect();
    assert_eq!(
        sites,
        [("P", SiteState::Pending), ("S", SiteState::Pending)]
    );
    assert!(
        op.sites
            .iter()
            .all(|s| s.attempts == 0 && s.next_attempt_utc == Some(t(10)))
    );

    assert_eq!(
        store.presets(&cam("cam-1")).expect("presets"),
        std::slice::from_ref(&gate)
    );
    assert_eq!(
        store.preset(&cam("cam-1"), num(1)).expect("preset"),
        Some(gate)
    );
    assert_eq!(store.preset(&cam("cam-1"), num(2)).expect("preset"), None);
    assert_eq!(store.pending_count().expect("count"), 2);
    let audit = store.audit_entries(0, 10).expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "preset.add");
    assert_eq!(audit[0].at_utc, t(10));
}

#[test]
fn journal_preset_conflict_rolls_back_the_operation_and_audit_too() {
    let store = memory_store();
    for n in [1, 2] {
        store
            .journal(
                &new_op("cam-1", "add"),
                &PresetWrite::Upsert(preset(n, &format!("P{n}"), None)),
                &new_audit("cam-1", "preset.add"),
            )
            .expect("journal");
    }
    let before_ops = store.operations(None, 100).expect("ops").len();
    let before_pending = store.pending_count().expect("pending");

    // Renumbering 1 onto the taken 2 is a conflict...
    let err = store
        .journal(
            &new_op("cam-1", "renumber"),
            &PresetWrite::Renumber {
                from: num(1),
                preset: preset(2, "P1", None),
            },
            &new_audit("cam-1", "preset.update"),
        )
        .expect_err("number 2 is taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(!err.is_retryable());

    // ...and nothing of the operation remains.
    assert_eq!(store.operations(None, 100).expect("ops").len(), before_ops);
    assert_eq!(store.pending_count().expect("pending"), before_pending);
    assert_eq!(store.audit_entries(0, 100).expect("audit").len(), 2);
    let names: Vec<_> = store
        .presets(&cam("cam-1"))
        .expect("presets")
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(names, ["P1", "P2"]);
    assert_eq!(store.verify_audit().expect("verify").first_bad, None);
}

#[test]
fn journal_refuses_unknown_camera_and_bad_site_lists() {
    let store = memory_store();
    let err = store
        .journal(
            &new_op("nope", "add"),
            &PresetWrite::None,
            &new_audit("nope", "preset.add"),
        )
        .expect_err("unknown camera");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let mut op = new_op("cam-1", "add");
    op.sites = vec![site("P"), site("P")];
    let err = store
        .journal(&op, &PresetWrite::None, &new_audit("cam-1", "x"))
        .expect_err("duplicate site");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    op.sites.clear();
    assert!(
        store
            .journal(&op, &PresetWrite::None, &new_audit("cam-1", "x"))
            .is_err()
    );
    assert_eq!(store.pending_count().expect("pending"), 0);
    assert!(store.audit_entries(0, 10).expect("audit").is_empty());
}

#[test]
fn renumber_moves_site_tokens_and_delete_removes_them() {
    let store = memory_store();
    let (c, p) = (cam("cam-1"), site("P"));
    let audit = new_audit("cam-1", "preset");
    store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(preset(1, "Gate", Some(0.1))),
            &audit,
        )
        .expect("add");
    store
        .set_site_token(&c, &p, num(1), "guid-gate")
        .expect("token");

    store
        .journal(
            &new_op("cam-1", "renumber"),
            &PresetWrite::Renumber {
                from: num(1),
                preset: preset(5, "Gate", Some(0.1)),
            },
            &audit,
        )
        .expect("renumber");
    assert_eq!(store.preset(&c, num(1)).expect("read"), None);
    assert_eq!(
        store.preset(&c, num(5)).expect("read"),
        Some(preset(5, "Gate", Some(0.1)))
    );
    assert_eq!(
        store.site_tokens(&c, &p).expect("tokens"),
        [(num(5), "guid-gate".to_string())]
    );

    // Renumbering a preset that does not exist changes nothing.
    let err = store
        .journal(
            &new_op("cam-1", "renumber"),
            &PresetWrite::Renumber {
                from: num(9),
                preset: preset(10, "X", None),
            },
            &audit,
        )
        .expect_err("no preset 9");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    store
        .journal(
            &new_op("cam-1", "delete"),
            &PresetWrite::Delete(num(5)),
            &audit,
        )
        .expect("delete");
    assert!(store.presets(&c).expect("presets").is_empty());
    assert_eq!(
        store.site_tokens(&c, &p).expect("tokens").len(),
        1,
        "kept until the site removed it"
    );
}

#[test]
fn renumber_onto_a_number_a_site_still_maps_is_a_conflict() {
    let store = memory_store();
    let (c, s) = (cam("cam-1"), site("S"));
    let audit = new_audit("cam-1", "preset");
    store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(preset(1, "Gate", None)),
            &audit,
        )
        .expect("add");
    store.set_site_token(&c, &s, num(1), "g1").expect("token");
    store.set_site_token(&c, &s, num(2), "g2").expect("token");
    let err = store
        .journal(
            &new_op("cam-1", "renumber"),
            &PresetWrite::Renumber {
                from: num(1),
                preset: preset(2, "Gate", None),
            },
            &audit,
        )
        .expect_err("site S maps 2 already");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(store.site_tokens(&c, &s).expect("tokens").len(), 2);
}

#[test]
fn a_new_default_preset_takes_the_flag_from_the_old_one() {
    let store = memory_store();
    let c = cam("cam-1");
    let audit = new_audit("cam-1", "preset");
    let mut home = preset(1, "Home", None);
    home.is_default = true;
    store
        .journal(&new_op("cam-1", "add"), &PresetWrite::Upsert(home), &audit)
        .expect("add");
    let mut gate = preset(2, "Gate", None);
    gate.is_default = true;
    gate.locked = true;
    store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(gate.clone()),
            &audit,
        )
        .expect("add");
    let presets = store.presets(&c).expect("presets");
    assert!(!presets[0].is_default);
    assert_eq!(presets[1], gate);
}

#[test]
fn upsert_of_an_out_of_range_position_is_refused() {
    let store = memory_store();
    let err = store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(preset(1, "Gate", Some(f64::NAN))),
            &new_audit("cam-1", "preset.add"),
        )
        .expect_err("NaN pan");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert_eq!(store.operations(None, 10).expect("ops").len(), 0);
}

#[test]
fn set_site_token_replaces_the_same_number_and_the_same_token() {
    let store = memory_store();
    let (c, p, s) = (cam("cam-1"), site("P"), site("S"));
    store.set_site_token(&c, &p, num(1), "a").expect("set");
    store.set_site_token(&c, &p, num(2), "b").expect("set");
    store
        .set_site_token(&c, &s, num(1), "b")
        .expect("other site, same token");

    // The site now reports token "b" for number 1: both old rows of P go.
    store.set_site_token(&c, &p, num(1), "b").expect("swap");
    assert_eq!(
        store.site_tokens(&c, &p).expect("tokens"),
        [(num(1), "b".to_string())]
    );
    assert_eq!(
        store.site_tokens(&c, &s).expect("tokens"),
        [(num(1), "b".to_string())]
    );

    store.set_site_token(&c, &p, num(3), "c").expect("set");
    store.remove_site_token(&c, &p, num(1)).expect("remove");
    store
        .remove_site_token(&c, &p, num(1))
        .expect("removing twice is fine");
    assert_eq!(
        store.site_tokens(&c, &p).expect("tokens"),
        [(num(3), "c".to_string())]
    );

    let err = store
        .set_site_token(&cam("nope"), &p, num(1), "a")
        .expect_err("unknown camera");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[test]
fn token_style_is_remembered_per_camera_and_site() {
    let store = memory_store();
    let (c, p, s) = (cam("cam-1"), site("P"), site("S"));
    assert_eq!(store.token_style(&c, &p).expect("read"), None);
    store
        .set_token_style(&c, &p, TokenStyle::Numeric)
        .expect("set");
    store
        .set_token_style(&c, &s, TokenStyle::Opaque)
        .expect("set");
    store
        .set_token_style(&c, &p, TokenStyle::Opaque)
        .expect("overwrite");
    assert_eq!(
        store.token_style(&c, &p).expect("read"),
        Some(TokenStyle::Opaque)
    );
    assert_eq!(store.token_style(&cam("cam-2"), &p).expect("read"), None);
}

#[test]
fn pending_for_lists_a_sites_pending_operations_of_one_camera_in_order() {
    let store = memory_store();
    let audit = new_audit("cam-1", "preset");
    let ids: Vec<_> = (0..3)
        .map(|_| {
            store
                .journal(&new_op("cam-1", "x"), &PresetWrite::None, &audit)
                .expect("journal")
        })
        .collect();
    store
        .journal(&new_op("cam-2", "x"), &PresetWrite::None, &audit)
        .expect("other camera");
    store
        .mark(ids[1], &site("P"), SiteState::Applied, None, None)
        .expect("mark");

    let on = |camera: &str, s: &str| -> Vec<_> {
        store
            .pending_for(&cam(camera), &site(s))
            .expect("pending")
            .into_iter()
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(on("cam-1", "P"), [ids[0], ids[2]]);
    assert_eq!(on("cam-1", "S"), ids);
    assert_eq!(on("cam-1", "X"), []);
    assert_eq!(store.pending_count().expect("count"), 7);
}

#[test]
fn due_returns_pairs_whose_next_attempt_has_come() {
    let clock = TestClock::new();
    let store = clock.install(memory_store());
    let audit = new_audit("cam-1", "preset");
    clock.set(t(0));
    let a = store
        .journal(&new_op("cam-1", "x"), &PresetWrite::None, &audit)
        .expect("journal");
    let b = store
        .journal(&new_op("cam-2", "x"), &PresetWrite::None, &audit)
        .expect("journal");
    assert_eq!(
        store.due(t(0)).expect("due"),
        [
            (cam("cam-1"), site("P")),
            (cam("cam-1"), site("S")),
            (cam("cam-2"), site("P")),
            (cam("cam-2"), site("S")),
        ]
    );

    // Back off cam-1 on S until t(30); finish cam-2 on both sites.
    store
        .mark(
            a,
            &site("S"),
            SiteState::Pending,
            Some("timeout"),
            Some(t(30)),
        )
        .expect("mark");
    store
        .mark(b, &site("P"), SiteState::Applied, None, None)
        .expect("mark");
    store
        .mark(
            b,
            &site("S"),
            SiteState::Failed,
            Some("ter:TooManyPresets"),
            None,
        )
        .expect("mark");
    assert_eq!(store.due(t(29)).expect("due"), [(cam("cam-1"), site("P"))]);
    assert_eq!(
        store.due(t(30)).expect("due"),
        [(cam("cam-1"), site("P")), (cam("cam-1"), site("S"))]
    );
    // Sub-second precision survives: due exactly at its time, not a microsecond before.
    let precise = t(40) + chrono::Duration::microseconds(123_456);
    store
        .mark(a, &site("P"), SiteState::Pending, None, Some(precise))
        .expect("mark");
    assert!(
        !store
            .due(precise - chrono::Duration::microseconds(1))
            .expect("due")
            .contains(&(cam("cam-1"), site("P")))
    );
    assert!(
        store
            .due(precise)
            .expect("due")
            .contains(&(cam("cam-1"), site("P")))
    );
}

/// A site that answers again gets its pending work at once: `make_due` pulls
/// that site's backed-off parts to now, and leaves other sites and finished
/// parts as they are.
#[test]
fn make_due_pulls_a_sites_backed_off_work_to_now_and_no_other() {
    let clock = TestClock::new();
    let store = clock.install(memory_store());
    let audit = new_audit("cam-1", "preset");
    clock.set(t(0));
    let a = store
        .journal(&new_op("cam-1", "x"), &PresetWrite::None, &audit)
        .expect("journal");
    let b = store
        .journal(&new_op("cam-2", "x"), &PresetWrite::None, &audit)
        .expect("journal");
    for (op, site_id) in [(a, "P"), (a, "S"), (b, "P")] {
        store
            .mark(
                op,
                &site(site_id),
                SiteState::Pending,
                Some("down"),
                Some(t(60)),
            )
            .expect("mark");
    }
    store
        .mark(b, &site("S"), SiteState::Applied, None, None)
        .expect("mark");
    assert_eq!(store.due(t(1)).expect("due"), []);
    assert_eq!(store.make_due(&site("P"), t(1)).expect("made due"), 2);
    assert_eq!(
        store.due(t(1)).expect("due"),
        [(cam("cam-1"), site("P")), (cam("cam-2"), site("P"))],
        "P's parts only; S stays backed off"
    );
    assert_eq!(store.make_due(&site("X"), t(1)).expect("no parts"), 0);
    let op = store.operation(b).expect("read").expect("exists");
    assert_eq!(op.sites[1].state, SiteState::Applied, "finished parts stay");
}

#[test]
fn mark_counts_attempts_and_keeps_the_sites_words() {
    let clock = TestClock::new();
    let store = clock.install(memory_store());
    let id = store
        .journal(
            &new_op("cam-1", "x"),
            &PresetWrite::None,
            &new_audit("cam-1", "x"),
        )
        .expect("journal");
    clock.set(t(5));
    store
        .mark(
            id,
            &site("S"),
            SiteState::Pending,
            Some("connection refused"),
            Some(t(7)),
        )
        .expect("mark");
    clock.set(t(8));
    store
        .mark(
            id,
            &site("S"),
            SiteState::Failed,
            Some("ter:InvalidPresetName"),
            None,
        )
        .expect("mark");
    let op = store.operation(id).expect("read").expect("exists");
    let s = &op.sites[1];
    assert_eq!(s.site, site("S"));
    assert_eq!(s.state, SiteState::Failed);
    assert_eq!(s.attempts, 2);
    assert_eq!(s.error.as_deref(), Some("ter:InvalidPresetName"));
    assert_eq!(s.next_attempt_utc, None);
    assert_eq!(s.updated_utc, t(8));
    assert_eq!(op.sites[0].attempts, 0);

    // A pending mark without a time is due at once.
    store
        .mark(id, &site("P"), SiteState::Pending, Some("busy"), None)
        .expect("mark");
    let op = store.operation(id).expect("read").expect("exists");
    assert_eq!(op.sites[0].next_attempt_utc, Some(t(8)));

    let err = store
        .mark(id, &site("X"), SiteState::Applied, None, None)
        .expect_err("no such site");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store
        .mark(
            tandem_store::OperationId(999),
            &site("P"),
            SiteState::Applied,
            None,
            None,
        )
        .expect_err("no such operation");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[test]
fn operations_are_listed_newest_first_with_limit_and_camera_filter() {
    let store = memory_store();
    let audit = new_audit("cam-1", "x");
    let mut ids = Vec::new();
    for camera in ["cam-1", "cam-2", "cam-1", "cam-1"] {
        ids.push(
            store
                .journal(&new_op(camera, camera), &PresetWrite::None, &audit)
                .expect("journal"),
        );
    }
    let list = |camera: Option<&str>, limit| -> Vec<_> {
        store
            .operations(camera.map(cam).as_ref(), limit)
            .expect("operations")
            .into_iter()
            .map(|o| o.id)
            .collect()
    };
    assert_eq!(list(None, 10), [ids[3], ids[2], ids[1], ids[0]]);
    assert_eq!(list(None, 2), [ids[3], ids[2]]);
    assert_eq!(list(Some("cam-1"), 10), [ids[3], ids[2], ids[0]]);
    assert_eq!(list(Some("cam-2"), 10), [ids[1]]);
    assert_eq!(list(None, 0), []);
    assert_eq!(
        store
            .operation(tandem_store::OperationId(999))
            .expect("read"),
        None
    );
}

#[test]
fn cameras_are_upserted_and_sorted_and_bad_tolerance_is_refused() {
    let store = SqliteStore::open_in_memory().expect("store");
    add_cameras(&store);
    store
        .upsert_camera(&tandem_store::CameraRecord {
            id: cam("cam-0"),
            name: "Zero".into(),
            tolerance: 0.01,
        })
        .expect("insert");
    store
        .upsert_camera(&tandem_store::CameraRecord {
            id: cam("cam-2"),
            name: "Dock".into(),
            tolerance: 0.002,
        })
        .expect("update");
    let cameras = store.cameras().expect("cameras");
    let ids: Vec<_> = cameras.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["cam-0", "cam-1", "cam-2"]);
    assert_eq!(cameras[2].name, "Dock");
    assert_eq!(cameras[2].tolerance, 0.002);
    for bad in [f64::NAN, -0.1, f64::INFINITY] {
        let err = store
            .upsert_camera(&tandem_store::CameraRecord {
                id: cam("cam-9"),
                name: "Bad".into(),
                tolerance: bad,
            })
            .expect_err("bad tolerance");
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
}

#[test]
fn the_store_is_usable_as_a_shared_trait_object() {
    let store = std::sync::Arc::new(memory_store());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .journal(
                            &new_op("cam-1", "x"),
                            &PresetWrite::None,
                            &new_audit("cam-1", "x"),
                        )
                        .expect("journal");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(store.pending_count().expect("count"), 80);
    let v = store.verify_audit().expect("verify");
    assert_eq!((v.entries, v.first_bad), (40, None));
}

#[test]
fn an_import_journals_the_cameras_presets_applied_with_their_tokens_and_one_audit_entry() {
    let store = memory_store();
    let found = vec![
        (preset(1, "Gate", Some(0.1)), "tok-a".to_string()),
        (preset(2, "Dock", None), "tok-b".to_string()),
    ];
    store
        .import_presets(&cam("cam-1"), &site("P"), &found, "tandem")
        .expect("import");
    let presets = store.presets(&cam("cam-1")).expect("presets");
    assert_eq!(presets, vec![found[0].0.clone(), found[1].0.clone()]);
    assert_eq!(
        store
            .site_tokens(&cam("cam-1"), &site("P"))
            .expect("tokens"),
        vec![(num(1), "tok-a".to_string()), (num(2), "tok-b".to_string())]
    );
    // Applied where they were found: nothing to do anywhere.
    assert_eq!(store.pending_count().expect("count"), 0);
    let ops = store
        .operations(Some(&cam("cam-1")), 10)
        .expect("operations");
    // One operation and one audit entry for the camera, naming every preset.
    assert_eq!(ops.len(), 1);
    assert_eq!(
        ops[0].action,
        json!({ "kind": "import", "numbers": [1, 2] })
    );
    assert_eq!(ops[0].sites.len(), 1);
    assert_eq!(ops[0].sites[0].state, SiteState::Applied);
    let audit = store.audit_entries(0, 10).expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "preset.import");
    let listed = audit[0]
        .after
        .as_ref()
        .and_then(|a| a["presets"].as_array())
        .map(Vec::len);
    assert_eq!(listed, Some(2));
    assert!(store.verify_audit().expect("verify").first_bad.is_none());

    // An unknown camera imports nothing at all.
    assert!(
        store
            .import_presets(&cam("nope"), &site("P"), &found, "tandem")
            .is_err()
    );
    assert_eq!(store.audit_entries(0, 10).expect("audit").len(), 1);
}

#[test]
fn several_site_tokens_replace_old_mappings_in_one_transaction() {
    let store = memory_store();
    store
        .set_site_token(&cam("cam-1"), &site("S"), num(1), "x")
        .expect("one");
    store
        .set_site_tokens(
            &cam("cam-1"),
            &site("S"),
            &[(num(2), "x".to_string()), (num(3), "y".to_string())],
        )
        .expect("several");
    // "x" moved from 1 to 2: the newest report wins.
    assert_eq!(
        store
            .site_tokens(&cam("cam-1"), &site("S"))
            .expect("tokens"),
        vec![(num(2), "x".to_string()), (num(3), "y".to_string())]
    );
}

/// An add without a number claims the lowest number free on every site
/// (canonical presets and numbers mapped to a site's token), inside the
/// transaction; with `unique_name` a taken name (in another case) is a
/// conflict, without it (a repair copying a device's preset) it is not.
#[test]
fn an_add_claims_the_lowest_free_number_and_its_name_in_the_transaction() {
    let store = memory_store();
    store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(preset(1, "Gate", None)),
            &new_audit("cam-1", "preset.add"),
        )
        .expect("journal");
    store
        .set_site_token(&cam("cam-1"), &site("secondary"), num(2), "guid-2")
        .expect("token");
    let add = |name: &str, unique_name: bool| {
        store.journal_claim(
            &cam("cam-1"),
            &PresetWrite::Add {
                number: None,
                name: tandem_core::PresetName::new(name).expect("name"),
                position: tandem_core::Position::new(0.1, 0.0, 0.0).expect("position"),
                unique_name,
                reserved: Vec::new(),
            },
            &|_| {
                Ok(tandem_store::Journal {
                    operation: new_op("cam-1", "add"),
                    audit: new_audit("cam-1", "preset.add"),
                })
            },
        )
    };
    let (_, claimed) = add("Dock", true).expect("a free name");
    assert_eq!(
        claimed.after.map(|p| p.number),
        Some(num(3)),
        "1 canonical, 2 on a site"
    );
    let err = add("GATE", true).expect_err("the name is taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let (_, claimed) = add("Gate", false).expect("a repair may copy a duplicate name");
    assert_eq!(claimed.after.map(|p| p.number), Some(num(4)));
}

/// Reserved numbers (commands on the device) are skipped by the allocator and
/// refused when asked for, inside the claim: nothing is journaled then.
#[test]
fn an_add_skips_reserved_numbers_and_refuses_one_asked_for() {
    let store = memory_store();
    let add = |number: Option<u32>, name: &str| {
        store.journal_claim(
            &cam("cam-1"),
            &PresetWrite::Add {
                number: number.map(num),
                name: tandem_core::PresetName::new(name).expect("name"),
                position: tandem_core::Position::new(0.1, 0.0, 0.0).expect("position"),
                unique_name: true,
                reserved: vec![num(1), num(2), num(4)],
            },
            &|_| {
                Ok(tandem_store::Journal {
                    operation: new_op("cam-1", "add"),
                    audit: new_audit("cam-1", "preset.add"),
                })
            },
        )
    };
    let (_, claimed) = add(None, "Gate").expect("claimed");
    assert_eq!(claimed.after.map(|p| p.number), Some(num(3)));
    let (_, claimed) = add(None, "Dock").expect("claimed");
    assert_eq!(
        claimed.after.map(|p| p.number),
        Some(num(5)),
        "4 is skipped"
    );
    let err = add(Some(4), "Lobby").expect_err("4 is reserved");
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("reserved")),
        "{err:?}"
    );
    assert_eq!(
        store.operations(None, 10).expect("operations").len(),
        2,
        "the refused add journaled nothing"
    );
}
