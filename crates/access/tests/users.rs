//! Users, logins, API tokens and sessions over an in-memory store: the first
//! administrator, authentication that does not reveal which users exist,
//! token and session lifecycles, and permissions scoped by camera groups.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;
use tandem_access::users::{
    ADMIN_USER, AuthError, TOKEN_PREFIX, Users, UsersError, default_roles, local_operator,
    role_record,
};
use tandem_access::{LoginError, LoginRefused};
use tandem_core::CameraId;
use tandem_core::access::{Action, Grant, Permission, Principal, Role};
use tandem_core::clock::ManualClock;
use tandem_store::prelude::*;
use tandem_store::{CameraRecord, RoleRecord, SqliteStore, Store, StoreError};

/// A clock the test sets by hand.
#[derive(Clone)]
struct TestClock(ManualClock);

impl TestClock {
    fn new() -> Self {
        TestClock(ManualClock::at(t(0).into()))
    }

    fn set(&self, at: DateTime<Utc>) {
        self.0.set_wall(at.into());
    }
}

/// 2025-01-01T00:00:00Z plus `seconds`.
fn t(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
        + chrono::Duration::seconds(seconds)
}

struct Fixture {
    store: Arc<dyn Store>,
    users: Users,
    clock: TestClock,
}

/// An in-memory store on a test clock, with the default roles.
fn fixture() -> Fixture {
    let clock = TestClock::new();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open_in_memory()
            .expect("store")
            .with_clock(Arc::new(clock.0.clone())),
    );
    for role in default_roles() {
        store.upsert_role(&role_record(&role)).expect("role");
    }
    let users = Users::new(store.clone()).with_clock(Arc::new(clock.0.clone()));
    Fixture {
        store,
        users,
        clock,
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn role_names(p: &Principal) -> Vec<&str> {
    p.roles.iter().map(|r| r.name()).collect()
}

const PASSWORD: &str = "correct horse battery";

#[test]
fn the_first_start_creates_an_admin_with_a_random_password_printed_once() {
    let f = fixture();
    let password = f
        .users
        .ensure_admin(None)
        .expect("ensure")
        .expect("a generated password");
    assert_eq!(password.len(), 24, "{password}");
    let admin = f
        .users
        .authenticate(ADMIN_USER, &password)
        .expect("admin logs in");
    assert_eq!(admin.user, "admin");
    assert_eq!(role_names(&admin), ["admin"]);
    assert_eq!(admin.roles[0].ptz_priority(), 32_000);
    for action in Action::ALL {
        assert!(admin.may(action, &[]), "{action:?}");
    }
    let mut roles: Vec<String> = f
        .store
        .roles()
        .expect("roles")
        .into_iter()
        .map(|r| r.name)
        .collect();
    roles.sort();
    assert_eq!(roles, ["admin", "operator", "preset-manager", "supervisor"]);

    // The next start finds a user and does nothing.
    assert_eq!(f.users.ensure_admin(None).expect("again"), None);
    assert_eq!(
        f.users
            .ensure_admin(Some("another password".into()))
            .expect("again"),
        None
    );
    assert_eq!(f.store.user_count().expect("count"), 1);
    assert!(f.users.authenticate(ADMIN_USER, &password).is_ok());
}

#[test]
fn two_first_starts_generate_different_passwords() {
    let a = fixture().users.ensure_admin(None).expect("a");
    let b = fixture().users.ensure_admin(None).expect("b");
    assert!(a.is_some() && b.is_some());
    assert_ne!(a, b);
}

#[test]
fn the_admin_password_can_come_from_the_environment() {
    let f = fixture();
    let printed = f
        .users
        .ensure_admin(Some(PASSWORD.to_string()))
        .expect("ensure");
    assert_eq!(printed, None, "a given password is not printed");
    assert!(f.users.authenticate(ADMIN_USER, PASSWORD).is_ok());
}

#[test]
fn a_weak_admin_password_from_the_environment_is_refused_and_creates_nothing() {
    let f = fixture();
    for weak in ["", "short"] {
        let err = f
            .users
            .ensure_admin(Some(weak.to_string()))
            .expect_err("too short");
        assert!(matches!(err, UsersError::InvalidInput(_)), "{err:?}");
        assert!(err.to_string().contains("at least 12"), "{err}");
    }
    assert_eq!(f.store.user_count().expect("count"), 0);
}

#[test]
fn ensure_admin_restores_the_admin_role_but_keeps_edited_default_roles() {
    let f = fixture();
    let edited_operator = RoleRecord {
        name: "operator".into(),
        ptz_priority: 1_234,
        grants: json!([{ "permission": "preset.recall", "scope": "all_cameras" }]),
    };
    f.store.upsert_role(&edited_operator).expect("edit");
    f.store
        .upsert_role(&RoleRecord {
            name: "admin".into(),
            ptz_priority: 1,
            grants: json!([]),
        })
        .expect("break admin");
    f.store.delete_role("supervisor").expect("delete");

    f.users.ensure_admin(Some(PASSWORD.into())).expect("ensure");
    let roles = f.store.roles().expect("roles");
    let find = |name: &str| roles.iter().find(|r| r.name == name).cloned();
    assert_eq!(find("operator"), Some(edited_operator));
    assert_eq!(find("admin").map(|r| r.ptz_priority), Some(32_000));
    assert!(
        find("supervisor").is_some(),
        "a missing default is recreated"
    );
    let admin = f.users.authenticate(ADMIN_USER, PASSWORD).expect("login");
    assert!(admin.allows(Permission::Admin, &[]));
}

#[test]
fn users_log_in_with_their_roles() {
    let f = fixture();
    let created = f
        .users
        .create_user("olga", PASSWORD, &strings(&["operator", "preset-manager"]))
        .expect("create");
    assert_eq!(created.roles, ["operator", "preset-manager"]);
    assert!(created.password_hash.starts_with("$argon2id$"));

    let olga = f.users.authenticate("olga", PASSWORD).expect("login");
    assert_eq!(olga.user, "olga");
    assert_eq!(role_names(&olga), ["operator", "preset-manager"]);
    assert!(olga.may(Action::MovePtz, &[]));
    assert!(olga.may(Action::EditPreset, &[]));
    assert!(!olga.may(Action::EditLockedPreset, &[]));
    assert!(!olga.may(Action::ResolveMismatch, &[]));
    assert_eq!(olga.ptz_priority(&[]), Some(2_000));

    f.users
        .create_user("nobody", PASSWORD, &[])
        .expect("a user without roles");
    let nobody = f.users.authenticate("nobody", PASSWORD).expect("login");
    assert!(nobody.roles.is_empty());
    assert_eq!(nobody.ptz_priority(&[]), None);
}

#[test]
fn creating_a_user_checks_name_password_roles_and_uniqueness() {
    let f = fixture();
    let err = f
        .users
        .create_user("bad name", PASSWORD, &[])
        .expect_err("name");
    assert!(matches!(err, UsersError::Access(_)), "{err:?}");
    let err = f
        .users
        .create_user("ok", "short", &[])
        .expect_err("password");
    assert!(matches!(err, UsersError::InvalidInput(_)), "{err:?}");
    let err = f
        .users
        .create_user("ok", PASSWORD, &strings(&["operator", "ghost"]))
        .expect_err("role");
    assert!(
        matches!(&err, UsersError::UnknownRole(r) if r == "ghost"),
        "{err:?}"
    );
    assert_eq!(f.store.user_count().expect("count"), 0, "nothing half-made");

    f.users.create_user("ok", PASSWORD, &[]).expect("create");
    let err = f.users.create_user("ok", PASSWORD, &[]).expect_err("taken");
    assert!(
        matches!(err, UsersError::Store(StoreError::Conflict(_))),
        "{err:?}"
    );
}

#[test]
fn unknown_users_wrong_passwords_and_disabled_users_get_the_same_answer() {
    let f = fixture();
    f.users
        .create_user("olga", PASSWORD, &strings(&["operator"]))
        .expect("create");
    f.users
        .create_user("dora", PASSWORD, &strings(&["operator"]))
        .expect("create");
    f.store.set_user_disabled("dora", true).expect("disable");

    let answers: Vec<String> = [
        f.users.authenticate("olga", "wrong password"),
        f.users.authenticate("ghost", PASSWORD),
        f.users.authenticate("dora", PASSWORD),
        f.users.authenticate("", ""),
        f.users.authenticate("olga", &"x".repeat(5_000)),
    ]
    .into_iter()
    .map(|r| match r {
        Err(e @ AuthError::BadCredentials) => e.to_string(),
        other => panic!("expected BadCredentials, got {other:?}"),
    })
    .collect();
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "{answers:?}");
    assert_eq!(answers[0], "wrong user name or password");

    f.store.set_user_disabled("dora", false).expect("enable");
    assert!(f.users.authenticate("dora", PASSWORD).is_ok());
}

