//! Opening files: migrations, refusing newer schemas, durability settings,
//! reopening, and busy databases.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tandem_store::{PresetWrite, SCHEMA_VERSION, SqliteStore, Store, StoreError};

fn user_version(raw: &rusqlite::Connection) -> i64 {
    raw.query_row("pragma user_version", [], |r| r.get(0))
        .expect("user_version")
}

fn tables(raw: &rusqlite::Connection) -> Vec<String> {
    let mut stmt = raw
        .prepare("select name from sqlite_schema where type = 'table' order by name")
        .expect("prepare");
    stmt.query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

#[test]
fn an_empty_file_is_migrated_and_reopening_is_idempotent() {
    let db = TestDb::new("migrate-empty");
    // An empty file, as `touch` would leave it.
    std::fs::write(db.path(), b"").expect("create empty file");
    drop(SqliteStore::open(db.path()).expect("first open migrates"));
    let raw = db.raw();
    assert_eq!(user_version(&raw), SCHEMA_VERSION);
    let first = tables(&raw);
    for table in [
        "audit",
        "binding_state",
        "camera",
        "mismatch",
        "operation",
        "operation_site",
        "preset",
        "site_token",
    ] {
        assert!(
            first.iter().any(|t| t == table),
            "missing table {table}: {first:?}"
        );
    }
    drop(raw);

    drop(SqliteStore::open(db.path()).expect("second open"));
    drop(SqliteStore::open(db.path()).expect("third open"));
    let raw = db.raw();
    assert_eq!(user_version(&raw), SCHEMA_VERSION);
    assert_eq!(tables(&raw), first);
}

#[test]
fn a_file_from_a_newer_tandem_is_refused_and_left_alone() {
    let db = TestDb::new("migrate-newer");
    drop(SqliteStore::open(db.path()).expect("create"));
    let newer = SCHEMA_VERSION + 1;
    db.raw()
        .pragma_update(None, "user_version", newer)
        .expect("pretend a newer tandem wrote it");

    let err = SqliteStore::open(db.path()).expect_err("newer schema");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, known } if found == newer && known == SCHEMA_VERSION),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("upgrade tandem"), "{msg}");
    assert!(msg.contains(&newer.to_string()), "{msg}");
    assert_eq!(user_version(&db.raw()), newer);
}

#[test]
fn the_file_is_in_wal_mode() {
    let db = TestDb::new("wal");
    let store = SqliteStore::open(db.path()).expect("open");
    add_cameras(&store);
    let mode: String = db
        .raw()
        .query_row("pragma journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

#[test]
fn reopening_a_file_keeps_everything() {
    let db = TestDb::new("reopen");
    let clock = TestClock::new();
    clock.set(t(100));
    let id = {
        let store = clock.install(SqliteStore::open(db.path()).expect("open"));
        add_cameras(&store);
        store
            .set_site_token(&cam("cam-1"), &site("S"), num(1), "guid")
            .expect("token");
        store
            .replace_mismatches(&cam("cam-1"), &[], t(0))
            .expect("mismatches");
        store
            .journal(
                &new_op("cam-1", "add"),
                &PresetWrite::Upsert(preset(1, "Gate", Some(-0.5))),
                &new_audit("cam-1", "preset.add"),
            )
            .expect("journal")
    };

    let store = SqliteStore::open(db.path()).expect("reopen");
    assert_eq!(store.cameras().expect("cameras").len(), 2);
    assert_eq!(
        store.presets(&cam("cam-1")).expect("presets"),
        [preset(1, "Gate", Some(-0.5))]
    );
    assert_eq!(
        store
            .site_tokens(&cam("cam-1"), &site("S"))
            .expect("tokens"),
        [(num(1), "guid".to_string())]
    );
    let op = store.operation(id).expect("read").expect("kept");
    assert_eq!(op.created_utc, t(100));
    let pending: Vec<_> = store
        .pending_for(&cam("cam-1"), &site("S"))
        .expect("pending")
        .into_iter()
        .map(|o| o.id)
        .collect();
    assert_eq!(pending, [id], "pending work is replayed after a restart");
    let v = store.verify_audit().expect("verify");
    assert_eq!((v.entries, v.first_bad), (1, None));

    // Appending after a reopen continues the same chain.
    store
        .append_audit(&new_audit("cam-1", "x"))
        .expect("append");
    assert_eq!(store.verify_audit().expect("verify").entries, 2);
}

#[test]
fn a_database_locked_by_another_writer_fails_retryable_after_the_busy_timeout() {
    let db = TestDb::new("busy");
    let store = SqliteStore::open(db.path()).expect("open");
    let raw = db.raw();
    raw.execute_batch("begin immediate")
        .expect("take the write lock");
    let started = Instant::now();
    let err = store
        .upsert_camera(&tandem_store::CameraRecord {
            id: cam("cam-1"),
            name: "x".into(),
            tolerance: 0.001,
        })
        .expect_err("locked");
    assert!(err.is_retryable(), "{err:?}");
    assert!(
        started.elapsed() >= Duration::from_millis(4_500),
        "waited {:?}, not the 5 s busy timeout",
        started.elapsed()
    );
    raw.execute_batch("rollback").expect("release");
    add_cameras(&store);
}
