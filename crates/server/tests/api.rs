//! The service through its router: authentication on every route, the
//! role-permission matrix, PTZ priority and control expiry, and failover of
//! live commands sent through the API while the primary dies.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt as _;
use tandem_access::Users;
use tandem_access::users::role_record;
use tandem_core::access::{Grant, Permission, Role};
use tandem_core::{CameraId, SiteId};
use tandem_engine::engine::{Engine, RetryPolicy};
use tandem_engine::live::{HealthPolicy, Live};
use tandem_engine::sites::{BindingSpec, CameraSpec, SiteSpec, Topology};
use tandem_onvif::Credentials;
use tandem_server::{AppState, app};
use tandem_sim::world::Faults;
use tandem_sim::{SimConfig, Simulator};
use tandem_store::SqliteStore;
use tandem_store::prelude::*;
use tower::ServiceExt as _;

struct World {
    sim: Arc<Simulator>,
    state: AppState,
    /// The test's own handle on the service's store, to check what it holds.
    store: Arc<SqliteStore>,
}

async fn world(cameras: usize) -> World {
    world_with_groups(cameras, |_| Vec::new()).await
}

/// A world whose camera `c` (1-based) is in `groups(c)`.
async fn world_with_groups(cameras: usize, groups: impl Fn(usize) -> Vec<String>) -> World {
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    world_on(store, cameras, groups).await
}

/// A world on `store`.
async fn world_on(
    store: Arc<SqliteStore>,
    cameras: usize,
    groups: impl Fn(usize) -> Vec<String>,
) -> World {
    let sim = Simulator::start(SimConfig {
        cameras,
        seed_presets: 3,
        ..SimConfig::default()
    })
    .await
    .expect("sim");
    let sites = vec![
        SiteSpec {
            id: SiteId::from("primary"),
            priority: 1,
            kind: Default::default(),
        },
        SiteSpec {
            id: SiteId::from("secondary"),
            priority: 2,
            kind: Default::default(),
        },
    ];
    let camera_specs = (1..=cameras)
        .map(|c| CameraSpec {
            id: CameraId(format!("cam-{c}")),
            name: format!("Camera {c}"),
            tolerance: 0.001,
            groups: groups(c),
            reserved: Default::default(),
            vendor: None,
            optics: Default::default(),
            bindings: sim
                .endpoints()
                .into_iter()
                .filter(|e| e.camera == c)
                .map(|e| BindingSpec {
                    site: sites[e.site - 1].id.clone(),
                    url: e.device_url,
                    credentials: Some(Credentials::new(e.username, e.password)),
                    profile: None,
                    xprotect_camera: None,
                    onvif_url: None,
                })
                .collect(),
        })
        .collect();
    let topology = Topology {
        sites,
        cameras: camera_specs,
        call_timeout: Duration::from_secs(2),
        per_site_in_flight: 32,
    };
    let engine = Engine::new(store.clone(), &topology, Duration::from_secs(10))
        .expect("engine")
        .with_retry(RetryPolicy {
            first: Duration::from_millis(50),
            max: Duration::from_millis(300),
        });
    let policy = HealthPolicy {
        command_timeout: Duration::from_millis(300),
        // Long enough that a loaded machine cannot lapse a hold between two
        // calls the tests expect it to last through; short enough to wait out.
        control_idle: Duration::from_millis(1500),
        ..HealthPolicy::default()
    };
    let live = Live::new(engine.clone(), policy).expect("live");
    let users = Arc::new(Users::new(store.clone()));
    let state = AppState::new(engine, live, users);
    state
        .users
        .ensure_admin(Some("admin-password".into()))
        .expect("admin");
    World { sim, state, store }
}

impl World {
    /// A user holding one role with these permissions on all cameras; returns an API token.
    fn user(&self, name: &str, permissions: &[Permission], priority: u16) -> String {
        let grants = permissions.iter().map(|p| Grant::everywhere(*p)).collect();
        let role = Role::new(format!("role-{name}"), grants, priority).expect("role");
        self.store
            .upsert_role(&role_record(&role))
            .expect("role stored");
        self.state
            .users
            .create_user(name, "long-enough-password", &[format!("role-{name}")])
            .expect("user");
        self.state.users.issue_token(name, "test").expect("token").0
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(json) => request
                .header("content-type", "application/json")
                .body(Body::from(json.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = app(self.state.clone())
            .oneshot(request)
            .await
            .expect("answer");
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }
}

#[tokio::test]
async fn every_route_refuses_anonymous_requests_but_health_and_login() {
    let w = world(1).await;
    let (_, openapi) = tandem_server::routes::api().split_for_parts();
    let open = ["/healthz", "/readyz", "/api/v1/login"];
    let mut checked = 0;
    for (path, item) in openapi.paths.paths.iter() {
        let uri = path
            .replace("{camera}", "cam-1")
            .replace("{number}", "1")
            .replace("{id}", "1")
            .replace("{name}", "someone");
        let methods = [
            (item.get.is_some(), Method::GET),
            (item.post.is_some(), Method::POST),
            (item.put.is_some(), Method::PUT),
            (item.patch.is_some(), Method::PATCH),
            (item.delete.is_some(), Method::DELETE),
        ];
        for (present, method) in methods {
            if !present {
                continue;
            }
            let body = matches!(method, Method::POST | Method::PUT | Method::PATCH)
                .then(|| serde_json::json!({}));
            let (status, problem) = w.call(method.clone(), &uri, None, body).await;
            checked += 1;
            if open.contains(&path.as_str()) {
                assert_ne!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} must be open"
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::UNAUTHORIZED,
                    "{method} {path} answered anonymously"
                );
                assert_eq!(problem["status"], 401, "problem+json body");
            }
        }
    }
    let (status, _) = w.call(Method::GET, "/api/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(checked >= 35, "walked {checked} routes");
}

#[tokio::test]
async fn each_permission_allows_exactly_its_actions() {
    let w = world(1).await;
    // The first scan takes the primary's presets as the camera's list.
    w.state
        .engine
        .scan_camera(&CameraId::from("cam-1"))
        .await
        .expect("scan");
    use Permission::*;
    let permissions = [
        PtzControl,
        PresetRecall,
        PresetManage,
        MismatchResolve,
        Admin,
    ];
    // (method, uri, body, the permission it needs)
    let actions: Vec<(Method, &str, Option<serde_json::Value>, Permission)> = vec![
        (
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/stop",
            None,
            PtzControl,
        ),
        (
            Method::POST,
            "/api/v1/cameras/cam-1/presets/1/recall",
            None,
            PresetRecall,
        ),
        (
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(
                serde_json::json!({ "name": "New", "position": { "pan": 0.1, "tilt": 0.0, "zoom": 0.0 } }),
            ),
            PresetManage,
        ),
        (
            Method::POST,
            "/api/v1/cameras/cam-1/repair",
            Some(serde_json::json!({ "from": "primary", "dry_run": true })),
            MismatchResolve,
        ),
        (Method::GET, "/api/v1/users", None, Admin),
    ];
    for (i, granted) in permissions.iter().enumerate() {
        let token = w.user(&format!("user{i}"), &[*granted], 1000);
        for (method, uri, body, needed) in &actions {
            // Release any control left by an earlier user, so priority plays no part here.
            let previous = tandem_access::local_operator(format!("user{}", i.saturating_sub(1)));
            w.state
                .live
                .release(&previous, &CameraId::from("cam-1"))
                .expect("release");
            // A camera's preset names are unique: each user adds its own.
            let mut body = body.clone();
            if let Some(name) = body.as_mut().and_then(|b| b.get_mut("name")) {
                *name = format!("New {i}").into();
            }
            let (status, problem) = w.call(method.clone(), uri, Some(&token), body).await;
            let allowed = granted == needed || *granted == Admin;
            if allowed {
                assert!(
                    status.is_success(),
                    "{} on {method} {uri}: {status} {problem}",
                    granted.as_str()
                );
            } else {
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{} on {method} {uri}: {problem}",
                    granted.as_str()
                );
            }
        }
    }
}

