//! Access control in the store: camera groups, roles, users, API tokens and
//! console sessions.

mod common;

use common::*;
use serde_json::json;
use tandem_store::prelude::*;
use tandem_store::{RoleRecord, SqliteStore, StoreError, TokenId};

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn role(name: &str, priority: u16) -> RoleRecord {
    RoleRecord {
        name: name.into(),
        ptz_priority: priority,
        grants: json!([{ "permission": "ptz.control", "scope": "all_cameras" }]),
    }
}

/// A store on a stepped clock with cameras, roles "operator" and
/// "supervisor", and user "alice".
fn store_with_alice(clock: &TestClock) -> TestStore {
    let store = clock.install(memory_store());
    store.upsert_role(&role("operator", 1_000)).expect("role");
    store.upsert_role(&role("supervisor", 5_000)).expect("role");
    store.create_user("alice", "$argon2id$a").expect("user");
    store
}

#[test]
fn camera_groups_are_replaced_deduplicated_and_sorted() {
    let store = memory_store();
    assert!(store.camera_groups(&cam("cam-1")).expect("read").is_empty());
    store
        .set_camera_groups(&cam("cam-1"), &strings(&["lobby", "Garage", "lobby"]))
        .expect("set");
    assert_eq!(
        store.camera_groups(&cam("cam-1")).expect("read"),
        ["Garage", "lobby"]
    );
    assert!(store.camera_groups(&cam("cam-2")).expect("read").is_empty());

    store
        .set_camera_groups(&cam("cam-1"), &strings(&["hall"]))
        .expect("replace");
    assert_eq!(store.camera_groups(&cam("cam-1")).expect("read"), ["hall"]);
    store.set_camera_groups(&cam("cam-1"), &[]).expect("clear");
    assert!(store.camera_groups(&cam("cam-1")).expect("read").is_empty());
}

#[test]
fn camera_groups_of_an_unknown_camera() {
    let store = memory_store();
    let err = store
        .set_camera_groups(&cam("nope"), &strings(&["lobby"]))
        .expect_err("unknown camera");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    assert!(store.camera_groups(&cam("nope")).expect("read").is_empty());
}

#[test]
fn roles_are_upserted_listed_by_name_and_deleted() {
    let store = memory_store();
    store
        .upsert_role(&role("supervisor", 5_000))
        .expect("insert");
    store.upsert_role(&role("operator", 1_000)).expect("insert");
    let changed = RoleRecord {
        grants: json!([{ "permission": "admin", "scope": { "group": "lobby" } }]),
        ..role("operator", 1_500)
    };
    store.upsert_role(&changed).expect("update");
    assert_eq!(
        store.roles().expect("roles"),
        [changed, role("supervisor", 5_000)]
    );

    store.delete_role("supervisor").expect("delete");
    let names: Vec<_> = store
        .roles()
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["operator"]);
    let err = store.delete_role("supervisor").expect_err("gone");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
}

#[test]
fn roles_with_a_bad_priority_or_grants_are_refused() {
    let store = memory_store();
    for bad in [
        role("r", 0),
        role("r", 32_001),
        RoleRecord {
            grants: json!({ "permission": "admin" }),
            ..role("r", 1)
        },
        role("", 1),
    ] {
        let err = store.upsert_role(&bad).expect_err("invalid role");
        assert!(matches!(err, StoreError::Invalid(_)), "{bad:?}: {err:?}");
    }
    assert!(store.roles().expect("roles").is_empty());
    for ok in [1, 32_000] {
        store.upsert_role(&role("r", ok)).expect("edge priority");
    }
}

#[test]
fn a_role_row_edited_out_of_range_by_hand_is_reported_corrupt() {
    let db = TestDb::new("corrupt-role");
    let store = SqliteStore::open(db.path()).expect("open");
    store.upsert_role(&role("r", 1)).expect("role");
    // An administrator with the sqlite3 shell, bypassing the CHECK constraint.
    db.raw()
        .execute_batch("pragma ignore_check_constraints = 1; update role set ptz_priority = 70000")
        .expect("hand edit");
    let err = store.roles().expect_err("corrupt");
    assert!(matches!(err, StoreError::Corrupt(_)), "{err:?}");
}

