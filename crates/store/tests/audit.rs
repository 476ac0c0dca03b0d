//! The audit log: append-only by trigger, tamper-evident by hash chain.

mod common;

use common::*;
use serde_json::json;
use tandem_store::audit::GENESIS_HASH;
use tandem_store::prelude::*;
use tandem_store::{NewAudit, PresetWrite, SqliteStore};

/// A file store with five audit entries (two of them through the journal).
fn store_with_five_entries(db: &TestDb) -> SqliteStore {
    let store = SqliteStore::open(db.path()).expect("open");
    add_cameras(&store);
    store
        .append_audit(&new_audit("cam-1", "control.take"))
        .expect("append");
    store
        .journal(
            &new_op("cam-1", "add"),
            &PresetWrite::Upsert(preset(1, "Gate", Some(0.1))),
            &new_audit("cam-1", "preset.add"),
        )
        .expect("journal");
    store
        .append_audit(&NewAudit {
            actor: "system".into(),
            action: "site.down".into(),
            camera: None,
            before: Some(json!({ "active": "P" })),
            after: Some(json!({ "active": "S", "note": "a \"quoted\" | text" })),
        })
        .expect("append");
    store
        .journal(
            &new_op("cam-1", "delete"),
            &PresetWrite::Delete(num(1)),
            &new_audit("cam-1", "preset.delete"),
        )
        .expect("journal");
    store
        .append_audit(&new_audit("cam-2", "control.release"))
        .expect("append");
    store
}

fn drop_triggers(raw: &rusqlite::Connection) {
    raw.execute_batch("drop trigger audit_no_update; drop trigger audit_no_delete;")
        .expect("drop triggers");
}

#[test]
fn appended_entries_form_a_chain_that_verifies() {
    let db = TestDb::new("audit-chain");
    let store = store_with_five_entries(&db);
    let entries = store.audit_entries(0, 100).expect("entries");
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(entries[0].prev_hash, GENESIS_HASH);
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash);
    }
    assert_eq!(entries[2].camera, None);
    assert_eq!(
        entries[2].after,
        Some(json!({ "active": "S", "note": "a \"quoted\" | text" }))
    );

    let v = store.verify_audit().expect("verify");
    assert_eq!(v.entries, 5);
    assert_eq!(v.first_bad, None);
    assert_eq!(v.head, Some((5, entries[4].hash.clone())));

    // Paging by the last seq seen.
    let page: Vec<_> = store
        .audit_entries(2, 2)
        .expect("page")
        .into_iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(page, [3, 4]);
}

#[test]
fn an_empty_log_verifies() {
    let store = memory_store();
    let v = store.verify_audit().expect("verify");
    assert_eq!((v.entries, v.first_bad, v.head), (0, None, None));
}

