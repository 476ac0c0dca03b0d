//! The ONVIF client against the simulator: every operation, every quirk
//! profile, every fault kind, over real loopback HTTP.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tandem_onvif::client::HttpTransport;
use tandem_onvif::types::{PtzVector, ServiceAddresses};
use tandem_onvif::{AuthAdvice, AuthMode, ClientConfig, Credentials, Device, Error, Learned};
use tandem_sim::device::PROFILE_TOKEN as P;
use tandem_sim::world::{DeviceClock, Faults, Requests};
use tandem_sim::{SimConfig, Simulator};

async fn start(profiles: &[&str], cameras: usize, seed_presets: u32) -> Arc<Simulator> {
    let config = SimConfig {
        sites: 2,
        cameras,
        profiles: profiles
            .iter()
            .map(|p| p.parse().expect("valid profile"))
            .collect(),
        seed_presets,
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("simulator starts")
}

fn device_with(
    sim: &Simulator,
    site: usize,
    camera: usize,
    credentials: Option<Credentials>,
    config: ClientConfig,
) -> Device {
    let endpoint = sim
        .endpoints()
        .into_iter()
        .find(|e| e.site == site && e.camera == camera)
        .expect("endpoint exists");
    let transport = Arc::new(HttpTransport::new().expect("transport"));
    Device::new(transport, endpoint.device_url, credentials, config)
}

fn device(sim: &Simulator, site: usize, camera: usize) -> Device {
    let config = ClientConfig {
        timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    };
    device_with(
        sim,
        site,
        camera,
        Some(Credentials::new("admin", "tandem")),
        config,
    )
}

async fn wait_idle(device: &Device) -> [f64; 3] {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = device.get_status(P).await.expect("status");
        if status.is_idle() {
            let p = status.position.expect("position");
            let pt = p.pan_tilt.expect("pan/tilt");
            return [pt.x, pt.y, p.zoom.expect("zoom")];
        }
        assert!(Instant::now() < deadline, "camera never became idle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn close(a: [f64; 3], b: [f64; 3], tolerance: f64) -> bool {
    (0..3).all(|i| (a[i] - b[i]).abs() <= tolerance)
}

#[tokio::test]
async fn device_and_media_calls_answer() {
    let sim = start(&[], 2, 0).await;
    let d = device(&sim, 1, 2);
    let offset = d.sync_clock().await.expect("clock");
    assert!(offset.num_seconds().abs() <= 1);
    let services = d.get_services(true).await.expect("services");
    assert_eq!(services.len(), 4);
    assert!(
        services
            .iter()
            .all(|s| s.xaddr.starts_with("http://127.0.0.1:"))
    );
    let caps = d.get_capabilities().await.expect("capabilities");
    assert!(
        caps.ptz
            .as_deref()
            .is_some_and(|x| x.ends_with("/onvif/ptz_service"))
    );
    assert_eq!(caps.media2, None);
    let info = d.get_device_information().await.expect("info");
    assert_eq!(info.serial_number, "SIM-00002");
    // The same physical camera has the same serial on the other site: what pairing uses.
    let other = device(&sim, 2, 2)
        .get_device_information()
        .await
        .expect("info");
    assert_eq!(other.serial_number, info.serial_number);
    let profiles = d.get_profiles().await.expect("profiles");
    assert_eq!(profiles[0].token, P);
    let ptz = profiles[0].ptz.as_ref().expect("PTZ configuration");
    assert_eq!(ptz.default_timeout, Some(Duration::from_secs(10)));
    let uri = d.get_snapshot_uri(P).await.expect("snapshot uri");
    let jpeg = reqwest::get(&uri)
        .await
        .expect("snapshot")
        .bytes()
        .await
        .expect("body");
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
}

#[tokio::test]
async fn ptz_configuration_calls_answer() {
    let sim = start(&["limited=20"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let nodes = d.get_nodes().await.expect("nodes");
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].max_presets, 20);
    assert!(nodes[0].home_supported);
    assert_eq!(d.get_node(&nodes[0].token).await.expect("node"), nodes[0]);
    let err = d.get_node("nope").await.expect_err("unknown node faults");
    assert!(err.fault().is_some_and(|f| f.is("NoEntity")), "{err}");
    let configs = d.get_configurations().await.expect("configurations");
    assert_eq!(configs[0].node_token, nodes[0].token);
    let caps = d.get_service_capabilities().await.expect("capabilities");
    assert!(caps.move_status && caps.status_position);
}

#[tokio::test]
async fn presets_are_created_overwritten_recalled_and_removed() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.absolute_move(P, PtzVector::new(0.5, -0.25, 0.3), None)
        .await
        .expect("move");
    let status = d.get_status(P).await.expect("status");
    assert!(!status.is_idle(), "a move takes time");
    let target = wait_idle(&d).await;
    assert!(close(target, [0.5, -0.25, 0.3], 1e-6));
    let token = d
        .set_preset(P, Some("Porte Nord é"), None)
        .await
        .expect("set");
    assert_eq!(token, "1");
    let presets = d.get_presets(P).await.expect("presets");
    assert_eq!(presets.len(), 1);
    assert_eq!(presets[0].name.as_deref(), Some("Porte Nord é"));
    // Overwrite by token: same token, new position.
    d.relative_move(P, PtzVector::new(-0.5, 0.25, 0.0), None)
        .await
        .expect("relative");
    let moved = wait_idle(&d).await;
    assert!(close(moved, [0.0, 0.0, 0.3], 1e-6));
    assert_eq!(
        d.set_preset(P, None, Some(&token))
            .await
            .expect("overwrite"),
        token
    );
    let presets = d.get_presets(P).await.expect("presets");
    assert_eq!(presets.len(), 1, "overwrite does not duplicate");
    let stored = presets[0].position.expect("position");
    let pt = stored.pan_tilt.expect("pan/tilt");
    assert!(close(
        [pt.x, pt.y, stored.zoom.expect("zoom")],
        [0.0, 0.0, 0.3],
        1e-6
    ));
    // Recall from elsewhere, and the other site sees the same physical camera.
    d.absolute_move(
        P,
        PtzVector::new(-1.0, 1.0, 1.0),
        Some(PtzVector::new(1.0, 1.0, 1.0)),
    )
    .await
    .expect("move");
    wait_idle(&d).await;
    d.goto_preset(P, &token, None).await.expect("goto");
    let recalled = wait_idle(&d).await;
    assert!(close(recalled, [0.0, 0.0, 0.3], 1e-6));
    let via_other_site = wait_idle(&device(&sim, 2, 1)).await;
    assert!(
        close(via_other_site, [0.0, 0.0, 0.3], 1e-6),
        "one physical camera: {via_other_site:?}"
    );
    assert!(
        device(&sim, 2, 1)
            .get_presets(P)
            .await
            .expect("presets")
            .is_empty(),
        "sites keep their own presets"
    );
    d.remove_preset(P, &token).await.expect("remove");
    assert!(d.get_presets(P).await.expect("presets").is_empty());
    let err = d
        .goto_preset(P, &token, None)
        .await
        .expect_err("removed preset is gone");
    let fault = err.fault().expect("a fault");
    assert!(fault.is("NoToken") && !err.is_retryable(), "{err}");
}

#[tokio::test]
async fn continuous_move_honours_timeout_and_stop() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    let velocity = PtzVector {
        pan_tilt: Some(tandem_onvif::types::PanTilt { x: 0.5, y: 0.0 }),
        zoom: None,
    };
    d.continuous_move(P, velocity, Some(Duration::from_millis(300)))
        .await
        .expect("move");
    assert!(!d.get_status(P).await.expect("status").is_idle());
    let stopped_by_timeout = wait_idle(&d).await;
    assert!(
        stopped_by_timeout[0] > 0.1 && stopped_by_timeout[0] < 0.2,
        "{stopped_by_timeout:?}"
    );
    d.continuous_move(P, velocity, None).await.expect("move");
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.stop(P, true, true).await.expect("stop");
    let status = d.get_status(P).await.expect("status");
    assert!(status.is_idle(), "Stop stops at once");
}

