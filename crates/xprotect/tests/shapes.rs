//! The recorded shapes (`fixtures/`, written from Milestone's documentation)
//! hold both sides to the documentation: tandem-xprotect reads every answer
//! and writes every request as recorded, and the simulated XProtect site
//! answers with exactly the recorded shapes (same keys, same JSON types).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Value, json};
use tandem_sim::world::World;
use tandem_sim::xprotect::{XpEntry, XpPatrol};
use tandem_sim::xprotect::{XpKnobs, XpSite};
use tandem_xprotect::types::{
    Camera, Data, EffectivePermissions, ErrorBody, Listing, NewPreset, Outcome, PatrolEntry,
    PatrollingProfile, Position, PtzPreset, SecurityNamespace, SiteInfo, Started, TaskStatus,
    TokenAnswer, TokenRefusal, WellKnownUris, absolute_position_body, add_patrol_entry_body,
    default_preset_body, patrol_patch_body, remove_patrol_entry_body, token_form,
};

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parses<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_value(fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A value's shape: every leaf replaced by its JSON type, arrays by the
/// shape of their first item.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => json!("null"),
        Value::Bool(_) => json!("boolean"),
        Value::Number(_) => json!("number"),
        Value::String(_) => json!("string"),
        Value::Array(items) => json!([items.first().map(shape).unwrap_or(Value::Null)]),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<serde_json::Map<_, _>>(),
        ),
    }
}

#[test]
fn the_client_reads_every_recorded_answer() {
    let token: TokenAnswer = parses("token_answer");
    assert_eq!(token.expires_in, 3600);
    let refused: TokenRefusal = parses("token_refused");
    assert_eq!(refused.error_code.as_deref(), Some("InvalidCredentials"));
    let uris: WellKnownUris = parses("well_known_uris");
    assert_eq!(uris.product_version.as_deref(), Some("24.2.0.1"));
    assert_eq!(uris.api_gateways.len(), 1);
    let sites: Listing<SiteInfo> = parses("sites");
    assert_eq!(sites.array[0].version, "24.2.0.1");
    let cameras: Listing<Camera> = parses("cameras");
    assert!(cameras.array[0].ptz_enabled && cameras.array[0].enabled);
    let camera: Data<Camera> = parses("camera");
    assert_eq!(camera.data.name, "Gate PTZ");
    let presets: Listing<PtzPreset> = parses("ptz_presets");
    let one: Data<PtzPreset> = parses("ptz_preset");
    assert_eq!(presets.array[0], one.data);
    assert_eq!(
        (one.data.pan, one.data.tilt, one.data.zoom),
        (0.25, -0.1, 0.5)
    );
    assert!(!one.data.device_preset && !one.data.default_preset);
    let created: Outcome<Started> = parses("create_preset_answer");
    assert_eq!(created.result.id.as_deref(), Some(one.data.id.as_str()));
    let started: Outcome<Started> = parses("task_started");
    let path = started.result.path.expect("a path to poll");
    assert_eq!((path.kind.as_str(), path.id.as_str()), ("tasks", "33"));
    let running: Data<TaskStatus> = parses("task_running");
    assert!(!running.data.finished());
    let done: Data<TaskStatus> = parses("task_succeeded");
    assert!(done.data.finished() && done.data.state == "Success");
    let failed: Data<TaskStatus> = parses("task_failed");
    assert_eq!(
        failed.data.error_text.as_deref(),
        Some("VMO60277: The device did not respond")
    );
    let position: Outcome<Position> = parses("absolute_position_answer");
    assert_eq!(position.result.pan, 0.25);
    let patrols: Listing<PatrollingProfile> = parses("patrolling_profiles");
    let patrol: Data<PatrollingProfile> = parses("patrolling_profile");
    assert_eq!(patrols.array[0], patrol.data);
    assert!(patrol.data.refers_to(&one.data.id.to_uppercase()));
    assert_eq!(patrol.data.patrolling_entry[0].wait_time, 5.0);
    let namespaces: Listing<SecurityNamespace> = parses("security_namespaces");
    assert_eq!(namespaces.array[0].security_actions[0].name, "PTZ_CONTROL");
    let effective: Data<EffectivePermissions> = parses("effective_permissions");
    assert!(!effective.data.is_administrator);
    assert_eq!(effective.data.object_permissions[0].mask, 1);
    for name in ["error_400", "error_401", "error_404"] {
        let body: ErrorBody = parses(name);
        assert!(body.text().is_some(), "{name}");
    }
    let with_property: ErrorBody = parses("error_400");
    assert_eq!(
        with_property.text().as_deref(),
        Some("pan: pan must be a number from -1 to 1")
    );
}

