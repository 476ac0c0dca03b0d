//! Pairing against a real simulator: two sites of four cameras each, every
//! site reporting the same serial for the same physical camera.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tandem_engine::config::Config;
use tandem_engine::pairing::{GeneratedSite, Side, SiteDevices, discover, to_config_toml};
use tandem_onvif::{ClientConfig, Credentials};
use tandem_sim::{SimConfig, Simulator};

async fn start() -> Arc<Simulator> {
    let config = SimConfig {
        sites: 2,
        cameras: 4,
        // The secondary is a VMS bridge with HTTP Digest; the primary's clock is 2 h off.
        profiles: vec![
            "1=skewed".parse().expect("valid"),
            "2=vms+digest".parse().expect("valid"),
        ],
        ..SimConfig::default()
    };
    Simulator::start(config).await.expect("simulator starts")
}

fn site_urls(sim: &Simulator, site: usize) -> Vec<String> {
    sim.endpoints()
        .into_iter()
        .filter(|e| e.site == site)
        .map(|e| e.device_url)
        .collect()
}

/// A fixed permutation, so that the secondary's list shares no order with the primary's.
fn shuffled(mut urls: Vec<String>) -> Vec<String> {
    let mut state = 0x2545_f491_u64;
    for i in (1..urls.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let j = usize::try_from(state >> 33).expect("fits") % (i + 1);
        urls.swap(i, j);
    }
    urls.rotate_left(1);
    urls
}

fn devices(urls: Vec<String>) -> SiteDevices {
    SiteDevices {
        urls,
        credentials: Some(Credentials::new("admin", "tandem")),
    }
}

fn client() -> ClientConfig {
    ClientConfig {
        timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    }
}

#[tokio::test]
async fn pairs_every_camera_by_serial_and_reports_the_unpaired() {
    let sim = start().await;
    let camera_of: HashMap<String, usize> = sim
        .endpoints()
        .into_iter()
        .map(|e| (e.device_url, e.camera))
        .collect();
    let primary = devices(site_urls(&sim, 1));
    let secondary_urls = shuffled(site_urls(&sim, 2));
    assert_ne!(secondary_urls, site_urls(&sim, 2), "the order differs");

    let found = discover(&primary, &devices(secondary_urls.clone()), client()).await;
    assert!(found.failures.is_empty(), "{:?}", found.failures);
    let pairing = &found.pairing;
    assert_eq!(pairing.pairs.len(), 4);
    for (n, pair) in pairing.pairs.iter().enumerate() {
        assert_eq!(pair.key.value(), format!("SIM-{:05}", n + 1));
        assert_eq!(camera_of[&pair.primary.url], n + 1);
        assert_eq!(camera_of[&pair.secondary.url], n + 1);
    }
    assert!(pairing.unpaired_primary.is_empty() && pairing.unpaired_secondary.is_empty());
    assert!(pairing.duplicates.is_empty());

    // The generated configuration is one `tandem config check` accepts.
    let spec = |id: &str| GeneratedSite {
        id: id.into(),
        name: None,
        username: Some("admin".into()),
        password_env: Some("SIM_PASSWORD".into()),
    };
    let text = to_config_toml(pairing, &spec("primary"), &spec("secondary"));
    let config = Config::parse_with_env(&text, "paired.toml", &|_| Some("tandem".into()))
        .unwrap_or_else(|e| panic!("{e}\n{text}"));
    let ids: Vec<_> = config.cameras.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["sim-00001", "sim-00002", "sim-00003", "sim-00004"]);

    // Drop one secondary endpoint: its primary counterpart is left unpaired.
    let dropped = secondary_urls[0].clone();
    let fewer: Vec<String> = secondary_urls[1..].to_vec();
    let found = discover(&primary, &devices(fewer), client()).await;
    assert_eq!(found.pairing.pairs.len(), 3);
    assert!(found.pairing.unpaired_secondary.is_empty());
    let [lonely] = found.pairing.unpaired_primary.as_slice() else {
        panic!("one unpaired: {:?}", found.pairing.unpaired_primary);
    };
    assert_eq!(camera_of[&lonely.url], camera_of[&dropped]);
}

#[tokio::test]
async fn unreachable_and_repeated_endpoints_are_handled() {
    let sim = start().await;
    let mut primary = site_urls(&sim, 1);
    // Listed twice: one device, not a duplicate identity.
    primary.push(primary[0].clone());
    // Port 9 on loopback: nothing listens there.
    let dead = "http://127.0.0.1:9/onvif/device_service".to_string();
    let mut secondary = site_urls(&sim, 2);
    secondary.push(dead.clone());
    let found = discover(&devices(primary), &devices(secondary), client()).await;
    assert_eq!(found.pairing.pairs.len(), 4);
    assert!(found.pairing.duplicates.is_empty());
    assert_eq!(found.failures.len(), 1);
    assert_eq!(found.failures[0].side, Side::Secondary);
    assert_eq!(found.failures[0].url, dead);
    assert!(found.failures[0].error.is_unreachable());

    // Wrong credentials: every endpoint fails, and says so.
    let wrong = SiteDevices {
        urls: site_urls(&sim, 1),
        credentials: Some(Credentials::new("admin", "wrong")),
    };
    let found = discover(&wrong, &devices(site_urls(&sim, 2)), client()).await;
    assert_eq!(found.failures.len(), 4);
    assert!(
        found
            .failures
            .iter()
            .all(|f| f.to_string().contains("authentication refused"))
    );
    assert_eq!(found.pairing.unpaired_secondary.len(), 4);
}