#[test]
fn users_are_created_read_and_listed_with_their_roles() {
    let clock = TestClock::new();
    clock.set(t(10));
    let store = store_with_alice(&clock);
    assert_eq!(store.user_count().expect("count"), 1);

    let alice = store.user("alice").expect("read").expect("exists");
    assert_eq!(alice.name, "alice");
    assert_eq!(alice.password_hash, "$argon2id$a");
    assert!(!alice.disabled);
    assert!(alice.roles.is_empty());
    assert_eq!(alice.created_utc, t(10));
    assert!(store.user("bob").expect("read").is_none());

    clock.set(t(20));
    store.create_user("bob", "$argon2id$b").expect("bob");
    store
        .set_user_roles("bob", &strings(&["supervisor", "operator", "operator"]))
        .expect("roles");
    let users = store.users().expect("users");
    let summary: Vec<_> = users
        .iter()
        .map(|u| (u.name.as_str(), u.roles.clone(), u.created_utc))
        .collect();
    assert_eq!(
        summary,
        [
            ("alice", vec![], t(10)),
            ("bob", strings(&["operator", "supervisor"]), t(20))
        ]
    );
    assert_eq!(store.user_count().expect("count"), 2);
}

#[test]
fn a_taken_user_name_is_a_conflict() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    let err = store.create_user("alice", "$other").expect_err("taken");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.to_string().contains("alice"), "{err}");
    assert_eq!(
        store
            .user("alice")
            .expect("read")
            .expect("kept")
            .password_hash,
        "$argon2id$a"
    );
}

#[test]
fn the_debug_form_of_a_user_hides_the_password_hash() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    let alice = store.user("alice").expect("read").expect("exists");
    let text = format!("{alice:?}");
    assert!(!text.contains("$argon2id$a"), "{text}");
    assert!(text.contains("alice"), "{text}");
}

#[test]
fn user_roles_are_replaced_and_unknown_names_change_nothing() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .set_user_roles("alice", &strings(&["operator"]))
        .expect("roles");

    let err = store
        .set_user_roles("alice", &strings(&["supervisor", "ghost"]))
        .expect_err("unknown role");
    assert!(
        matches!(&err, StoreError::NotFound(m) if m.contains("ghost")),
        "{err:?}"
    );
    assert_eq!(
        store.user("alice").expect("read").expect("exists").roles,
        ["operator"],
        "a failed replacement leaves the old roles"
    );

    let err = store
        .set_user_roles("ghost", &strings(&["operator"]))
        .expect_err("unknown user");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    store.set_user_roles("alice", &[]).expect("none");
    assert!(
        store
            .user("alice")
            .expect("read")
            .expect("exists")
            .roles
            .is_empty()
    );
}

#[test]
fn deleting_a_role_takes_it_from_its_users() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .set_user_roles("alice", &strings(&["operator", "supervisor"]))
        .expect("roles");
    store.delete_role("operator").expect("delete");
    assert_eq!(
        store.user("alice").expect("read").expect("exists").roles,
        ["supervisor"]
    );
}

#[test]
fn passwords_and_the_disabled_flag_change() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .set_user_password("alice", "$argon2id$new")
        .expect("password");
    store.set_user_disabled("alice", true).expect("disable");
    let alice = store.user("alice").expect("read").expect("exists");
    assert_eq!(alice.password_hash, "$argon2id$new");
    assert!(alice.disabled);
    store.set_user_disabled("alice", false).expect("enable");
    assert!(!store.user("alice").expect("read").expect("exists").disabled);

    for err in [
        store.set_user_password("ghost", "$x").expect_err("unknown"),
        store.set_user_disabled("ghost", true).expect_err("unknown"),
        store.delete_user("ghost").expect_err("unknown"),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
}

#[test]
fn deleting_a_user_takes_their_roles_tokens_and_sessions() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .set_user_roles("alice", &strings(&["operator"]))
        .expect("roles");
    store.create_token("alice", "h1", "script").expect("token");
    store
        .create_session("s1", "alice", t(3_600))
        .expect("session");

    store.delete_user("alice").expect("delete");
    assert!(store.user("alice").expect("read").is_none());
    assert_eq!(store.user_count().expect("count"), 0);
    assert!(store.tokens(None).expect("tokens").is_empty());
    assert!(store.token_by_hash("h1").expect("lookup").is_none());
    assert!(store.session("s1", t(0)).expect("lookup").is_none());
    assert_eq!(store.roles().expect("roles").len(), 2, "roles stay");

    // The name can be taken again, without the old user's rights.
    store.create_user("alice", "$new").expect("again");
    assert!(
        store
            .user("alice")
            .expect("read")
            .expect("exists")
            .roles
            .is_empty()
    );
}

