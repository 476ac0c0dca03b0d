//! tandem-xprotect against the simulated XProtect site on loopback: login
//! and renewal, cameras, presets kept in the VMS (the camera does not move),
//! the default preset, recall and absolute moves (2024 R2 tasks, quick and
//! long), and each failure in its fault class.

use std::sync::Arc;
use std::time::Duration;

use tandem_sim::world::World;
use tandem_sim::xprotect::{XpKnobs, XpSite};
use tandem_xprotect::types::{NewPreset, Position};
use tandem_xprotect::{Credentials, Error, Server, ServerConfig, Version};

async fn site(knobs: XpKnobs) -> Arc<XpSite> {
    XpSite::start(Arc::new(World::new(3)), 2, "admin", "tandem", knobs)
        .await
        .expect("xprotect site")
}

fn server(xp: &XpSite, password: &str) -> Server {
    Server::new(
        xp.url(),
        Credentials {
            username: "admin".into(),
            password: password.into(),
        },
        ServerConfig {
            timeout: Duration::from_secs(5),
            task_poll: Duration::from_millis(10),
            ..ServerConfig::default()
        },
    )
    .expect("server")
}

fn new_gate(pan: f64) -> NewPreset {
    NewPreset {
        name: "Gate".into(),
        description: "north approach".into(),
        pan,
        tilt: -0.2,
        zoom: 0.4,
        locked: false,
    }
}

fn close(a: [f64; 3], b: [f64; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9)
}