#[tokio::test]
async fn higher_priority_takes_over_and_idle_control_expires() {
    let w = world(1).await;
    let ann = w.user("ann", &[Permission::PtzControl], 1000);
    let bob = w.user("bob", &[Permission::PtzControl], 1000);
    let boss = w.user("boss", &[Permission::PtzControl], 5000);
    let stop = "/api/v1/cameras/cam-1/ptz/stop";
    assert_eq!(
        w.call(Method::POST, stop, Some(&ann), None).await.0,
        StatusCode::OK
    );
    let (status, problem) = w.call(Method::POST, stop, Some(&bob), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("ann")),
        "{problem}"
    );
    assert_eq!(
        w.call(Method::POST, stop, Some(&boss), None).await.0,
        StatusCode::OK,
        "higher priority takes over"
    );
    let (_, control) = w
        .call(
            Method::GET,
            "/api/v1/cameras/cam-1/control",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(control["user"], "boss");
    assert_eq!(
        w.call(Method::POST, stop, Some(&ann), None).await.0,
        StatusCode::CONFLICT
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(
        w.call(Method::POST, stop, Some(&ann), None).await.0,
        StatusCode::OK,
        "boss's control expired"
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_and_changes_nothing() {
    let w = world(1).await;
    let admin = w.user("root", &[Permission::Admin], 32000);
    let uri = "/api/v1/cameras/cam-1/presets";
    let cases = [
        serde_json::json!({ "name": "" }),
        serde_json::json!({ "name": "x".repeat(65) }),
        serde_json::json!({ "name": "ok", "position": { "pan": 2.0, "tilt": 0, "zoom": 0 } }),
        serde_json::json!({ "name": "ok", "number": 0, "position": { "pan": 0, "tilt": 0, "zoom": 0 } }),
        serde_json::json!({ "name": "ok", "surprise": 1 }),
    ];
    for body in cases {
        let (status, problem) = w
            .call(Method::POST, uri, Some(&admin), Some(body.clone()))
            .await;
        assert!(status.is_client_error(), "{body}: {status}");
        assert!(problem["detail"].is_string(), "{problem}");
    }
    let (status, _) = w
        .call(
            Method::GET,
            "/api/v1/cameras/nope/presets",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let request = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(format!(
            "{{\"name\":\"{}\"}}",
            "a".repeat(200_000)
        )))
        .expect("request");
    let status = app(w.state.clone())
        .oneshot(request)
        .await
        .expect("answer")
        .status();
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        w.store
            .presets(&CameraId::from("cam-1"))
            .expect("presets")
            .len(),
        0
    );
}

#[tokio::test]
async fn killing_the_primary_during_1000_api_moves_fails_none() {
    let w = world(1).await;
    let monitor = w.state.live.spawn_monitor();
    let op = w.user("op", &[Permission::PtzControl], 1000);
    let mut ticker = tokio::time::interval(Duration::from_millis(20));
    let (mut failed, mut by_secondary) = (0, 0);
    for i in 0..1000 {
        ticker.tick().await;
        if i == 300 {
            w.sim.set_faults(
                1,
                Faults {
                    down: true,
                    ..Faults::default()
                },
            );
        }
        let (uri, body) = if i % 2 == 0 {
            (
                "/api/v1/cameras/cam-1/ptz/continuous",
                Some(
                    serde_json::json!({ "pan": 0.3, "tilt": 0.0, "zoom": 0.0, "timeout_ms": 500 }),
                ),
            )
        } else {
            ("/api/v1/cameras/cam-1/ptz/stop", None)
        };
        let (status, served) = w.call(Method::POST, uri, Some(&op), body).await;
        if status != StatusCode::OK {
            failed += 1;
        } else if served["site"] == "secondary" {
            by_secondary += 1;
        }
    }
    monitor.abort();
    println!(
        "API failover: 1000 commands at 50/s, primary killed at 300: {failed} failed, {by_secondary} served by the secondary"
    );
    assert_eq!(failed, 0);
    assert_eq!(by_secondary, 700);
    let (_, sites) = w.call(Method::GET, "/api/v1/sites", Some(&op), None).await;
    assert_eq!(sites[1]["active"], true, "{sites}");
}

#[tokio::test]
async fn a_grant_on_a_camera_group_covers_only_that_group() {
    use tandem_core::access::Scope;
    let w = world_with_groups(2, |c| {
        if c == 2 {
            vec!["north".to_string()]
        } else {
            Vec::new()
        }
    })
    .await;
    let grant = Grant {
        permission: Permission::PtzControl,
        scope: Scope::group("north").expect("group"),
    };
    let role = Role::new("north-operator", vec![grant], 1000).expect("role");
    w.store.upsert_role(&role_record(&role)).expect("role");
    w.state
        .users
        .create_user(
            "nora",
            "long-enough-password",
            &["north-operator".to_string()],
        )
        .expect("user");
    let token = w.state.users.issue_token("nora", "test").expect("token").0;
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-2/ptz/stop",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/stop",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// A user with the given roles (names of roles already stored); answers an
/// API token and its id.
fn user_with_roles(w: &World, name: &str, roles: &[&str]) -> (String, i64) {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    w.state
        .users
        .create_user(name, "long-enough-password", &roles)
        .expect("user");
    let (secret, record) = w.state.users.issue_token(name, "test").expect("token");
    (secret, record.id.0)
}

/// Opens the event stream with `authorization` (a header name and value).
async fn event_stream(w: &World, header: (&str, &str)) -> Body {
    let request = Request::builder()
        .uri("/api/v1/events")
        .header(header.0, header.1)
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    response.into_body()
}

/// Reads `body` until `done` holds for what arrived, or `wait` passes;
/// answers the text and whether the stream ended.
async fn read_events(
    body: &mut Body,
    wait: Duration,
    done: impl Fn(&str) -> bool,
) -> (String, bool) {
    let deadline = tokio::time::Instant::now() + wait;
    let mut text = String::new();
    while !done(&text) {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return (text, false),
            Ok(None) | Ok(Some(Err(_))) => return (text, true),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    text.push_str(&String::from_utf8_lossy(&data));
                }
            }
        }
    }
    (text, false)
}

