//! What bindings learn about authenticating to their devices (the clock
//! offset, the mode that worked), against a real simulator on loopback: kept
//! in the store, used by the next engine, learned again when a clock moves;
//! and refusals that say whether it is the clock or the credentials.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use tandem_core::SiteId;
use tandem_engine::engine::Engine;
use tandem_onvif::Credentials;
use tandem_sim::Simulator;
use tandem_sim::world::{DeviceClock, Requests};
use tandem_store::{BindingLearned, SqliteStore, Store};

fn engine_on(store: &Arc<dyn Store>, sim: &Simulator) -> Arc<Engine> {
    Engine::new(
        store.clone(),
        &topology(sim, 0.001),
        Duration::from_secs(10),
    )
    .expect("engine")
}

fn requests(sim: &Simulator, site: usize) -> Requests {
    sim.site(site).expect("site").requests()
}

fn learned(store: &Arc<dyn Store>, camera: usize, site: &str) -> BindingLearned {
    store
        .learned_bindings()
        .expect("learned")
        .into_iter()
        .find(|l| l.camera == common::camera(camera) && l.site == SiteId::from(site))
        .expect("the binding learned something")
}

async fn scan_reads_both_sites(engine: &Arc<Engine>, camera: usize) {
    let report = engine
        .scan_camera(&common::camera(camera))
        .await
        .expect("scan");
    assert!(report.unread.is_empty(), "{:?}", report.unread);
}

#[tokio::test]
async fn a_clock_moved_after_first_contact_is_learned_again_kept_and_used_by_the_next_engine() {
    let sim = sim(1, &["2=wsse"], 2, false).await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let first = engine_on(&store, &sim);
    scan_reads_both_sites(&first, 1).await;
    let before = learned(&store, 1, "secondary");
    assert!(
        before.clock_offset_ms.is_some_and(|ms| ms.abs() < 2_000),
        "{before:?}"
    );
    assert_eq!(before.auth_mode.as_deref(), Some("ws-security"));

    // The secondary's clock jumps 2 h after tandem learned it.
    sim.site(2)
        .expect("site")
        .set_clock(DeviceClock::skewed(7200));
    let seen = requests(&sim, 2);
    scan_reads_both_sites(&first, 1).await;
    let after = requests(&sim, 2);
    assert_eq!(after.refusals - seen.refusals, 1, "refused once: {after:?}");
    assert_eq!(
        after.clock_reads - seen.clock_reads,
        1,
        "read once: {after:?}"
    );
    let kept = learned(&store, 1, "secondary");
    assert!(
        kept.clock_offset_ms
            .is_some_and(|ms| (ms - 7_200_000).abs() < 2_000),
        "{kept:?}"
    );

    // Another engine on the same store (another process) starts from it.
    let second = engine_on(&store, &sim);
    scan_reads_both_sites(&second, 1).await;
    let last = requests(&sim, 2);
    assert_eq!(
        last.clock_reads, after.clock_reads,
        "no clock read: {last:?}"
    );
    assert_eq!(last.refusals, after.refusals, "no refusal: {last:?}");
}

#[tokio::test]
async fn a_digest_site_is_challenged_once_per_binding_and_remembered_as_digest() {
    let sim = sim(2, &["2=digest+preauth"], 2, false).await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine = engine_on(&store, &sim);
    for _ in 0..3 {
        for camera in [1, 2] {
            scan_reads_both_sites(&engine, camera).await;
        }
    }
    let seen = requests(&sim, 2);
    assert_eq!(seen.challenges, 2, "one per binding: {seen:?}");
    assert!(seen.soap > 6, "{seen:?}");
    for camera in [1, 2] {
        assert_eq!(
            learned(&store, camera, "secondary").auth_mode.as_deref(),
            Some("http-digest")
        );
    }

    // The next engine sends no WS-Security token first and reads no clock:
    // one challenge per binding again (the nonce stays in memory), nothing more.
    let next = engine_on(&store, &sim);
    for camera in [1, 2] {
        scan_reads_both_sites(&next, camera).await;
    }
    let last = requests(&sim, 2);
    assert_eq!(last.challenges - seen.challenges, 2, "{last:?}");
    assert_eq!(last.clock_reads, seen.clock_reads, "{last:?}");
}

#[tokio::test]
async fn refusals_say_clock_when_the_clock_is_far_and_credentials_when_it_is_not() {
    let sim = sim(2, &["2=wsse"], 1, false).await;
    // Camera 1 on the secondary reports +2 h and checks timestamps against +1 h.
    sim.site(2)
        .expect("site")
        .camera(0)
        .expect("camera")
        .set_clock(DeviceClock {
            skew_s: 3600,
            reported_skew_s: 7200,
        });
    // Camera 2's secondary binding has the wrong password.
    let mut topology = topology(&sim, 0.001);
    for binding in &mut topology.cameras[1].bindings {
        if binding.site.as_str() == "secondary" {
            binding.credentials = Some(Credentials::new("admin", "wrong"));
        }
    }
    let store = Arc::new(SqliteStore::open_in_memory().expect("store"));
    let engine = Engine::new(store, &topology, Duration::from_secs(10)).expect("engine");

    let clock = engine.scan_camera(&camera(1)).await.expect("scan");
    let unread = clock.unread.first().expect("the secondary is unread");
    assert!(
        unread
            .message
            .contains("the device's clock is 2 h 0 min ahead of this host"),
        "{}",
        unread.message
    );

    let password = engine.scan_camera(&camera(2)).await.expect("scan");
    let unread = password.unread.first().expect("the secondary is unread");
    assert!(
        unread
            .message
            .contains("check the binding's username and password"),
        "{}",
        unread.message
    );
    assert!(!unread.message.contains("clock"), "{}", unread.message);
}