/// Without the dummy verification, an unknown user would be answered in
/// microseconds and a wrong password in tens of milliseconds. The two are
/// measured in turn and each keeps its fastest run, so that load from other
/// processes (which only ever adds time) cannot make them differ.
#[test]
fn an_unknown_user_costs_as_much_as_a_wrong_password() {
    let f = fixture();
    f.users.create_user("olga", PASSWORD, &[]).expect("create");
    let time = |name: &str| {
        let started = Instant::now();
        let result = f.users.authenticate(name, "wrong password");
        assert!(matches!(result, Err(AuthError::BadCredentials)));
        started.elapsed()
    };
    let (mut known, mut unknown) = (Duration::MAX, Duration::MAX);
    for _ in 0..7 {
        known = known.min(time("olga"));
        unknown = unknown.min(time("ghost"));
    }
    let ratio = unknown.as_secs_f64() / known.as_secs_f64();
    assert!(
        (0.33..3.0).contains(&ratio),
        "unknown user {unknown:?}, wrong password {known:?}"
    );
}

#[test]
fn a_changed_password_replaces_the_old_one() {
    let f = fixture();
    f.users.create_user("olga", PASSWORD, &[]).expect("create");
    f.users
        .set_password("olga", "a new long password")
        .expect("change");
    assert!(matches!(
        f.users.authenticate("olga", PASSWORD),
        Err(AuthError::BadCredentials)
    ));
    assert!(f.users.authenticate("olga", "a new long password").is_ok());
    assert!(matches!(
        f.users.set_password("olga", "short"),
        Err(UsersError::InvalidInput(_))
    ));
    assert!(matches!(
        f.users.set_password("ghost", PASSWORD),
        Err(UsersError::Store(StoreError::NotFound(_)))
    ));
}

