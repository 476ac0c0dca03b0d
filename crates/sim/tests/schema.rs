//! Every answer the simulator gives, checked against the ONVIF schemas.
//!
//! The test starts a simulator with the quirk profiles whose answers differ in
//! shape (GUID tokens, nameless presets, rounded positions, fixed slots with
//! unused entries, WS-Security only, a preset limit, refusal while moving),
//! asks every operation it answers plus every kind of fault, saves each raw
//! answer to a file named after the operation, and validates them all in one
//! run of `tests/schema/validate.py` (xmllint against the WSDLs of the `onvif`
//! Python wheel, or `TANDEM_ONVIF_WSDL`).
//!
//! Media2 answers are only checked for well-formedness: the wheel ships no
//! ver20 media WSDL, so there is no schema to validate them against.
//!
//! Without xmllint or the WSDLs the test fails rather than skips: run the
//! README's test command (`scripts/test.sh`), which sets both up.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tandem_onvif::Credentials;
use tandem_onvif::auth::wsse_header;
use tandem_onvif::message::Request;
use tandem_onvif::soap::{self, Envelope};
use tandem_onvif::types::PtzVector;
use tandem_onvif::{Error, ns};
use tandem_sim::device::PROFILE_TOKEN;
use tandem_sim::{Endpoint, SimConfig, Simulator};

const NODE_TOKEN: &str = "ptz_node_1";
const SETUP_HINT: &str = "run the README's test command (scripts/test.sh), which installs \
     xmllint and the `onvif` Python wheel (.venv) with its WSDLs";

/// The workspace root: `crates/sim` → `../..`.
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `TANDEM_ONVIF_WSDL`, else the wheel's copy under `.venv/lib/python3*/site-packages`.
fn wsdl_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TANDEM_ONVIF_WSDL") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.is_dir(),
            "TANDEM_ONVIF_WSDL={} is not a directory; {SETUP_HINT}",
            dir.display()
        );
        return dir;
    }
    let lib = workspace_root().join(".venv/lib");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&lib)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("python3"))
        .map(|e| e.path().join("site-packages/onvif/wsdl"))
        .filter(|p| p.is_dir())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| {
        panic!(
            "no ONVIF WSDLs: TANDEM_ONVIF_WSDL is not set and {}/python3*/site-packages/onvif/wsdl \
             does not exist; {SETUP_HINT}",
            lib.display()
        )
    })
}

/// Fails unless xmllint (or `XMLLINT`, as validate.py honours it) runs.
fn require_xmllint() {
    let exe = std::env::var_os("XMLLINT").unwrap_or_else(|| "xmllint".into());
    let ok = Command::new(&exe)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "xmllint ({}) is not available; {SETUP_HINT}",
        exe.to_string_lossy()
    );
}

/// A unique folder under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("tandem-sim-schema-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What an answer must be.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// HTTP 200 with `{service}:{operation}Response`.
    Answer,
    /// A SOAP fault with this HTTP status and this `ter` subcode (or code).
    Fault(u16, &'static str),
}

/// Posts requests, saves every answer, and checks status and body element.
struct Recorder {
    http: reqwest::Client,
    dir: PathBuf,
    /// Answers validated against the schemas.
    files: Vec<PathBuf>,
    /// Media2 answers: no schema, well-formedness only.
    media2: Vec<PathBuf>,
    nonce: AtomicU64,
}

impl Recorder {
    fn header(&self, username: &str, password: &str) -> String {
        let n = self.nonce.fetch_add(1, Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&n.to_le_bytes());
        nonce[8..].copy_from_slice(&std::process::id().to_le_bytes().repeat(2));
        wsse_header(
            &Credentials::new(username, password),
            chrono::Utc::now(),
            &nonce,
        )
    }