#[test]
fn tokens_are_issued_found_by_hash_touched_and_revoked() {
    let clock = TestClock::new();
    clock.set(t(100));
    let store = store_with_alice(&clock);
    let token = store
        .create_token("alice", "hash-1", "nightly")
        .expect("issue");
    assert_eq!(token.user, "alice");
    assert_eq!(token.token_hash, "hash-1");
    assert_eq!(token.label, "nightly");
    assert_eq!(token.created_utc, t(100));
    assert_eq!((token.revoked_utc, token.last_used_utc), (None, None));
    assert_eq!(
        store.token_by_hash("hash-1").expect("lookup"),
        Some(token.clone())
    );
    assert!(store.token_by_hash("hash-2").expect("lookup").is_none());

    store.touch_token(token.id, t(150)).expect("touch");
    let used = store
        .token_by_hash("hash-1")
        .expect("lookup")
        .expect("valid");
    assert_eq!(used.last_used_utc, Some(t(150)));

    clock.set(t(200));
    store.revoke_token(token.id).expect("revoke");
    assert!(
        store.token_by_hash("hash-1").expect("lookup").is_none(),
        "a revoked token authenticates nothing"
    );
    clock.set(t(300));
    store
        .revoke_token(token.id)
        .expect("revoking twice is harmless");
    let listed = store.tokens(Some("alice")).expect("tokens");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].revoked_utc,
        Some(t(200)),
        "the first revocation counts"
    );
    assert_eq!(listed[0].last_used_utc, Some(t(150)));

    for err in [
        store.revoke_token(TokenId(999)).expect_err("unknown"),
        store.touch_token(TokenId(999), t(0)).expect_err("unknown"),
    ] {
        assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    }
}

#[test]
fn tokens_need_a_user_and_a_unique_hash_and_list_per_user() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store.create_user("bob", "$b").expect("bob");
    let err = store.create_token("ghost", "h", "x").expect_err("no user");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");

    let a1 = store.create_token("alice", "h-a1", "one").expect("issue");
    let b1 = store.create_token("bob", "h-b1", "two").expect("issue");
    let a2 = store.create_token("alice", "h-a2", "three").expect("issue");
    assert!(a1.id < b1.id && b1.id < a2.id, "ids increase");
    let err = store
        .create_token("bob", "h-a1", "dup")
        .expect_err("same hash");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let ids = |user| -> Vec<TokenId> {
        store
            .tokens(user)
            .expect("tokens")
            .into_iter()
            .map(|t| t.id)
            .collect()
    };
    assert_eq!(ids(Some("alice")), [a1.id, a2.id]);
    assert_eq!(ids(Some("bob")), [b1.id]);
    assert_eq!(ids(None), [a1.id, b1.id, a2.id]);
    assert!(ids(Some("ghost")).is_empty());
}

#[test]
fn token_ids_are_never_reused() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    let first = store.create_token("alice", "h1", "x").expect("issue");
    store.delete_user("alice").expect("delete");
    store.create_user("alice", "$a").expect("again");
    let second = store.create_token("alice", "h2", "x").expect("issue");
    assert!(second.id > first.id, "{second:?} after {first:?}");
}

#[test]
fn sessions_are_accepted_until_they_expire() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .create_session("sess-1", "alice", t(600))
        .expect("start");
    assert_eq!(
        store.session("sess-1", t(0)).expect("lookup").as_deref(),
        Some("alice")
    );
    assert_eq!(
        store.session("sess-1", t(599)).expect("lookup").as_deref(),
        Some("alice")
    );
    assert!(
        store.session("sess-1", t(600)).expect("lookup").is_none(),
        "expired at its expiry time"
    );
    assert!(store.session("other", t(0)).expect("lookup").is_none());

    let err = store
        .create_session("sess-2", "ghost", t(600))
        .expect_err("no user");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = store
        .create_session("sess-1", "alice", t(900))
        .expect_err("same id");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

#[test]
fn sessions_end_on_logout_and_expired_ones_are_purged() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store.create_session("early", "alice", t(100)).expect("s");
    store.create_session("late", "alice", t(900)).expect("s");
    store.create_session("gone", "alice", t(900)).expect("s");

    store.delete_session("gone").expect("logout");
    store
        .delete_session("gone")
        .expect("logging out twice is harmless");
    assert!(store.session("gone", t(0)).expect("lookup").is_none());

    assert_eq!(store.purge_sessions(t(99)).expect("purge"), 0);
    assert_eq!(store.purge_sessions(t(100)).expect("purge"), 1);
    assert_eq!(store.purge_sessions(t(100)).expect("purge"), 0);
    assert_eq!(
        store.session("late", t(100)).expect("lookup").as_deref(),
        Some("alice")
    );
}