#[test]
fn an_api_token_is_shown_once_stored_hashed_and_authenticates_its_user() {
    let f = fixture();
    f.users
        .create_user("script", PASSWORD, &strings(&["operator"]))
        .expect("create");
    f.clock.set(t(100));
    let (secret, record) = f.users.issue_token("script", "nightly").expect("issue");
    assert!(secret.starts_with(TOKEN_PREFIX), "{secret}");
    assert_eq!(secret.len(), TOKEN_PREFIX.len() + 43);
    assert_eq!(record.user, "script");
    assert_eq!(record.label, "nightly");
    assert_eq!(record.token_hash.len(), 64);
    assert!(!record.token_hash.contains(&secret[TOKEN_PREFIX.len()..]));
    let stored = f.store.tokens(Some("script")).expect("tokens");
    assert_eq!(stored, [record], "the store holds no secret");

    f.clock.set(t(200));
    let who = f.users.principal_for_token(&secret).expect("valid token");
    assert_eq!(who.user, "script");
    assert_eq!(role_names(&who), ["operator"]);
    let used = f.store.tokens(None).expect("tokens");
    assert_eq!(used[0].last_used_utc, Some(t(200)));

    // Uses within a minute are not written again; later ones are.
    f.clock.set(t(230));
    f.users.principal_for_token(&secret).expect("valid");
    assert_eq!(
        f.store.tokens(None).expect("tokens")[0].last_used_utc,
        Some(t(200))
    );
    f.clock.set(t(260));
    f.users.principal_for_token(&secret).expect("valid");
    assert_eq!(
        f.store.tokens(None).expect("tokens")[0].last_used_utc,
        Some(t(260))
    );
}

#[test]
fn revoked_malformed_and_foreign_tokens_are_refused() {
    let f = fixture();
    f.users
        .create_user("script", PASSWORD, &[])
        .expect("create");
    let (secret, record) = f.users.issue_token("script", "").expect("issue");
    let (other, _) = f.users.issue_token("script", "other").expect("issue");

    let mut wrong_last = secret.clone();
    let last = if wrong_last.ends_with('A') { "B" } else { "A" };
    wrong_last.replace_range(wrong_last.len() - 1.., last);
    let malformed = [
        String::new(),
        "tdm_".into(),
        secret[TOKEN_PREFIX.len()..].to_string(),
        format!("{secret}x"),
        secret.replace(TOKEN_PREFIX, "tdx_"),
        wrong_last,
        format!("{TOKEN_PREFIX}{}", "!".repeat(43)),
    ];
    for bad in &malformed {
        assert!(
            matches!(f.users.principal_for_token(bad), Err(AuthError::BadToken)),
            "{bad:?}"
        );
    }

    f.store.revoke_token(record.id).expect("revoke");
    assert!(matches!(
        f.users.principal_for_token(&secret),
        Err(AuthError::BadToken)
    ));
    assert!(
        f.users.principal_for_token(&other).is_ok(),
        "others stay valid"
    );

    f.store.set_user_disabled("script", true).expect("disable");
    assert!(matches!(
        f.users.principal_for_token(&other),
        Err(AuthError::BadToken)
    ));
    f.store.delete_user("script").expect("delete");
    assert!(matches!(
        f.users.principal_for_token(&other),
        Err(AuthError::BadToken)
    ));
}