#[tokio::test]
async fn home_position_is_set_and_recalled_per_site() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.absolute_move(P, PtzVector::new(0.2, 0.2, 0.2), None)
        .await
        .expect("move");
    wait_idle(&d).await;
    d.set_home_position(P).await.expect("set home");
    d.absolute_move(P, PtzVector::new(-0.2, -0.2, 0.0), None)
        .await
        .expect("move");
    wait_idle(&d).await;
    d.goto_home_position(P, None).await.expect("home");
    assert!(close(wait_idle(&d).await, [0.2, 0.2, 0.2], 1e-6));
    // Site 2 never set a home: its home is the centre.
    device(&sim, 2, 1)
        .goto_home_position(P, None)
        .await
        .expect("home");
    assert!(close(wait_idle(&d).await, [0.0, 0.0, 0.0], 1e-6));
}

#[tokio::test]
async fn out_of_range_moves_are_refused() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    let err = d
        .absolute_move(P, PtzVector::new(1.5, 0.0, 0.0), None)
        .await
        .expect_err("refused");
    assert!(err.fault().is_some_and(|f| f.is("InvalidArgVal")), "{err}");
    let err = d.get_presets("no-profile").await.expect_err("refused");
    assert!(err.fault().is_some_and(|f| f.is("NoProfile")), "{err}");
}