#[tokio::test]
async fn a_user_without_roles_sees_no_camera_and_gets_no_event() {
    let w = world(1).await;
    let _live = w.state.spawn_live_forwarder();
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let (nobody, _) = user_with_roles(&w, "nobody", &[]);
    let mut admin_events = event_stream(&w, ("authorization", &format!("Bearer {admin}"))).await;
    let mut nobody_events = event_stream(&w, ("authorization", &format!("Bearer {nobody}"))).await;
    let body =
        serde_json::json!({ "name": "Seen", "position": { "pan": 0.3, "tilt": 0.0, "zoom": 0.0 } });
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/stop",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let position = serde_json::json!({ "pan": 0.1, "tilt": 0.0, "zoom": 0.0 });
    let refused: [(Method, &str, Option<serde_json::Value>); 10] = [
        (Method::GET, "/api/v1/cameras/cam-1/snapshot", None),
        (Method::POST, "/api/v1/cameras/cam-1/look", Some(position)),
        (Method::GET, "/api/v1/mismatches?camera=cam-1", None),
        (Method::GET, "/api/v1/operations?camera=cam-1", None),
        (Method::GET, "/api/v1/cameras/cam-1/control", None),
        (Method::DELETE, "/api/v1/cameras/cam-1/control", None),
        (Method::GET, "/api/v1/cameras/cam-1/ptz/status", None),
        (Method::GET, "/api/v1/sites", None),
        (Method::GET, "/api/v1/sites/history", None),
        (Method::GET, "/metrics", None),
    ];
    for (method, uri, body) in refused {
        let (status, problem) = w.call(method.clone(), uri, Some(&nobody), body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {uri}: {problem}");
    }
    // Lists answer, without what the user may not see.
    for uri in [
        "/api/v1/cameras",
        "/api/v1/operations",
        "/api/v1/mismatches",
    ] {
        let (status, list) = w.call(Method::GET, uri, Some(&nobody), None).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert_eq!(list, serde_json::json!([]), "{uri}");
    }
    let (_, ops) = w
        .call(Method::GET, "/api/v1/operations", Some(&admin), None)
        .await;
    assert!(
        ops.as_array().is_some_and(|ops| !ops.is_empty()),
        "the admin sees them: {ops}"
    );
    // The admin's stream got the operation and the control change; by then
    // the other stream had them too, had they been sent to it.
    let (seen, _) = read_events(&mut admin_events, Duration::from_secs(5), |t| {
        t.contains("event: operation") && t.contains("event: control")
    })
    .await;
    assert!(seen.contains("Seen"), "{seen}");
    let (leaked, _) = read_events(&mut nobody_events, Duration::from_millis(500), |t| {
        t.contains("event:")
    })
    .await;
    assert!(
        !leaked.contains("event:"),
        "no event for a user without roles: {leaked}"
    );
}

#[tokio::test]
async fn a_grant_on_one_camera_group_shows_only_that_groups_cameras_and_events() {
    use tandem_core::access::Scope;
    let w = world_with_groups(2, |c| {
        if c == 2 {
            vec!["north".to_string()]
        } else {
            Vec::new()
        }
    })
    .await;
    let _live = w.state.spawn_live_forwarder();
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let grants = [Permission::PresetRecall, Permission::PtzControl]
        .into_iter()
        .map(|permission| Grant {
            permission,
            scope: Scope::group("north").expect("group"),
        })
        .collect();
    let role = Role::new("north-viewer", grants, 1000).expect("role");
    w.store.upsert_role(&role_record(&role)).expect("role");
    let (nora, _) = user_with_roles(&w, "nora", &["north-viewer"]);
    let mut events = event_stream(&w, ("authorization", &format!("Bearer {nora}"))).await;

    for camera in ["cam-1", "cam-2"] {
        let body = serde_json::json!({ "name": format!("On {camera}"), "position": { "pan": 0.2, "tilt": 0.0, "zoom": 0.0 } });
        let (status, _) = w
            .call(
                Method::POST,
                &format!("/api/v1/cameras/{camera}/presets"),
                Some(&admin),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        w.call(
            Method::POST,
            &format!("/api/v1/cameras/{camera}/ptz/stop"),
            Some(&admin),
            None,
        )
        .await;
    }
    let (_, cameras) = w
        .call(Method::GET, "/api/v1/cameras", Some(&nora), None)
        .await;
    let ids: Vec<&str> = cameras
        .as_array()
        .expect("cameras")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, ["cam-2"]);
    let (_, ops) = w
        .call(Method::GET, "/api/v1/operations", Some(&nora), None)
        .await;
    let mut cameras_of_ops: Vec<&str> = ops
        .as_array()
        .expect("ops")
        .iter()
        .filter_map(|o| o["camera"].as_str())
        .collect();
    cameras_of_ops.dedup();
    assert_eq!(cameras_of_ops, ["cam-2"], "{ops}");
    let snapshot = |camera: &str| format!("/api/v1/cameras/{camera}/snapshot");
    assert_eq!(raw(&w, &snapshot("cam-1"), &nora, "").await.0, 403);
    assert_eq!(raw(&w, &snapshot("cam-2"), &nora, "").await.0, 200);
    // A scan without a list scans the user's cameras only.
    let (status, scanned) = w
        .call(
            Method::POST,
            "/api/v1/scans",
            Some(&nora),
            Some(serde_json::json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{scanned}");
    assert_eq!(scanned.as_array().map(Vec::len), Some(1), "{scanned}");
    assert_eq!(scanned[0]["camera"], "cam-2");

    let (text, _) = read_events(&mut events, Duration::from_secs(5), |t| {
        t.contains("On cam-2") && t.contains("event: control") && t.contains("event: mismatches")
    })
    .await;
    assert!(text.contains("On cam-2"), "{text}");
    assert!(!text.contains("cam-1"), "nothing about cam-1: {text}");
}

#[tokio::test]
async fn event_streams_end_within_a_second_of_revocation_logout_or_deletion() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let ended_after = |mut body: Body| async move {
        let started = tokio::time::Instant::now();
        let (text, ended) = read_events(&mut body, Duration::from_secs(5), |_| false).await;
        assert!(ended, "the stream still runs after 5 s: {text}");
        started.elapsed()
    };

    // A revoked token.
    let (token, id) = user_with_roles(&w, "tokened", &["operator"]);
    let stream = event_stream(&w, ("authorization", &format!("Bearer {token}"))).await;
    let (status, _) = w
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let took = ended_after(stream).await;
    assert!(
        took < Duration::from_secs(1),
        "revoked token's stream ended after {took:?}"
    );

    // A session logged out.
    let cookie = login(&w, "tokened", "long-enough-password").await;
    let stream = event_stream(&w, ("cookie", &cookie)).await;
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/logout")
        .header("cookie", &cookie)
        .header("host", "tandem.test")
        .header("origin", "http://tandem.test")
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let took = ended_after(stream).await;
    assert!(
        took < Duration::from_secs(1),
        "logged-out stream ended after {took:?}"
    );

    // The user deleted, with another token and session still open.
    let (token, _) = {
        let (secret, record) = w
            .state
            .users
            .issue_token("tokened", "other")
            .expect("token");
        (secret, record.id.0)
    };
    let stream = event_stream(&w, ("authorization", &format!("Bearer {token}"))).await;
    let (status, _) = w
        .call(Method::DELETE, "/api/v1/users/tokened", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let took = ended_after(stream).await;
    assert!(
        took < Duration::from_secs(1),
        "deleted user's stream ended after {took:?}"
    );
}

/// Logs `user` in through the API; answers the session cookie (`name=value`).
async fn login(w: &World, user: &str, password: &str) -> String {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/login")
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({ "username": user, "password": password }).to_string(),
        ))
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK, "login of {user}");
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

/// Sends a bodyless request with these headers; answers the status and the body as JSON.
async fn send(
    w: &World,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(w.state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("answer");
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn a_cross_origin_post_with_the_session_cookie_is_refused_and_same_origin_works() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let cookie = login(&w, "boss", "long-enough-password").await;
    let reserve = "/api/v1/cameras/cam-1/reserve";
    let host = ("host", "127.0.0.1:8080");
    let holder = || async {
        w.call(
            Method::GET,
            "/api/v1/cameras/cam-1/control",
            Some(&admin),
            None,
        )
        .await
        .1["user"]
            .clone()
    };

    // A page on another port of the same host posts a form: refused twice over.
    let (status, problem) = send(
        &w,
        Method::POST,
        reserve,
        &[
            ("cookie", &cookie),
            host,
            ("origin", "http://127.0.0.1:9999"),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{problem}");
    for refused in [
        vec![
            ("cookie", cookie.as_str()),
            host,
            ("origin", "http://127.0.0.1:9999"),
        ],
        vec![("cookie", cookie.as_str()), host, ("origin", "null")],
        vec![
            ("cookie", cookie.as_str()),
            host,
            ("sec-fetch-site", "same-site"),
        ],
        vec![("cookie", cookie.as_str()), host],
    ] {
        let (status, problem) = send(&w, Method::POST, reserve, &refused).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused:?}: {problem}");
        assert_eq!(problem["code"], "cross_origin");
    }
    assert_eq!(holder().await, serde_json::Value::Null, "nothing reserved");

    // The console's own requests: Origin is this service (or, without it,
    // the browser says same-origin).
    let (status, answer) = send(
        &w,
        Method::POST,
        reserve,
        &[
            ("cookie", &cookie),
            host,
            ("origin", "http://127.0.0.1:8080"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(holder().await, "boss");
    let (status, _) = send(
        &w,
        Method::DELETE,
        "/api/v1/cameras/cam-1/control",
        &[("cookie", &cookie), host, ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(holder().await, serde_json::Value::Null);
    // Reads need no origin; tokens are exempt (a browser never adds one).
    let (status, _) = send(&w, Method::GET, "/api/v1/me", &[("cookie", &cookie), host]).await;
    assert_eq!(status, StatusCode::OK);
    let bearer = format!("Bearer {admin}");
    let (status, _) = send(&w, Method::POST, reserve, &[("authorization", &bearer)]).await;
    assert_eq!(status, StatusCode::OK);
    // A form content type is refused even with a token.
    let (status, _) = send(
        &w,
        Method::POST,
        "/api/v1/cameras/cam-1/ptz/stop",
        &[("authorization", &bearer), ("content-type", "text/plain")],
    )
    .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn every_answer_says_no_store_nosniff_and_no_referrer() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let viewer = w.user("vic", &[Permission::PresetRecall], 10);
    let bearer = format!("Bearer {admin}");
    let viewer_bearer = format!("Bearer {viewer}");
    let admin_only = [("authorization", bearer.as_str())];
    let viewer_only = [("authorization", viewer_bearer.as_str())];
    // (method, uri, headers): answers 200, 401, 404, 403 and 415 alike.
    let cases = [
        (Method::GET, "/api/v1/me", &admin_only[..]),
        (Method::GET, "/api/v1/users", &admin_only[..]),
        (Method::GET, "/api/v1/audit?format=csv", &admin_only[..]),
        (Method::GET, "/api/v1/cameras", &[][..]),
        (Method::GET, "/api/v1/nowhere", &admin_only[..]),
        (Method::GET, "/healthz", &[][..]),
        (Method::POST, "/api/v1/login", &[][..]),
        (Method::GET, "/api/v1/users", &viewer_only[..]),
    ];
    for (method, uri, headers) in cases {
        let mut request = Request::builder().method(method.clone()).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = app(w.state.clone())
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("answer");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let what = format!("{method} {uri} ({})", response.status());
        assert_eq!(header("cache-control"), "no-store", "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{what}");
    }
    // A token is shown once, in an answer no cache keeps.
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/tokens")
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(Body::from(r#"{"label":"ci"}"#))
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn error_answers_name_the_site_but_no_address_port_or_os_error() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let leaks = |text: &str| -> Vec<&'static str> {
        [
            "http://",
            "127.0.0.1",
            "/onvif",
            "os error",
            "tcp connect",
            "database",
        ]
        .into_iter()
        .filter(|leak| text.contains(leak))
        .collect()
    };
    w.sim.set_faults(
        2,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let body =
        serde_json::json!({ "name": "Half", "position": { "pan": 0.5, "tilt": 0.0, "zoom": 0.0 } });
    let (status, outcome) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
    let secondary = outcome["sites"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["site"] == "secondary"))
        .cloned()
        .unwrap_or_default();
    let error = secondary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("site secondary") && error.contains("did not answer (connection refused)"),
        "{outcome}"
    );
    assert!(leaks(&outcome.to_string()).is_empty(), "{outcome}");
    let (_, journal) = w
        .call(Method::GET, "/api/v1/operations", Some(&admin), None)
        .await;
    assert!(leaks(&journal.to_string()).is_empty(), "{journal}");
    let (status, scan) = w
        .call(
            Method::POST,
            "/api/v1/scans",
            Some(&admin),
            Some(serde_json::json!({ "cameras": ["cam-1"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        scan[0]["unread"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not answer")),
        "{scan}"
    );
    assert!(leaks(&scan.to_string()).is_empty(), "{scan}");
    let (status, _, body) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot?site=secondary",
        &admin,
        "",
    )
    .await;
    let problem: serde_json::Value = serde_json::from_slice(&body).expect("problem+json");
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("site secondary")),
        "{problem}"
    );
    assert!(leaks(&problem.to_string()).is_empty(), "{problem}");
    assert!(
        problem["error_id"]
            .as_str()
            .is_some_and(|id| id.len() == 12),
        "an id to find the detail in the log: {problem}"
    );
}

#[tokio::test]
async fn a_locked_store_answers_503_busy_without_the_databases_words() {
    let dir = std::env::temp_dir().join(format!("tandem-locked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("tandem.db");
    let store = Arc::new(SqliteStore::open(&path).expect("store"));
    let w = world_on(store, 1, |_| Vec::new()).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    // Another process holds the write lock past the store's busy timeout.
    let other = rusqlite::Connection::open(&path).expect("second connection");
    other.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let request = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/tokens")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(r#"{"label":"while locked"}"#))
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    let status = response.status();
    let retry_after = response.headers().get("retry-after").cloned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(retry_after.is_some(), "Retry-After");
    assert!(
        !text.contains("database") && !text.contains("locked"),
        "the store's own words stay in the log: {text}"
    );
    other.execute_batch("ROLLBACK").expect("unlock");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn refusals_reservations_recalls_and_taking_control_are_audited() {
    let w = world(1).await;
    w.state
        .engine
        .scan_camera(&CameraId::from("cam-1"))
        .await
        .expect("scan");
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let op = w.user(
        "op",
        &[Permission::PtzControl, Permission::PresetRecall],
        1000,
    );
    for _ in 0..3 {
        let (status, _) = w.call(Method::GET, "/api/v1/users", Some(&op), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    for _ in 0..3 {
        let (status, _) = w
            .call(
                Method::POST,
                "/api/v1/cameras/cam-1/ptz/stop",
                Some(&op),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets/1/recall",
            Some(&op),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/reserve",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = w
        .call(
            Method::DELETE,
            "/api/v1/cameras/cam-1/control",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    w.state.engine.flush_all_denials();

    let (status, entries) = w
        .call(Method::GET, "/api/v1/audit?limit=1000", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let of = |action: &str, actor: &str| -> Vec<serde_json::Value> {
        entries
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["action"] == action && e["actor"] == actor)
            .cloned()
            .collect()
    };
    // Refusals: one entry per user, route and minute, with the count (a
    // minute may have turned during the test: then two).
    let denied = of("access.denied", "op");
    assert!((1..=2).contains(&denied.len()), "{entries}");
    let count: u64 = denied
        .iter()
        .map(|e| e["after"]["count"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(count, 3, "{denied:?}");
    assert_eq!(denied[0]["after"]["route"], "GET /api/v1/users");
    // Taking control once, not one entry per command; the admin's
    // reservation took it from the operator.
    assert_eq!(of("control.take", "op").len(), 1, "{entries}");
    let reserved = of("control.reserve", "boss");
    assert_eq!(reserved.len(), 1, "{entries}");
    assert_eq!(reserved[0]["before"]["user"], "op");
    assert_eq!(of("control.release", "boss").len(), 1, "{entries}");
    let recalls = of("preset.recall", "op");
    assert_eq!(recalls.len(), 1, "{entries}");
    assert_eq!(recalls[0]["after"]["number"], 1);
}

#[tokio::test]
async fn releasing_a_camera_someone_else_holds_changes_nothing_and_tells_nobody() {
    let w = world(1).await;
    let _live = w.state.spawn_live_forwarder();
    let ann = w.user("ann", &[Permission::PtzControl], 1000);
    let bob = w.user("bob", &[Permission::PtzControl], 1000);
    let mut events = event_stream(&w, ("authorization", &format!("Bearer {ann}"))).await;
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/stop",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, control) = w
        .call(
            Method::DELETE,
            "/api/v1/cameras/cam-1/control",
            Some(&bob),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(control["user"], "ann", "the hold stays: {control}");
    let (status, _) = w
        .call(
            Method::DELETE,
            "/api/v1/cameras/cam-1/control",
            Some(&ann),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (text, _) = read_events(&mut events, Duration::from_secs(5), |t| {
        t.contains("\"released_by\":\"ann\"")
    })
    .await;
    assert!(text.contains("\"released_by\":\"ann\""), "{text}");
    assert!(
        !text.contains("\"released_by\":\"bob\""),
        "no false release: {text}"
    );
}

/// A service on a loopback port with short connection limits; answers its address.
async fn serve_with(w: &World, limits: tandem_server::ConnectionLimits) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listener");
    let address = listener.local_addr().expect("address");
    tokio::spawn(tandem_server::serve(
        listener,
        w.state.clone(),
        limits,
        std::future::pending(),
    ));
    address
}

/// Reads until the server closes the connection, at most `wait`; answers
/// what arrived, or `None` when it was still open.
async fn read_until_closed(stream: &mut tokio::net::TcpStream, wait: Duration) -> Option<String> {
    use tokio::io::AsyncReadExt as _;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slow_and_idle_connections_are_closed_after_their_timeouts() {
    use tokio::io::AsyncWriteExt as _;
    let w = world(1).await;
    let short = Duration::from_millis(300);
    let address = serve_with(
        &w,
        tandem_server::ConnectionLimits {
            header_timeout: short,
            body_timeout: short,
            idle_timeout: short,
            max_connections: 64,
        },
    )
    .await;
    // Far below the defaults (10 s and more): only the configured limits close these.
    let bound = Duration::from_secs(5);
    let connect = || async {
        tokio::net::TcpStream::connect(address)
            .await
            .expect("connect")
    };

    let mut silent = connect().await;
    assert!(
        read_until_closed(&mut silent, bound).await.is_some(),
        "silent connection kept"
    );

    let mut half_head = connect().await;
    half_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\n")
        .await
        .expect("write");
    assert!(
        read_until_closed(&mut half_head, bound).await.is_some(),
        "half-sent head kept"
    );

    let mut half_body = connect().await;
    half_body
        .write_all(
            b"POST /api/v1/login HTTP/1.1\r\nHost: tandem.test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":",
        )
        .await
        .expect("write");
    let answer = read_until_closed(&mut half_body, bound).await;
    let answer = answer.expect("half-sent body kept");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    let mut idle = connect().await;
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\n\r\n")
        .await
        .expect("write");
    let answer = read_until_closed(&mut idle, bound)
        .await
        .expect("idle keep-alive kept");
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "answered first: {answer}"
    );

    // A client that keeps sending requests is served throughout.
    let mut busy = connect().await;
    for _ in 0..8 {
        busy.write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 1024];
        let n = tokio::io::AsyncReadExt::read(&mut busy, &mut buf)
            .await
            .expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "served");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    use tokio::io::AsyncWriteExt as _;
    let w = world(1).await;
    let address = serve_with(
        &w,
        tandem_server::ConnectionLimits {
            max_connections: 2,
            ..tandem_server::ConnectionLimits::default()
        },
    )
    .await;
    let connect = || async {
        tokio::net::TcpStream::connect(address)
            .await
            .expect("connect")
    };
    let first = connect().await;
    let _second = connect().await;
    // Accepted by the kernel, not served while both slots are taken.
    let mut third = connect().await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tandem.test\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    assert_eq!(
        read_until_closed(&mut third, Duration::from_millis(500)).await,
        None,
        "served beyond the cap"
    );
    drop(first);
    let answer = read_until_closed(&mut third, Duration::from_secs(5))
        .await
        .expect("served once a slot is free");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn admins_manage_roles_and_users_and_logins_are_limited_and_audited() {
    let w = world(1).await;
    let admin = w.user("root", &[Permission::Admin], 32000);
    let role =
        serde_json::json!({ "ptz_priority": 10, "grants": [{ "permission": "preset.recall" }] });
    let (status, body) = w
        .call(
            Method::PUT,
            "/api/v1/roles/viewer",
            Some(&admin),
            Some(role),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let user = serde_json::json!({ "name": "vic", "password": "tulip-kettle-harbour", "roles": ["viewer"] });
    assert_eq!(
        w.call(Method::POST, "/api/v1/users", Some(&admin), Some(user))
            .await
            .0,
        StatusCode::CREATED
    );
    let login = serde_json::json!({ "username": "vic", "password": "tulip-kettle-harbour" });
    let (status, me) = w
        .call(Method::POST, "/api/v1/login", None, Some(login))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["permissions"], serde_json::json!(["preset.recall"]));
    let (status, _) = w
        .call(
            Method::PUT,
            "/api/v1/users/vic/roles",
            Some(&admin),
            Some(serde_json::json!({ "roles": ["nope"] })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Five wrong passwords, then refused even with the right one.
    let wrong = serde_json::json!({ "username": "vic", "password": "not-the-password" });
    for _ in 0..5 {
        assert_eq!(
            w.call(Method::POST, "/api/v1/login", None, Some(wrong.clone()))
                .await
                .0,
            StatusCode::UNAUTHORIZED
        );
    }
    let right = serde_json::json!({ "username": "vic", "password": "tulip-kettle-harbour" });
    assert_eq!(
        w.call(Method::POST, "/api/v1/login", None, Some(right))
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        w.call(Method::DELETE, "/api/v1/users/vic", Some(&admin), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    let (_, audit) = w
        .call(Method::GET, "/api/v1/audit?limit=1000", Some(&admin), None)
        .await;
    let actions: Vec<&str> = audit
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for expected in [
        "role.put",
        "user.create",
        "login",
        "login.failed",
        "login.refused",
        "user.delete",
    ] {
        assert!(
            actions.contains(&expected),
            "{expected} audited: {actions:?}"
        );
    }
}

#[tokio::test]
async fn preset_work_waits_while_another_operator_steers_the_camera() {
    let w = world(1).await;
    let op = w.user("steer", &[Permission::PtzControl], 1000);
    let manager = w.user("mgr", &[Permission::PresetManage], 1000);
    assert_eq!(
        w.call(
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/stop",
            Some(&op),
            None
        )
        .await
        .0,
        StatusCode::OK
    );
    let body =
        serde_json::json!({ "name": "Dock", "position": { "pan": 0.4, "tilt": 0.0, "zoom": 0.1 } });
    let add = w.call(
        Method::POST,
        "/api/v1/cameras/cam-1/presets",
        Some(&manager),
        Some(body),
    );
    // The operator keeps steering for 1.2 s: the work waits, the answer too
    // (within the wait bound); then the operator's control lapses (1.5 s
    // idle in these tests) and the work finishes.
    let steer = async {
        for _ in 0..12 {
            let stop = w
                .call(
                    Method::POST,
                    "/api/v1/cameras/cam-1/ptz/stop",
                    Some(&op),
                    None,
                )
                .await;
            assert_eq!(stop.0, StatusCode::OK);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        w.call(
            Method::GET,
            "/api/v1/operations?camera=cam-1&limit=1",
            Some(&manager),
            None,
        )
        .await
        .1
    };
    let ((status, outcome), while_steered) = tokio::join!(add, steer);
    let sites = while_steered[0]["sites"].as_array().expect("sites");
    assert!(
        sites
            .iter()
            .all(|s| s["state"] == "pending"
                && s["error"].as_str().is_some_and(|e| e.contains("steer"))),
        "pending while steered: {while_steered}"
    );
    assert_eq!(
        status,
        StatusCode::OK,
        "done once control lapsed: {outcome}"
    );
    let presets = w.store.presets(&CameraId::from("cam-1")).expect("presets");
    assert!(presets.iter().any(|p| p.name.as_str() == "Dock"));
}

#[tokio::test]
async fn the_event_stream_reports_operations_and_control() {
    let w = world(1).await;
    // Control changes come from live control, forwarded as the service does.
    let _live = w.state.spawn_live_forwarder();
    let admin = w.user("watcher", &[Permission::Admin], 32000);
    let request = Request::builder()
        .uri("/api/v1/events")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let body_json = serde_json::json!({ "name": "Evented", "position": { "pan": 0.2, "tilt": 0.0, "zoom": 0.0 } });
    let (status, _) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(&admin),
            Some(body_json),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    w.call(
        Method::POST,
        "/api/v1/cameras/cam-1/ptz/stop",
        Some(&admin),
        None,
    )
    .await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !(text.contains("event: operation") && text.contains("event: control")) {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("events arrive in time");
        let Some(Ok(frame)) = frame else {
            panic!("stream ended: {text}")
        };
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(text.contains("Evented"), "{text}");
}

#[tokio::test]
async fn metrics_report_api_and_onvif_latency_per_site_and_site_state() {
    let w = world(1).await;
    let admin = w.user("prom", &[Permission::Admin], 32000);
    w.call(
        Method::POST,
        "/api/v1/cameras/cam-1/ptz/stop",
        Some(&admin),
        None,
    )
    .await;
    let request = Request::builder()
        .uri("/metrics")
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec(),
    )
    .expect("utf8");
    for needle in [
        "tandem_onvif_call_duration_seconds_count{site=\"primary\",outcome=\"answered\"}",
        "tandem_http_request_duration_seconds_count{method=\"POST\",route=\"/api/v1/cameras/{camera}/ptz/stop\",status=\"200\"}",
        "tandem_site_active{site=\"primary\"} 1",
        "tandem_pending_operations",
        "tandem_open_mismatches",
    ] {
        assert!(text.contains(needle), "{needle} missing in:\n{text}");
    }
}

#[tokio::test]
async fn background_progress_of_a_pending_site_reaches_the_event_stream() {
    let w = world(1).await;
    let _progress = w.state.spawn_progress_forwarder();
    let admin = w.user("bg", &[Permission::Admin], 32000);
    let mut events = w.state.events.subscribe();
    w.sim.set_faults(
        2,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    let body = serde_json::json!({ "name": "Later", "position": { "pan": -0.2, "tilt": 0.0, "zoom": 0.0 } });
    let (status, outcome) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(&admin),
            Some(body),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{outcome}");
    // The camera list counts the part still pending.
    let (_, cameras) = w
        .call(Method::GET, "/api/v1/cameras", Some(&admin), None)
        .await;
    assert_eq!(cameras[0]["pending"], 1, "{cameras}");
    w.sim.set_faults(2, Faults::default());
    assert_eq!(
        w.state
            .engine
            .settle(Duration::from_secs(10))
            .await
            .expect("settle"),
        0
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("an event in time")
            .expect("open");
        if event.event == "progress"
            && event.data["site"] == "secondary"
            && event.data["state"] == "applied"
        {
            assert_eq!(event.data["operation"], outcome["operation"]);
            break;
        }
    }
    let (_, cameras) = w
        .call(Method::GET, "/api/v1/cameras", Some(&admin), None)
        .await;
    assert_eq!(cameras[0]["pending"], 0, "{cameras}");
}

/// Sends `uri` with a token and answers the status, the named header and the body bytes.
async fn raw(w: &World, uri: &str, token: &str, header: &str) -> (StatusCode, String, Vec<u8>) {
    let request = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    let status = response.status();
    let value = response
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, value, bytes.to_vec())
}

#[tokio::test]
async fn snapshots_come_through_the_service_from_the_active_site_then_the_other() {
    let w = world(1).await;
    let viewer = w.user("viewer", &[Permission::PresetRecall], 10);
    let (status, site, jpeg) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot",
        &viewer,
        "x-tandem-site",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(site, "primary");
    assert!(jpeg.starts_with(&[0xFF, 0xD8]), "a JPEG");
    let (status, site, _) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot?site=secondary",
        &viewer,
        "x-tandem-site",
    )
    .await;
    assert_eq!((status, site.as_str()), (StatusCode::OK, "secondary"));
    let (status, ..) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot?site=nowhere",
        &viewer,
        "",
    )
    .await;
    assert_eq!(status, 404);
    let (status, ..) = raw(&w, "/api/v1/cameras/cam-9/snapshot", &viewer, "").await;
    assert_eq!(status, 404);

    // The primary down: the picture comes from the secondary.
    w.sim.set_faults(
        1,
        tandem_sim::world::Faults {
            down: true,
            ..Default::default()
        },
    );
    let (status, site, jpeg) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot",
        &viewer,
        "x-tandem-site",
    )
    .await;
    assert_eq!((status, site.as_str()), (StatusCode::OK, "secondary"));
    assert!(jpeg.starts_with(&[0xFF, 0xD8]));
    // Asking the down site by name is a 502 with the device's words, not a silent switch.
    let (status, _, body) = raw(
        &w,
        "/api/v1/cameras/cam-1/snapshot?site=primary",
        &viewer,
        "",
    )
    .await;
    assert_eq!(status, 502, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn simulated_site_switches_exist_only_in_the_demo() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let (status, body) = w
        .call(Method::GET, "/api/v1/demo/sites", Some(&admin), None)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = w
        .call(
            Method::PUT,
            "/api/v1/demo/sites/primary",
            Some(&admin),
            Some(serde_json::json!({ "down": true })),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_console_is_served_from_the_binary_with_a_strict_policy() {
    let w = world(1).await;
    let page = Request::builder()
        .uri("/")
        .body(Body::empty())
        .expect("request");
    let response = app(w.state.clone()).oneshot(page).await.expect("answer");
    assert_eq!(response.status(), 200);
    let csp = response
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let html = String::from_utf8_lossy(&html);
    // Every asset the page names is served here, none from elsewhere.
    for asset in [
        "/console/console.js",
        "/console/console.css",
        "/console/favicon.svg",
    ] {
        assert!(html.contains(asset), "{asset} not referenced");
        let request = Request::builder()
            .uri(asset)
            .body(Body::empty())
            .expect("request");
        let response = app(w.state.clone()).oneshot(request).await.expect("answer");
        assert_eq!(response.status(), 200, "{asset}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external URL"
    );
}

/// Every administrative action, done once through the API, leaves exactly
/// one audit entry of its kind; the list comes from `AuditAction::ADMIN`, so
/// an action added there without a step here fails this test.
#[tokio::test]
async fn every_admin_action_leaves_exactly_one_audit_entry() {
    use tandem_core::AuditAction;
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let mut done = Vec::new();
    let mut step = |action: AuditAction, (status, body): (StatusCode, serde_json::Value)| {
        assert!(status.is_success(), "{action}: {status} {body}");
        done.push(action);
        body
    };
    let token = step(
        AuditAction::TokenCreate,
        w.call(
            Method::POST,
            "/api/v1/tokens",
            Some(&admin),
            Some(serde_json::json!({ "label": "ci" })),
        )
        .await,
    );
    let id = token["id"].as_i64().expect("token id");
    step(
        AuditAction::TokenRevoke,
        w.call(
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
            Some(&admin),
            None,
        )
        .await,
    );
    let role =
        serde_json::json!({ "ptz_priority": 500, "grants": [{ "permission": "preset.recall" }] });
    step(
        AuditAction::RolePut,
        w.call(
            Method::PUT,
            "/api/v1/roles/viewer",
            Some(&admin),
            Some(role),
        )
        .await,
    );
    let user =
        serde_json::json!({ "name": "vic", "password": "long-enough-password", "roles": [] });
    step(
        AuditAction::UserCreate,
        w.call(Method::POST, "/api/v1/users", Some(&admin), Some(user))
            .await,
    );
    step(
        AuditAction::UserRoles,
        w.call(
            Method::PUT,
            "/api/v1/users/vic/roles",
            Some(&admin),
            Some(serde_json::json!({ "roles": ["viewer"] })),
        )
        .await,
    );
    let cookie = session(&w, "vic", "long-enough-password").await;
    let (status, _, body) = send_full(
        &w,
        Method::PUT,
        "/api/v1/me/password",
        &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
        Some(serde_json::json!({
            "current_password": "long-enough-password",
            "new_password": "tulip kettle harbour"
        })),
    )
    .await;
    step(AuditAction::UserPassword, (status, body));
    step(
        AuditAction::UserPasswordReset,
        w.call(
            Method::PUT,
            "/api/v1/users/vic/password",
            Some(&admin),
            Some(serde_json::json!({ "password": "another quiet harbour" })),
        )
        .await,
    );
    for (action, disabled) in [
        (AuditAction::UserDisable, true),
        (AuditAction::UserEnable, false),
    ] {
        step(
            action,
            w.call(
                Method::PUT,
                "/api/v1/users/vic/disabled",
                Some(&admin),
                Some(serde_json::json!({ "disabled": disabled })),
            )
            .await,
        );
    }
    step(
        AuditAction::SessionEnd,
        w.call(
            Method::DELETE,
            "/api/v1/users/vic/sessions",
            Some(&admin),
            None,
        )
        .await,
    );
    step(
        AuditAction::UserUnlock,
        w.call(Method::POST, "/api/v1/users/vic/unlock", Some(&admin), None)
            .await,
    );
    step(
        AuditAction::RoleDelete,
        w.call(Method::DELETE, "/api/v1/roles/viewer", Some(&admin), None)
            .await,
    );
    step(
        AuditAction::UserDelete,
        w.call(Method::DELETE, "/api/v1/users/vic", Some(&admin), None)
            .await,
    );
    // A failback needs live control away from the primary: take it down and back.
    let down = |down| Faults {
        down,
        ..Faults::default()
    };
    w.sim.set_faults(1, down(true));
    for _ in 0..3 {
        w.state.live.probe_once().await;
    }
    assert_eq!(w.state.live.active().as_str(), "secondary");
    w.sim.set_faults(1, down(false));
    for _ in 0..4 {
        w.state.live.probe_once().await;
    }
    step(
        AuditAction::SiteFailback,
        w.call(Method::POST, "/api/v1/sites/failback", Some(&admin), None)
            .await,
    );
    let (again, _) = w
        .call(Method::POST, "/api/v1/sites/failback", Some(&admin), None)
        .await;
    assert_eq!(
        again,
        StatusCode::CONFLICT,
        "on the primary already: nothing to audit"
    );

    let mut expected = AuditAction::ADMIN.to_vec();
    expected.sort();
    done.sort();
    assert_eq!(done, expected, "a step for every administrative action");
    let (status, entries) = w
        .call(Method::GET, "/api/v1/audit?limit=1000", Some(&admin), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let count = |action: AuditAction| {
        entries
            .as_array()
            .expect("entries")
            .iter()
            .filter(|e| e["action"] == action.as_str())
            .count()
    };
    for action in AuditAction::ADMIN {
        assert_eq!(count(action), 1, "{action}: {entries}");
    }
    // The failover that made the failback possible is audited once, by live control.
    assert_eq!(count(AuditAction::SiteSwitch), 1, "{entries}");
}

/// Sends a request with these headers; answers the status, the headers and the JSON body.
async fn send_full(
    w: &World,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some(json) => request
            .header("content-type", "application/json")
            .body(Body::from(json.to_string())),
        None => request.body(Body::empty()),
    }
    .expect("request");
    let response = app(w.state.clone()).oneshot(request).await.expect("answer");
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, headers, json)
}

/// Logs in; answers the `Cookie` header value of the session.
async fn session(w: &World, user: &str, password: &str) -> String {
    let body = serde_json::json!({ "username": user, "password": password });
    let (status, headers, answer) =
        send_full(w, Method::POST, "/api/v1/login", &[], Some(body)).await;
    assert_eq!(status, StatusCode::OK, "login {user}: {answer}");
    headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string()
}

#[tokio::test]
async fn the_bearer_scheme_is_accepted_in_any_case() {
    let w = world(1).await;
    let token = w.user("scripted", &[Permission::PresetRecall], 10);
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let value = format!("{scheme} {token}");
        let (status, _, me) = send_full(
            &w,
            Method::GET,
            "/api/v1/me",
            &[("authorization", &value)],
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{scheme}: {me}");
        assert_eq!(me["user"], "scripted");
    }
}

#[tokio::test]
async fn user_and_role_names_that_differ_only_in_case_cannot_be_created() {
    let w = world(1).await;
    let admin = w.user("root", &[Permission::Admin], 32000);
    let user =
        serde_json::json!({ "name": "ADMIN", "password": "tulip-kettle-harbour", "roles": [] });
    let (status, problem) = w
        .call(Method::POST, "/api/v1/users", Some(&admin), Some(user))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("\"admin\""),
        "{problem}"
    );
    let role = serde_json::json!({ "ptz_priority": 10, "grants": [] });
    let (status, problem) = w
        .call(Method::PUT, "/api/v1/roles/Admin", Some(&admin), Some(role))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    let (_, users) = w
        .call(Method::GET, "/api/v1/users", Some(&admin), None)
        .await;
    let names: Vec<&str> = users
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["name"].as_str())
        .collect();
    assert_eq!(names, ["admin", "root"]);
}

/// The reported sequence, then two administrators demoting each other at
/// the same moment: an administrator always remains.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_of_api_calls_leaves_zero_administrators() {
    let w = world(1).await;
    let boss = w.user("boss", &[Permission::Admin], 32000);
    // boss (a custom role with the admin grant) removes the built-in admin's roles...
    let none = serde_json::json!({ "roles": [] });
    let (status, body) = w
        .call(
            Method::PUT,
            "/api/v1/users/admin/roles",
            Some(&boss),
            Some(none.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    // ...then tries to delete its own role, drop its grant, its roles, itself.
    let weaker =
        serde_json::json!({ "ptz_priority": 10, "grants": [{ "permission": "ptz.control" }] });
    for (method, uri, body) in [
        (Method::DELETE, "/api/v1/roles/role-boss", None),
        (Method::PUT, "/api/v1/roles/role-boss", Some(weaker)),
        (Method::PUT, "/api/v1/users/boss/roles", Some(none.clone())),
        (
            Method::PUT,
            "/api/v1/users/boss/disabled",
            Some(serde_json::json!({ "disabled": true })),
        ),
        (Method::DELETE, "/api/v1/users/boss", None),
    ] {
        let (status, problem) = w.call(method.clone(), uri, Some(&boss), body).await;
        assert_eq!(status, StatusCode::CONFLICT, "{method} {uri}: {problem}");
    }
    let (status, _) = w
        .call(Method::GET, "/api/v1/users", Some(&boss), None)
        .await;
    assert_eq!(status, StatusCode::OK, "boss still administers");

    // Two administrators demote each other concurrently, again and again.
    let ada = w.user("ada", &[Permission::Admin], 32000);
    for round in 0..10 {
        let (w1, w2) = (w.state.clone(), w.state.clone());
        let (t1, t2) = (boss.clone(), ada.clone());
        let demote = |state: AppState, token: String, victim: &'static str| async move {
            let request = Request::builder()
                .method(Method::PUT)
                .uri(format!("/api/v1/users/{victim}/roles"))
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"roles":[]}"#))
                .expect("request");
            app(state).oneshot(request).await.expect("answer").status()
        };
        let a = tokio::spawn(demote(w1, t1, "ada"));
        let b = tokio::spawn(demote(w2, t2, "boss"));
        let (a, b) = (a.await.expect("task"), b.await.expect("task"));
        let passed = [a, b]
            .iter()
            .filter(|s| **s == StatusCode::NO_CONTENT)
            .count();
        assert_eq!(passed, 1, "round {round}: {a} {b}");
        for name in ["boss", "ada"] {
            w.store
                .set_user_roles(name, &[format!("role-{name}")])
                .expect("restore");
        }
    }
}

#[tokio::test]
async fn a_password_change_ends_the_users_other_sessions() {
    let w = world(1).await;
    w.user("vic", &[Permission::PresetRecall], 10);
    let here = session(&w, "vic", "long-enough-password").await;
    let elsewhere = session(&w, "vic", "long-enough-password").await;
    let (status, _, sessions) = send_full(
        &w,
        Method::GET,
        "/api/v1/users/vic/sessions",
        &[("cookie", &here), ("sec-fetch-site", "same-origin")],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let current: Vec<bool> = sessions
        .as_array()
        .expect("sessions")
        .iter()
        .map(|s| s["current"].as_bool().expect("current"))
        .collect();
    assert_eq!(current.iter().filter(|c| **c).count(), 1, "{sessions}");
    assert_eq!(current.len(), 2);

    let change = |current: &str, new: &str| serde_json::json!({ "current_password": current, "new_password": new });
    let (status, _, problem) = send_full(
        &w,
        Method::PUT,
        "/api/v1/me/password",
        &[("cookie", &here), ("sec-fetch-site", "same-origin")],
        Some(change("wrong one", "tulip kettle harbour")),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{problem}");
    let (status, _, problem) = send_full(
        &w,
        Method::PUT,
        "/api/v1/me/password",
        &[("cookie", &here), ("sec-fetch-site", "same-origin")],
        Some(change("long-enough-password", "vic-is-vic-is-vic")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("user name"),
        "{problem}"
    );
    let (status, _, ended) = send_full(
        &w,
        Method::PUT,
        "/api/v1/me/password",
        &[("cookie", &here), ("sec-fetch-site", "same-origin")],
        Some(change("long-enough-password", "tulip kettle harbour")),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["sessions_ended"], 1);
    let me = |cookie: String| {
        let w = &w;
        async move {
            send_full(w, Method::GET, "/api/v1/me", &[("cookie", &cookie)], None)
                .await
                .0
        }
    };
    assert_eq!(
        me(elsewhere).await,
        StatusCode::UNAUTHORIZED,
        "the other session ended"
    );
    assert_eq!(me(here).await, StatusCode::OK, "this one stays");
    session(&w, "vic", "tulip kettle harbour").await;
}

#[tokio::test]
async fn a_disabled_user_cannot_log_in_and_their_token_stops_working() {
    let w = world(1).await;
    let admin = w.user("root", &[Permission::Admin], 32000);
    let token = w.user("vic", &[Permission::PresetRecall], 10);
    let cookie = session(&w, "vic", "long-enough-password").await;
    assert_eq!(
        w.call(Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
    let disable = |disabled: bool| serde_json::json!({ "disabled": disabled });
    let (status, body) = w
        .call(
            Method::PUT,
            "/api/v1/users/vic/disabled",
            Some(&admin),
            Some(disable(true)),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        w.call(Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED,
        "the token stops at once"
    );
    let (status, _, _) =
        send_full(&w, Method::GET, "/api/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the session ended");
    let login = serde_json::json!({ "username": "vic", "password": "long-enough-password" });
    let (status, _) = w
        .call(Method::POST, "/api/v1/login", None, Some(login))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, users) = w
        .call(Method::GET, "/api/v1/users", Some(&admin), None)
        .await;
    assert!(
        users
            .as_array()
            .expect("users")
            .iter()
            .any(|u| u["name"] == "vic" && u["disabled"] == true),
        "{users}"
    );
    let (status, _) = w
        .call(
            Method::PUT,
            "/api/v1/users/vic/disabled",
            Some(&admin),
            Some(disable(false)),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        w.call(Method::GET, "/api/v1/me", Some(&token), None)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_given_preset_name_with_invisible_or_direction_changing_characters_is_refused() {
    let w = world(1).await;
    let manager = w.user("mgr", &[Permission::PresetManage], 10);
    for name in ["Gate\u{202E}3", "Ga\u{200B}te"] {
        let body = serde_json::json!({
            "number": 9,
            "name": name,
            "position": { "pan": 0.1, "tilt": 0.1, "zoom": 0.1 }
        });
        let (status, problem) = w
            .call(
                Method::POST,
                "/api/v1/cameras/cam-1/presets",
                Some(&manager),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name:?}: {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("invisible"),
            "{problem}"
        );
    }
    let (_, presets) = w
        .call(
            Method::GET,
            "/api/v1/cameras/cam-1/presets",
            Some(&manager),
            None,
        )
        .await;
    assert!(!presets.to_string().contains('\u{202E}'), "{presets}");
}

/// The audit log newest first, paged backwards with `before` and forwards
/// with `after`, the filter applied to every page.
#[tokio::test]
async fn the_audit_log_pages_newest_first_with_before() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    for i in 0..7 {
        let (status, _) = w
            .call(
                Method::POST,
                "/api/v1/cameras/cam-1/reserve",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "reserve {i}");
        let (status, _) = w
            .call(
                Method::DELETE,
                "/api/v1/cameras/cam-1/control",
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "release {i}");
    }
    let seqs = |v: &serde_json::Value| -> Vec<u64> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|e| e["seq"].as_u64().expect("seq"))
            .collect()
    };
    let (status, all) = w
        .call(
            Method::GET,
            "/api/v1/audit?action=control.&limit=1000",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let oldest_first = seqs(&all);
    assert_eq!(oldest_first.len(), 14, "{all}");
    let mut newest_first = oldest_first.clone();
    newest_first.reverse();

    let (_, first) = w
        .call(
            Method::GET,
            "/api/v1/audit?action=control.&order=newest&limit=5",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(seqs(&first), newest_first[..5]);
    let (_, second) = w
        .call(
            Method::GET,
            &format!(
                "/api/v1/audit?action=control.&before={}&limit=5",
                newest_first[4]
            ),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(seqs(&second), newest_first[5..10]);
    let (_, back) = w
        .call(
            Method::GET,
            &format!(
                "/api/v1/audit?action=control.&after={}&limit=5",
                newest_first[5]
            ),
            Some(&admin),
            None,
        )
        .await;
    let mut forward = newest_first[..5].to_vec();
    forward.reverse();
    assert_eq!(seqs(&back), forward, "after pages forward, oldest first");
    let (status, _) = w
        .call(
            Method::GET,
            "/api/v1/audit?order=sideways",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Taking control without moving the camera: from nobody at once, from a
/// lower PTZ priority at once, refused (409) against a higher one, and the
/// control answer says who holds it, with priority and time left.
#[tokio::test]
async fn control_is_taken_over_by_a_higher_priority_and_refused_to_a_lower_one() {
    let w = world(1).await;
    let low = w.user("low", &[Permission::PtzControl], 100);
    let high = w.user("high", &[Permission::PtzControl], 500);
    let viewer = w.user("viewer", &[Permission::PresetRecall], 50);
    let take = "/api/v1/cameras/cam-1/control";
    let (status, held) = w.call(Method::POST, take, Some(&low), None).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["user"], "low");
    assert_eq!(held["priority"], 100);
    assert!(held["expires_in_s"].as_u64().is_some(), "{held}");
    let (status, held) = w.call(Method::POST, take, Some(&high), None).await;
    assert_eq!(status, StatusCode::OK, "{held}");
    assert_eq!(held["user"], "high");
    let (status, refused) = w.call(Method::POST, take, Some(&low), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("high")),
        "{refused}"
    );
    let (status, _) = w.call(Method::POST, take, Some(&viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// The picture stream: JPEG parts, each naming the site that gave it, at
/// the asked rate; a refused or malformed request is an answer, not a
/// stream; a closed stream gives its place back.
#[tokio::test]
async fn the_picture_stream_pushes_jpeg_parts_with_their_site_and_frees_its_place_when_closed() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let stranger = w.user("nobody", &[], 1);
    let request = |token: &str, query: &str| {
        Request::builder()
            .uri(format!("/api/v1/cameras/cam-1/stream{query}"))
            .header("authorization", format!("Bearer {token}"))
            .body(Body::empty())
            .expect("request")
    };
    let free = w.state.streams.available_permits();
    let response = app(w.state.clone())
        .oneshot(request(&admin, "?fps=10"))
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "multipart/x-mixed-replace; boundary=tandemframe"
    );
    assert_eq!(w.state.streams.available_permits(), free - 1);
    let mut body = response.into_body();
    let mut seen = Vec::new();
    while seen
        .windows(b"--tandemframe".len())
        .filter(|w| *w == b"--tandemframe")
        .count()
        < 3
    {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("a part within 5 s")
            .expect("a frame")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            seen.extend_from_slice(&data);
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(
        text.starts_with("--tandemframe\r\nContent-Type: image/jpeg\r\nContent-Length: "),
        "{}",
        &text[..80.min(text.len())]
    );
    assert!(
        text.contains("X-Tandem-Site: primary\r\n\r\n\u{FFFD}\u{FFFD}"),
        "JPEG after the headers"
    );
    drop(body);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while w.state.streams.available_permits() < free {
        assert!(
            std::time::Instant::now() < deadline,
            "the stream's place was not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (token, query, status) in [
        (&stranger, "", StatusCode::FORBIDDEN),
        (&admin, "?fps=0", StatusCode::BAD_REQUEST),
        (&admin, "?fps=16", StatusCode::BAD_REQUEST),
    ] {
        let response = app(w.state.clone())
            .oneshot(request(token, query))
            .await
            .expect("answer");
        assert_eq!(response.status(), status, "{query}");
    }
    assert_eq!(w.state.streams.available_permits(), free);
}

/// Click to centre and area zoom: a point right of the centre turns the
/// camera by a quarter of its field of view, a factor of 3 narrows the view
/// to a third (the simulator's lens is the default optics' 60° to 4°).
#[tokio::test]
async fn a_point_of_the_picture_is_brought_to_its_centre_and_zoomed() {
    let w = world(1).await;
    let operator = w.user("op", &[Permission::PtzControl], 100);
    let viewer = w.user("viewer", &[Permission::PresetRecall], 50);
    let (status, served) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/ptz/centre",
            Some(&operator),
            Some(serde_json::json!({ "x": 0.5, "y": 0.0, "factor": 3.0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{served}");
    let optics = tandem_core::Optics::default();
    let want_pan = 15.0 / 180.0;
    let want_zoom = optics.zoom_for(20.0);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let at = w
            .sim
            .world()
            .camera(0)
            .motion()
            .position(std::time::Instant::now());
        if (at[0] - want_pan).abs() < 1e-3 && (at[2] - want_zoom).abs() < 1e-3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the camera did not arrive at pan {want_pan} zoom {want_zoom}: {at:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (token, body, status) in [
        (
            &viewer,
            serde_json::json!({ "x": 0.1, "y": 0.1 }),
            StatusCode::FORBIDDEN,
        ),
        (
            &operator,
            serde_json::json!({ "x": 1.5, "y": 0.0 }),
            StatusCode::BAD_REQUEST,
        ),
        (
            &operator,
            serde_json::json!({ "x": 0.0, "y": 0.0, "factor": 0.0 }),
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let (got, problem) = w
            .call(
                Method::POST,
                "/api/v1/cameras/cam-1/ptz/centre",
                Some(token),
                Some(body),
            )
            .await;
        assert_eq!(got, status, "{problem}");
    }
}

/// A preset's picture: taken on each ONVIF site where the preset points
/// when an operation stores it, read per site, gone with the preset.
#[tokio::test]
async fn a_saved_preset_has_a_picture_per_site_until_it_is_deleted() {
    let w = world(1).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let (status, added) = w
        .call(
            Method::POST,
            "/api/v1/cameras/cam-1/presets",
            Some(&admin),
            Some(serde_json::json!({ "number": 7, "name": "Pictured", "position": { "pan": 0.3, "tilt": 0.1, "zoom": 0.2 } })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    for site in ["primary", "secondary"] {
        let response = app(w.state.clone())
            .oneshot(
                Request::builder()
                    .uri(format!(
                        "/api/v1/cameras/cam-1/presets/7/picture?site={site}"
                    ))
                    .header("authorization", format!("Bearer {admin}"))
                    .body(Body::empty())
                    .expect("request"),
            )
            .await
            .expect("answer");
        assert_eq!(response.status(), StatusCode::OK, "{site}");
        assert_eq!(response.headers()["x-tandem-site"], site);
        let jpeg = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert!(jpeg.starts_with(&[0xff, 0xd8]), "{site}: a JPEG");
    }
    let (status, _) = w
        .call(
            Method::DELETE,
            "/api/v1/cameras/cam-1/presets/7",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, problem) = w
        .call(
            Method::GET,
            "/api/v1/cameras/cam-1/presets/7/picture",
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
}

/// A grid's pictures over one connection: parts of every camera named, each
/// camera taking a place while the stream runs; malformed lists refused.
#[tokio::test]
async fn one_stream_carries_a_grid_of_cameras_each_part_naming_its_camera() {
    let w = world(2).await;
    let admin = w.user("boss", &[Permission::Admin], 32000);
    let get = |uri: String| {
        Request::builder()
            .uri(uri)
            .header("authorization", format!("Bearer {admin}"))
            .body(Body::empty())
            .expect("request")
    };
    let free = w.state.streams.available_permits();
    let response = app(w.state.clone())
        .oneshot(get("/api/v1/streams?cameras=cam-1,cam-2&fps=10".into()))
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(w.state.streams.available_permits(), free - 2);
    let mut body = response.into_body();
    let mut seen = String::new();
    while !(seen.contains("X-Tandem-Camera: cam-1\r\n")
        && seen.contains("X-Tandem-Camera: cam-2\r\n"))
    {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .expect("parts of both cameras within 5 s")
            .expect("a frame")
            .expect("no error");
        if let Ok(data) = frame.into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    assert!(
        seen.contains("X-Tandem-Site: primary"),
        "each part names its site"
    );
    drop(body);
    let many = (1..=17)
        .map(|i| format!("cam-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    for (query, status) in [
        ("cameras=".to_string(), StatusCode::BAD_REQUEST),
        (format!("cameras={many}"), StatusCode::BAD_REQUEST),
        ("cameras=cam-1,nope".to_string(), StatusCode::NOT_FOUND),
    ] {
        let response = app(w.state.clone())
            .oneshot(get(format!("/api/v1/streams?{query}")))
            .await
            .expect("answer");
        assert_eq!(response.status(), status, "{query}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while w.state.streams.available_permits() < free {
        assert!(
            std::time::Instant::now() < deadline,
            "the grid's places were not given back"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
