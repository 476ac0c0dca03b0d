//! What bindings learned about their devices (clock offset, authentication
//! mode): kept per camera and site, beside the token style, across reopening.

mod common;

use common::*;
use tandem_store::prelude::*;
use tandem_store::{BindingLearned, SqliteStore, StoreError, TokenStyle};

fn learned(
    camera: &str,
    site_id: &str,
    offset_ms: Option<i64>,
    auth: Option<&str>,
) -> BindingLearned {
    BindingLearned {
        camera: cam(camera),
        site: site(site_id),
        clock_offset_ms: offset_ms,
        auth_mode: auth.map(str::to_string),
        services: None,
        profile: None,
    }
}

#[test]
fn what_a_binding_learned_is_kept_beside_its_token_style_and_survives_reopening() {
    let db = TestDb::new("bindings-learned");
    {
        let store = SqliteStore::open(db.path()).expect("open");
        add_cameras(&store);
        assert!(store.learned_bindings().expect("read").is_empty());
        store
            .set_token_style(&cam("cam-1"), &site("S"), TokenStyle::Opaque)
            .expect("token style");
        assert!(
            store.learned_bindings().expect("read").is_empty(),
            "a token style alone is nothing learned of the device"
        );
        store
            .save_learned(&learned("cam-1", "S", Some(7_200_250), Some("ws-security")))
            .expect("save");
        store
            .save_learned(&learned("cam-1", "P", None, Some("http-digest")))
            .expect("save");
        // Learned again: replaced, not added.
        store
            .save_learned(&learned("cam-1", "S", Some(-1_500), Some("ws-security")))
            .expect("save again");
    }
    let store = SqliteStore::open(db.path()).expect("reopen");
    assert_eq!(
        store.learned_bindings().expect("read"),
        [
            learned("cam-1", "P", None, Some("http-digest")),
            learned("cam-1", "S", Some(-1_500), Some("ws-security")),
        ]
    );
    assert_eq!(
        store.token_style(&cam("cam-1"), &site("S")).expect("style"),
        Some(TokenStyle::Opaque),
        "learning the clock keeps the token style"
    );
    assert_eq!(
        store.token_style(&cam("cam-1"), &site("P")).expect("style"),
        None,
        "a binding known by its clock only has no token style yet"
    );
    store
        .set_token_style(&cam("cam-1"), &site("P"), TokenStyle::Numeric)
        .expect("token style");
    assert_eq!(
        store.learned_bindings().expect("read")[0],
        learned("cam-1", "P", None, Some("http-digest")),
        "a token style keeps what was learned"
    );
}

/// Discovery (service addresses, the profile found) is kept too, and each
/// writer replaces only its own part: the device's sink writes the clock,
/// the mode and the services; the engine writes the profile.
#[test]
fn what_discovery_found_is_kept_and_each_part_replaced_by_its_own_writer() {
    let db = TestDb::new("bindings-discovery");
    {
        let store = SqliteStore::open(db.path()).expect("open");
        add_cameras(&store);
        store
            .save_profile(&cam("cam-1"), &site("S"), Some("profile_1"))
            .expect("profile");
        let mut row = learned("cam-1", "S", Some(250), Some("ws-security"));
        row.services = Some(r#"{"ptz":"http://127.0.0.1:1/onvif/ptz"}"#.into());
        store.save_learned(&row).expect("save");
    }
    let store = SqliteStore::open(db.path()).expect("reopen");
    let rows = store.learned_bindings().expect("read");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].profile.as_deref(),
        Some("profile_1"),
        "kept by save_learned"
    );
    assert_eq!(
        rows[0].services.as_deref(),
        Some(r#"{"ptz":"http://127.0.0.1:1/onvif/ptz"}"#)
    );
    // Forgotten: the services by the device's sink, the profile by the engine.
    store
        .save_learned(&learned("cam-1", "S", Some(250), Some("ws-security")))
        .expect("save");
    store
        .save_profile(&cam("cam-1"), &site("S"), None)
        .expect("forget");
    assert_eq!(
        store.learned_bindings().expect("read"),
        [learned("cam-1", "S", Some(250), Some("ws-security"))]
    );
    assert!(matches!(
        store.save_profile(&cam("nope"), &site("S"), Some("p")),
        Err(StoreError::NotFound(_))
    ));
}

#[test]
fn unknown_cameras_and_authentication_modes_are_refused() {
    let store = memory_store();
    let err = store
        .save_learned(&learned("cam-9", "P", Some(0), None))
        .expect_err("unknown camera");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store
        .save_learned(&learned("cam-1", "P", Some(0), Some("basic")))
        .expect_err("unknown mode");
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(store.learned_bindings().expect("read").is_empty());
}
