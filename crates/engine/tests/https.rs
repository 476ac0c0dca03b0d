//! ONVIF devices over HTTPS, trusted per site as the configuration says: a
//! pinned fingerprint or a CA file lets the simulator's certificate through
//! (scans, `tandem config check`'s probe), a fingerprint that does not match
//! is refused before anything is sent, with an error that names the
//! certificate and is not retried; a site that says nothing still accepts
//! any certificate, as self-signed devices need.
//!
//! The simulator serves every ONVIF endpoint over HTTPS
//! (`Simulator::start_https`) with the test certificate of
//! `crates/xprotect/tests/tls` (see its README): the service addresses it
//! gives out say `https://` too, so that every call goes through TLS.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tandem_core::{CameraId, SiteId};
use tandem_engine::config::Config;
use tandem_engine::engine::Engine;
use tandem_engine::error::DeviceFailure;
use tandem_engine::probe::probe;
use tandem_engine::sites::{Bindings, Topology};
use tandem_sim::{SimConfig, Simulator};

/// The SHA-256 of the test certificate's DER, as its README prints it.
const PINNED: &str = "9cab3296c6e140c9ce077da681dedcc09a9bbd92556ab65d89acf2601c9501ac";
/// A fingerprint no certificate here has.
const OTHER: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn tls_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../xprotect/tests/tls")
}

async fn https_sim() -> Arc<Simulator> {
    let read = |name: &str| std::fs::read(tls_dir().join(name)).expect("test certificate");
    Simulator::start_https(
        SimConfig {
            cameras: 1,
            seed_presets: 2,
            ..SimConfig::default()
        },
        &read("server.pem"),
        &read("server.key"),
    )
    .await
    .expect("simulator over https")
}

/// A configuration binding the simulated camera on both sites, each site
/// with `primary` or `secondary` as the lines that say how its devices are
/// trusted, written as a user would write it.
fn config(sim: &Simulator, primary: &str, secondary: &str) -> Config {
    let mut text = format!(
        "[defaults]\nusername = \"admin\"\npassword = \"tandem\"\ntimeout_ms = 3000\n\
         [[site]]\nid = \"primary\"\npriority = 1\n{primary}\n\
         [[site]]\nid = \"secondary\"\npriority = 2\n{secondary}\n\
         [[camera]]\nid = \"cam-1\"\n"
    );
    for e in sim.endpoints() {
        assert!(e.device_url.starts_with("https://127.0.0.1:"), "{e:?}");
        text.push_str(&format!(
            "[camera.bindings.{}]\nurl = \"{}\"\n",
            e.site_name, e.device_url
        ));
    }
    Config::parse(&text, "/nowhere/tandem.toml").expect("valid configuration")
}

fn engine(config: &Config) -> Arc<Engine> {
    let store = tandem_store::testing::store();
    Engine::new(
        store,
        &Topology::from_config(config, 4),
        Duration::from_secs(10),
    )
    .expect("engine")
}

fn soap_requests(sim: &Simulator, site: usize) -> usize {
    sim.site(site).expect("site").requests().soap
}

fn camera() -> CameraId {
    CameraId("cam-1".into())
}

#[tokio::test]
async fn a_pinned_certificate_or_a_ca_file_lets_the_device_through_over_https() {
    let sim = https_sim().await;
    let ca = tls_dir().join("ca.pem");
    let trusted = config(
        &sim,
        &format!("fingerprint = \"{PINNED}\""),
        &format!("ca_file = {:?}", ca.display().to_string()),
    );
    let report = engine(&trusted).scan_camera(&camera()).await.expect("scan");
    assert!(report.unread.is_empty(), "{:?}", report.unread);
    assert!(report.mismatches.is_empty(), "{:?}", report.mismatches);
    assert!(soap_requests(&sim, 1) > 0 && soap_requests(&sim, 2) > 0);

    // No trust said: any certificate, as today (self-signed devices).
    let report = engine(&config(&sim, "", ""))
        .scan_camera(&camera())
        .await
        .expect("scan");
    assert!(report.unread.is_empty(), "{:?}", report.unread);

    let reports = probe(&trusted).await;
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.reachable && r.error.is_none(), "{r:?}");
        assert_eq!(r.preset_count, Some(2), "{r:?}");
    }
}

#[tokio::test]
async fn a_certificate_that_is_not_the_pinned_one_is_refused_clearly_and_not_retried() {
    let sim = https_sim().await;
    let refused = config(
        &sim,
        &format!("fingerprint = \"{PINNED}\""),
        &format!("fingerprint = \"{OTHER}\""),
    );
    let says_why = |message: &str| {
        message.contains("not trusted")
            && message.contains("is not the pinned one")
            && message.contains("9C:AB:32:96")
            && message.contains("07:07:07")
            && !message.contains("did not answer")
    };

    // The device call itself.
    let bindings = Bindings::new(&Topology::from_config(&refused, 4)).expect("bindings");
    let binding = bindings
        .get(&camera(), &SiteId::from("secondary"))
        .expect("binding");
    let before = soap_requests(&sim, 2);
    let e = binding
        .device
        .get_system_date_and_time()
        .await
        .expect_err("the certificate is refused");
    assert!(
        matches!(e, tandem_onvif::Error::Certificate { .. }),
        "{e:?}"
    );
    assert!(!e.is_retryable() && !e.is_unreachable(), "{e:?}");
    assert!(says_why(&e.to_string()), "{e}");
    assert!(says_why(&e.summary()), "{}", e.summary());
    assert_eq!(soap_requests(&sim, 2), before, "nothing was sent");
    let engine_error = binding.onvif(e);
    assert_eq!(engine_error.device_failure(), Some(DeviceFailure::Refused));
    assert!(!engine_error.is_retryable(), "{engine_error}");
    assert!(
        says_why(&engine_error.to_string()),
        "what operators read: {engine_error}"
    );
    // The pinned site's binding beside it is not concerned.
    let primary = bindings
        .get(&camera(), &SiteId::from("primary"))
        .expect("binding");
    primary
        .device
        .get_system_date_and_time()
        .await
        .expect("the pinned certificate is trusted");

    // A scan reads the primary and says why the secondary was not read.
    let report = engine(&refused).scan_camera(&camera()).await.expect("scan");
    assert_eq!(report.unread.len(), 1, "{:?}", report.unread);
    let unread = &report.unread[0];
    assert_eq!(unread.site, SiteId::from("secondary"));
    assert_eq!(unread.failure, DeviceFailure::Refused);
    assert!(says_why(&unread.message), "{}", unread.message);

    // So does `tandem config check`'s probe.
    let reports = probe(&refused).await;
    let secondary = reports
        .iter()
        .find(|r| r.site.as_str() == "secondary")
        .expect("report");
    let error = secondary.error.as_deref().unwrap_or_default();
    assert!(says_why(error), "{secondary:?}");
    let primary = reports
        .iter()
        .find(|r| r.site.as_str() == "primary")
        .expect("report");
    assert!(primary.error.is_none(), "{primary:?}");
    assert_eq!(soap_requests(&sim, 2), before, "nothing was ever sent");

    // A CA file that cannot be read stops the engine from starting, saying so.
    let missing = config(&sim, "ca_file = \"missing.pem\"", "");
    let e = Bindings::new(&Topology::from_config(&missing, 4)).expect_err("unusable trust");
    assert!(
        e.to_string()
            .contains("cannot read the CA file /nowhere/missing.pem"),
        "{e}"
    );
}