#[test]
fn triggers_refuse_update_and_delete() {
    let db = TestDb::new("audit-triggers");
    let _store = store_with_five_entries(&db);
    let raw = db.raw();
    let err = raw
        .execute("update audit set actor = 'mallory' where seq = 2", [])
        .expect_err("update refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = raw
        .execute("delete from audit where seq = 5", [])
        .expect_err("delete refused");
    assert!(err.to_string().contains("append-only"), "{err}");
    let n: i64 = raw
        .query_row("select count(*) from audit", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 5);
}

#[test]
fn verify_detects_an_edit_made_after_dropping_the_triggers() {
    let db = TestDb::new("audit-edit");
    let store = store_with_five_entries(&db);
    let raw = db.raw();
    drop_triggers(&raw);
    raw.execute("update audit set actor = 'mallory' where seq = 2", [])
        .expect("edit");
    let v = store.verify_audit().expect("verify");
    assert_eq!(v.entries, 5);
    assert_eq!(
        v.first_bad,
        Some((2, "hash does not match its contents".to_string()))
    );
    assert_eq!(v.head, None);
}

#[test]
fn verify_detects_an_edit_whose_hash_was_recomputed_at_the_next_entry() {
    let db = TestDb::new("audit-rehash");
    let store = store_with_five_entries(&db);
    let raw = db.raw();
    drop_triggers(&raw);
    // Tamper with entry 3's JSON and give it a hash that matches its new
    // contents (computed the way the store does); entry 4 still names the old hash.
    let old = &store.audit_entries(2, 1).expect("entry 3")[0];
    let after = r#"{"active":"P"}"#;
    let before = old.before.as_ref().map(|v| v.to_string());
    let at = raw
        .query_row("select at_utc from audit where seq = 3", [], |r| {
            r.get::<_, String>(0)
        })
        .expect("at");
    let hash = tandem_store::audit::hash(&tandem_store::audit::AuditFields {
        seq: 3,
        at_utc: &at,
        actor: &old.actor,
        action: &old.action,
        camera: None,
        before: before.as_deref(),
        after: Some(after),
        prev_hash: &old.prev_hash,
    });
    raw.execute(
        "update audit set after = ?1, hash = ?2 where seq = 3",
        rusqlite::params![after, hash],
    )
    .expect("edit");
    let v = store.verify_audit().expect("verify");
    assert_eq!(
        v.first_bad,
        Some((4, "prev_hash does not match the previous entry".to_string()))
    );
}

#[test]
fn verify_detects_the_deletion_of_a_middle_entry() {
    let db = TestDb::new("audit-delete-middle");
    let store = store_with_five_entries(&db);
    let raw = db.raw();
    drop_triggers(&raw);
    raw.execute("delete from audit where seq = 3", [])
        .expect("delete");
    let v = store.verify_audit().expect("verify");
    assert_eq!(v.entries, 4);
    assert_eq!(
        v.first_bad,
        Some((3, "sequence gap: entry 3 missing".to_string()))
    );
}

#[test]
fn verify_detects_the_deletion_of_the_first_entry() {
    let db = TestDb::new("audit-delete-first");
    let store = store_with_five_entries(&db);
    let raw = db.raw();
    drop_triggers(&raw);
    raw.execute("delete from audit where seq = 1", [])
        .expect("delete");
    let v = store.verify_audit().expect("verify");
    assert_eq!(
        v.first_bad,
        Some((1, "sequence gap: entry 1 missing".to_string()))
    );
}

/// The documented limit: a chain without a secret cannot reveal that its
/// newest entries were removed. The head it reports changes, which is how an
/// operator who kept the earlier head outside the store detects it.
#[test]
fn deleting_the_newest_entry_is_only_detected_by_comparing_the_head() {
    let db = TestDb::new("audit-delete-last");
    let store = store_with_five_entries(&db);
    let head_before = store.verify_audit().expect("verify").head;
    let raw = db.raw();
    drop_triggers(&raw);
    raw.execute("delete from audit where seq = 5", [])
        .expect("delete");
    let v = store.verify_audit().expect("verify");
    assert_eq!(v.first_bad, None, "the remaining chain is valid");
    assert_eq!(v.entries, 4);
    assert_ne!(v.head, head_before);
    assert_eq!(v.head.map(|(seq, _)| seq), Some(4));
}

#[test]
fn a_csv_row_quotes_what_needs_it_and_defuses_formulas() {
    let store = memory_store();
    add_cameras(&*store);
    let entry = store
        .append_audit(&NewAudit {
            actor: "=cmd|' /C calc'!A0".into(),
            action: "preset.add".into(),
            camera: Some(cam("cam-1")),
            before: None,
            after: Some(json!({ "name": "Gate, \"north\"" })),
        })
        .expect("append");
    let row = entry.csv_row();
    let header_cells = tandem_store::AuditRecord::CSV_HEADER.split(',').count();
    assert_eq!(header_cells, 8);
    assert!(row.starts_with(&format!("{},", entry.seq)), "{row}");
    // The actor would run as a formula: prefixed, not quoted (no comma or quote in it).
    assert!(row.contains(",'=cmd|' /C calc'!A0,"), "{row}");
    // The JSON holds a comma and quotes: one quoted cell, quotes doubled.
    assert!(
        row.contains(r#","{""name"":""Gate, \""north\""""}","#),
        "{row}"
    );
    assert!(row.ends_with(&entry.hash), "{row}");
    assert!(row.contains(",cam-1,"), "{row}");
}
