//! Shared set-up for engine tests: a simulator on loopback and an engine on an
//! in-memory store bound to it.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use tandem_core::{CameraId, PresetName, PresetNumber, SiteId};
use tandem_engine::config::{SiteKind, XprotectSite};
use tandem_engine::engine::{Engine, RetryPolicy};
use tandem_engine::sites::{BindingSpec, CameraSpec, SiteSpec, Topology};
use tandem_onvif::Credentials;
use tandem_sim::{SimConfig, Simulator};

/// A caller with every right, as the local CLI acts.
pub fn admin() -> tandem_core::access::Principal {
    tandem_access::local_operator("test")
}

pub async fn sim(
    cameras: usize,
    profiles: &[&str],
    seed_presets: u32,
    drift: bool,
) -> Arc<Simulator> {
    let config = SimConfig {
        cameras,
        profiles: profiles
            .iter()
            .map(|p| p.parse().expect("valid profile"))
            .collect(),
        seed_presets,
        drift,
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("simulator starts")
}

/// The simulator's two sites as the engine sees them: a site the simulator
/// also serves as XProtect (`SimConfig::xprotect`) is an XProtect site, its
/// cameras named by name ("Camera N").
pub fn topology(sim: &Simulator, tolerance: f64) -> Topology {
    let kind = |n: usize| match sim.xprotect(n) {
        Some(xp) => SiteKind::Xprotect(XprotectSite {
            url: xp.url().to_string(),
            trust: tandem_xprotect::Trust::PublicRoots,
        }),
        None => SiteKind::default(),
    };
    let sites = vec![
        SiteSpec {
            id: SiteId::from("primary"),
            priority: 1,
            kind: kind(1),
        },
        SiteSpec {
            id: SiteId::from("secondary"),
            priority: 2,
            kind: kind(2),
        },
    ];
    let cameras = (1..=sim.world().len())
        .map(|c| CameraSpec {
            id: camera(c),
            name: format!("Camera {c}"),
            tolerance,
            groups: Vec::new(),
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
                    xprotect_camera: sim.xprotect(e.site).map(|_| format!("Camera {c}")),
                    onvif_url: None,
                })
                .collect(),
        })
        .collect();
    Topology {
        sites,
        cameras,
        call_timeout: Duration::from_secs(2),
        per_site_in_flight: 32,
    }
}

pub fn engine(sim: &Simulator, tolerance: f64) -> Arc<Engine> {
    // SQLite, or PostgreSQL when the run asks (TANDEM_TEST_STORE=postgres).
    let store = tandem_store::testing::store();
    Engine::new(store, &topology(sim, tolerance), Duration::from_secs(10))
        .expect("engine")
        .with_retry(RetryPolicy {
            first: Duration::from_millis(50),
            max: Duration::from_millis(300),
        })
}

pub fn camera(n: usize) -> CameraId {
    CameraId(format!("cam-{n}"))
}

pub fn name(s: &str) -> PresetName {
    PresetName::new(s).expect("valid name")
}

pub fn number(n: u32) -> PresetNumber {
    PresetNumber::new(n).expect("valid number")
}

/// The presets a site holds for a camera: (token, name, pan), from the simulator itself.
pub fn on_site(
    sim: &Simulator,
    site: usize,
    camera: usize,
) -> Vec<(String, Option<String>, Option<f64>)> {
    let site = sim.site(site).expect("site");
    let cam = site.camera(camera - 1).expect("camera");
    // Rounded to 1e-6: the simulator stores the exact float the camera reached.
    let round = |v: f64| (v * 1e6).round() / 1e6;
    cam.presets()
        .entries()
        .iter()
        .map(|e| {
            (
                e.token.clone(),
                e.name.clone(),
                e.position.map(|p| round(p[0])),
            )
        })
        .collect()
}