/// Whether physical camera `index` comes to rest at `target` within 5 s
/// (the simulated camera moves at a finite speed).
async fn settles(xp: &XpSite, index: usize, target: [f64; 3]) -> bool {
    for _ in 0..50 {
        if close(xp.position(index), target) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn presets_are_created_listed_defaulted_and_deleted_in_the_vms_without_moving_the_camera() {
    let xp = site(XpKnobs::default()).await;
    let vms = server(&xp, "tandem");
    assert_eq!(
        vms.version().await.expect("version"),
        Version {
            year: 24,
            release: 2
        }
    );
    let cameras = vms.cameras().await.expect("cameras");
    assert_eq!(cameras.len(), 3);
    let camera = vms.find_camera("Camera 2").await.expect("by name");
    assert_eq!(camera.id, xp.cameras()[1].id);
    assert_eq!(
        vms.find_camera(&camera.id.to_uppercase())
            .await
            .expect("by id")
            .name,
        "Camera 2"
    );
    assert!(matches!(
        vms.find_camera("Camera 9").await,
        Err(Error::NotFound(_))
    ));

    let before = xp.position(1);
    let created = vms
        .create_preset(&camera.id, &new_gate(0.3))
        .await
        .expect("create");
    assert_eq!(created.name, "Gate");
    assert_eq!((created.pan, created.tilt, created.zoom), (0.3, -0.2, 0.4));
    assert!(
        close(xp.position(1), before),
        "creating a preset moved the camera"
    );
    let listed = vms.presets(&camera.id).await.expect("presets");
    assert_eq!(listed, vec![created.clone()]);

    vms.set_default_preset(&camera.id, &created.id)
        .await
        .expect("default");
    assert!(vms.presets(&camera.id).await.expect("presets")[0].default_preset);

    // The server's own words, in the class tandem acts on.
    let refused = vms.create_preset(&camera.id, &new_gate(0.1)).await;
    match refused {
        Err(Error::Refused(m)) => assert!(m.contains("already exists"), "{m}"),
        other => panic!("a duplicate name was not refused: {other:?}"),
    }
    let out_of_range = vms
        .create_preset(
            &camera.id,
            &NewPreset {
                name: "Far".into(),
                ..new_gate(3.0)
            },
        )
        .await;
    match out_of_range {
        Err(Error::Refused(m)) => assert!(m.contains("pan: pan must be a number"), "{m}"),
        other => panic!("pan 3 was not refused: {other:?}"),
    }

    vms.delete_preset(&camera.id, &created.id)
        .await
        .expect("delete");
    assert!(vms.presets(&camera.id).await.expect("presets").is_empty());
    // Deleting what is gone is done, not an error: a replayed delete.
    vms.delete_preset(&camera.id, &created.id)
        .await
        .expect("delete again");
    assert!(matches!(
        vms.presets("0badc0de-0000-4000-8000-000000000000").await,
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        vms.presets("../../sites").await,
        Err(Error::Refused(_))
    ));
    assert_eq!(xp.counts().logins, 1, "one token for the whole session");
}

#[tokio::test]
async fn recall_and_absolute_moves_run_as_tasks_quick_or_long_and_are_cleaned_up() {
    let xp = site(XpKnobs::default()).await;
    let vms = server(&xp, "tandem");
    let camera = xp.cameras()[0].id.clone();
    let preset = vms
        .create_preset(&camera, &new_gate(0.5))
        .await
        .expect("create");
    vms.goto_preset(&camera, &preset.id).await.expect("goto");
    assert!(
        settles(&xp, 0, [0.5, -0.2, 0.4]).await,
        "{:?}",
        xp.position(0)
    );
    let target = Position {
        pan: -0.4,
        tilt: 0.1,
        zoom: 0.0,
    };
    vms.move_to(&camera, target, 1.0).await.expect("move");
    assert!(
        settles(&xp, 0, [-0.4, 0.1, 0.0]).await,
        "{:?}",
        xp.position(0)
    );
    let read = vms.position(&camera).await.expect("position");
    assert!(
        close([read.pan, read.tilt, read.zoom], [-0.4, 0.1, 0.0]),
        "{read:?}"
    );

    xp.set_knobs(XpKnobs {
        long_tasks: true,
        ..XpKnobs::default()
    });
    vms.goto_preset(&camera, &preset.id)
        .await
        .expect("long goto");
    let read = vms.position(&camera).await.expect("long position");
    assert!((-1.0..=1.0).contains(&read.pan));
    assert_eq!(xp.counts().cleanups, 2, "every long task is cleaned up");

    xp.set_knobs(XpKnobs {
        fail_tasks: true,
        ..XpKnobs::default()
    });
    match vms.goto_preset(&camera, &preset.id).await {
        Err(Error::Refused(m)) => {
            assert!(m.contains("VMO60277") && m.contains("code 60277"), "{m}")
        }
        other => panic!("a failed task was not reported: {other:?}"),
    }
    assert_eq!(xp.counts().cleanups, 3, "a failed task is cleaned up too");
}

#[tokio::test]
async fn a_server_before_2024_r2_manages_presets_but_says_recall_needs_a_newer_version() {
    let xp = site(XpKnobs {
        version: "24.1.0.5".into(),
        ..XpKnobs::default()
    })
    .await;
    let vms = server(&xp, "tandem");
    let camera = xp.cameras()[0].id.clone();
    let preset = vms
        .create_preset(&camera, &new_gate(0.1))
        .await
        .expect("create");
    for outcome in [
        vms.goto_preset(&camera, &preset.id).await.map(|_| ()),
        vms.position(&camera).await.map(|_| ()),
        vms.move_to(
            &camera,
            Position {
                pan: 0.0,
                tilt: 0.0,
                zoom: 0.0,
            },
            1.0,
        )
        .await,
    ] {
        match outcome {
            Err(Error::Unsupported(m)) => {
                assert!(
                    m.contains("2024 R1") && m.contains("2024 R2 or later"),
                    "{m}"
                )
            }
            other => panic!("not refused as unsupported: {other:?}"),
        }
    }
}

#[tokio::test]
async fn tokens_are_renewed_before_they_expire_and_once_after_a_401() {
    // A token that lives 1 s is renewed before each use once it is due.
    let xp = site(XpKnobs {
        token_lifetime: Duration::from_secs(1),
        ..XpKnobs::default()
    })
    .await;
    let vms = server(&xp, "tandem");
    let camera = xp.cameras()[0].id.clone();
    for _ in 0..3 {
        vms.presets(&camera).await.expect("presets");
    }
    assert_eq!(
        xp.counts().refused,
        0,
        "no request went out with a lapsed token"
    );
    assert!(xp.counts().logins >= 3, "{:?}", xp.counts());

    // Tokens revoked mid-scan (a server restart): one 401, a new token, the
    // same request again; the scan goes on.
    let xp = site(XpKnobs::default()).await;
    let vms = server(&xp, "tandem");
    for (i, camera) in xp.cameras().iter().enumerate() {
        if i == 1 {
            xp.set_knobs(XpKnobs {
                revoke_tokens: true,
                ..XpKnobs::default()
            });
        }
        vms.presets(&camera.id).await.expect("presets");
    }
    assert_eq!(xp.counts().refused, 1);
    assert_eq!(xp.counts().logins, 2);
}

#[tokio::test]
async fn failures_fall_in_the_fault_class_tandem_acts_on() {
    let xp = site(XpKnobs::default()).await;
    let wrong = server(&xp, "not-the-password");
    match wrong.cameras().await {
        Err(Error::Unauthorized(m)) => {
            assert!(m.contains("invalid_username_or_password"), "{m}");
            assert!(!m.contains("not-the-password"), "the password leaked: {m}");
        }
        other => panic!("bad credentials: {other:?}"),
    }

    xp.set_knobs(XpKnobs {
        down: true,
        ..XpKnobs::default()
    });
    let vms = server(&xp, "tandem");
    let down = vms.cameras().await.expect_err("down");
    assert!(down.is_retryable(), "{down:?}");

    // A loopback port nobody listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let nobody = Server::new(
        &format!("http://127.0.0.1:{port}"),
        Credentials {
            username: "admin".into(),
            password: "x".into(),
        },
        ServerConfig::default(),
    )
    .expect("server");
    assert!(nobody.cameras().await.expect_err("refused").is_retryable());
    assert!(matches!(
        Server::new(
            "vms.example",
            Credentials {
                username: "a".into(),
                password: "b".into()
            },
            ServerConfig::default()
        ),
        Err(Error::Refused(_))
    ));
    let debug = format!(
        "{:?}",
        Credentials {
            username: "a".into(),
            password: "hunter2".into()
        }
    );
    assert!(!debug.contains("hunter2"));
}

#[tokio::test]
async fn the_simulators_control_api_turns_the_xprotect_knobs_while_it_runs() {
    let sim = tandem_sim::Simulator::start(tandem_sim::SimConfig {
        cameras: 2,
        xprotect: vec![2],
        ..tandem_sim::SimConfig::default()
    })
    .await
    .expect("simulator");
    assert!(sim.xprotect(1).is_none());
    let xp = sim.xprotect(2).expect("site 2 as XProtect");
    let vms = server(xp, "tandem");
    let camera = xp.cameras()[0].id.clone();
    let preset = vms
        .create_preset(&camera, &new_gate(0.2))
        .await
        .expect("create");
    vms.goto_preset(&camera, &preset.id)
        .await
        .expect("goto on 2024 R2");

    let control = reqwest::Client::new();
    let knobs = format!("{}/api/sites/2/xprotect", sim.control_url());
    let answer: serde_json::Value = control
        .patch(&knobs)
        .json(&serde_json::json!({ "version": "24.1.0.5" }))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(answer["knobs"]["version"], "24.1.0.5");
    assert_eq!(answer["cameras"][0]["presets"][0]["name"], "Gate");
    // A server object reads the version again after ten minutes; a new one at once.
    let fresh = server(xp, "tandem");
    assert!(matches!(
        fresh.goto_preset(&camera, &preset.id).await,
        Err(Error::Unsupported(_))
    ));
    let refused = control
        .patch(&knobs)
        .json(&serde_json::json!({ "version": "R2" }))
        .send()
        .await
        .expect("patch");
    assert_eq!(refused.status(), 400);
    // Latency: every answer waits that long; the knob reads back.
    let slow: serde_json::Value = control
        .patch(&knobs)
        .json(&serde_json::json!({ "latency_ms": 300 }))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert_eq!(slow["knobs"]["latency_ms"], 300);
    let started = std::time::Instant::now();
    fresh.cameras().await.expect("cameras, slowly");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    let not_xprotect = control
        .get(format!("{}/api/sites/1/xprotect", sim.control_url()))
        .send()
        .await
        .expect("get");
    assert_eq!(not_xprotect.status(), 404);
}

#[tokio::test]
async fn a_replaced_preset_keeps_its_patrols_and_default_through_patch_or_the_entry_tasks() {
    use tandem_sim::xprotect::{XpEntry, XpPatrol, XpPreset};
    for patch_keeps_entries in [false, true] {
        let xp = site(XpKnobs {
            patch_keeps_entries,
            ..XpKnobs::default()
        })
        .await;
        let vms = server(&xp, "tandem");
        let camera = &xp.cameras()[0];
        let gate = vms
            .create_preset(&camera.id, &new_gate(0.3))
            .await
            .expect("gate");
        let dock = vms
            .create_preset(
                &camera.id,
                &NewPreset {
                    name: "Dock".into(),
                    ..new_gate(0.6)
                },
            )
            .await
            .expect("dock");
        vms.set_default_preset(&camera.id, &gate.id)
            .await
            .expect("default");
        let stops = |ids: &[&str]| {
            ids.iter()
                .map(|p| XpEntry {
                    preset: p.to_string(),
                    wait: 7.5,
                })
                .collect::<Vec<_>>()
        };
        camera.insert_patrol(XpPatrol {
            id: xp.new_id(),
            name: "Perimeter".into(),
            entries: stops(&[&gate.id, &dock.id, &gate.id]),
            end_preset: Some(gate.id.clone()),
        });
        camera.insert_patrol(XpPatrol {
            id: xp.new_id(),
            name: "Dock only".into(),
            entries: stops(&[&dock.id]),
            end_preset: None,
        });
        let gate = vms.presets(&camera.id).await.expect("presets")[0].clone();
        assert!(gate.default_preset);

        let changed = NewPreset {
            name: "Gate".into(),
            ..new_gate(-0.5)
        };
        let new = vms
            .replace_preset(&camera.id, &gate, &changed)
            .await
            .expect("replace");
        assert_ne!(new.id, gate.id, "XProtect has no update: a new preset");
        assert_eq!((new.name.as_str(), new.pan), ("Gate", -0.5));
        let listed = vms.presets(&camera.id).await.expect("presets");
        assert_eq!(listed.len(), 2, "{listed:?}");
        assert!(listed.iter().any(|p| p.id == new.id && p.default_preset));
        let patrols = camera.patrols();
        assert_eq!(
            patrols[0].entries,
            stops(&[&new.id, &dock.id, &new.id]),
            "stops in order, waits kept (PATCH kept entries: {patch_keeps_entries})"
        );
        assert_eq!(patrols[0].end_preset.as_deref(), Some(new.id.as_str()));
        assert_eq!(patrols[1].entries, stops(&[&dock.id]), "untouched");

        // A preset from the device is rename-only in XProtect: refused, kept.
        let from_device = XpPreset {
            id: xp.new_id(),
            name: "Home (device)".into(),
            description: String::new(),
            position: [0.0, 0.0, 0.0],
            locked: false,
            device: true,
        };
        camera.insert(from_device.clone());
        let listed = vms.presets(&camera.id).await.expect("presets");
        let device = listed
            .iter()
            .find(|p| p.device_preset)
            .expect("device preset");
        match vms.replace_preset(&camera.id, device, &changed).await {
            Err(Error::Refused(m)) => assert!(m.contains("renamed only"), "{m}"),
            other => panic!("a device preset was replaced: {other:?}"),
        }
        assert!(camera.presets().contains(&from_device));
    }
}

#[tokio::test]
async fn https_trusts_a_pinned_certificate_or_an_internal_ca_and_refuses_any_other() {
    use std::path::PathBuf;
    use tandem_xprotect::{Fingerprint, Trust};
    let tls = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/tls");
    let read = |name: &str| std::fs::read(tls.join(name)).expect("test certificate");
    let xp = XpSite::start_https(
        Arc::new(World::new(1)),
        2,
        "admin",
        "tandem",
        XpKnobs::default(),
        &read("server.pem"),
        &read("server.key"),
    )
    .await
    .expect("https site");
    assert!(xp.url().starts_with("https://127.0.0.1:"));
    let over = |trust: Trust| {
        Server::new(
            xp.url(),
            Credentials {
                username: "admin".into(),
                password: "tandem".into(),
            },
            ServerConfig {
                trust,
                ..ServerConfig::default()
            },
        )
    };
    // The fingerprint as `openssl x509 -in server.pem -outform DER | sha256sum` prints it.
    let pinned =
        Fingerprint::parse("9cab3296c6e140c9ce077da681dedcc09a9bbd92556ab65d89acf2601c9501ac")
            .expect("fingerprint");
    for trust in [Trust::Pinned(pinned), Trust::CaFile(tls.join("ca.pem"))] {
        let vms = over(trust.clone()).expect("server");
        assert_eq!(
            vms.cameras().await.expect("cameras over https").len(),
            1,
            "{trust:?}"
        );
    }
    let other = Fingerprint([7; 32]);
    for trust in [Trust::PublicRoots, Trust::Pinned(other)] {
        let vms = over(trust.clone()).expect("server");
        match vms.cameras().await {
            Err(Error::Refused(m)) => {
                assert!(m.contains("certificate is not trusted"), "{m}");
                if trust != Trust::PublicRoots {
                    assert!(
                        m.contains("not the pinned one") && m.contains("9C:AB:32"),
                        "{m}"
                    );
                }
            }
            other => panic!("{trust:?} let the certificate through: {other:?}"),
        }
    }
    assert!(matches!(
        over(Trust::CaFile(tls.join("missing.pem"))),
        Err(Error::Refused(_))
    ));
    assert!(matches!(
        over(Trust::CaFile(tls.join("server.key"))),
        Err(Error::Refused(_))
    ));
}

#[tokio::test]
async fn the_users_rights_on_a_camera_are_read_on_2024_r2_and_later() {
    let xp = site(XpKnobs::default()).await;
    let vms = server(&xp, "tandem");
    let camera = xp.cameras()[0].id.clone();
    let admin = vms.camera_rights(&camera).await.expect("rights");
    assert!(admin.administrator && admin.refused.is_empty(), "{admin:?}");
    xp.set_knobs(XpKnobs {
        rights: Some(1 | 8),
        ..XpKnobs::default()
    });
    let limited = vms.camera_rights(&camera).await.expect("rights");
    assert!(!limited.administrator);
    assert_eq!(limited.granted, ["PTZ_CONTROL", "EXPORT"]);
    assert_eq!(limited.refused, ["PTZ_PRESETS_MANAGE", "PTZ_PRESETS_LOCK"]);
    let old = site(XpKnobs {
        version: "24.1.0.5".into(),
        ..XpKnobs::default()
    })
    .await;
    assert!(matches!(
        server(&old, "tandem")
            .camera_rights(&old.cameras()[0].id)
            .await,
        Err(Error::Unsupported(_))
    ));
}