    /// Sends `request` to `ep` with its own credentials.
    async fn call(
        &mut self,
        file: &str,
        ep: &Endpoint,
        request: &Request,
        expect: Expect,
    ) -> String {
        let header = self.header(&ep.username, &ep.password);
        let path = match request.service() {
            tandem_onvif::message::ServiceKind::Device => "device_service",
            tandem_onvif::message::ServiceKind::Media => "media_service",
            tandem_onvif::message::ServiceKind::Media2 => "media2_service",
            tandem_onvif::message::ServiceKind::Ptz => "ptz_service",
        };
        let (namespace, element) = request.response_element();
        let xml = soap::envelope(Some(&header), &request.to_xml());
        let media2 = path == "media2_service";
        self.post(
            file,
            &service_url(ep, path),
            xml,
            expect,
            namespace,
            &element,
            media2,
        )
        .await
    }

    /// Posts a complete envelope and records the answer.
    #[allow(clippy::too_many_arguments)]
    async fn post(
        &mut self,
        file: &str,
        url: &str,
        envelope: String,
        expect: Expect,
        namespace: &str,
        element: &str,
        media2: bool,
    ) -> String {
        let response = self
            .http
            .post(url)
            .header("Content-Type", "application/soap+xml; charset=utf-8")
            .body(envelope)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{file}: POST {url}: {e}"));
        let status = response.status().as_u16();
        let body = response
            .text()
            .await
            .unwrap_or_else(|e| panic!("{file}: reading the answer: {e}"));
        let path = self.dir.join(format!("{file}.xml"));
        assert!(!path.exists(), "two answers saved as {file}.xml");
        std::fs::write(&path, &body).expect("write answer");
        if media2 {
            self.media2.push(path);
        } else {
            self.files.push(path);
        }

        let envelope = Envelope::parse(&body)
            .unwrap_or_else(|e| panic!("{file}: answer is not a SOAP envelope ({e}):\n{body}"));
        match expect {
            Expect::Answer => {
                assert_eq!(status, 200, "{file}: HTTP status; answer:\n{body}");
                if let Err(e) = envelope.expect(namespace, element) {
                    panic!("{file}: {e}; answer:\n{body}");
                }
            }
            Expect::Fault(want_status, subcode) => {
                assert_eq!(status, want_status, "{file}: HTTP status; answer:\n{body}");
                let fault = envelope.body_element().err().and_then(|e| match e {
                    Error::Fault(f) => Some(f),
                    _ => None,
                });
                let fault = fault.unwrap_or_else(|| panic!("{file}: expected a fault:\n{body}"));
                assert!(fault.is(subcode), "{file}: expected {subcode}, got {fault}");
            }
        }
        body
    }
}

fn service_url(ep: &Endpoint, path: &str) -> String {
    ep.device_url.replace("device_service", path)
}

fn endpoint(sim: &Simulator, site: usize, camera: usize) -> Endpoint {
    sim.endpoints()
        .into_iter()
        .find(|e| e.site == site && e.camera == camera)
        .unwrap_or_else(|| panic!("no endpoint for site {site} camera {camera}"))
}

/// The token `SetPreset` answered with.
fn preset_token(body: &str) -> String {
    let env = Envelope::parse(body).expect("envelope");
    let node = env
        .expect(ns::TPTZ, "SetPresetResponse")
        .expect("SetPresetResponse");
    tandem_onvif::message::read_preset_token(node).expect("PresetToken")
}

/// Runs validate.py; returns (exit code, stdout + stderr).
fn validate(wsdl: &Path, files: &[PathBuf]) -> (i32, String) {
    let script = workspace_root().join("crates/sim/tests/schema/validate.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(wsdl)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 {}: {e}; {SETUP_HINT}", script.display()));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