#[tokio::test]
async fn vms_profile_uses_guid_tokens_and_refuses_unknown_ones() {
    let sim = start(&["vms"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let token = d.set_preset(P, Some("Gate"), None).await.expect("set");
    assert_eq!(token.len(), 36, "GUID token: {token}");
    let err = d
        .set_preset(P, Some("Lobby"), Some("3"))
        .await
        .expect_err("unknown token");
    assert!(err.fault().is_some_and(|f| f.is("NoToken")), "{err}");
    assert_eq!(d.get_presets(P).await.expect("presets").len(), 1);
}

#[tokio::test]
async fn camera_profile_creates_the_named_numeric_slot() {
    let sim = start(&["camera"], 1, 0).await;
    let d = device(&sim, 1, 1);
    assert_eq!(
        d.set_preset(P, Some("Dock 3"), Some("3"))
            .await
            .expect("set"),
        "3"
    );
    let err = d
        .set_preset(P, Some("Dock 3"), None)
        .await
        .expect_err("duplicate name");
    assert!(err.fault().is_some_and(|f| f.is("PresetExist")), "{err}");
    let err = d
        .set_preset(P, Some(&"x".repeat(65)), None)
        .await
        .expect_err("long name");
    assert!(
        err.fault().is_some_and(|f| f.is("InvalidPresetName")),
        "{err}"
    );
}

#[tokio::test]
async fn fixed_slot_profile_lists_its_slots_without_positions() {
    let sim = start(&["fixed8"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let presets = d.get_presets(P).await.expect("presets");
    assert_eq!(presets.len(), 8);
    assert_eq!(presets[7].name.as_deref(), Some("Preset8"));
    assert!(presets.iter().all(|p| p.position.is_none()));
    assert_eq!(
        d.set_preset(P, Some("Gate"), Some("4")).await.expect("set"),
        "4"
    );
    let err = d
        .set_preset(P, None, Some("9"))
        .await
        .expect_err("no slot 9");
    assert!(err.fault().is_some_and(|f| f.is("NoToken")));
}

#[tokio::test]
async fn rounded_and_nameless_profile_reports_coarse_unnamed_presets() {
    let sim = start(&["rounded=0.05+nameless"], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.absolute_move(P, PtzVector::new(0.123, -0.456, 0.789), None)
        .await
        .expect("move");
    let reported = wait_idle(&d).await;
    assert!(close(reported, [0.1, -0.45, 0.8], 1e-9), "{reported:?}");
    d.set_preset(P, Some("Gate"), None).await.expect("set");
    let presets = d.get_presets(P).await.expect("presets");
    assert_eq!(presets[0].name, None);
    assert_eq!(presets[0].position, Some(PtzVector::new(0.1, -0.45, 0.8)));
}

#[tokio::test]
async fn strict_moving_profile_refuses_set_preset_while_moving_as_retryable() {
    let sim = start(&["strict-moving"], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.absolute_move(P, PtzVector::new(1.0, 1.0, 1.0), None)
        .await
        .expect("move");
    let err = d
        .set_preset(P, Some("Gate"), None)
        .await
        .expect_err("moving");
    assert!(err.fault().is_some_and(|f| f.is("MovingPTZ")));
    assert!(err.is_retryable(), "MovingPTZ is retried after the move");
    wait_idle(&d).await;
    d.set_preset(P, Some("Gate"), None)
        .await
        .expect("set once idle");
}

#[tokio::test]
async fn limited_profile_faults_too_many_presets() {
    let sim = start(&["limited=2"], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.set_preset(P, Some("A"), None).await.expect("first");
    d.set_preset(P, Some("B"), None).await.expect("second");
    let err = d.set_preset(P, Some("C"), None).await.expect_err("full");
    let fault = err.fault().expect("fault");
    assert!(fault.is("TooManyPresets") && !err.is_retryable());
    assert!(
        fault.reason.contains("at most 2"),
        "device's own words kept: {}",
        fault.reason
    );
}

#[tokio::test]
async fn every_authentication_mode_is_met() {
    let sim = start(
        &["1/1=wsse", "1/2=digest", "1/3=digest-md5", "1/4=noauth"],
        4,
        0,
    )
    .await;
    let wsse = device(&sim, 1, 1);
    wsse.get_presets(P).await.expect("WS-Security");
    assert_eq!(wsse.auth_mode(), Some(AuthMode::WsSecurity));
    let digest = device(&sim, 1, 2);
    digest.get_presets(P).await.expect("Digest SHA-256");
    digest.get_presets(P).await.expect("Digest again, next nc");
    assert_eq!(digest.auth_mode(), Some(AuthMode::HttpDigest));
    let md5 = device(&sim, 1, 3);
    md5.get_presets(P).await.expect("Digest MD5");
    assert_eq!(md5.auth_mode(), Some(AuthMode::HttpDigest));
    let config = ClientConfig::default();
    let open = device_with(&sim, 1, 4, None, config.clone());
    open.get_presets(P).await.expect("no authentication");
    assert_eq!(open.auth_mode(), Some(AuthMode::Anonymous));
    let anonymous = device_with(&sim, 1, 1, None, config.clone());
    assert!(matches!(
        anonymous.get_presets(P).await,
        Err(Error::Unauthorized {
            advice: AuthAdvice::NoCredentials,
            ..
        })
    ));
    let wrong = device_with(
        &sim,
        1,
        2,
        Some(Credentials::new("admin", "wrong")),
        config.clone(),
    );
    assert!(matches!(
        wrong.get_presets(P).await,
        Err(Error::Unauthorized { .. })
    ));
    let wrong = device_with(&sim, 1, 1, Some(Credentials::new("admin", "wrong")), config);
    let err = wrong.get_presets(P).await.expect_err("refused");
    assert!(
        matches!(err, Error::Unauthorized { .. }) && !err.is_retryable(),
        "{err}"
    );
}

fn skew(sim: &Simulator, site: usize, skew_s: i64, reported_skew_s: i64) {
    sim.site(site).expect("site").set_clock(DeviceClock {
        skew_s,
        reported_skew_s,
    });
}

fn requests(sim: &Simulator, site: usize) -> Requests {
    sim.site(site).expect("site").requests()
}

fn near(offset: Option<TimeDelta>, seconds: i64) -> bool {
    offset.is_some_and(|o| (o.num_seconds() - seconds).abs() <= 2)
}

#[tokio::test]
async fn skewed_device_clock_is_learned_on_first_contact() {
    let sim = start(&["skewed=7200+wsse"], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.get_presets(P)
        .await
        .expect("timestamps on the device's clock are accepted");
    assert!(near(d.clock_offset(), 7200), "{:?}", d.clock_offset());
    let seen = requests(&sim, 1);
    assert_eq!(seen.clock_reads, 1, "{seen:?}");
    assert_eq!(seen.refusals, 0, "{seen:?}");
}

#[tokio::test]
async fn a_device_clock_moved_after_first_contact_is_learned_again_once() {
    let sim = start(&["wsse"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let told = Arc::new(std::sync::Mutex::new(Vec::<Learned>::new()));
    let sink = told.clone();
    d.on_learned(Box::new(move |learned| {
        sink.lock().expect("sink").push(learned)
    }));
    d.get_presets(P).await.expect("first contact");
    assert!(near(d.clock_offset(), 0));
    assert_eq!(d.auth_mode(), Some(AuthMode::WsSecurity));
    skew(&sim, 1, 7200, 7200);
    let before = requests(&sim, 1);
    d.get_presets(P)
        .await
        .expect("refused once, the clock read again, accepted");
    let after = requests(&sim, 1);
    assert_eq!(after.refusals - before.refusals, 1, "{after:?}");
    assert_eq!(after.clock_reads - before.clock_reads, 1, "{after:?}");
    assert_eq!(after.soap - before.soap, 3, "request, clock, request again");
    assert!(near(d.clock_offset(), 7200), "{:?}", d.clock_offset());
    let last = told.lock().expect("sink").last().cloned();
    assert!(
        last.as_ref()
            .is_some_and(|l| near(l.clock_offset, 7200) && l.auth == Some(AuthMode::WsSecurity)),
        "{last:?}"
    );
    d.get_presets(P).await.expect("the new offset holds");
    assert_eq!(requests(&sim, 1).refusals, after.refusals);
}

#[tokio::test]
async fn a_remembered_offset_and_mode_need_no_clock_read() {
    let sim = start(&["skewed=7200+wsse", "2=digest"], 1, 0).await;
    let wsse = device(&sim, 1, 1);
    wsse.remember(Learned {
        clock_offset: Some(TimeDelta::seconds(7200)),
        auth: Some(AuthMode::WsSecurity),
        services: None,
    });
    wsse.get_presets(P).await.expect("remembered offset");
    let seen = requests(&sim, 1);
    // GetServices, GetPresets: nothing else.
    assert_eq!((seen.soap, seen.clock_reads, seen.refusals), (2, 0, 0));

    let digest = device(&sim, 2, 1);
    digest.remember(Learned {
        clock_offset: None,
        auth: Some(AuthMode::HttpDigest),
        services: None,
    });
    digest.get_presets(P).await.expect("remembered Digest");
    let seen = requests(&sim, 2);
    // No clock read and no WS-Security first: one challenge, then Digest.
    assert_eq!((seen.clock_reads, seen.challenges), (0, 1), "{seen:?}");
}

#[tokio::test]
async fn what_one_device_learned_lets_another_send_only_its_request() {
    let sim = start(&["wsse"], 1, 0).await;
    let first = device(&sim, 1, 1);
    first.get_presets(P).await.expect("first contact");
    let learned = first.learned();
    assert!(
        learned.services.as_ref().is_some_and(|s| s.ptz.is_some()),
        "{learned:?}"
    );
    let before = requests(&sim, 1);
    let second = device(&sim, 1, 1);
    second.remember(learned);
    second.get_presets(P).await.expect("from what was learned");
    let seen = requests(&sim, 1);
    // GetPresets alone: no clock read, no GetServices.
    assert_eq!(seen.soap - before.soap, 1, "{seen:?}");
}

#[tokio::test]
async fn a_remembered_service_address_that_moved_is_found_again_in_the_same_call() {
    let sim = start(&["wsse"], 1, 0).await;
    let first = device(&sim, 1, 1);
    first.get_presets(P).await.expect("first contact");
    let mut learned = first.learned();
    // Another process remembered an address where nothing listens any more.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    learned.services = learned.services.map(|mut s| {
        s.ptz = Some(format!("http://127.0.0.1:{gone}/onvif/ptz_service"));
        s
    });
    let second = device(&sim, 1, 1);
    second.remember(learned);
    let presets = second
        .get_presets(P)
        .await
        .expect("the service found again, the request sent there");
    assert_eq!(presets, first.get_presets(P).await.expect("same camera"));
    let now = second
        .learned()
        .services
        .and_then(|s| s.ptz)
        .unwrap_or_default();
    assert!(!now.contains(&format!(":{gone}/")), "{now}");
}

#[tokio::test]
async fn a_device_that_misreports_its_clock_is_met_on_ours() {
    // Firmware that writes local time as UTC: it says +2 h and checks timestamps against true UTC.
    let sim = start(&["wsse"], 1, 0).await;
    skew(&sim, 1, 0, 7200);
    let d = device(&sim, 1, 1);
    d.get_presets(P).await.expect("our own clock is accepted");
    assert!(near(d.clock_offset(), 0), "{:?}", d.clock_offset());
    let before = requests(&sim, 1);
    d.get_presets(P).await.expect("and kept");
    assert_eq!(requests(&sim, 1).soap - before.soap, 1);
}

#[tokio::test]
async fn a_refusal_says_clock_when_the_clock_is_far_and_credentials_when_not() {
    let sim = start(&["wsse"], 2, 0).await;
    // Camera 1: the device reports +2 h and checks against +1 h: no timestamp satisfies it.
    sim.site(1)
        .expect("site")
        .camera(0)
        .expect("camera")
        .set_clock(DeviceClock {
            skew_s: 3600,
            reported_skew_s: 7200,
        });
    let err = device(&sim, 1, 1)
        .get_presets(P)
        .await
        .expect_err("refused whatever the offset");
    let text = err.to_string();
    assert!(
        matches!(err, Error::Unauthorized { advice: AuthAdvice::Clock(offset), refused: Some(AuthMode::WsSecurity), .. } if near(Some(offset), 7200)),
        "{err:?}"
    );
    assert!(
        text.contains("the device's clock is 2 h 0 min ahead of this host"),
        "{text}"
    );
    assert!(text.contains("time/NTP settings"), "{text}");

    // Camera 2: a clock in order and a wrong password.
    let wrong = device_with(
        &sim,
        1,
        2,
        Some(Credentials::new("admin", "wrong")),
        ClientConfig::default(),
    );
    let err = wrong.get_presets(P).await.expect_err("wrong password");
    let text = err.to_string();
    assert!(
        matches!(
            err,
            Error::Unauthorized {
                advice: AuthAdvice::Credentials,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        text.contains("check the binding's username and password"),
        "{text}"
    );
    assert!(!text.contains("clock"), "{text}");
}

#[tokio::test]
async fn a_digest_device_challenges_once_per_device_not_once_per_call() {
    let sim = start(&["digest+preauth"], 2, 0).await;
    let d = device(&sim, 1, 1);
    d.service_addresses().await.expect("discovery");
    assert_eq!(
        d.auth_mode(),
        None,
        "discovery answered to anyone proves nothing"
    );
    for _ in 0..5 {
        d.get_presets(P).await.expect("Digest");
    }
    assert_eq!(d.auth_mode(), Some(AuthMode::HttpDigest));
    let seen = requests(&sim, 1);
    assert_eq!(seen.challenges, 1, "{seen:?}");
    // Concurrent first calls: one learns, the others wait for it.
    let fresh = Arc::new(device(&sim, 1, 2));
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let d = fresh.clone();
        calls.spawn(async move { d.get_presets(P).await.map(|_| ()) });
    }
    while let Some(result) = calls.join_next().await {
        result.expect("task").expect("Digest");
    }
    assert_eq!(requests(&sim, 1).challenges, 2);
}

#[tokio::test]
async fn down_site_refuses_connections_then_comes_back_on_the_same_address() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    d.get_presets(P).await.expect("up");
    sim.set_faults(
        1,
        Faults {
            down: true,
            ..Faults::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(50)).await;
    let err = d.get_presets(P).await.expect_err("down");
    assert!(
        matches!(err, Error::Transport { .. }) && err.is_unreachable() && err.is_retryable(),
        "{err}"
    );
    device(&sim, 2, 1)
        .get_presets(P)
        .await
        .expect("the other site is unaffected");
    sim.set_faults(1, Faults::default());
    tokio::time::sleep(Duration::from_millis(100)).await;
    d.get_presets(P).await.expect("back up at the same URL");
}

#[tokio::test]
async fn hanging_site_times_out() {
    let sim = start(&[], 1, 0).await;
    let config = ClientConfig {
        timeout: Duration::from_millis(300),
        ..ClientConfig::default()
    };
    let d = device_with(
        &sim,
        1,
        1,
        Some(Credentials::new("admin", "tandem")),
        config,
    );
    sim.set_faults(
        1,
        Faults {
            hang: true,
            ..Faults::default()
        },
    );
    let err = d.get_presets(P).await.expect_err("hang");
    assert!(
        matches!(err, Error::Timeout { .. }) && err.is_unreachable(),
        "{err}"
    );
    sim.set_faults(1, Faults::default());
    d.get_presets(P).await.expect("answers again");
}

#[tokio::test]
async fn latency_and_failure_rate_are_injected() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    sim.set_faults(
        1,
        Faults {
            latency_ms: 150,
            ..Faults::default()
        },
    );
    let started = Instant::now();
    d.get_presets(P).await.expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(150));
    sim.set_faults(
        1,
        Faults {
            failure_rate: 1.0,
            ..Faults::default()
        },
    );
    let err = d.get_presets(P).await.expect_err("dropped");
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    sim.set_faults(
        1,
        Faults {
            failure_rate: 0.5,
            ..Faults::default()
        },
    );
    let mut failures = 0;
    for _ in 0..40 {
        if d.get_presets(P).await.is_err() {
            failures += 1;
        }
    }
    assert!(
        (5..=35).contains(&failures),
        "about half fail: {failures}/40"
    );
}

#[tokio::test]
async fn answers_over_the_size_cap_are_refused() {
    let sim = start(&[], 1, 0).await;
    let config = ClientConfig {
        max_response_bytes: 512,
        ..ClientConfig::default()
    };
    let d = device_with(
        &sim,
        1,
        1,
        Some(Credentials::new("admin", "tandem")),
        config,
    );
    let err = d.get_profiles().await.expect_err("too large");
    assert!(matches!(err, Error::TooLarge { limit: 512, .. }), "{err}");
}

#[tokio::test]
async fn control_api_injects_faults_and_reports_state() {
    let sim = start(&[], 2, 3).await;
    let http = reqwest::Client::new();
    let url = format!("{}/api/sites/2/faults", sim.control_url());
    let answer = http
        .patch(&url)
        .json(&serde_json::json!({ "down": true }))
        .send()
        .await
        .expect("patch");
    assert!(answer.status().is_success());
    assert!(sim.site(2).expect("site").faults().down);
    let bad = http
        .patch(&url)
        .json(&serde_json::json!({ "failure_rate": 2.0 }))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad.status(), 400);
    let unknown = http
        .patch(&url)
        .json(&serde_json::json!({ "explode": true }))
        .send()
        .await
        .expect("patch");
    assert_eq!(unknown.status().as_u16() / 100, 4);
    let presets: serde_json::Value = http
        .get(format!(
            "{}/api/sites/1/cameras/2/presets",
            sim.control_url()
        ))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(presets["presets"].as_array().map(Vec::len), Some(3));
    let missing = http
        .get(format!("{}/api/sites/9/faults", sim.control_url()))
        .send()
        .await
        .expect("get");
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn control_api_sets_device_clocks_while_running_and_counts_requests() {
    let sim = start(&[], 2, 0).await;
    let http = reqwest::Client::new();
    let put = |path: &str, body: serde_json::Value| {
        http.put(format!("{}{path}", sim.control_url()))
            .json(&body)
            .send()
    };
    let answer = put("/api/sites/2/clock", serde_json::json!({ "skew_s": 7200 }))
        .await
        .expect("put");
    assert!(answer.status().is_success());
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(body["cameras"][1]["skew_s"], 7200);
    assert_eq!(body["cameras"][1]["reported_skew_s"], 7200);
    let offset = device(&sim, 2, 2).sync_clock().await.expect("clock");
    assert!(near(Some(offset), 7200), "{offset}");

    // One camera reports another time than it keeps.
    let answer = put(
        "/api/sites/2/cameras/1/clock",
        serde_json::json!({ "reported_skew_s": -60 }),
    )
    .await
    .expect("put");
    let body: serde_json::Value = answer.json().await.expect("json");
    assert_eq!(
        (body["skew_s"].as_i64(), body["reported_skew_s"].as_i64()),
        (Some(7200), Some(-60))
    );
    let offset = device(&sim, 2, 1).sync_clock().await.expect("clock");
    assert!(near(Some(offset), -60), "{offset}");

    let too_far = put(
        "/api/sites/2/clock",
        serde_json::json!({ "skew_s": i64::MAX }),
    )
    .await
    .expect("put");
    assert_eq!(too_far.status(), 400);
    assert_eq!(
        sim.site(2).expect("site").cameras()[1].clock().skew_s,
        7200,
        "a refused change changes nothing"
    );
    let no_camera = put(
        "/api/sites/2/cameras/9/clock",
        serde_json::json!({ "skew_s": 1 }),
    )
    .await
    .expect("put");
    assert_eq!(no_camera.status(), 404);

    let sites: serde_json::Value = http
        .get(format!("{}/api/sites", sim.control_url()))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(sites[1]["requests"]["clock_reads"], 2, "{sites}");
    assert_eq!(sites[0]["requests"]["soap"], 0, "{sites}");
}

#[tokio::test]
async fn service_discovery_is_cached_and_complete() {
    let sim = start(&[], 1, 0).await;
    let d = device(&sim, 1, 1);
    let addresses: ServiceAddresses = d.connect().await.expect("connect");
    assert!(addresses.media.is_some() && addresses.media2.is_some() && addresses.ptz.is_some());
}

#[tokio::test]
async fn media2_only_device_is_reached_through_the_fallback() {
    let sim = start(&["media2-only"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let addresses = d.connect().await.expect("connect");
    assert!(addresses.media.is_none() && addresses.media2.is_some());
    let profiles = d.get_profiles().await.expect("profiles through media v2");
    assert_eq!(profiles[0].token, P);
    assert!(profiles[0].ptz.is_some());
    let uri = d
        .get_snapshot_uri(P)
        .await
        .expect("snapshot uri through media v2");
    assert!(uri.ends_with("/onvif/snapshot.jpg"));
}

#[tokio::test]
async fn legacy_device_is_discovered_through_get_capabilities() {
    let sim = start(&["legacy"], 1, 0).await;
    let d = device(&sim, 1, 1);
    let err = d.get_services(false).await.expect_err("no GetServices");
    assert!(
        err.fault().is_some_and(|f| f.is("ActionNotSupported")),
        "{err}"
    );
    let addresses = d.connect().await.expect("connect");
    assert!(addresses.ptz.is_some() && addresses.media.is_some());
    d.get_presets(P).await.expect("PTZ works");
    d.get_profiles().await.expect("media v1 works");
}

/// What a hostile answer of each kind must end in: the error kind, and words
/// of its message that say what the device did.
fn assert_hostile_error(kind: &str, err: &Error) {
    let message = err.to_string();
    let (matches_kind, words): (bool, &[&str]) = match kind {
        "malformed" => (
            matches!(err, Error::Malformed(_)),
            &[
                "malformed answer",
                "GetServices at http://127.0.0.1:",
                "XML: expected",
            ],
        ),
        "truncated" => (
            matches!(err, Error::Malformed(_)),
            &["malformed answer", "GetServices", "ends early"],
        ),
        "oversized" => (
            matches!(err, Error::TooLarge { limit, .. } if *limit == 4 * 1024 * 1024),
            &["exceeds 4194304 bytes"],
        ),
        "namespace" => (
            matches!(err, Error::Malformed(_)),
            &[
                "expected tds:GetServicesResponse",
                tandem_sim::hostile::HOSTILE_NS,
            ],
        ),
        "entity" => (
            matches!(err, Error::Malformed(_)),
            &["GetServices", "declares a DTD, which is refused"],
        ),
        other => panic!("no such kind {other}"),
    };
    assert!(matches_kind, "{kind}: wrong error kind: {err:?}");
    for w in words {
        assert!(message.contains(w), "{kind}: {message:?} lacks {w:?}");
    }
    // None of these gets better by asking again.
    assert!(
        !err.is_retryable() && !err.is_unreachable(),
        "{kind}: {err}"
    );
}

#[tokio::test]
async fn hostile_answers_of_every_kind_end_in_clear_errors() {
    const KINDS: [&str; 5] = ["malformed", "truncated", "oversized", "namespace", "entity"];
    // Camera N of the primary is hostile with the Nth kind; camera 6 rotates
    // through them all; the secondary is honest.
    let mut profiles: Vec<String> = KINDS
        .iter()
        .enumerate()
        .map(|(i, kind)| format!("1/{}=hostile={kind}", i + 1))
        .collect();
    profiles.push("1/6=hostile".into());
    let profiles: Vec<&str> = profiles.iter().map(String::as_str).collect();
    let sim = start(&profiles, 6, 2).await;
    let bounded = Duration::from_secs(5);
    for (i, kind) in KINDS.iter().enumerate() {
        let d = device(&sim, 1, i + 1);
        // The clock stays honest: the device is found, then fails clearly.
        d.sync_clock()
            .await
            .expect("GetSystemDateAndTime is not mangled");
        let started = Instant::now();
        let err = tokio::time::timeout(bounded, d.get_presets(P))
            .await
            .unwrap_or_else(|_| panic!("{kind}: no answer within {bounded:?}"))
            .expect_err("a hostile answer is an error");
        assert!(started.elapsed() < bounded, "{kind}");
        assert_hostile_error(kind, &err);
        // The same camera on the honest site answers.
        let presets = device(&sim, 2, i + 1).get_presets(P).await.expect("honest");
        assert_eq!(presets.len(), 2, "{kind}");
    }
    // `mixed`: consecutive requests meet the five kinds in turn, twice over.
    let d = device(&sim, 1, 6);
    for _round in 0..2 {
        for kind in KINDS {
            let err = tokio::time::timeout(bounded, d.get_presets(P))
                .await
                .unwrap_or_else(|_| panic!("mixed {kind}: no answer within {bounded:?}"))
                .expect_err("a hostile answer is an error");
            assert_hostile_error(kind, &err);
        }
    }
}