#[test]
fn token_labels_are_checked() {
    let f = fixture();
    f.users
        .create_user("script", PASSWORD, &[])
        .expect("create");
    for bad in ["line\nbreak".to_string(), "l".repeat(201)] {
        assert!(matches!(
            f.users.issue_token("script", &bad),
            Err(UsersError::InvalidInput(_))
        ));
    }
    assert!(matches!(
        f.users.issue_token("ghost", "x"),
        Err(UsersError::Store(StoreError::NotFound(_)))
    ));
}

#[test]
fn a_session_lasts_its_lifetime_and_ends_on_logout() {
    let f = fixture();
    f.users
        .create_user("olga", PASSWORD, &strings(&["supervisor"]))
        .expect("create");
    f.clock.set(t(1_000));
    let secret = f
        .users
        .start_session("olga", Duration::from_secs(3_600))
        .expect("start");
    assert_eq!(secret.len(), 43);
    let other = f
        .users
        .start_session("olga", Duration::from_secs(3_600))
        .expect("start");
    assert_ne!(secret, other);

    f.clock.set(t(4_599));
    let who = f.users.principal_for_session(&secret).expect("valid");
    assert_eq!(
        (who.user.as_str(), role_names(&who)),
        ("olga", vec!["supervisor"])
    );
    f.clock.set(t(4_600));
    assert!(matches!(
        f.users.principal_for_session(&secret),
        Err(AuthError::BadSession)
    ));
    assert_eq!(f.users.purge_expired_sessions().expect("purge"), 2);

    f.clock.set(t(5_000));
    let secret = f
        .users
        .start_session("olga", Duration::from_secs(60))
        .expect("start");
    assert!(f.users.principal_for_session(&secret).is_ok());
    f.users.end_session(&secret).expect("logout");
    f.users.end_session(&secret).expect("logout twice");
    assert!(matches!(
        f.users.principal_for_session(&secret),
        Err(AuthError::BadSession)
    ));
}

#[test]
fn sessions_of_disabled_or_unknown_users_are_refused() {
    let f = fixture();
    f.users.create_user("olga", PASSWORD, &[]).expect("create");
    let secret = f
        .users
        .start_session("olga", Duration::from_secs(60))
        .expect("start");
    f.store.set_user_disabled("olga", true).expect("disable");
    assert!(matches!(
        f.users.principal_for_session(&secret),
        Err(AuthError::BadSession)
    ));
    for bad in ["", "short", &format!("{secret}x"), &"=".repeat(43)] {
        assert!(matches!(
            f.users.principal_for_session(bad),
            Err(AuthError::BadSession)
        ));
    }
    assert!(matches!(
        f.users.start_session("ghost", Duration::from_secs(60)),
        Err(UsersError::Store(StoreError::NotFound(_)))
    ));
    assert!(matches!(
        f.users.start_session("olga", Duration::MAX),
        Err(UsersError::InvalidInput(_))
    ));
}

#[test]
fn permissions_follow_the_groups_the_store_keeps_for_each_camera() {
    let f = fixture();
    for id in ["lobby-1", "garage-1"] {
        f.store
            .upsert_camera(&CameraRecord {
                id: CameraId::from(id),
                name: id.into(),
                tolerance: 0.001,
            })
            .expect("camera");
    }
    f.store
        .set_camera_groups(&CameraId::from("lobby-1"), &strings(&["lobby"]))
        .expect("groups");
    f.store
        .upsert_role(&RoleRecord {
            name: "lobby-guard".into(),
            ptz_priority: 3_000,
            grants: json!([
                { "permission": "ptz.control", "scope": { "group": "lobby" } },
                { "permission": "preset.recall", "scope": "all_cameras" }
            ]),
        })
        .expect("role");
    f.users
        .create_user("gina", PASSWORD, &strings(&["lobby-guard"]))
        .expect("create");
    let gina = f.users.authenticate("gina", PASSWORD).expect("login");

    let lobby = f
        .store
        .camera_groups(&CameraId::from("lobby-1"))
        .expect("groups");
    let garage = f
        .store
        .camera_groups(&CameraId::from("garage-1"))
        .expect("groups");
    assert!(gina.may(Action::MovePtz, &lobby));
    assert!(!gina.may(Action::MovePtz, &garage));
    assert!(gina.may(Action::RecallPreset, &garage));
    assert_eq!(gina.ptz_priority(&lobby), Some(3_000));
    assert_eq!(gina.ptz_priority(&garage), None);
}

