//! The JSON shapes of the XProtect REST API that tandem relies on. Each is
//! recorded, with its source, in `docs/design/xprotect.md`; `fixtures/`
//! holds an example of each, written from the documentation.
//!
//! Reading is lenient where servers differ: booleans before 2022 R2 were the
//! strings `"True"`/`"False"`, and fields tandem does not use are ignored.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// `GET /api/.well-known/uris` (no authentication; 2022 R1 and later).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct WellKnownUris {
    /// The product version, e.g. `24.2.0.1`.
    #[serde(rename = "ProductVersion", default)]
    pub product_version: Option<String>,
    /// The identity provider's base address.
    #[serde(rename = "IdentityProvider", default)]
    pub identity_provider: Option<String>,
    /// The API gateways' base addresses.
    #[serde(rename = "ApiGateways", default)]
    pub api_gateways: Vec<String>,
}

/// The identity provider's answer to a token request.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TokenAnswer {
    /// The bearer token.
    pub access_token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
}

/// The identity provider's refusal: OAuth's `error`/`error_description`, or
/// XProtect's `error_code` (`InvalidCredentials`, `LockedOut`, `ChangePassword`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct TokenRefusal {
    /// OAuth's error code, e.g. `invalid_grant`.
    #[serde(default)]
    pub error: Option<String>,
    /// OAuth's explanation.
    #[serde(default)]
    pub error_description: Option<String>,
    /// XProtect's error code.
    #[serde(default)]
    pub error_code: Option<String>,
}

/// A collection: `{"array": [...]}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Listing<T> {
    /// The items.
    pub array: Vec<T>,
}

/// One object: `{"data": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Data<T> {
    /// The object.
    pub data: T,
}

/// A creation's or a task's answer: `{"result": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Outcome<T> {
    /// What was created, or the task's result.
    pub result: T,
}

/// A management server of the installation (`GET /sites`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SiteInfo {
    /// Its GUID.
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// The product version, e.g. `24.2.0.1` (2024 R2).
    pub version: String,
}

/// A camera (`GET /cameras`, `GET /cameras/{id}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Camera {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The name shown to users.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether it is enabled.
    #[serde(default = "yes", deserialize_with = "lenient_bool")]
    pub enabled: bool,
    /// Whether PTZ is enabled on it.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub ptz_enabled: bool,
}

/// A PTZ preset as the VMS keeps it (`GET /cameras/{id}/ptzPresets`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PtzPreset {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its description.
    #[serde(default)]
    pub description: Option<String>,
    /// Pan, −1 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub pan: f64,
    /// Tilt, −1 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub tilt: f64,
    /// Zoom, 0 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub zoom: f64,
    /// Whether it is locked against users with limited rights.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub locked: bool,
    /// Whether it is the camera's default preset (read-only; set by a task).
    #[serde(default, deserialize_with = "lenient_bool")]
    pub default_preset: bool,
    /// Whether it was taken from the device ("use presets from device"):
    /// such a preset can only be renamed.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub device_preset: bool,
}

/// The body of a preset creation (`POST /cameras/{id}/ptzPresets`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewPreset {
    /// Its name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Pan, −1 to 1.
    pub pan: f64,
    /// Tilt, −1 to 1.
    pub tilt: f64,
    /// Zoom, 0 to 1.
    pub zoom: f64,
    /// Whether it is locked.
    pub locked: bool,
}

/// A patrolling profile (`GET /cameras/{id}/patrollingProfiles`): presets
/// visited in order, named by GUID.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatrollingProfile {
    /// Its GUID.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Where the camera goes when the patrol ends (a preset GUID; empty: nowhere).
    #[serde(default)]
    pub end_preset_id: Option<String>,
    /// Its stops.
    #[serde(default)]
    pub patrolling_entry: Vec<PatrolEntry>,
}

impl PatrollingProfile {
    /// Whether the profile names `preset` (a stop or its end).
    pub fn refers_to(&self, preset: &str) -> bool {
        self.patrolling_entry
            .iter()
            .any(|e| e.preset_id.eq_ignore_ascii_case(preset))
            || self
                .end_preset_id
                .as_deref()
                .is_some_and(|p| p.eq_ignore_ascii_case(preset))
    }
}

/// One stop of a [`PatrollingProfile`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatrolEntry {
    /// Its place in the patrol, from 0.
    pub order: i64,
    /// The preset's GUID.
    pub preset_id: String,
    /// Seconds at the preset.
    #[serde(deserialize_with = "lenient_f64")]
    pub wait_time: f64,
}

/// A security namespace (`GET /securityNamespaces`, 2024 R2 and later): a
/// kind of object and the actions a role may be granted on it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityNamespace {
    /// Its GUID (cameras: `623D03F8-C5D5-46BC-A2F4-4C03562D4F85`).
    pub id: String,
    /// Its name.
    #[serde(default)]
    pub name: Option<String>,
    /// Its actions.
    #[serde(default)]
    pub security_actions: Vec<SecurityAction>,
}

/// One action of a [`SecurityNamespace`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityAction {
    /// Its name, e.g. `PTZ_CONTROL`.
    pub name: String,
    /// Its bit in a permission mask.
    #[serde(deserialize_with = "lenient_u64")]
    pub security_mask: u64,
}

/// The user's permissions in one namespace (`GET /effectivePermissions/{ns}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EffectivePermissions {
    /// An administrator may do everything.
    #[serde(default, deserialize_with = "lenient_bool")]
    pub is_administrator: bool,
    /// The granted actions' mask per object.
    #[serde(default)]
    pub object_permissions: Vec<ObjectPermission>,
}

