//! Helpers shared by the store's integration tests: unique database files in
//! the system temp directory, a settable clock, and builders for domain values.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use tandem_core::clock::{Clock as _, ManualClock};
use tandem_core::{CameraId, Position, Preset, PresetName, PresetNumber, SiteId};
use tandem_store::testing::TestDatabase;
use tandem_store::{CameraRecord, NewAudit, NewOperation, Origin, PgStore, SqliteStore, Store};

/// A database file path unique to this process and call, removed (with its
/// WAL and shared-memory files) when dropped.
pub struct TestDb {
    path: PathBuf,
}

impl TestDb {
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!(
            "tandem-store-test-{name}-{}-{n}.db",
            std::process::id()
        ));
        let db = TestDb { path };
        db.remove();
        db
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A raw connection, as an administrator with the sqlite3 shell would have.
    pub fn raw(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.path).expect("raw connection")
    }

    fn remove(&self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A clock the test sets by hand.
#[derive(Clone)]
pub struct TestClock(ManualClock);

impl TestClock {
    pub fn new() -> Self {
        TestClock(ManualClock::at(t(0).into()))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        self.0.set_wall(at.into());
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.0.wall().into()
    }

    /// Installs this clock in a SQLite `store` opened on a file (the tests
    /// of what a file keeps).
    pub fn install_sqlite(&self, store: SqliteStore) -> SqliteStore {
        store.with_clock(Arc::new(self.0.clone()))
    }

    /// Installs this clock in `store`.
    pub fn install(&self, store: TestStore) -> TestStore {
        let clock = Arc::new(self.0.clone());
        match store {
            TestStore::Sqlite(s) => TestStore::Sqlite(s.with_clock(clock)),
            TestStore::Postgres(s, db) => TestStore::Postgres(s.with_clock(clock), db),
        }
    }
}

/// The store under test: SQLite in memory, or a fresh PostgreSQL database
/// when `TANDEM_TEST_STORE=postgres` (the matrix `scripts/test.sh` runs).
#[allow(clippy::large_enum_variant)] // One per test.
pub enum TestStore {
    Sqlite(SqliteStore),
    Postgres(PgStore, TestDatabase),
}

impl TestStore {
    /// A new, empty store of the backend the run asks for.
    pub fn new() -> Self {
        match std::env::var("TANDEM_TEST_STORE").as_deref() {
            Ok("postgres") => {
                let db = tandem_store::testing::database();
                let store = PgStore::open(db.url(), None).expect("PostgreSQL store");
                TestStore::Postgres(store, db)
            }
            Ok("sqlite") | Err(_) => {
                TestStore::Sqlite(SqliteStore::open_in_memory().expect("in-memory store"))
            }
            Ok(other) => panic!("TANDEM_TEST_STORE={other:?}: expected sqlite or postgres"),
        }
    }

    /// Whether this run is on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        matches!(self, TestStore::Postgres(..))
    }
}

impl std::ops::Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &(dyn Store + 'static) {
        match self {
            TestStore::Sqlite(s) => s,
            TestStore::Postgres(s, _) => s,
        }
    }
}

/// 2025-01-01T00:00:00Z plus `seconds`.
pub fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
        + chrono::Duration::seconds(seconds)
}

pub fn cam(id: &str) -> CameraId {
    CameraId::from(id)
}

pub fn site(id: &str) -> SiteId {
    SiteId::from(id)
}

pub fn num(n: u32) -> PresetNumber {
    PresetNumber::new(n).expect("valid number")
}

pub fn preset(n: u32, name: &str, pan: Option<f64>) -> Preset {
    Preset {
        number: num(n),
        name: PresetName::new(name).expect("valid name"),
        position: pan.map(|pan| Position {
            pan,
            tilt: 0.25,
            zoom: 0.5,
        }),
        locked: false,
        is_default: false,
    }
}

/// A new store (see [`TestStore::new`]) with cameras "cam-1" and "cam-2".
pub fn memory_store() -> TestStore {
    let store = TestStore::new();
    add_cameras(&*store);
    store
}

pub fn add_cameras(store: &dyn Store) {
    for id in ["cam-1", "cam-2"] {
        store
            .upsert_camera(&CameraRecord {
                id: cam(id),
                name: format!("Camera {id}"),
                tolerance: 0.001,
            })
            .expect("camera");
    }
}

/// An operator operation on both sites "P" and "S".
pub fn new_op(camera: &str, what: &str) -> NewOperation {
    NewOperation {
        camera: cam(camera),
        action: json!({ "action": what }),
        origin: Origin::Operator,
        actor: "alice".into(),
        sites: vec![site("P"), site("S")],
    }
}

pub fn new_audit(camera: &str, action: &str) -> NewAudit {
    NewAudit {
        actor: "alice".into(),
        action: action.into(),
        camera: Some(cam(camera)),
        before: None,
        after: Some(json!({ "what": action })),
    }
}
