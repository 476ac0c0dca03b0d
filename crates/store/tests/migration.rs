//! Opening files: migrations, refusing newer schemas, durability settings,
//! reopening, and busy databases.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tandem_store::audit::{self, AuditFields, GENESIS_HASH};
use tandem_store::prelude::*;
use tandem_store::{PresetWrite, SCHEMA_VERSION, SqliteStore, StoreError};

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
        "api_token",
        "audit",
        "binding_state",
        "camera",
        "camera_group",
        "mismatch",
        "operation",
        "operation_site",
        "preset",
        "role",
        "session",
        "site_token",
        "user",
        "user_role",
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
        let store = clock.install_sqlite(SqliteStore::open(db.path()).expect("open"));
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

/// Every table, index and trigger as SQLite keeps their definitions, sorted.
fn schema_sql(raw: &rusqlite::Connection) -> Vec<(String, String)> {
    let mut stmt = raw
        .prepare(
            "select name, coalesce(sql, '') from sqlite_schema \
             where name not like 'sqlite_%' order by type, name",
        )
        .expect("prepare");
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// A file written by a version-1 tandem (frozen `v1.sql`, with a camera, a
/// preset, a site token, a pending operation and an audit entry) upgrades to
/// the current schema keeping all of it, and ends with the same schema as a
/// new file.
#[test]
fn a_v1_file_with_data_upgrades_to_v2_keeping_it() {
    let db = TestDb::new("migrate-v1");
    {
        let raw = db.raw();
        raw.execute_batch(include_str!("../src/schema/v1.sql"))
            .expect("v1 schema");
        raw.pragma_update(None, "user_version", 1)
            .expect("version 1");
        raw.execute_batch(
            "insert into camera (id, name, tolerance) values ('cam-1', 'Gate', 0.001);
             insert into preset (camera_id, number, name, pan, tilt, zoom, locked, is_default)
               values ('cam-1', 1, 'Gate', -0.5, 0.25, 0.5, 1, 1);
             insert into site_token (camera_id, site_id, number, token)
               values ('cam-1', 'S', 1, 'guid-1');
             insert into operation (camera_id, action, origin, actor, created_utc)
               values ('cam-1', '{\"action\":\"add\"}', 'operator', 'alice',
                       '2025-01-01T00:00:00.000000Z');
             insert into operation_site (operation_id, site_id, ordinal, state, attempts,
                 error, next_attempt_utc, updated_utc)
               values (1, 'S', 0, 'pending', 0, null, '2025-01-01T00:00:00.000000Z',
                       '2025-01-01T00:00:00.000000Z');",
        )
        .expect("v1 data");
        let at_utc = "2025-01-01T00:00:00.000000Z";
        let hash = audit::hash(&AuditFields {
            seq: 1,
            at_utc,
            actor: "alice",
            action: "preset.add",
            camera: Some("cam-1"),
            before: None,
            after: None,
            prev_hash: GENESIS_HASH,
        });
        raw.execute(
            "insert into audit (seq, at_utc, actor, action, camera_id, before, after, \
             prev_hash, hash) values (1, ?1, 'alice', 'preset.add', 'cam-1', null, null, ?2, ?3)",
            rusqlite::params![at_utc, GENESIS_HASH, hash],
        )
        .expect("v1 audit entry");
    }

    let store = SqliteStore::open(db.path()).expect("open upgrades");
    assert_eq!(user_version(&db.raw()), SCHEMA_VERSION);

    let presets = store.presets(&cam("cam-1")).expect("presets");
    assert_eq!(presets.len(), 1);
    assert!(presets[0].locked && presets[0].is_default);
    assert_eq!(
        store
            .site_tokens(&cam("cam-1"), &site("S"))
            .expect("tokens"),
        [(num(1), "guid-1".to_string())]
    );
    let pending = store
        .pending_for(&cam("cam-1"), &site("S"))
        .expect("pending");
    assert_eq!(pending.len(), 1, "pending work survives the upgrade");
    let v = store.verify_audit().expect("verify");
    assert_eq!((v.entries, v.first_bad), (1, None));

    // The new tables are there, empty, and work with the old rows.
    assert_eq!(store.user_count().expect("users"), 0);
    assert!(store.roles().expect("roles").is_empty());
    assert!(
        store
            .camera_groups(&cam("cam-1"))
            .expect("groups")
            .is_empty()
    );
    store
        .set_camera_groups(&cam("cam-1"), &["lobby".to_string()])
        .expect("groups on an old camera");

    // Upgrade and compare: the same schema as a file created new.
    let fresh = TestDb::new("migrate-fresh");
    drop(SqliteStore::open(fresh.path()).expect("fresh"));
    assert_eq!(schema_sql(&db.raw()), schema_sql(&fresh.raw()));
}

/// A version-3 file's token styles survive the rebuild of `binding_state`
/// (version 4), whose new columns start empty, and the result is the schema
/// of a new file.
#[test]
fn a_v3_file_upgrades_to_v4_keeping_token_styles() {
    let db = TestDb::new("migrate-v3");
    {
        let raw = db.raw();
        for sql in [
            include_str!("../src/schema/v1.sql"),
            include_str!("../src/schema/v2.sql"),
            include_str!("../src/schema/v3.sql"),
        ] {
            raw.execute_batch(sql).expect("frozen schema");
        }
        raw.pragma_update(None, "user_version", 3)
            .expect("version 3");
        raw.execute_batch(
            "insert into camera (id, name, tolerance) values ('cam-1', 'Gate', 0.001);
             insert into binding_state (camera_id, site_id, token_style)
               values ('cam-1', 'S', 'opaque'), ('cam-1', 'P', 'numeric');",
        )
        .expect("v3 data");
    }
    let store = SqliteStore::open(db.path()).expect("open upgrades");
    assert_eq!(user_version(&db.raw()), SCHEMA_VERSION);
    assert_eq!(
        store.token_style(&cam("cam-1"), &site("S")).expect("style"),
        Some(tandem_store::TokenStyle::Opaque)
    );
    assert_eq!(
        store.token_style(&cam("cam-1"), &site("P")).expect("style"),
        Some(tandem_store::TokenStyle::Numeric)
    );
    assert!(store.learned_bindings().expect("learned").is_empty());

    let fresh = TestDb::new("migrate-fresh-v4");
    drop(SqliteStore::open(fresh.path()).expect("fresh"));
    assert_eq!(schema_sql(&db.raw()), schema_sql(&fresh.raw()));
}

/// A version-4 file keeps what bindings learned when version 5 adds the
/// discovery columns (empty), and the result is the schema of a new file.
#[test]
fn a_v4_file_upgrades_to_v5_keeping_what_bindings_learned() {
    let db = TestDb::new("migrate-v4");
    {
        let raw = db.raw();
        for sql in [
            include_str!("../src/schema/v1.sql"),
            include_str!("../src/schema/v2.sql"),
            include_str!("../src/schema/v3.sql"),
            include_str!("../src/schema/v4.sql"),
        ] {
            raw.execute_batch(sql).expect("frozen schema");
        }
        raw.pragma_update(None, "user_version", 4)
            .expect("version 4");
        raw.execute_batch(
            "insert into camera (id, name, tolerance) values ('cam-1', 'Gate', 0.001);
             insert into binding_state (camera_id, site_id, token_style, clock_offset_ms, auth_mode)
               values ('cam-1', 'S', 'opaque', 7200000, 'ws-security');
             insert into preset (camera_id, number, name, pan, tilt, zoom, locked, is_default)
               values ('cam-1', 2, 'Dock', null, null, null, 1, 0),
                      ('cam-1', 1, 'Gate', 0.5, -0.25, 0.1, 0, 1);
             insert into site_token (camera_id, site_id, number, token)
               values ('cam-1', 'S', 2, 'guid-b'), ('cam-1', 'S', 1, 'guid-a');",
        )
        .expect("v4 data");
    }
    let store = SqliteStore::open(db.path()).expect("open upgrades");
    assert_eq!(user_version(&db.raw()), SCHEMA_VERSION);
    let rows = store.learned_bindings().expect("learned");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        (rows[0].clock_offset_ms, rows[0].auth_mode.as_deref()),
        (Some(7_200_000), Some("ws-security"))
    );
    assert_eq!(
        (rows[0].services.as_deref(), rows[0].profile.as_deref()),
        (None, None)
    );
    // The rebuilt tables keep their rows, read in number order.
    let presets = store.presets(&cam("cam-1")).expect("presets");
    let kept: Vec<(u32, &str, bool, bool)> = presets
        .iter()
        .map(|p| (p.number.get(), p.name.as_str(), p.locked, p.is_default))
        .collect();
    assert_eq!(kept, [(1, "Gate", false, true), (2, "Dock", true, false)]);
    assert!(presets[0].position.is_some() && presets[1].position.is_none());
    assert_eq!(
        store
            .site_tokens(&cam("cam-1"), &site("S"))
            .expect("tokens"),
        [
            (num(1), "guid-a".to_string()),
            (num(2), "guid-b".to_string())
        ]
    );
    assert_eq!(
        store.token_style(&cam("cam-1"), &site("S")).expect("style"),
        Some(tandem_store::TokenStyle::Opaque)
    );

    let fresh = TestDb::new("migrate-fresh-v5");
    drop(SqliteStore::open(fresh.path()).expect("fresh"));
    assert_eq!(schema_sql(&db.raw()), schema_sql(&fresh.raw()));
}