#[test]
fn the_client_writes_every_recorded_request() {
    let preset = NewPreset {
        name: "Gate".into(),
        description: String::new(),
        pan: 0.25,
        tilt: -0.1,
        zoom: 0.5,
        locked: false,
    };
    assert_eq!(
        serde_json::to_value(&preset).expect("json"),
        fixture("create_preset_request")
    );
    assert_eq!(
        default_preset_body("9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d"),
        fixture("default_preset_request")
    );
    let position = Position {
        pan: 0.25,
        tilt: -0.1,
        zoom: 0.5,
    };
    assert_eq!(
        absolute_position_body(position, 1.0),
        fixture("set_absolute_position_request")
    );
    let gate = "9a1d2c3b-4e5f-4a6b-8c7d-0e1f2a3b4c5d";
    let stop = PatrolEntry {
        order: 0,
        preset_id: gate.into(),
        wait_time: 5.0,
    };
    assert_eq!(
        patrol_patch_body(&[stop], Some(gate)),
        fixture("patrol_patch_request")
    );
    assert_eq!(
        add_patrol_entry_body(0, gate, 5.0),
        fixture("add_patrol_entry_request")
    );
    assert_eq!(
        remove_patrol_entry_body(0),
        fixture("remove_patrol_entry_request")
    );
    let form: BTreeMap<&str, &str> = token_form("tandem", "secret", "GrantValidatorClient")
        .into_iter()
        .collect();
    let recorded = fixture("token_request");
    let recorded: BTreeMap<&str, &str> = recorded
        .as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str().expect("a string")))
        .collect();
    assert_eq!(form, recorded);
}