fn rule(s: &str) -> tandem_sim::quirks::ProfileRule {
    s.parse()
        .unwrap_or_else(|e| panic!("profile rule {s}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_validates_against_the_onvif_schemas() {
    require_xmllint();
    let wsdl = wsdl_dir();

    let sim = Simulator::start(SimConfig {
        sites: 2,
        cameras: 5,
        seed_presets: 3,
        profiles: vec![
            rule("2=vms+nameless+rounded"),
            rule("1/2=fixed8"),
            rule("1/3=wsse"),
            rule("1/4=limited=1"),
            rule("1/5=strict-moving"),
        ],
        ..Default::default()
    })
    .await
    .expect("simulator starts");
    let cam = endpoint(&sim, 1, 1); // camera: numeric tokens
    let fixed = endpoint(&sim, 1, 2); // fixed8
    let wsse = endpoint(&sim, 1, 3); // WS-Security only
    let limited = endpoint(&sim, 1, 4); // one preset at most
    let strict = endpoint(&sim, 1, 5); // SetPreset refused while moving
    let vms = endpoint(&sim, 2, 1); // vms+nameless+rounded
    assert_eq!(vms.profile, "vms+nameless+rounded=0.01");
    assert_eq!(fixed.profile, "fixed=8");

    let temp = TempDir::new();
    let mut r = Recorder {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("http client"),
        dir: temp.0.clone(),
        files: Vec::new(),
        media2: Vec::new(),
        nonce: AtomicU64::new(1),
    };
    let p = || PROFILE_TOKEN.to_string();
    use Expect::{Answer, Fault};
    use Request::*;

    // Device service. GetSystemDateAndTime is the one call sent without credentials.
    let time = GetSystemDateAndTime;
    let (tns, tel) = time.response_element();
    r.post(
        "GetSystemDateAndTime",
        &cam.device_url,
        soap::envelope(None, &time.to_xml()),
        Answer,
        tns,
        &tel,
        false,
    )
    .await;
    let services_true = GetServices {
        include_capability: true,
    };
    r.call(
        "GetServices_IncludeCapability_true",
        &cam,
        &services_true,
        Answer,
    )
    .await;
    let services_false = GetServices {
        include_capability: false,
    };
    r.call(
        "GetServices_IncludeCapability_false",
        &cam,
        &services_false,
        Answer,
    )
    .await;
    r.call("GetCapabilities", &cam, &GetCapabilities, Answer)
        .await;
    r.call("GetDeviceInformation", &cam, &GetDeviceInformation, Answer)
        .await;

    // Media v1 and v2.
    r.call("GetProfiles", &cam, &GetProfiles, Answer).await;
    r.call(
        "GetSnapshotUri",
        &cam,
        &GetSnapshotUri { profile: p() },
        Answer,
    )
    .await;
    r.call("Media2_GetProfiles", &cam, &GetProfiles2, Answer)
        .await;
    r.call(
        "Media2_GetSnapshotUri",
        &cam,
        &GetSnapshotUri2 { profile: p() },
        Answer,
    )
    .await;

    // PTZ configuration.
    r.call("GetNodes", &cam, &GetNodes, Answer).await;
    r.call(
        "GetNode",
        &cam,
        &GetNode {
            node: NODE_TOKEN.into(),
        },
        Answer,
    )
    .await;
    r.call("GetNodes_fixed8", &fixed, &GetNodes, Answer).await;
    r.call("GetConfigurations", &cam, &GetConfigurations, Answer)
        .await;
    r.call(
        "GetServiceCapabilities",
        &cam,
        &GetServiceCapabilities,
        Answer,
    )
    .await;

    // Presets: numeric tokens with names.
    r.call("GetPresets", &cam, &GetPresets { profile: p() }, Answer)
        .await;
    let set_new = SetPreset {
        profile: p(),
        name: Some("Schema check".into()),
        token: None,
    };
    let token = preset_token(&r.call("SetPreset", &cam, &set_new, Answer).await);
    let set_existing = SetPreset {
        profile: p(),
        name: None,
        token: Some("1".into()),
    };
    r.call("SetPreset_existing_token", &cam, &set_existing, Answer)
        .await;
    let goto = GotoPreset {
        profile: p(),
        token: "1".into(),
        speed: Some(PtzVector::new(0.5, 0.5, 0.5)),
    };
    r.call("GotoPreset", &cam, &goto, Answer).await;
    let remove = RemovePreset {
        profile: p(),
        token,
    };
    r.call("RemovePreset", &cam, &remove, Answer).await;

    // Presets: GUID tokens, no names, rounded positions.
    r.call(
        "GetPresets_vms_nameless_rounded",
        &vms,
        &GetPresets { profile: p() },
        Answer,
    )
    .await;
    let set_vms = SetPreset {
        profile: p(),
        name: Some("Ignored name".into()),
        token: None,
    };
    let guid = preset_token(&r.call("SetPreset_vms", &vms, &set_vms, Answer).await);
    let goto_vms = GotoPreset {
        profile: p(),
        token: guid.clone(),
        speed: None,
    };
    r.call("GotoPreset_vms", &vms, &goto_vms, Answer).await;
    r.call(
        "GetStatus_rounded",
        &vms,
        &GetStatus { profile: p() },
        Answer,
    )
    .await;
    let remove_vms = RemovePreset {
        profile: p(),
        token: guid,
    };
    r.call("RemovePreset_vms", &vms, &remove_vms, Answer).await;

    // Presets: fixed slots, the unused ones without a position.
    let fixed_presets = r
        .call(
            "GetPresets_fixed8",
            &fixed,
            &GetPresets { profile: p() },
            Answer,
        )
        .await;
    let node = Envelope::parse(&fixed_presets).expect("envelope");
    let presets = tandem_onvif::message::read_presets(
        node.expect(ns::TPTZ, "GetPresetsResponse").expect("body"),
    )
    .expect("presets");
    assert_eq!(presets.len(), 8, "fixed8 lists every slot");
    assert!(
        presets.iter().any(|p| p.position.is_none()),
        "fixed8 has unused slots without a position"
    );
    assert!(presets.iter().any(|p| p.position.is_some()));
    let goto_unused = GotoPreset {
        profile: p(),
        token: "8".into(),
        speed: None,
    };
    r.call(
        "GotoPreset_fixed8_unused_slot",
        &fixed,
        &goto_unused,
        Answer,
    )
    .await;
    let set_slot = SetPreset {
        profile: p(),
        name: Some("Slot".into()),
        token: None,
    };
    let slot = preset_token(&r.call("SetPreset_fixed8", &fixed, &set_slot, Answer).await);
    let remove_slot = RemovePreset {
        profile: p(),
        token: slot,
    };
    r.call("RemovePreset_fixed8", &fixed, &remove_slot, Answer)
        .await;

    // Motion and status.
    let continuous = ContinuousMove {
        profile: p(),
        velocity: PtzVector::new(0.2, -0.1, 0.05),
        timeout: Some(Duration::from_secs(5)),
    };
    r.call("ContinuousMove", &cam, &continuous, Answer).await;
    r.call(
        "GetStatus_moving",
        &cam,
        &GetStatus { profile: p() },
        Answer,
    )
    .await;
    let stop = Stop {
        profile: p(),
        pan_tilt: true,
        zoom: true,
    };
    r.call("Stop", &cam, &stop, Answer).await;
    r.call("GetStatus", &cam, &GetStatus { profile: p() }, Answer)
        .await;
    let relative = RelativeMove {
        profile: p(),
        translation: PtzVector::new(0.1, 0.1, 0.0),
        speed: Some(PtzVector::new(1.0, 1.0, 1.0)),
    };
    r.call("RelativeMove", &cam, &relative, Answer).await;
    let absolute = AbsoluteMove {
        profile: p(),
        position: PtzVector::new(0.25, -0.25, 0.5),
        speed: Some(PtzVector::new(1.0, 1.0, 1.0)),
    };
    r.call("AbsoluteMove", &cam, &absolute, Answer).await;
    r.call(
        "SetHomePosition",
        &cam,
        &SetHomePosition { profile: p() },
        Answer,
    )
    .await;
    let home = GotoHomePosition {
        profile: p(),
        speed: None,
    };
    r.call("GotoHomePosition", &cam, &home, Answer).await;

    // Faults.
    let goto_missing = GotoPreset {
        profile: p(),
        token: "no-such-preset".into(),
        speed: None,
    };
    r.call(
        "Fault_NoToken_GotoPreset",
        &cam,
        &goto_missing,
        Fault(400, "NoToken"),
    )
    .await;
    let remove_missing = RemovePreset {
        profile: p(),
        token: "99".into(),
    };
    r.call(
        "Fault_NoToken_RemovePreset",
        &cam,
        &remove_missing,
        Fault(400, "NoToken"),
    )
    .await;
    let set_unknown_guid = SetPreset {
        profile: p(),
        name: None,
        token: Some("not-a-guid-of-this-site".into()),
    };
    r.call(
        "Fault_NoToken_SetPreset_vms",
        &vms,
        &set_unknown_guid,
        Fault(400, "NoToken"),
    )
    .await;
    r.call(
        "Fault_NoProfile",
        &cam,
        &GetPresets {
            profile: "no_such_profile".into(),
        },
        Fault(400, "NoProfile"),
    )
    .await;
    r.call(
        "Fault_NoEntity_GetNode",
        &cam,
        &GetNode {
            node: "no_such_node".into(),
        },
        Fault(400, "NoEntity"),
    )
    .await;
    let outside = AbsoluteMove {
        profile: p(),
        position: PtzVector::new(3.0, 0.0, 0.0),
        speed: None,
    };
    r.call(
        "Fault_InvalidArgVal_AbsoluteMove",
        &cam,
        &outside,
        Fault(400, "InvalidArgVal"),
    )
    .await;
    let duplicate = SetPreset {
        profile: p(),
        name: Some("Gate".into()),
        token: Some("2".into()),
    };
    r.call(
        "Fault_PresetExist",
        &cam,
        &duplicate,
        Fault(400, "PresetExist"),
    )
    .await;
    let long_name = SetPreset {
        profile: p(),
        name: Some("x".repeat(65)),
        token: None,
    };
    r.call(
        "Fault_InvalidPresetName",
        &cam,
        &long_name,
        Fault(400, "InvalidPresetName"),
    )
    .await;
    let one_more = SetPreset {
        profile: p(),
        name: Some("One too many".into()),
        token: None,
    };
    r.call(
        "Fault_TooManyPresets",
        &limited,
        &one_more,
        Fault(500, "TooManyPresets"),
    )
    .await;
    let spin = ContinuousMove {
        profile: p(),
        velocity: PtzVector::new(0.5, 0.0, 0.0),
        timeout: Some(Duration::from_secs(30)),
    };
    r.call("ContinuousMove_strict", &strict, &spin, Answer)
        .await;
    let while_moving = SetPreset {
        profile: p(),
        name: Some("While moving".into()),
        token: None,
    };
    r.call(
        "Fault_MovingPTZ",
        &strict,
        &while_moving,
        Fault(500, "MovingPTZ"),
    )
    .await;
    r.call("Stop_strict", &strict, &stop, Answer).await;

    // An operation the simulator does not implement.
    let header = r.header(&cam.username, &cam.password);
    let unknown = format!(
        "<tptz:GetCompatibleConfigurations><tptz:ProfileToken>{PROFILE_TOKEN}\
         </tptz:ProfileToken></tptz:GetCompatibleConfigurations>"
    );
    r.post(
        "Fault_ActionNotSupported",
        &service_url(&cam, "ptz_service"),
        soap::envelope(Some(&header), &unknown),
        Fault(500, "ActionNotSupported"),
        ns::TPTZ,
        "",
        false,
    )
    .await;
    // A request that is not XML.
    r.post(
        "Fault_InvalidArgVal_malformed",
        &service_url(&cam, "ptz_service"),
        "<env:Envelope".into(),
        Fault(400, "InvalidArgVal"),
        ns::TPTZ,
        "",
        false,
    )
    .await;

    // WS-Security-only camera: wrong password, and no header at all.
    let mut wrong = wsse.clone();
    wrong.password = "not-the-password".into();
    r.call(
        "Fault_NotAuthorized_wrong_password",
        &wrong,
        &GetPresets { profile: p() },
        Fault(400, "NotAuthorized"),
    )
    .await;
    let bare = GetDeviceInformation;
    let (bns, bel) = bare.response_element();
    r.post(
        "Fault_NotAuthorized_no_credentials",
        &wsse.device_url,
        soap::envelope(None, &bare.to_xml()),
        Fault(400, "NotAuthorized"),
        bns,
        &bel,
        false,
    )
    .await;
    // ... and the same camera with the right credentials answers normally.
    r.call("GetDeviceInformation_wsse", &wsse, &bare, Answer)
        .await;

    sim.shutdown();

    // Every answer with a schema, in one validator run.
    let (code, output) = validate(&wsdl, &r.files);
    println!("validate.py (exit {code}):\n{output}");
    if code == 2 {
        panic!("validate.py could not set up the schemas (exit 2); {SETUP_HINT}\n{output}");
    }
    if code != 0 {
        let mut report = format!(
            "simulator answers do not validate against the ONVIF schemas (validate.py exit {code}):\n{output}"
        );
        for file in &r.files {
            if output.contains(&format!("FAIL {}", file.display())) {
                let body = std::fs::read_to_string(file).unwrap_or_default();
                report.push_str(&format!("\n--- {}:\n{body}\n", file.display()));
            }
        }
        panic!("{report}");
    }
    let valid = format!("{n}/{n} valid", n = r.files.len());
    assert!(output.contains(&valid), "expected {valid:?}:\n{output}");

    // Control: the same pipeline rejects an answer with one stray element, so
    // the pass above is not vacuous.
    let presets = std::fs::read_to_string(temp.0.join("GetPresets.xml")).expect("GetPresets.xml");
    let broken = presets.replacen(
        "<tptz:GetPresetsResponse>",
        "<tptz:GetPresetsResponse><tptz:NotInTheSchema/>",
        1,
    );
    assert_ne!(broken, presets, "GetPresets answer has the expected prefix");
    let control = temp.0.join("control_GetPresets_stray_element.xml");
    std::fs::write(&control, broken).expect("write control");
    let (code, output) = validate(&wsdl, std::slice::from_ref(&control));
    assert_eq!(
        code, 1,
        "validate.py must reject an answer with a stray element:\n{output}"
    );
    assert!(output.contains("NotInTheSchema"), "{output}");

    // Media2: no ver20 media schema in the wheel, so only well-formedness.
    // validate.py parses each envelope (a parse error is "not well-formed XML")
    // and warns that it has no schema for the namespace; xmllint then finds no
    // declaration for the root. Anything else is a real problem. If a media2
    // WSDL is ever present, the answers must simply validate.
    let (code, output) = validate(&wsdl, &r.media2);
    println!("validate.py, media2 (exit {code}):\n{output}");
    assert!(
        code == 0 || code == 1,
        "validate.py on the media2 answers (exit {code}):\n{output}"
    );
    if code == 1 {
        assert!(
            !output.contains("not well-formed"),
            "media2 answers are not well-formed XML:\n{output}"
        );
        for file in &r.media2 {
            let block = fail_block(&output, file).unwrap_or_else(|| {
                panic!("{}: no result from validate.py:\n{output}", file.display())
            });
            if block.is_empty() {
                continue; // validated (a media2 schema was found)
            }
            assert!(
                block.iter().any(|l| l.contains("no schema for namespace")),
                "{}: failed for a reason other than the missing media2 schema:\n{output}",
                file.display()
            );
            for line in block.iter().filter(|l| !l.contains("warning:")) {
                assert!(
                    line.contains(
                        "No matching global declaration available for the validation root"
                    ),
                    "{}: unexpected validation message {line:?}:\n{output}",
                    file.display()
                );
            }
        }
    }
}

/// The message lines under a file's `FAIL` line; an empty list for `ok`.
fn fail_block(output: &str, file: &Path) -> Option<Vec<String>> {
    let name = file.display().to_string();
    let mut lines = output.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("ok   ") && line[5..].starts_with(&name) {
            return Some(Vec::new());
        }
        if line.starts_with("FAIL ") && line[5..].starts_with(&name) {
            return Some(
                lines
                    .take_while(|l| l.starts_with("    "))
                    .map(|l| l.trim().to_string())
                    .collect(),
            );
        }
    }
    None
}