/// The granted mask on one object.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectPermission {
    /// The object's GUID.
    pub id: String,
    /// The granted actions, as a mask of [`SecurityAction::security_mask`] bits.
    #[serde(deserialize_with = "lenient_u64")]
    pub mask: u64,
}

/// Where an object lives: `{"type": "tasks", "id": "33"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ObjectPath {
    /// The collection.
    #[serde(rename = "type")]
    pub kind: String,
    /// The id in it.
    pub id: String,
}

/// What starting a task (or creating an object) answers in `result`: a
/// task that finished at once carries its fields; a long one its `path`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Started {
    /// `Success`, `Error`, `Idle`...
    #[serde(default)]
    pub state: Option<String>,
    /// The task to poll, for a long one.
    #[serde(default)]
    pub path: Option<ObjectPath>,
    /// The new object's id, for a creation.
    #[serde(default)]
    pub id: Option<String>,
    /// Everything else (a task's own result fields).
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// A task as `GET /tasks/{id}` shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    /// 0 to 100.
    #[serde(default, deserialize_with = "lenient_opt_f64")]
    pub progress: Option<f64>,
    /// `Success` or `Error` when finished.
    pub state: String,
    /// The server's error code, when it failed.
    #[serde(default)]
    pub error_code: Option<Value>,
    /// The server's words, when it failed.
    #[serde(default)]
    pub error_text: Option<String>,
    /// The task's own result fields.
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

impl TaskStatus {
    /// Whether the task has ended, well or not.
    pub fn finished(&self) -> bool {
        matches!(self.state.as_str(), "Success" | "Error")
    }
}

/// A camera's absolute position (`GetPtzAbsolutePosition`'s result,
/// `SetPtzAbsolutePosition`'s parameters without the speed).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Pan, −1 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub pan: f64,
    /// Tilt, −1 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub tilt: f64,
    /// Zoom, 0 to 1.
    #[serde(deserialize_with = "lenient_f64")]
    pub zoom: f64,
}

/// The token request's form fields (the password grant).
pub fn token_form<'a>(
    username: &'a str,
    password: &'a str,
    client_id: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "password"),
        ("username", username),
        ("password", password),
        ("client_id", client_id),
    ]
}

/// The body of the `DefaultPtzPreset` task: `{"itemSelection": "PtzPreset[<id>]"}`.
pub fn default_preset_body(preset: &str) -> Value {
    serde_json::json!({ "itemSelection": format!("PtzPreset[{preset}]") })
}

/// The body of the `SetPtzAbsolutePosition` task; `speed` is kept within 0 to 1.
pub fn absolute_position_body(position: Position, speed: f64) -> Value {
    serde_json::json!({
        "pan": position.pan,
        "tilt": position.tilt,
        "zoom": position.zoom,
        "speed": speed.clamp(0.0, 1.0),
        "allowRepeats": true,
    })
}

/// The body of a `PATCH /patrollingProfiles/{id}` that re-points it: its
/// stops and its end preset.
pub fn patrol_patch_body(entries: &[PatrolEntry], end_preset: Option<&str>) -> Value {
    serde_json::json!({
        "patrollingEntry": entries,
        "endPresetId": end_preset.unwrap_or(""),
    })
}

/// The body of the `AddPatrollingEntry` task.
pub fn add_patrol_entry_body(order: usize, preset: &str, wait_time: f64) -> Value {
    serde_json::json!({ "order": order, "presetId": preset, "waitTime": wait_time })
}

/// The body of the `RemovePatrollingEntry` task: the stop's index, from 0.
pub fn remove_patrol_entry_body(index: usize) -> Value {
    serde_json::json!({ "itemSelection": format!("PatrollingEntry[{index}]") })
}

/// An error answer: `{"error": {"httpCode": 400, "details": [{"errorText": ...}]}}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorBody {
    /// The error.
    #[serde(default)]
    pub error: ErrorDetail,
}

/// The inside of an [`ErrorBody`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetail {
    /// The HTTP status again.
    #[serde(default)]
    pub http_code: Option<u16>,
    /// What went wrong, one entry per problem.
    #[serde(default)]
    pub details: Vec<ErrorItem>,
}

/// One problem of an [`ErrorDetail`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorItem {
    /// The server's words.
    #[serde(default)]
    pub error_text: Option<String>,
    /// The field at fault (400 only).
    #[serde(default)]
    pub property: Option<String>,
}

impl ErrorBody {
    /// The server's words, joined; `None` when it gave none.
    pub fn text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .error
            .details
            .iter()
            .filter_map(|d| {
                let text = d.error_text.as_deref()?.trim();
                (!text.is_empty()).then(|| match &d.property {
                    Some(p) if !p.is_empty() => format!("{p}: {text}"),
                    _ => text.to_string(),
                })
            })
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn yes() -> bool {
    true
}

/// A JSON boolean, or (before 2022 R2) the strings `"True"` and `"False"`.
fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, found {other}"
        ))),
    }
}

/// A JSON number, or a number written as a string.
fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    let value = match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    value
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| serde::de::Error::custom("expected a finite number"))
}

fn lenient_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A whole number, or one written as a string (decimal or `0x` hexadecimal).
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let value = match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => {
            let s = s.trim();
            match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => s.parse().ok(),
            }
        }
        _ => None,
    };
    value.ok_or_else(|| serde::de::Error::custom("expected a whole number"))
}