/// A raw HTTP client for the simulator, so the simulator's answers are seen
/// as they are on the wire, not through tandem-xprotect.
struct Raw {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Raw {
    async fn login(xp: &XpSite) -> Raw {
        let http = reqwest::Client::new();
        let base = xp.url().to_string();
        let answer: Value = http
            .post(format!("{base}/API/IDP/connect/token"))
            .form(&token_form("admin", "tandem", "GrantValidatorClient"))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        assert_eq!(shape(&answer), shape(&fixture("token_answer")));
        let token = answer["access_token"].as_str().expect("token").to_string();
        Raw { http, base, token }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answer");
        let status = response.status().as_u16();
        (status, response.json().await.expect("json answer"))
    }
}

#[tokio::test]
async fn the_simulated_site_answers_with_exactly_the_recorded_shapes() {
    use reqwest::Method;
    let world = Arc::new(World::new(2));
    let xp = XpSite::start(world, 2, "admin", "tandem", XpKnobs::default())
        .await
        .expect("xprotect site");
    let same = |answer: &Value, name: &str| {
        assert_eq!(shape(answer), shape(&fixture(name)), "{name}: {answer}");
    };

    let refused: Value = reqwest::Client::new()
        .post(format!("{}/API/IDP/connect/token", xp.url()))
        .form(&token_form("admin", "wrong", "GrantValidatorClient"))
        .send()
        .await
        .expect("refusal")
        .json()
        .await
        .expect("json");
    same(&refused, "token_refused");
    let uris: Value = reqwest::get(format!("{}/api/.well-known/uris", xp.url()))
        .await
        .expect("uris")
        .json()
        .await
        .expect("json");
    same(&uris, "well_known_uris");

    let raw = Raw::login(&xp).await;
    let camera = xp.cameras()[0].id.clone();
    let rest = "/api/rest/v1";
    same(
        &raw.call(Method::GET, &format!("{rest}/sites"), None)
            .await
            .1,
        "sites",
    );
    same(
        &raw.call(Method::GET, &format!("{rest}/cameras"), None)
            .await
            .1,
        "cameras",
    );
    same(
        &raw.call(Method::GET, &format!("{rest}/cameras/{camera}"), None)
            .await
            .1,
        "camera",
    );
    let presets = format!("{rest}/cameras/{camera}/ptzPresets");
    let (status, created) = raw
        .call(
            Method::POST,
            &presets,
            Some(fixture("create_preset_request")),
        )
        .await;
    assert_eq!(status, 201);
    same(&created, "create_preset_answer");
    let id = created["result"]["id"].as_str().expect("id").to_string();
    same(
        &raw.call(Method::GET, &presets, None).await.1,
        "ptz_presets",
    );
    same(
        &raw.call(Method::GET, &format!("{presets}/{id}"), None)
            .await
            .1,
        "ptz_preset",
    );
    same(
        &raw.call(
            Method::POST,
            &format!("{presets}?task=DefaultPtzPreset"),
            Some(default_preset_body(&id)),
        )
        .await
        .1,
        "default_preset_answer",
    );
    same(
        &raw.call(
            Method::POST,
            &format!("{presets}/{id}?task=Goto"),
            Some(json!({})),
        )
        .await
        .1,
        "task_answer",
    );
    same(
        &raw.call(
            Method::POST,
            &format!("{rest}/cameras/{camera}?task=GetPtzAbsolutePosition"),
            Some(json!({})),
        )
        .await
        .1,
        "absolute_position_answer",
    );
    let (status, invalid) = raw
        .call(
            Method::POST,
            &format!("{rest}/cameras/{camera}?task=SetPtzAbsolutePosition"),
            Some(
                json!({ "pan": 7.0, "tilt": 0.0, "zoom": 0.0, "speed": 1.0, "allowRepeats": true }),
            ),
        )
        .await;
    assert_eq!(status, 400);
    same(&invalid, "error_400");

    same(
        &raw.call(Method::GET, &format!("{rest}/securityNamespaces"), None)
            .await
            .1,
        "security_namespaces",
    );
    xp.set_knobs(XpKnobs {
        rights: Some(1),
        ..XpKnobs::default()
    });
    let ns = "623D03F8-C5D5-46BC-A2F4-4C03562D4F85";
    same(
        &raw.call(
            Method::GET,
            &format!("{rest}/effectivePermissions/{ns}?objectIds={camera}"),
            None,
        )
        .await
        .1,
        "effective_permissions",
    );

    // Long tasks: started, polled while running, finished, cleaned up; and failed.
    xp.set_knobs(XpKnobs {
        long_tasks: true,
        ..XpKnobs::default()
    });
    let (_, started) = raw
        .call(
            Method::POST,
            &format!("{presets}/{id}?task=Goto"),
            Some(json!({})),
        )
        .await;
    same(&started, "task_started");
    let task = format!(
        "{rest}/tasks/{}",
        started["result"]["path"]["id"].as_str().expect("id")
    );
    same(&raw.call(Method::GET, &task, None).await.1, "task_running");
    same(
        &raw.call(Method::GET, &task, None).await.1,
        "task_succeeded",
    );
    same(
        &raw.call(
            Method::POST,
            &format!("{task}?task=TaskCleanup"),
            Some(json!({})),
        )
        .await
        .1,
        "task_cleanup_answer",
    );
    xp.set_knobs(XpKnobs {
        fail_tasks: true,
        ..XpKnobs::default()
    });
    let (_, started) = raw
        .call(
            Method::POST,
            &format!("{presets}/{id}?task=Goto"),
            Some(json!({})),
        )
        .await;
    let task = format!(
        "{rest}/tasks/{}",
        started["result"]["path"]["id"].as_str().expect("id")
    );
    raw.call(Method::GET, &task, None).await;
    same(&raw.call(Method::GET, &task, None).await.1, "task_failed");

    // Patrols: listed, read, patched, their entries changed by the tasks.
    xp.set_knobs(XpKnobs::default());
    let patrol_id = xp.new_id();
    xp.cameras()[0].insert_patrol(XpPatrol {
        id: patrol_id.clone(),
        name: "Perimeter".into(),
        entries: vec![XpEntry {
            preset: id.clone(),
            wait: 5.0,
        }],
        end_preset: Some(id.clone()),
    });
    same(
        &raw.call(
            Method::GET,
            &format!("{rest}/cameras/{camera}/patrollingProfiles"),
            None,
        )
        .await
        .1,
        "patrolling_profiles",
    );
    let patrol = format!("{rest}/patrollingProfiles/{patrol_id}");
    same(
        &raw.call(Method::GET, &patrol, None).await.1,
        "patrolling_profile",
    );
    let mut patch = fixture("patrol_patch_request");
    patch["patrollingEntry"][0]["presetId"] = json!(id);
    patch["endPresetId"] = json!(id);
    let (status, _) = raw.call(Method::PATCH, &patrol, Some(patch)).await;
    assert_eq!(status, 200);
    let mut add = fixture("add_patrol_entry_request");
    add["presetId"] = json!(id);
    same(
        &raw.call(
            Method::POST,
            &format!("{patrol}?task=AddPatrollingEntry"),
            Some(add),
        )
        .await
        .1,
        "task_answer",
    );
    same(
        &raw.call(
            Method::POST,
            &format!("{patrol}?task=RemovePatrollingEntry"),
            Some(fixture("remove_patrol_entry_request")),
        )
        .await
        .1,
        "task_answer",
    );
    assert_eq!(xp.cameras()[0].patrols()[0].entries.len(), 1);

    let (status, deleted) = raw
        .call(Method::DELETE, &format!("{presets}/{id}"), None)
        .await;
    assert_eq!(status, 200);
    same(&deleted, "delete_answer");
    let (status, gone) = raw
        .call(Method::DELETE, &format!("{presets}/{id}"), None)
        .await;
    assert_eq!(status, 404);
    same(&gone, "error_404");

    xp.set_knobs(XpKnobs {
        revoke_tokens: true,
        ..XpKnobs::default()
    });
    let (status, refused) = raw.call(Method::GET, &presets, None).await;
    assert_eq!(status, 401);
    same(&refused, "error_401");
}