#[test]
fn a_stored_role_that_no_longer_parses_only_takes_rights_away() {
    let f = fixture();
    f.store
        .upsert_role(&RoleRecord {
            name: "future".into(),
            ptz_priority: 9_000,
            grants: json!([{ "permission": "teleport", "scope": "all_cameras" }]),
        })
        .expect("the store does not interpret grants");
    f.users
        .create_user("olga", PASSWORD, &strings(&["future", "operator"]))
        .expect("create");
    let olga = f.users.authenticate("olga", PASSWORD).expect("login");
    assert_eq!(role_names(&olga), ["operator"]);
    assert_eq!(olga.ptz_priority(&[]), Some(1_000));
}

#[test]
fn cached_principals_never_outlive_a_change_made_by_this_process_or_another() {
    let dir = std::env::temp_dir().join(format!("tandem-users-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("tandem.db");
    let service: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("store"));
    for role in default_roles() {
        service.upsert_role(&role_record(&role)).expect("role");
    }
    let users = Users::new(service.clone());
    users
        .create_user("olga", PASSWORD, &strings(&["operator"]))
        .expect("user");
    let (secret, record) = users.issue_token("olga", "scripts").expect("token");
    let who = users.principal_for_token(&secret).expect("valid");
    assert_eq!(role_names(&who), ["operator"]);
    // Served from the cache now; a role change in this process is seen at once.
    users.principal_for_token(&secret).expect("still valid");
    service
        .set_user_roles("olga", &strings(&["supervisor"]))
        .expect("roles");
    assert_eq!(
        role_names(&users.principal_for_token(&secret).expect("valid")),
        ["supervisor"]
    );
    // Another connection (another process) revokes the token: refused at once.
    let other = SqliteStore::open(&path).expect("second connection");
    other.revoke_token(record.id).expect("revoke");
    assert!(matches!(
        users.principal_for_token(&secret),
        Err(AuthError::BadToken)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Logs `name` in from 10.0.0.1 with a one-hour session; answers the principal and secret.
fn log_in(users: &Users, name: &str, password: &str) -> Result<(Principal, String), LoginError> {
    users.login(name, password, ip("10.0.0.1"), Duration::from_secs(3_600))
}

fn ip(text: &str) -> std::net::IpAddr {
    text.parse().expect("address")
}

/// An admin `admin` (built in) and a second administrator `root2` holding
/// only a custom role `superadmin` that grants admin.
fn two_admins(f: &Fixture) -> (Principal, Principal) {
    f.users.ensure_admin(Some(PASSWORD.into())).expect("admin");
    let superadmin = Role::new(
        "superadmin",
        vec![Grant::everywhere(Permission::Admin)],
        100,
    )
    .expect("role");
    f.store
        .upsert_role(&role_record(&superadmin))
        .expect("role");
    f.users
        .create_user("root2", PASSWORD, &strings(&["superadmin"]))
        .expect("root2");
    let admin = f.users.authenticate(ADMIN_USER, PASSWORD).expect("admin");
    let root2 = f.users.authenticate("root2", PASSWORD).expect("root2");
    (admin, root2)
}

fn administrators(store: &dyn Store) -> Vec<String> {
    let roles = store.roles().expect("roles");
    store
        .users()
        .expect("users")
        .into_iter()
        .filter(|u| !u.disabled)
        .filter(|u| {
            roles
                .iter()
                .filter(|r| u.roles.contains(&r.name))
                .any(|r| r.grants.to_string().contains("\"admin\""))
        })
        .map(|u| u.name)
        .collect()
}

fn is_conflict(result: Result<(), UsersError>, what: &str) -> String {
    match result {
        Err(UsersError::Conflict(message)) => message,
        other => panic!("{what}: expected a conflict, got {other:?}"),
    }
}

/// The reported sequence: a second administrator removed the built-in
/// admin's roles, then deleted its own role; nobody could administer tandem.
#[test]
fn no_sequence_of_changes_leaves_tandem_without_an_administrator() {
    let f = fixture();
    let (_admin, root2) = two_admins(&f);
    f.users
        .set_roles(&root2, ADMIN_USER, &[])
        .expect("another administrator remains");
    assert_eq!(administrators(f.store.as_ref()), ["root2"]);
    let message = is_conflict(f.users.remove_role(&root2, "superadmin"), "own role");
    assert!(
        message.contains("your own administrator rights"),
        "{message}"
    );
    is_conflict(f.users.set_roles(&root2, "root2", &[]), "own roles");
    is_conflict(f.users.set_disabled(&root2, "ROOT2", true), "disable self");
    let weaker = Role::new(
        "superadmin",
        vec![Grant::everywhere(Permission::PtzControl)],
        100,
    )
    .expect("role");
    is_conflict(
        f.users.put_role(&root2, &weaker, json!({})),
        "drop the grant of one's own role",
    );
    is_conflict(f.users.remove_user(&root2, "root2"), "delete self");
    // Someone who is no stored user (the local CLI) may not remove the last one either.
    let local = local_operator("cli:ops");
    let message = is_conflict(f.users.set_roles(&local, "root2", &[]), "last admin");
    assert!(message.contains("no enabled user"), "{message}");
    is_conflict(
        f.users.remove_user(&local, "root2"),
        "delete the last admin",
    );
    is_conflict(
        f.users.set_disabled(&local, "root2", true),
        "disable the last admin",
    );
    is_conflict(
        f.users.remove_role(&local, "superadmin"),
        "delete the last admin's role",
    );
    is_conflict(
        f.users.put_role(&local, &weaker, json!({})),
        "drop the last admin's grant",
    );
    assert_eq!(administrators(f.store.as_ref()), ["root2"]);
    // A demoted administrator's principal, still cached by a client, is refused.
    f.users
        .set_roles(&local, ADMIN_USER, &strings(&["admin"]))
        .expect("admin back");
    let admin = f.users.authenticate(ADMIN_USER, PASSWORD).expect("admin");
    f.users
        .set_roles(&admin, "root2", &strings(&["operator"]))
        .expect("root2 demoted");
    let err = f
        .users
        .set_roles(&root2, ADMIN_USER, &[])
        .expect_err("root2 is no longer an administrator");
    assert!(matches!(err, UsersError::Forbidden(_)), "{err:?}");
    assert_eq!(administrators(f.store.as_ref()), ["admin"]);
    // Each refused change left no audit entry; each change left one.
    let roles_entries = f
        .store
        .audit_entries(0, 1_000)
        .expect("audit")
        .into_iter()
        .filter(|e| e.action == "user.roles")
        .count();
    assert_eq!(roles_entries, 3);
}

/// Two administrators demote each other at the same moment, each through its
/// own connection to the store file (as two processes would): one of the two
/// changes must be refused, every time.
#[test]
fn concurrent_demotions_through_two_connections_leave_an_administrator() {
    let dir = std::env::temp_dir().join(format!("tandem-admins-race-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("tandem.db");
    let one: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("store"));
    let two: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).expect("second connection"));
    let (users_one, users_two) = (Users::new(one.clone()), Users::new(two.clone()));
    users_one
        .ensure_admin(Some(PASSWORD.into()))
        .expect("admin");
    users_one
        .create_user("ada", PASSWORD, &strings(&["admin"]))
        .expect("ada");
    let local = local_operator("cli:test");
    for round in 0..10 {
        let admin = users_one.authenticate(ADMIN_USER, PASSWORD).expect("admin");
        let ada = users_two.authenticate("ada", PASSWORD).expect("ada");
        let barrier = std::sync::Barrier::new(2);
        let (first, second) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                barrier.wait();
                users_one.set_roles(&admin, "ada", &[])
            });
            let b = s.spawn(|| {
                barrier.wait();
                users_two.set_roles(&ada, ADMIN_USER, &[])
            });
            (a.join().expect("thread"), b.join().expect("thread"))
        });
        assert!(
            first.is_ok() != second.is_ok(),
            "round {round}: exactly one demotion goes through: {first:?} {second:?}"
        );
        assert_eq!(administrators(one.as_ref()).len(), 1, "round {round}");
        for name in [ADMIN_USER, "ada"] {
            users_one
                .set_roles(&local, name, &strings(&["admin"]))
                .expect("restore");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn user_and_role_names_are_unique_whatever_their_case_and_logins_ignore_it() {
    let f = fixture();
    let (admin, _) = two_admins(&f);
    for taken in ["ADMIN", "Admin", "ROOT2"] {
        let err = f
            .users
            .add_user(&admin, taken, PASSWORD, &[])
            .expect_err(taken);
        assert!(matches!(err, UsersError::Conflict(_)), "{taken}: {err:?}");
    }
    let role = Role::new("Operator", vec![], 10).expect("role");
    let err = f
        .users
        .put_role(&admin, &role, json!({}))
        .expect_err("alike");
    assert_eq!(err.kind(), tandem_core::ErrorKind::Conflict, "{err}");
    let (who, _) = log_in(&f.users, "ADMIN", PASSWORD).expect("a login ignores case");
    assert_eq!(who.user, "admin");
    f.users
        .set_roles(&admin, "Root2", &strings(&["SUPERADMIN", "operator"]))
        .expect("names matched without regard to case");
    assert_eq!(
        f.store.user("root2").expect("read").expect("root2").roles,
        ["operator", "superadmin"]
    );
}

#[test]
fn new_passwords_follow_the_policy_with_messages_that_say_why() {
    let f = fixture();
    let (admin, _) = two_admins(&f);
    for (password, says) in [
        ("short-one", "at least 12"),
        ("vera-at-the-harbour", "user name"),
        ("Password2024!", "too common"),
        ("abababababab", "different"),
    ] {
        match f.users.add_user(&admin, "vera", password, &[]) {
            Err(UsersError::InvalidInput(message)) => {
                assert!(message.contains(says), "{password}: {message}")
            }
            other => panic!("{password}: {other:?}"),
        }
    }
    assert!(f.store.user("vera").expect("read").is_none());
    f.users
        .add_user(&admin, "vera", "tulip kettle harbour", &[])
        .expect("a good one");
}

#[test]
fn a_password_change_needs_the_current_one_and_ends_the_other_sessions() {
    let f = fixture();
    f.users
        .create_user("olga", PASSWORD, &strings(&["operator"]))
        .expect("olga");
    let (olga, here) = log_in(&f.users, "olga", PASSWORD).expect("login");
    let (_, elsewhere) = log_in(&f.users, "olga", PASSWORD).expect("login");
    let (token, _) = f.users.issue_token("olga", "script").expect("token");
    let wrong = f.users.change_password(
        &olga,
        "not it",
        "tulip kettle harbour",
        ip("10.0.0.1"),
        Some(&here),
    );
    assert!(matches!(wrong, Err(LoginError::Auth(_))), "{wrong:?}");
    let weak = f.users.change_password(
        &olga,
        PASSWORD,
        "olga-2025-olga",
        ip("10.0.0.1"),
        Some(&here),
    );
    assert!(
        matches!(weak, Err(LoginError::Users(UsersError::InvalidInput(_)))),
        "{weak:?}"
    );
    let ended = f
        .users
        .change_password(
            &olga,
            PASSWORD,
            "tulip kettle harbour",
            ip("10.0.0.1"),
            Some(&here),
        )
        .expect("changed");
    assert_eq!(ended, 1);
    assert!(
        f.users.principal_for_session(&here).is_ok(),
        "this session stays"
    );
    assert!(matches!(
        f.users.principal_for_session(&elsewhere),
        Err(AuthError::BadSession)
    ));
    assert!(f.users.principal_for_token(&token).is_ok(), "tokens stay");
    assert!(log_in(&f.users, "olga", PASSWORD).is_err());
    assert!(log_in(&f.users, "olga", "tulip kettle harbour").is_ok());
    // Guessing the current password through a stolen session is limited like a login.
    let mut refused = false;
    for _ in 0..10 {
        let r = f.users.change_password(
            &olga,
            "guess",
            "another good passphrase",
            ip("10.0.0.1"),
            None,
        );
        refused |= matches!(r, Err(LoginError::Refused(_)));
    }
    assert!(refused, "limited");
}

#[test]
fn a_disabled_user_cannot_log_in_and_their_sessions_and_tokens_stop_at_once() {
    let f = fixture();
    let (admin, _) = two_admins(&f);
    f.users
        .create_user("olga", PASSWORD, &strings(&["operator"]))
        .expect("olga");
    let (_, session) = log_in(&f.users, "olga", PASSWORD).expect("login");
    let (token, _) = f.users.issue_token("olga", "script").expect("token");
    assert!(f.users.principal_for_token(&token).is_ok(), "cached now");
    f.users.set_disabled(&admin, "olga", true).expect("disable");
    assert!(matches!(
        f.users.principal_for_token(&token),
        Err(AuthError::BadToken)
    ));
    assert!(matches!(
        f.users.principal_for_session(&session),
        Err(AuthError::BadSession)
    ));
    assert!(matches!(
        log_in(&f.users, "olga", PASSWORD),
        Err(LoginError::Auth(_))
    ));
    assert!(
        f.store.sessions("olga", t(0)).expect("sessions").is_empty(),
        "ended, not only refused"
    );
    f.users.set_disabled(&admin, "olga", false).expect("enable");
    assert!(
        f.users.principal_for_token(&token).is_ok(),
        "the token works again"
    );
    assert!(log_in(&f.users, "olga", PASSWORD).is_ok());
}

#[test]
fn a_reset_password_ends_every_session_and_unlocks_the_user() {
    let f = fixture();
    let (admin, _) = two_admins(&f);
    f.users.create_user("olga", PASSWORD, &[]).expect("olga");
    let (_, session) = log_in(&f.users, "olga", PASSWORD).expect("login");
    for _ in 0..5 {
        assert!(matches!(
            log_in(&f.users, "olga", "wrong guess"),
            Err(LoginError::Auth(_))
        ));
    }
    assert!(matches!(
        log_in(&f.users, "olga", PASSWORD),
        Err(LoginError::Refused(_))
    ));
    f.users
        .reset_password(&admin, "olga", "tulip kettle harbour")
        .expect("reset");
    assert!(f.users.principal_for_session(&session).is_err());
    assert!(
        log_in(&f.users, "olga", "tulip kettle harbour").is_ok(),
        "unlocked"
    );
    let err = f
        .users
        .reset_password(&admin, ADMIN_USER, "tulip kettle harbour")
        .expect_err("not one's own");
    assert!(matches!(err, UsersError::Conflict(_)), "{err:?}");
}

#[test]
fn users_see_and_end_their_own_sessions_and_administrators_anyones() {
    let f = fixture();
    let (admin, _) = two_admins(&f);
    f.users.create_user("olga", PASSWORD, &[]).expect("olga");
    f.users.create_user("nina", PASSWORD, &[]).expect("nina");
    let (olga, here) = log_in(&f.users, "olga", PASSWORD).expect("login");
    log_in(&f.users, "olga", PASSWORD).expect("login");
    log_in(&f.users, "olga", PASSWORD).expect("login");
    let sessions = f.users.sessions_of(&olga, "olga").expect("own");
    assert_eq!(sessions.len(), 3);
    let nina = f.users.authenticate("nina", PASSWORD).expect("nina");
    assert!(matches!(
        f.users.sessions_of(&nina, "olga"),
        Err(UsersError::Forbidden(_))
    ));
    assert!(matches!(
        f.users.end_sessions(&nina, "olga", None, None),
        Err(UsersError::Forbidden(_))
    ));
    assert!(matches!(
        f.users.tokens_of_user(&nina, "olga"),
        Err(UsersError::Forbidden(_))
    ));
    assert_eq!(
        f.users
            .end_sessions(&olga, "olga", None, Some(&here))
            .expect("others"),
        2
    );
    let remaining = f.users.sessions_of(&admin, "olga").expect("admin sees");
    assert_eq!(remaining.len(), 1);
    assert!(matches!(
        f.users
            .end_sessions(&admin, "olga", Some("0000000000000000"), None),
        Err(UsersError::NotFound(_))
    ));
    assert_eq!(
        f.users
            .end_sessions(&admin, "olga", Some(&remaining[0].id), None)
            .expect("one"),
        1
    );
    assert!(f.users.principal_for_session(&here).is_err());
}

#[test]
fn refused_logins_are_audited_once_per_address_and_minute_with_a_count() {
    let f = fixture();
    f.users.create_user("olga", PASSWORD, &[]).expect("olga");
    let entries = |action: &str| -> Vec<serde_json::Value> {
        f.store
            .audit_entries(0, 10_000)
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == action)
            .map(|e| json!({ "actor": e.actor, "after": e.after }))
            .collect()
    };
    let long = format!("=HYPERLINK(\"x\")\r\n\u{202E}{}", "x".repeat(60_000));
    for _ in 0..20 {
        assert!(matches!(
            f.users
                .login(&long, "pw", ip("192.0.2.1"), Duration::from_secs(60)),
            Err(LoginError::Auth(_))
        ));
    }
    for _ in 0..300 {
        let refused = f
            .users
            .login(&long, "pw", ip("192.0.2.1"), Duration::from_secs(60));
        assert!(matches!(
            refused,
            Err(LoginError::Refused(LoginRefused { .. }))
        ));
    }
    let failed = entries("login.failed");
    assert_eq!(failed.len(), 20);
    let actor = failed[0]["actor"].as_str().expect("actor");
    assert_eq!(
        actor.chars().count(),
        65,
        "64 characters and the formula guard: {actor}"
    );
    assert!(actor.starts_with("'=HYPERLINK"), "{actor}");
    assert!(
        !actor.chars().any(|c| c.is_control() || c == '\u{202E}'),
        "{actor:?}"
    );
    assert_eq!(entries("login.refused").len(), 1, "the first at once");
    f.clock.set(t(59));
    assert_eq!(
        f.users.flush_refusals().expect("flush"),
        0,
        "the minute is not over"
    );
    f.clock.set(t(61));
    assert_eq!(f.users.flush_refusals().expect("flush"), 1);
    let refused = entries("login.refused");
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[1]["after"]["refused"], 299, "{}", refused[1]);
    assert_eq!(refused[1]["after"]["address"], "192.0.2.1");
    assert_eq!(f.users.flush_refusals().expect("flush"), 0, "written once");
}