#[test]
fn access_data_survives_reopening_the_file() {
    let db = TestDb::new("access-reopen");
    {
        let store = SqliteStore::open(db.path()).expect("open");
        add_cameras(&store);
        store
            .set_camera_groups(&cam("cam-1"), &strings(&["lobby"]))
            .expect("groups");
        store.upsert_role(&role("operator", 1_000)).expect("role");
        store.create_user("alice", "$a").expect("user");
        store
            .set_user_roles("alice", &strings(&["operator"]))
            .expect("roles");
        store.create_token("alice", "h1", "x").expect("token");
        store
            .create_session(
                "s1",
                "alice",
                chrono::Utc::now() + chrono::Duration::hours(1),
            )
            .expect("session");
    }
    let store = SqliteStore::open(db.path()).expect("reopen");
    assert_eq!(
        store.camera_groups(&cam("cam-1")).expect("groups"),
        ["lobby"]
    );
    assert_eq!(
        store.user("alice").expect("read").expect("kept").roles,
        ["operator"]
    );
    assert!(store.token_by_hash("h1").expect("lookup").is_some());
    assert_eq!(
        store
            .session("s1", chrono::Utc::now())
            .expect("lookup")
            .as_deref(),
        Some("alice")
    );
}

#[test]
fn user_and_role_names_are_unique_whatever_their_case() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    for taken in ["ALICE", "Alice", "alice"] {
        let err = store.create_user(taken, "$b").expect_err(taken);
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    let err = store.upsert_role(&role("Operator", 7)).expect_err("alike");
    assert!(
        matches!(&err, StoreError::Conflict(m) if m.contains("\"operator\"")),
        "{err:?}"
    );
    store
        .upsert_role(&role("operator", 7))
        .expect("the same name replaces");
    let names: Vec<String> = store
        .roles()
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["operator", "supervisor"]);
    // Looked up without regard to case: the exact name first.
    assert_eq!(
        store.user("ALICE").expect("read").map(|u| u.name),
        Some("alice".to_string())
    );
    assert!(store.user("bob").expect("read").is_none());
}

#[test]
fn an_access_change_is_kept_whole_or_not_at_all() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store
        .set_user_roles("alice", &strings(&["operator"]))
        .expect("roles");
    let audit_before = store.audit_entries(0, 100).expect("audit").len();
    // A change that fails after writing leaves nothing behind, audit included.
    let err = store
        .change_access("a refused change", &mut |tx| {
            tx.set_user_roles("alice", &[])?;
            tx.append_audit(&tandem_store::NewAudit {
                actor: "t".into(),
                action: "user.roles".into(),
                camera: None,
                before: None,
                after: None,
            })?;
            assert!(
                tx.user("alice")?.expect("alice").roles.is_empty(),
                "seen inside"
            );
            Err(StoreError::Conflict("refused".into()))
        })
        .expect_err("refused");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        store.user("alice").expect("read").expect("alice").roles,
        ["operator"]
    );
    assert_eq!(
        store.audit_entries(0, 100).expect("audit").len(),
        audit_before
    );
    // One that succeeds is kept with its audit entry.
    store
        .change_access("disabling alice", &mut |tx| {
            tx.set_user_disabled("alice", true)?;
            tx.append_audit(&tandem_store::NewAudit {
                actor: "t".into(),
                action: "user.disable".into(),
                camera: None,
                before: None,
                after: None,
            })
        })
        .expect("kept");
    assert!(store.user("alice").expect("read").expect("alice").disabled);
    assert_eq!(
        store.audit_entries(0, 100).expect("audit").len(),
        audit_before + 1
    );
}

#[test]
fn a_users_sessions_are_listed_by_id_and_ended_one_all_or_all_but_one() {
    let clock = TestClock::new();
    let store = store_with_alice(&clock);
    store.create_user("bob", "$b").expect("bob");
    for (hash, user) in [
        ("aaaaaaaaaaaaaaaa-1", "alice"),
        ("bbbbbbbbbbbbbbbb-2", "alice"),
        ("cccccccccccccccc-3", "alice"),
        ("dddddddddddddddd-4", "bob"),
    ] {
        store.create_session(hash, user, t(900)).expect("start");
    }
    store
        .create_session("eeeeeeeeeeeeeeee-old", "alice", t(10))
        .expect("start");
    let ids: Vec<String> = store
        .sessions("alice", t(100))
        .expect("list")
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(
        ids,
        ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"],
        "16 characters of the hash; expired ones left out"
    );
    let ended = |only: Option<&str>, keep: Option<&str>| {
        let mut n = 0;
        store
            .change_access("ending sessions", &mut |tx| {
                n = tx.end_sessions("alice", only, keep)?;
                Ok(())
            })
            .expect("end");
        n
    };
    assert_eq!(ended(Some("bbbbbbbbbbbbbbbb"), None), 1);
    assert_eq!(ended(Some("dddddddddddddddd"), None), 0, "not alice's");
    assert_eq!(ended(None, Some("cccccccccccccccc-3")), 2, "all but one");
    assert_eq!(
        store
            .session("cccccccccccccccc-3", t(100))
            .expect("lookup")
            .as_deref(),
        Some("alice")
    );
    assert_eq!(
        store
            .session("dddddddddddddddd-4", t(100))
            .expect("lookup")
            .as_deref(),
        Some("bob")
    );
}
